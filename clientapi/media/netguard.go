package media

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Fetch limits of URL previews.
const (
	// previewTimeout bounds a whole fetch: connect, redirects, headers and
	// body.
	previewTimeout = 10 * time.Second
	// maxRedirects is how many redirects a preview fetch follows.
	maxRedirects = 5
)

// errAddressRefused is the error of a preview fetch that would connect to
// a refused address.
var errAddressRefused = errors.New("destination address refused")

// specialRanges are refused as preview destinations unless allowed
// explicitly: besides what netip classifies (loopback, private, link-local,
// multicast, unspecified), the special-purpose ranges of the IANA
// registries that reach no public host, or that embed an IPv4 address
// which might be private.
var specialRanges = mustPrefixes(
	"0.0.0.0/8",          // "this network"
	"100.64.0.0/10",      // carrier-grade NAT
	"192.0.0.0/24",       // IETF protocol assignments
	"192.0.2.0/24",       // documentation
	"198.18.0.0/15",      // benchmarking
	"198.51.100.0/24",    // documentation
	"203.0.113.0/24",     // documentation
	"240.0.0.0/4",        // reserved, and the broadcast address
	"64:ff9b::/96",       // NAT64
	"64:ff9b:1::/48",     // local NAT64
	"100::/64",           // discard
	"2001::/32",          // Teredo
	"2001:db8::/32",      // documentation
	"2002::/16",          // 6to4
	"fec0::/10",          // site-local (deprecated)
	"::ffff:0:0:0/96",    // IPv4-translated
	"::/96",              // IPv4-compatible (deprecated)
	"169.254.169.254/32", // cloud metadata (link-local too; named for clarity)
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// ipGuard decides which addresses URL previews may connect to.
type ipGuard struct {
	allow, deny []netip.Prefix
}

func newIPGuard(allow, deny []string) (*ipGuard, error) {
	g := &ipGuard{}
	for _, list := range []struct {
		from []string
		to   *[]netip.Prefix
	}{{allow, &g.allow}, {deny, &g.deny}} {
		for _, s := range list.from {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("media: preview ip range %q: %w", s, err)
			}
			*list.to = append(*list.to, p.Masked())
		}
	}
	return g, nil
}

// allowed reports whether a preview may connect to ip: an allowed range
// wins; otherwise denied ranges and special-purpose addresses are refused.
func (g *ipGuard) allowed(ip netip.Addr) bool {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if containsAddr(g.allow, ip) {
		return true
	}
	if containsAddr(g.deny, ip) || containsAddr(specialRanges, ip) {
		return false
	}
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified())
}

func containsAddr(ps []netip.Prefix, ip netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// control is the dialer's hook, called for every connection after name
// resolution with the address actually dialled: so the check also covers
// host names resolving to internal addresses, DNS rebinding, and every
// redirect.
func (g *ipGuard) control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return errAddressRefused
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !g.allowed(ip) {
		return errAddressRefused
	}
	return nil
}

// newPreviewClient is the HTTP client of URL previews: no proxy (the check
// must see the real destination), connections only to addresses the guard
// allows, a time limit on the whole fetch, and a few redirects to http(s)
// only.
func newPreviewClient(g *ipGuard) *http.Client {
	dialer := &net.Dialer{Timeout: previewTimeout, Control: g.control}
	return &http.Client{
		Timeout: previewTimeout,
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			TLSHandshakeTimeout:    previewTimeout,
			ResponseHeaderTimeout:  previewTimeout,
			MaxResponseHeaderBytes: 64 << 10,
			MaxIdleConns:           16,
			IdleConnTimeout:        time.Minute,
			ForceAttemptHTTP2:      true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return errors.New("too many redirects")
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return errors.New("redirect to a scheme other than http(s)")
			}
			return nil
		},
	}
}
