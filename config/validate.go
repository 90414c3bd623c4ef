package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Validate reports every problem in c at once, joined with errors.Join;
// each message starts with the option's yaml path. It expects a resolved
// configuration (see Resolve). Messages never show secret values.
func (c *Config) Validate() error {
	var p problems
	if !ValidServerName(c.ServerName) {
		p.add("server_name", "%q is not a valid server name", c.ServerName)
	}
	p.notEmpty("data_dir", c.DataDir)
	p.notEmpty("signing_key_path", c.SigningKeyPath)
	c.Listeners.Client.validate(&p, "listeners.client", true)
	c.Listeners.Federation.validate(&p, "listeners.federation", false)
	c.Database.validate(&p)
	p.oneOf("registration.mode", c.Registration.Mode, RegistrationDisabled, RegistrationOpen, RegistrationToken)
	c.Passwords.validate(&p)
	p.positive("auth.access_token_lifetime", int64(c.Auth.AccessTokenLifetime))
	p.positive("auth.login_token_lifetime", int64(c.Auth.LoginTokenLifetime))
	c.RateLimit.validate(&p)
	p.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	p.oneOf("log.format", c.Log.Format, "text", "json")
	// Older versions lack restricted joins and knocking and use the old
	// power-level and join-rule semantics: rooms may still ask for them,
	// but they are never the default.
	p.oneOf("rooms.default_version", c.Rooms.DefaultVersion, "10", "11", "12")
	p.notEmpty("media.directory", c.Media.Directory)
	p.positive("media.max_upload_bytes", c.Media.MaxUploadBytes)
	p.atLeast("media.quota_bytes", c.Media.QuotaBytes, 0)
	p.prefixes("media.preview_ip_allow", c.Media.PreviewIPAllow)
	p.prefixes("media.preview_ip_deny", c.Media.PreviewIPDeny)
	c.HTTP.validate(&p)
	c.WellKnown.validate(&p)
	return errors.Join(p...)
}

// problems collects validation errors, each prefixed with a yaml path.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

func (p *problems) notEmpty(key, value string) {
	if value == "" {
		p.add(key, "must not be empty")
	}
}

func (p *problems) positive(key string, n int64) {
	if n <= 0 {
		p.add(key, "%d must be greater than 0", n)
	}
}

func (p *problems) atLeast(key string, n, least int64) {
	if n < least {
		p.add(key, "%d must be at least %d", n, least)
	}
}

// prefixes checks a list of IP ranges in CIDR notation.
func (p *problems) prefixes(key string, values []string) {
	for i, v := range values {
		if _, err := netip.ParsePrefix(v); err != nil {
			p.add(fmt.Sprintf("%s[%d]", key, i), "%q is not an IP range such as \"10.0.0.0/8\"", v)
		}
	}
}

func (p *problems) oneOf(key, value string, allowed ...string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	p.add(key, "%q must be one of %s", value, strings.Join(allowed, ", "))
}

func (l Listener) validate(p *problems, key string, required bool) {
	switch {
	case l.Address != "":
		if !validListenAddress(l.Address) {
			p.add(key+".address", "%q is not host:port with a port from 0 to 65535", l.Address)
		}
	case required:
		p.add(key+".address", "must not be empty")
	case l.TLSCert != "" || l.TLSKey != "":
		p.add(key+".address", "must be set when tls_cert or tls_key is")
	}
	if (l.TLSCert == "") != (l.TLSKey == "") {
		p.add(key, "tls_cert and tls_key must be both set or both empty")
	}
}

func validListenAddress(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	_, err = strconv.ParseUint(port, 10, 16)
	return err == nil
}

// validate checks the database options. The URL may hold a password, so
// messages never quote it.
func (d Database) validate(p *problems) {
	u := string(d.URL)
	switch {
	case strings.HasPrefix(u, "sqlite:"):
		if u == "sqlite:" {
			p.add("database.url", "sqlite: needs a path, e.g. sqlite:data/ganglion.db")
		}
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		if _, err := url.Parse(u); err != nil {
			p.add("database.url", "is not a valid postgres:// URL")
		}
	case strings.HasSuffix(u, ".db"):
	default:
		p.add("database.url", "must be sqlite:PATH, a path ending in .db, or a postgres:// URL")
	}
	p.atLeast("database.max_open_conns", int64(d.MaxOpenConns), 1)
}

func (pw Passwords) validate(p *problems) {
	p.atLeast("passwords.memory_kib", int64(pw.MemoryKiB), 8)
	p.atLeast("passwords.iterations", int64(pw.Iterations), 1)
	p.atLeast("passwords.parallelism", int64(pw.Parallelism), 1)
	p.atLeast("passwords.min_length", int64(pw.MinLength), 1)
}

func (r RateLimit) validate(p *problems) {
	if !r.Enabled {
		return
	}
	if !(r.PerSecond > 0) {
		p.add("rate_limit.per_second", "%v must be greater than 0", r.PerSecond)
	}
	p.atLeast("rate_limit.burst", int64(r.Burst), 1)
}

func (h HTTP) validate(p *problems) {
	p.atLeast("http.max_body_bytes", h.MaxBodyBytes, 1024)
	for i, origin := range h.CORSOrigins {
		if origin != "*" && !validOrigin(origin) {
			p.add(fmt.Sprintf("http.cors_origins[%d]", i),
				"%q is neither \"*\" nor an origin such as \"https://app.example.org\"", origin)
		}
	}
}

// validOrigin reports whether s is a browser origin: scheme://host[:port].
func validOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.User == nil && u.Path == "" && u.RawQuery == "" && u.Fragment == "" && !u.ForceQuery
}

func (w WellKnown) validate(p *problems) {
	if w.ClientBaseURL != "" {
		u, err := url.Parse(w.ClientBaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add("well_known.client_base_url", "%q is not an http:// or https:// URL", w.ClientBaseURL)
		}
	}
	if w.ServerDelegation != "" && !ValidServerName(w.ServerDelegation) {
		p.add("well_known.server_delegation", "%q is not a valid host:port", w.ServerDelegation)
	}
}

// ValidServerName reports whether s is a server name as the Matrix
// specification's appendix defines it: hostname [":" port], where hostname
// is an IPv4 address, an IPv6 address in brackets or a DNS name of letters,
// digits, "-" and "." (at most 255 characters), and port is 1 to 65535.
func ValidServerName(s string) bool {
	host, port, hasPort := s, "", false
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		host = s[:end+1]
		if rest := s[end+1:]; rest != "" {
			if rest[0] != ':' {
				return false
			}
			port, hasPort = rest[1:], true
		}
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		host, port, hasPort = s[:i], s[i+1:], true
	}
	if hasPort && !validPort(port) {
		return false
	}
	if strings.HasPrefix(host, "[") {
		return validIPv6Literal(host[1 : len(host)-1])
	}
	return validDNSName(host)
}

// validPort accepts 1 to 5 digits with a value from 1 to 65535.
func validPort(s string) bool {
	if len(s) < 1 || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return false
	}
	n, _ := strconv.Atoi(s)
	return n >= 1 && n <= 65535
}

// validIPv6Literal checks the text between the brackets of an IPv6 host.
func validIPv6Literal(s string) bool {
	if len(s) < 2 || len(s) > 45 || strings.Trim(s, "0123456789ABCDEFabcdef:.") != "" {
		return false
	}
	ip := net.ParseIP(s)
	return ip != nil && strings.Contains(s, ":")
}

// validDNSName checks the spec's dns-name, which also covers IPv4
// addresses.
func validDNSName(s string) bool {
	if len(s) < 1 || len(s) > 255 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}
