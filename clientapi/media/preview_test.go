package media

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// previewSite is a local web site for preview tests; hits counts its
// requests.
type previewSite struct {
	*httptest.Server
	hits atomic.Int64
	// largeSent is what /large wrote before the reader went away;
	// largeDone is set when its handler returned.
	largeSent atomic.Int64
	largeDone atomic.Bool
}

func newPreviewSite(t *testing.T) *previewSite {
	t.Helper()
	site := &previewSite{}
	png := encodeImage(t, "png", 120, 60)
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!DOCTYPE html><html><head>
			<title>Fallback title</title>
			<meta property="og:title" content="Site &amp; Title">
			<meta property="og:description" content="A description">
			<meta property="og:image" content="/image.png">
			<meta property="og:image:width" content="9999">
			<script>var s = "<meta property='og:title' content='from script'>";</script>
			</head><body><meta property="og:url" content="ignored"></body></html>`))
	})
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<html><head><TITLE> Just a
			title </TITLE><meta name="description" content="described"></head></html>`))
	})
	mux.HandleFunc("/image.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(png)
	})
	mux.HandleFunc("/redirect-metadata", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})
	mux.HandleFunc("/redirect-local", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/plain", http.StatusFound)
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select { // answers nothing until the fetcher gives up
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/large", func(w http.ResponseWriter, r *http.Request) {
		defer site.largeDone.Store(true)
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<html><head><meta property="og:title" content="Large page"></head><body>`))
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for sent := 0; sent < 256<<20; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			site.largeSent.Add(int64(len(chunk)))
		}
	})
	site.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		site.hits.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(site.Close)
	return site
}

// TestMedia_Preview fetches from a local site, with 127.0.0.1 allowed for
// this test only.
func TestMedia_Preview(t *testing.T) {
	site := newPreviewSite(t)
	allowLoopback := func(cfg *Config) { cfg.PreviewIPAllow = []string{"127.0.0.1/32"} }
	eachRepo(t, allowLoopback, func(t *testing.T, r *testRepo) {
		ctx := t.Context()
		t.Run("OpenGraph", func(t *testing.T) {
			got, err := r.Preview(ctx, site.URL+"/page#fragment")
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]any{
				"og:title": "Site & Title", "og:description": "A description", "og:image:type": "image/png",
				"og:image:width": 120, "og:image:height": 60,
			} {
				if got[k] != want {
					t.Errorf("%s: got %v, want %v", k, got[k], want)
				}
			}
			if _, ok := got["og:url"]; ok {
				t.Errorf("og:url from the body: got %v, want properties of <head> only", got["og:url"])
			}
			uri, _ := got["og:image"].(string)
			_, id, err := ParseMXC(uri)
			if err != nil {
				t.Fatalf("og:image: got %v, want an mxc URI", got["og:image"])
			}
			data, f := r.mustRead(t, id)
			if f.ContentType != "image/png" || int64(len(data)) != got["matrix:image:size"] {
				t.Errorf("stored image: got %s of %d bytes, preview says %v", f.ContentType, len(data), got["matrix:image:size"])
			}
		})
		t.Run("Cached", func(t *testing.T) {
			before := site.hits.Load()
			if _, err := r.Preview(ctx, site.URL+"/page"); err != nil {
				t.Fatal(err)
			}
			if got := site.hits.Load() - before; got != 0 {
				t.Errorf("site hits: got %d, want 0 (cached)", got)
			}
			r.clock.Advance(previewLifetime)
			got, err := r.Preview(ctx, site.URL+"/page")
			if err != nil || site.hits.Load() == before {
				t.Errorf("after the cache lifetime: got %v (%v) with no fetch, want a new fetch", got, err)
			}
		})
		t.Run("TitleFallback", func(t *testing.T) {
			got, err := r.Preview(ctx, site.URL+"/redirect-local")
			if err != nil || got["og:title"] != "Just a title" || got["og:description"] != "described" {
				t.Errorf("got %v (%v), want the <title> and description", got, err)
			}
		})
		t.Run("Image", func(t *testing.T) {
			got, err := r.Preview(ctx, site.URL+"/image.png")
			if err != nil || got["og:image:width"] != 120 || got["og:image:type"] != "image/png" {
				t.Errorf("got %v (%v), want the image itself", got, err)
			}
		})
		t.Run("ErrRedirectToMetadata", func(t *testing.T) {
			_, err := r.Preview(ctx, site.URL+"/redirect-metadata")
			wantErrcode(t, err, http.StatusForbidden, "M_FORBIDDEN")
		})
		t.Run("ErrStatus", func(t *testing.T) {
			_, err := r.Preview(ctx, site.URL+"/missing")
			wantErrcode(t, err, http.StatusBadGateway, "M_UNKNOWN")
		})
		t.Run("LargePageReadInPart", func(t *testing.T) {
			site.largeSent.Store(0)
			site.largeDone.Store(false)
			got, err := r.Preview(ctx, site.URL+"/large")
			if err != nil || got["og:title"] != "Large page" {
				t.Fatalf("got %v (%v), want the title from the page's start", got, err)
			}
			waitFor(t, site.largeDone.Load)
			if sent := site.largeSent.Load(); sent > 64<<20 {
				t.Errorf("the site sent %d MiB of a 256 MiB page, want the fetch to stop after %d MiB", sent>>20, maxPreviewPage>>20)
			}
		})
		t.Run("ErrConnectionRefused", func(t *testing.T) {
			closed := httptest.NewServer(http.NotFoundHandler())
			closed.Close()
			_, err := r.Preview(ctx, closed.URL+"/page")
			wantErrcode(t, err, http.StatusBadGateway, "M_UNKNOWN")
		})
		t.Run("ErrTimeout", func(t *testing.T) {
			fetcher := *r.fetcher
			fetcher.Timeout = 200 * time.Millisecond
			saved := r.fetcher
			r.fetcher = &fetcher
			defer func() { r.fetcher = saved }()
			start := time.Now()
			_, err := r.Preview(ctx, site.URL+"/slow")
			wantErrcode(t, err, http.StatusBadGateway, "M_UNKNOWN")
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v, want the fetch to give up at its timeout", took)
			}
		})
	})
}

// TestMedia_PreviewRefused: with the default configuration, previews of
// internal addresses are refused before any connection is made.
func TestMedia_PreviewRefused(t *testing.T) {
	site := newPreviewSite(t)
	eachRepo(t, nil, func(t *testing.T, r *testRepo) {
		ctx := t.Context()
		port := site.URL[strings.LastIndexByte(site.URL, ':'):]
		for _, u := range []string{
			site.URL + "/page",
			"http://localhost" + port + "/page",
			"http://[::1]" + port + "/page",
			"http://169.254.169.254/latest/meta-data/",
			"http://10.0.0.1/",
			"http://0.0.0.0" + port + "/page",
			"http://[::ffff:127.0.0.1]" + port + "/page",
		} {
			t.Run(u, func(t *testing.T) {
				_, err := r.Preview(ctx, u)
				wantErrcode(t, err, http.StatusForbidden, "M_FORBIDDEN")
			})
		}
		if n := site.hits.Load(); n != 0 {
			t.Errorf("site hits: got %d, want 0", n)
		}
		for _, u := range []string{"", "ftp://example.org/", "/relative", "http://user:pw@example.org/", "http:///nohost"} {
			t.Run("ErrURL"+u, func(t *testing.T) {
				if _, err := r.Preview(ctx, u); err == nil {
					t.Errorf("%q: got no error, want M_MISSING_PARAM or M_INVALID_PARAM", u)
				}
			})
		}
	})
}

func TestIPGuard_Allowed(t *testing.T) {
	def, err := newIPGuard(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	custom, err := newIPGuard([]string{"127.0.0.1/32", "10.1.0.0/16"}, []string{"8.8.8.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ip          string
		def, custom bool
	}{
		{"127.0.0.1", false, true},
		{"127.0.0.2", false, false},
		{"169.254.169.254", false, false},
		{"10.0.0.1", false, false},
		{"10.1.2.3", false, true},
		{"172.16.0.1", false, false},
		{"192.168.1.1", false, false},
		{"100.64.0.1", false, false},
		{"0.0.0.0", false, false},
		{"224.0.0.1", false, false},
		{"255.255.255.255", false, false},
		{"::1", false, false},
		{"::", false, false},
		{"fe80::1", false, false},
		{"fd00::1", false, false},
		{"ff02::1", false, false},
		{"::ffff:127.0.0.1", false, true},
		{"::ffff:10.0.0.1", false, false},
		{"64:ff9b::a00:1", false, false},
		{"2002:a00:1::", false, false},
		{"8.8.8.8", true, false},
		{"1.1.1.1", true, true},
		{"2606:4700::1111", true, true},
	} {
		ip := netip.MustParseAddr(tc.ip)
		if got := def.allowed(ip); got != tc.def {
			t.Errorf("default: allowed(%s) got %v, want %v", tc.ip, got, tc.def)
		}
		if got := custom.allowed(ip); got != tc.custom {
			t.Errorf("custom: allowed(%s) got %v, want %v", tc.ip, got, tc.custom)
		}
	}
	if _, err := newIPGuard([]string{"not a range"}, nil); err == nil {
		t.Error("invalid range: got no error")
	}
}

func TestParseHTML(t *testing.T) {
	for _, tc := range []struct {
		name, doc   string
		og          map[string]string
		title, desc string
	}{
		{"Quotes", `<meta property='og:title' content='single'><meta property=og:type content=website>`,
			map[string]string{"og:title": "single", "og:type": "website"}, "", ""},
		{"NameAttribute", `<META NAME="og:title" CONTENT="by name"/>`, map[string]string{"og:title": "by name"}, "", ""},
		{"FirstWins", `<meta property="og:title" content="one"><meta property="og:title" content="two">`,
			map[string]string{"og:title": "one"}, "", ""},
		{"Comment", `<!-- <meta property="og:title" content="hidden"> --><title>t</title>`, map[string]string{}, "t", ""},
		{"Entities", `<title>a &lt;b&gt; &#233;</title><meta name="description" content="x&quot;y">`, map[string]string{}, "a <b> é", `x"y`},
		{"Unterminated", `<meta property="og:title" content="open`, map[string]string{"og:title": "open"}, "", ""},
		{"Garbage", "<<<>>>< = =\x00\xff<meta", map[string]string{}, "", ""},
		{"StyleSkipped", `<style>/* <title>no</title> */</style><title>yes</title>`, map[string]string{}, "yes", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseHTML(tc.doc)
			if len(got.og) != len(tc.og) || got.title != tc.title || got.description != tc.desc {
				t.Fatalf("got %+v, want og %v, title %q, description %q", got, tc.og, tc.title, tc.desc)
			}
			for k, v := range tc.og {
				if got.og[k] != v {
					t.Errorf("%s: got %q, want %q", k, got.og[k], v)
				}
			}
		})
	}
	t.Run("LongValue", func(t *testing.T) {
		got := parseHTML(`<title>` + strings.Repeat("é", maxMetaValue) + `</title>`)
		if len(got.title) > maxMetaValue || !strings.HasPrefix(got.title, "é") {
			t.Errorf("got %d bytes, want at most %d", len(got.title), maxMetaValue)
		}
	})
}

func TestDisposition(t *testing.T) {
	for _, tc := range []struct{ contentType, name, want string }{
		{"image/png", "cat.png", `inline; filename="cat.png"`},
		{"IMAGE/JPEG; foo=bar", "", "inline"},
		{"text/plain; charset=utf-8", "notes.txt", `inline; filename="notes.txt"`},
		{"text/html", "page.html", `attachment; filename="page.html"`},
		{"image/svg+xml", "logo.svg", `attachment; filename="logo.svg"`},
		{"application/octet-stream", "", "attachment"},
		{"application/pdf", "a.pdf", `attachment; filename="a.pdf"`},
		{"text/plain", `quote"back\slash`, `inline; filename="quote_back_slash"; filename*=UTF-8''quote%22back%5Cslash`},
		{"image/png", "Grüße 2.png", `inline; filename="Gr____e 2.png"; filename*=UTF-8''Gr%C3%BC%C3%9Fe%202.png`},
		{"text/plain", "a\r\nSet-Cookie: x", `inline; filename="a__Set-Cookie: x"; filename*=UTF-8''a%0D%0ASet-Cookie%3A%20x`},
	} {
		if got := Disposition(tc.contentType, tc.name); got != tc.want {
			t.Errorf("Disposition(%q, %q): got %s, want %s", tc.contentType, tc.name, got, tc.want)
		}
	}
}
