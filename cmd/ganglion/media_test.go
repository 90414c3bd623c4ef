package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/clientapi/media"
	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// rawResponse is an answer read whole, for header and status checks.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// errcode is the errcode of a JSON error body, "" if there is none.
func (r rawResponse) errcode() string {
	var e struct {
		Errcode string `json:"errcode"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Errcode
}

// rawRequest sends a request with an optional access token without
// following redirects. path is sent as it is, percent-encoding included.
func rawRequest(t *testing.T, method, url, token string, body io.Reader, length int64, contentType string) rawResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{status: res.StatusCode, header: res.Header, body: data}
}

// httpError is the status and errcode of a mautrix-go request error.
func httpError(err error) (status int, errcode string) {
	var httpErr mautrix.HTTPError
	if !errors.As(err, &httpErr) {
		return 0, ""
	}
	if httpErr.Response != nil {
		status = httpErr.Response.StatusCode
	}
	if httpErr.RespError != nil {
		errcode = httpErr.RespError.ErrCode
	}
	return status, errcode
}

// mustUploadMedia uploads data through mautrix-go.
func mustUploadMedia(t *testing.T, cli *mautrix.Client, data []byte, contentType, filename string) id.ContentURI {
	t.Helper()
	resp, err := cli.UploadMedia(t.Context(), mautrix.ReqUploadMedia{ContentBytes: data, ContentType: contentType, FileName: filename})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	return resp.ContentURI
}

// pngImage encodes a w x h PNG.
func pngImage(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pngBomb is a PNG of a few dozen bytes whose header declares w x h
// pixels.
func pngBomb(w, h uint32) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	body := binary.BigEndian.AppendUint32([]byte("IHDR"), w)
	body = binary.BigEndian.AppendUint32(body, h)
	body = append(body, 8, 2, 0, 0, 0)
	_ = binary.Write(&out, binary.BigEndian, uint32(len(body)-4))
	out.Write(body)
	_ = binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(body))
	return out.Bytes()
}

// TestMedia: upload and download through mautrix-go, asynchronous
// uploads, headers that keep uploaded HTML and SVG from running,
// thumbnails, limits, bad media ids and the frozen legacy endpoints.
func TestMedia(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		cfg.Media.MaxUploadBytes = 1 << 20
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		v1 := srv.URL + "/_matrix/client/v1/media"

		t.Run("RoundTrip", func(t *testing.T) {
			data := []byte("a file from the building site")
			uri := mustUploadMedia(t, alice, data, "text/plain", "site report.txt")
			if uri.Homeserver != cfg.ServerName {
				t.Errorf("mxc server: got %s, want %s", uri.Homeserver, cfg.ServerName)
			}
			got, err := bob.DownloadBytes(ctx, uri)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("download: got %q (%v), want %q", got, err, data)
			}
			res := rawRequest(t, "GET", v1+"/download/"+uri.Homeserver+"/"+uri.FileID, bob.AccessToken, nil, 0, "")
			if ct, cd := res.header.Get("Content-Type"), res.header.Get("Content-Disposition"); ct != "text/plain" ||
				cd != `inline; filename="site report.txt"` {
				t.Errorf("headers: got %q and %q, want text/plain inline with the file name", ct, cd)
			}
			res = rawRequest(t, "GET", v1+"/download/"+uri.Homeserver+"/"+uri.FileID+"/other%20name.txt", bob.AccessToken, nil, 0, "")
			if cd := res.header.Get("Content-Disposition"); cd != `inline; filename="other name.txt"` {
				t.Errorf("file name override: got %q", cd)
			}
		})

		t.Run("Async", func(t *testing.T) {
			created, err := alice.CreateMXC(ctx)
			if err != nil || created.UnusedExpiresAt.IsZero() {
				t.Fatalf("create: got %+v (%v), want an mxc URI with unused_expires_at", created, err)
			}
			res := rawRequest(t, "GET", v1+"/download/"+created.ContentURI.Homeserver+"/"+created.ContentURI.FileID+"?timeout_ms=0",
				alice.AccessToken, nil, 0, "")
			if res.status != 504 || res.errcode() != "M_NOT_YET_UPLOADED" {
				t.Errorf("before upload: got %d %s, want 504 M_NOT_YET_UPLOADED", res.status, res.body)
			}
			req := mautrix.ReqUploadMedia{ContentBytes: []byte("later"), ContentType: "text/plain", MXC: created.ContentURI}
			if _, err := bob.UploadMedia(ctx, req); !errors.Is(err, mautrix.MForbidden) {
				t.Errorf("upload by another user: got %v, want M_FORBIDDEN", err)
			}
			if _, err := alice.UploadMedia(ctx, req); err != nil {
				t.Fatal(err)
			}
			if got, err := bob.DownloadBytes(ctx, created.ContentURI); err != nil || string(got) != "later" {
				t.Errorf("download: got %q (%v), want later", got, err)
			}
			_, err = alice.UploadMedia(ctx, req)
			if !errors.Is(err, mautrix.RespError{ErrCode: "M_CANNOT_OVERWRITE_MEDIA"}) {
				t.Errorf("second upload: got %v, want M_CANNOT_OVERWRITE_MEDIA", err)
			}
		})

		t.Run("ActiveContentHeaders", func(t *testing.T) {
			for _, tc := range []struct{ contentType, name, disposition string }{
				{"text/html", "page.html", `attachment; filename="page.html"`},
				{"image/svg+xml", "logo.svg", `attachment; filename="logo.svg"`},
				{"application/xhtml+xml", "", "attachment"},
				{"image/png", "Grüße.png", `inline; filename="Gr____e.png"; filename*=UTF-8''Gr%C3%BC%C3%9Fe.png`},
			} {
				uri := mustUploadMedia(t, alice, []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), tc.contentType, tc.name)
				res := rawRequest(t, "GET", v1+"/download/"+uri.Homeserver+"/"+uri.FileID, bob.AccessToken, nil, 0, "")
				h := res.header
				if res.status != 200 || h.Get("Content-Type") != tc.contentType || h.Get("Content-Disposition") != tc.disposition ||
					h.Get("Content-Security-Policy") != media.ContentSecurityPolicy || h.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("%s: got %d with %v, want %s, CSP sandbox and nosniff", tc.contentType, res.status, h, tc.disposition)
				}
			}
		})

		t.Run("Thumbnail", func(t *testing.T) {
			uri := mustUploadMedia(t, alice, pngImage(t, 400, 300), "image/png", "photo.png")
			res, err := bob.DownloadThumbnail(ctx, uri, 96, 96, mautrix.DownloadThumbnailExtra{Method: "crop"})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			cfg, format, err := image.DecodeConfig(res.Body)
			if err != nil || format != "png" || cfg.Width != 96 || cfg.Height != 96 {
				t.Errorf("thumbnail: got %s %dx%d (%v), want png 96x96", format, cfg.Width, cfg.Height, err)
			}
			if ct, cd := res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"); ct != "image/png" || !strings.HasPrefix(cd, "inline") {
				t.Errorf("headers: got %q and %q, want image/png inline", ct, cd)
			}
			text := mustUploadMedia(t, alice, []byte("not an image"), "text/plain", "")
			_, err = bob.DownloadThumbnail(ctx, text, 32, 32)
			if status, code := httpError(err); status != 400 || code != "M_UNKNOWN" {
				t.Errorf("thumbnail of text: got %v, want 400 M_UNKNOWN", err)
			}
			bomb := mustUploadMedia(t, alice, pngBomb(50_000, 50_000), "image/png", "")
			if _, err := bob.DownloadThumbnail(ctx, bomb, 32, 32); !errors.Is(err, mautrix.MTooLarge) {
				t.Errorf("thumbnail of a 50,000 x 50,000 PNG: got %v, want M_TOO_LARGE", err)
			}
		})

		t.Run("Limits", func(t *testing.T) {
			conf, err := alice.GetMediaConfig(ctx)
			if err != nil || conf.UploadSize != cfg.Media.MaxUploadBytes {
				t.Errorf("config: got %+v (%v), want m.upload.size %d", conf, err, cfg.Media.MaxUploadBytes)
			}
			big := make([]byte, cfg.Media.MaxUploadBytes+1)
			if _, err := alice.UploadBytes(ctx, big, "application/octet-stream"); !errors.Is(err, mautrix.MTooLarge) {
				t.Errorf("too large: got %v, want M_TOO_LARGE", err)
			}
			// No Content-Length (chunked): bytes are counted as they arrive.
			res := rawRequest(t, "POST", srv.URL+"/_matrix/media/v3/upload", alice.AccessToken,
				struct{ io.Reader }{bytes.NewReader(big)}, -1, "application/octet-stream")
			if res.status != 413 || res.errcode() != "M_TOO_LARGE" {
				t.Errorf("chunked too large: got %d %s, want 413 M_TOO_LARGE", res.status, res.body)
			}
			res = rawRequest(t, "POST", srv.URL+"/_matrix/media/v3/upload", "", strings.NewReader("x"), 1, "text/plain")
			if res.status != 401 || res.errcode() != "M_MISSING_TOKEN" {
				t.Errorf("upload without token: got %d %s, want 401 M_MISSING_TOKEN", res.status, res.body)
			}
		})

		t.Run("LyingContentLength", func(t *testing.T) {
			db := storagetest.Open(t, string(cfg.Database.URL))
			usage, err := db.MediaUsage(ctx, string(alice.UserID))
			if err != nil {
				t.Fatal(err)
			}
			// Declares more than it sends, then stops sending: refused,
			// nothing stored, no temporary file left.
			res, err := rawUpload(t, srv.URL, alice.AccessToken, 100_000, "only ten b", true)
			if err == nil && res.StatusCode != 400 {
				t.Errorf("body shorter than its Content-Length: got %d, want 400", res.StatusCode)
			}
			if after, err := db.MediaUsage(ctx, string(alice.UserID)); err != nil || after != usage {
				t.Errorf("alice's stored bytes: got %d (%v), want %d as before", after, err, usage)
			}
			// Thumbnails of earlier uploads pass through the temporary
			// directory too: wait for it to empty rather than look once.
			deadline := time.Now().Add(10 * time.Second)
			for tmp, _ := os.ReadDir(filepath.Join(cfg.Media.Directory, "tmp")); len(tmp) != 0; tmp, _ = os.ReadDir(filepath.Join(cfg.Media.Directory, "tmp")) {
				if time.Now().After(deadline) {
					t.Fatalf("temporary files left: %d", len(tmp))
				}
				time.Sleep(10 * time.Millisecond)
			}
			// Sends more than it declares: the upload is the declared
			// bytes; the rest is not part of it.
			res, err = rawUpload(t, srv.URL, alice.AccessToken, 5, "hello, and more that is not the upload", false)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("body longer than its Content-Length: got %v (%v), want 200", res, err)
			}
			var body struct {
				URI id.ContentURIString `json:"content_uri"`
			}
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			uri, _ := body.URI.Parse()
			if got, err := bob.DownloadBytes(ctx, uri); err != nil || string(got) != "hello" {
				t.Errorf("download: got %q (%v), want the 5 declared bytes", got, err)
			}
		})

		t.Run("BadIDs", func(t *testing.T) {
			uri := mustUploadMedia(t, alice, []byte("secret"), "text/plain", "")
			for _, path := range []string{
				"/download/" + cfg.ServerName + "/..%2F..%2F..%2Fetc%2Fpasswd",
				"/download/" + cfg.ServerName + "/%2e%2e",
				"/download/" + cfg.ServerName + "/" + uri.FileID + "%2F..",
				"/download/" + cfg.ServerName + "/a.b",
				"/download/..%2F..%2Fetc/" + uri.FileID,
				"/thumbnail/" + cfg.ServerName + "/..%2Fx?width=32&height=32",
			} {
				res := rawRequest(t, "GET", v1+path, bob.AccessToken, nil, 0, "")
				if res.status != 400 || res.errcode() != "M_INVALID_PARAM" {
					t.Errorf("GET %s: got %d %s, want 400 M_INVALID_PARAM", path, res.status, res.body)
				}
			}
			// Unencoded dot segments never reach a handler with them: the
			// router cleans the path (redirecting to it) or finds no route.
			for _, path := range []string{"/download/" + cfg.ServerName + "/../../../etc/passwd", "/download/../" + uri.FileID} {
				res := rawRequest(t, "GET", v1+path, bob.AccessToken, nil, 0, "")
				if res.status != 301 && res.status != 404 {
					t.Errorf("GET %s: got %d %s, want a redirect to the clean path or 404", path, res.status, res.body)
				}
			}
			res := rawRequest(t, "PUT", srv.URL+"/_matrix/media/v3/upload/"+cfg.ServerName+"/..%2Fescape", alice.AccessToken,
				strings.NewReader("x"), 1, "text/plain")
			if res.status != 400 || res.errcode() != "M_INVALID_PARAM" {
				t.Errorf("PUT with traversal id: got %d %s, want 400 M_INVALID_PARAM", res.status, res.body)
			}
			res = rawRequest(t, "GET", v1+"/download/other.example/"+uri.FileID, bob.AccessToken, nil, 0, "")
			if res.status != 404 || res.errcode() != "M_NOT_FOUND" {
				t.Errorf("remote media: got %d %s, want 404 M_NOT_FOUND", res.status, res.body)
			}
		})

		t.Run("LegacyFrozen", func(t *testing.T) {
			uri := mustUploadMedia(t, alice, pngImage(t, 64, 64), "image/png", "")
			for _, path := range []string{"/download/", "/thumbnail/"} {
				url := srv.URL + "/_matrix/media/v3" + path + uri.Homeserver + "/" + uri.FileID + "?width=32&height=32"
				res := rawRequest(t, "GET", url, "", nil, 0, "")
				if res.status != 404 || res.errcode() != "M_NOT_FOUND" {
					t.Errorf("legacy %s: got %d %s, want 404 M_NOT_FOUND", path, res.status, res.body)
				}
			}
			res := rawRequest(t, "GET", v1+"/download/"+uri.Homeserver+"/"+uri.FileID, "", nil, 0, "")
			if res.status != 401 || res.errcode() != "M_MISSING_TOKEN" {
				t.Errorf("authenticated endpoint without token: got %d %s, want 401 M_MISSING_TOKEN", res.status, res.body)
			}
		})

		t.Run("PreviewRefused", func(t *testing.T) {
			for _, u := range []string{srv.URL + "/_matrix/client/versions", "http://169.254.169.254/latest/meta-data/"} {
				if _, err := alice.GetURLPreview(ctx, u); !errors.Is(err, mautrix.MForbidden) {
					t.Errorf("preview of %s: got %v, want M_FORBIDDEN", u, err)
				}
			}
		})
	})
}

// TestMedia_Legacy: with legacy_unauthenticated on, the deprecated
// endpoints serve media without an access token.
func TestMedia_Legacy(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	cfg.Media.LegacyUnauthenticated = true
	srv, _ := startServer(t, cfg)
	alice := mustRegister(t, srv.URL, "alice", "alice password")
	uri := mustUploadMedia(t, alice, pngImage(t, 64, 64), "image/png", "")
	for _, path := range []string{"/download/", "/thumbnail/"} {
		res := rawRequest(t, "GET", srv.URL+"/_matrix/media/v3"+path+uri.Homeserver+"/"+uri.FileID+"?width=32&height=32", "", nil, 0, "")
		if res.status != 200 || res.header.Get("Content-Type") != "image/png" {
			t.Errorf("legacy %s: got %d %s, want 200 image/png", path, res.status, res.header.Get("Content-Type"))
		}
	}
}

// TestMedia_Preview previews a page of a local site, with 127.0.0.1
// allowed for this test only.
func TestMedia_Preview(t *testing.T) {
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, `<html><head><meta property="og:title" content="Local page"><title>t</title></head></html>`)
	}))
	t.Cleanup(site.Close)
	cfg := testConfig(t, "sqlite")
	cfg.Media.PreviewIPAllow = []string{"127.0.0.1/32"}
	srv, _ := startServer(t, cfg)
	alice := mustRegister(t, srv.URL, "alice", "alice password")
	preview, err := alice.GetURLPreview(context.Background(), site.URL+"/page")
	if err != nil || preview.Title != "Local page" {
		t.Errorf("got %+v (%v), want og:title Local page", preview, err)
	}
}

// TestMedia_Streaming uploads and downloads 64 MiB through the server and
// checks that the bytes allocated meanwhile (client and server together)
// are a small fraction of that.
func TestMedia_Streaming(t *testing.T) {
	const size = 64 << 20
	cfg := testConfig(t, "sqlite")
	cfg.Media.MaxUploadBytes = size
	srv, _ := startServer(t, cfg)
	alice := mustRegister(t, srv.URL, "alice", "alice password")
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	up, err := alice.UploadMedia(ctx, mautrix.ReqUploadMedia{
		Content: io.LimitReader(&byteStream{}, size), ContentLength: size, ContentType: "application/octet-stream",
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := alice.Download(ctx, up.ContentURI)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, res.Body)
	res.Body.Close()
	runtime.ReadMemStats(&after)
	want := sha256.New()
	_, _ = io.Copy(want, io.LimitReader(&byteStream{}, size))
	if err != nil || n != size || !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
		t.Fatalf("download: got %d bytes (%v), want the %d uploaded", n, err, size)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/4 {
		t.Errorf("allocated %d bytes to move %d bytes up and down, want far less", alloc, size)
	}
}

// byteStream is an endless reader of the bytes 0, 1, ..., 250, 0, ...
type byteStream struct{ n int }

func (s *byteStream) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(s.n % 251)
		s.n++
	}
	return len(p), nil
}

// rawUpload sends POST /upload over a plain connection with a
// Content-Length that need not match the body, optionally closing the
// sending side after the body, and reads the answer (an error if the
// server closed the connection without one).
func rawUpload(t *testing.T, serverURL, token string, length int, body string, closeWrite bool) (*http.Response, error) {
	t.Helper()
	addr := strings.TrimPrefix(serverURL, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "POST /_matrix/media/v3/upload HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", addr, token, length, body); err != nil {
		t.Fatal(err)
	}
	if closeWrite {
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
	}
	return http.ReadResponse(bufio.NewReader(conn), nil)
}
