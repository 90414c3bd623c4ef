package media

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ganglion/ganglion/storage"
)

func TestMedia_Upload(t *testing.T) {
	eachRepo(t, func(cfg *Config) { cfg.MaxUploadBytes = 1000 }, func(t *testing.T, r *testRepo) {
		ctx := t.Context()
		t.Run("OK", func(t *testing.T) {
			uri, err := r.Upload(ctx, Upload{
				Body: strings.NewReader("hello"), ContentLength: 5, ContentType: "Text/Plain; charset=UTF-8",
				Filename: "hello world.txt", Uploader: alice,
			})
			if err != nil {
				t.Fatal(err)
			}
			server, id, err := ParseMXC(uri)
			if err != nil || server != testServer || len(id) != 24 {
				t.Fatalf("got %q, want mxc://%s/ and a 24-character id", uri, testServer)
			}
			data, f := r.mustRead(t, id)
			if string(data) != "hello" || f.ContentType != "text/plain; charset=UTF-8" || f.Filename != "hello world.txt" || f.Size != 5 {
				t.Errorf("got %q %q %q %d, want hello as text/plain; charset=UTF-8 named hello world.txt", data, f.ContentType, f.Filename, f.Size)
			}
		})
		t.Run("NoContentType", func(t *testing.T) {
			_, f := r.mustRead(t, r.mustUpload(t, alice, "", []byte("x")))
			if f.ContentType != "application/octet-stream" {
				t.Errorf("content type: got %q, want application/octet-stream", f.ContentType)
			}
		})
		t.Run("Dedup", func(t *testing.T) {
			before := len(r.contentFiles(t))
			a := r.mustUpload(t, alice, "text/plain", []byte("same bytes"))
			b := r.mustUpload(t, bob, "application/octet-stream", []byte("same bytes"))
			if a == b {
				t.Fatalf("got the same media id %s twice, want two", a)
			}
			if got := len(r.contentFiles(t)); got != before+1 {
				t.Errorf("files: got %d new, want 1 for identical content", got-before)
			}
			if data, _ := r.mustRead(t, b); string(data) != "same bytes" {
				t.Errorf("second upload: got %q", data)
			}
		})
		t.Run("Empty", func(t *testing.T) {
			if data, _ := r.mustRead(t, r.mustUpload(t, alice, "text/plain", nil)); len(data) != 0 {
				t.Errorf("got %q, want empty", data)
			}
		})
		tooLarge := []struct {
			name   string
			length int64
			body   io.Reader
		}{
			{"ErrTooLarge", 1001, bytes.NewReader(make([]byte, 1001))},
			{"ErrTooLargeUnknownLength", -1, bytes.NewReader(make([]byte, 1001))},
			{"ErrTooLargeLyingLength", 10, io.LimitReader(zeros{}, 1<<20)},
			{"ErrTooLargeEndless", 10, zeros{}},
		}
		for _, tc := range tooLarge {
			t.Run(tc.name, func(t *testing.T) {
				files := len(r.contentFiles(t))
				_, err := r.Upload(ctx, Upload{Body: tc.body, ContentLength: tc.length, Uploader: alice})
				wantErrcode(t, err, http.StatusRequestEntityTooLarge, "M_TOO_LARGE")
				if got := len(r.contentFiles(t)); got != files {
					t.Errorf("files: got %d new, want none", got-files)
				}
				if tmp := r.tempFiles(t); len(tmp) != 0 {
					t.Errorf("temporary files left: %q", tmp)
				}
			})
		}
		t.Run("AtLimit", func(t *testing.T) {
			r.mustUpload(t, alice, "", make([]byte, 1000))
		})
		t.Run("ErrFilename", func(t *testing.T) {
			for _, name := range []string{"a\nb", "a\x00b", strings.Repeat("x", maxFilenameBytes+1)} {
				_, err := r.Upload(ctx, Upload{Body: strings.NewReader("x"), ContentLength: 1, Filename: name, Uploader: alice})
				wantErrcode(t, err, http.StatusBadRequest, "M_INVALID_PARAM")
			}
		})
	})
}

func TestMedia_Quota(t *testing.T) {
	eachRepo(t, func(cfg *Config) { cfg.QuotaBytes = 100 }, func(t *testing.T, r *testRepo) {
		ctx := t.Context()
		r.mustUpload(t, alice, "", make([]byte, 60))
		t.Run("ErrDeclared", func(t *testing.T) {
			_, err := r.Upload(ctx, Upload{Body: bytes.NewReader(make([]byte, 41)), ContentLength: 41, Uploader: alice})
			wantErrcode(t, err, http.StatusForbidden, "M_FORBIDDEN")
		})
		t.Run("ErrStreamed", func(t *testing.T) {
			_, err := r.Upload(ctx, Upload{Body: bytes.NewReader(make([]byte, 41)), ContentLength: -1, Uploader: alice})
			wantErrcode(t, err, http.StatusForbidden, "M_FORBIDDEN")
		})
		t.Run("OtherUser", func(t *testing.T) {
			r.mustUpload(t, bob, "", make([]byte, 60))
		})
		t.Run("UpToQuota", func(t *testing.T) {
			r.mustUpload(t, alice, "", make([]byte, 40))
			_, err := r.Upload(ctx, Upload{Body: strings.NewReader(""), ContentLength: 0, Uploader: alice})
			wantErrcode(t, err, http.StatusForbidden, "M_FORBIDDEN")
		})
	})
}

// TestMedia_UploadMemory uploads 64 MiB and checks that the bytes
// allocated meanwhile are a small fraction of that: the body is streamed.
func TestMedia_UploadMemory(t *testing.T) {
	const size = 64 << 20
	eachRepo(t, func(cfg *Config) { cfg.MaxUploadBytes = size }, func(t *testing.T, r *testRepo) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		uri, err := r.Upload(t.Context(), Upload{Body: io.LimitReader(zeros{}, size), ContentLength: size, Uploader: alice})
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/8 {
			t.Errorf("allocated %d bytes for a %d-byte upload, want far less", alloc, size)
		}
		_, id, _ := ParseMXC(uri)
		f, err := r.Open(t.Context(), testServer, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if n, err := io.Copy(io.Discard, f); n != size || err != nil {
			t.Errorf("read back %d bytes (%v), want %d", n, err, size)
		}
	})
}

func TestMedia_Delete(t *testing.T) {
	eachRepo(t, nil, func(t *testing.T, r *testRepo) {
		ctx := t.Context()
		png := encodeImage(t, "png", 200, 100)
		a := r.mustUpload(t, alice, "image/png", png)
		b := r.mustUpload(t, bob, "image/png", png)
		thumb, err := r.Thumbnail(ctx, testServer, a, ThumbnailRequest{Width: 32, Height: 32, Method: MethodCrop}, 0)
		if err != nil {
			t.Fatal(err)
		}
		thumb.Close()
		if got := len(r.contentFiles(t)); got != 2 {
			t.Fatalf("files: got %d, want the image and one thumbnail", got)
		}
		t.Run("SharedContentKept", func(t *testing.T) {
			if err := r.Delete(ctx, testServer, a); err != nil {
				t.Fatal(err)
			}
			if got := len(r.contentFiles(t)); got != 1 {
				t.Errorf("files: got %d, want the image (still used by b) only", got)
			}
			if _, err := r.Open(ctx, testServer, a, 0); err == nil {
				t.Error("deleted media: got it, want M_NOT_FOUND")
			}
			r.mustRead(t, b)
		})
		t.Run("LastReference", func(t *testing.T) {
			if err := r.Delete(ctx, testServer, b); err != nil {
				t.Fatal(err)
			}
			if got := r.contentFiles(t); len(got) != 0 {
				t.Errorf("files: got %q, want none", got)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			if err := r.Delete(ctx, testServer, b); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("got %v, want ErrNotFound", err)
			}
		})
	})
}

func TestMedia_CreateAndUploadTo(t *testing.T) {
	eachRepo(t, nil, func(t *testing.T, r *testRepo) {
		ctx := t.Context()
		create := func(t *testing.T) string {
			t.Helper()
			uri, expires, err := r.Create(ctx, alice)
			if err != nil {
				t.Fatal(err)
			}
			if want := r.clock.Now().Add(ReservationLifetime).UnixMilli(); expires != want {
				t.Errorf("unused_expires_at: got %d, want %d", expires, want)
			}
			_, id, err := ParseMXC(uri)
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		upload := func(id, user, body string) error {
			return r.UploadTo(ctx, testServer, id, Upload{
				Body: strings.NewReader(body), ContentLength: int64(len(body)), ContentType: "text/plain", Filename: "f.txt", Uploader: user,
			})
		}
		id := create(t)
		t.Run("ErrNotYetUploaded", func(t *testing.T) {
			_, err := r.Open(ctx, testServer, id, 0)
			wantErrcode(t, err, http.StatusGatewayTimeout, "M_NOT_YET_UPLOADED")
		})
		t.Run("ErrOtherUser", func(t *testing.T) {
			wantErrcode(t, upload(id, bob, "bob's"), http.StatusForbidden, "M_FORBIDDEN")
		})
		t.Run("OKWhileWaiting", func(t *testing.T) {
			type result struct {
				data []byte
				err  error
			}
			got := make(chan result, 1)
			go func() {
				f, err := r.Open(ctx, testServer, id, 10*time.Second)
				if err != nil {
					got <- result{err: err}
					return
				}
				defer f.Close()
				data, err := io.ReadAll(f)
				got <- result{data, err}
			}()
			waitFor(t, func() bool { // the download is waiting
				r.uploads.mu.Lock()
				defer r.uploads.mu.Unlock()
				return len(r.uploads.waiting) == 1
			})
			if err := upload(id, alice, "async content"); err != nil {
				t.Fatal(err)
			}
			select {
			case res := <-got:
				if res.err != nil || string(res.data) != "async content" {
					t.Errorf("waiting download: got %q (%v), want the upload", res.data, res.err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("waiting download did not finish")
			}
		})
		t.Run("ErrCannotOverwrite", func(t *testing.T) {
			wantErrcode(t, upload(id, alice, "again"), http.StatusConflict, "M_CANNOT_OVERWRITE_MEDIA")
			if data, _ := r.mustRead(t, id); string(data) != "async content" {
				t.Errorf("after refused overwrite: got %q", data)
			}
		})
		t.Run("ErrUnknown", func(t *testing.T) {
			wantErrcode(t, upload("neverCreated", alice, "x"), http.StatusNotFound, "M_NOT_FOUND")
		})
		t.Run("ErrExpired", func(t *testing.T) {
			late := create(t)
			r.clock.Advance(ReservationLifetime + time.Second)
			wantErrcode(t, upload(late, alice, "x"), http.StatusNotFound, "M_NOT_FOUND")
			_, err := r.Open(ctx, testServer, late, 0)
			wantErrcode(t, err, http.StatusNotFound, "M_NOT_FOUND")
		})
		t.Run("ErrTooManyPending", func(t *testing.T) {
			for range MaxPendingUploads {
				if _, _, err := r.Create(ctx, bob); err != nil {
					t.Fatal(err)
				}
			}
			_, _, err := r.Create(ctx, bob)
			wantErrcode(t, err, http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
		})
	})
}

func TestMedia_IDs(t *testing.T) {
	eachRepo(t, nil, func(t *testing.T, r *testRepo) {
		ctx := t.Context()
		id := r.mustUpload(t, alice, "text/plain", []byte("x"))
		for _, tc := range []struct {
			name, server, id string
			status           int
			code             string
		}{
			{"DotDot", testServer, "..", 400, "M_INVALID_PARAM"},
			{"Traversal", testServer, "../../../etc/passwd", 400, "M_INVALID_PARAM"},
			{"EncodedTraversal", testServer, "..%2F..%2Fetc%2Fpasswd", 400, "M_INVALID_PARAM"},
			{"DoubleEncoded", testServer, "%252e%252e", 400, "M_INVALID_PARAM"},
			{"Slash", testServer, id + "/x", 400, "M_INVALID_PARAM"},
			{"Backslash", testServer, "..\\x", 400, "M_INVALID_PARAM"},
			{"Dot", testServer, "a.b", 400, "M_INVALID_PARAM"},
			{"Space", testServer, "a b", 400, "M_INVALID_PARAM"},
			{"NonASCII", testServer, "ä", 400, "M_INVALID_PARAM"},
			{"Empty", testServer, "", 400, "M_INVALID_PARAM"},
			{"TooLong", testServer, strings.Repeat("a", 256), 400, "M_INVALID_PARAM"},
			{"ServerTraversal", "../..", id, 400, "M_INVALID_PARAM"},
			{"ServerSlash", "test.local/x", id, 400, "M_INVALID_PARAM"},
			{"Remote", "other.example", id, 404, "M_NOT_FOUND"},
			{"Unknown", testServer, "unknownid", 404, "M_NOT_FOUND"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := r.Open(ctx, tc.server, tc.id, 0)
				wantErrcode(t, err, tc.status, tc.code)
				_, err = r.Thumbnail(ctx, tc.server, tc.id, ThumbnailRequest{Width: 32, Height: 32, Method: MethodCrop}, 0)
				wantErrcode(t, err, tc.status, tc.code)
				err = r.UploadTo(ctx, tc.server, tc.id, Upload{Body: strings.NewReader("x"), Uploader: alice})
				wantErrcode(t, err, tc.status, tc.code)
			})
		}
	})
}

func TestValidMediaID(t *testing.T) {
	for _, id := range []string{"a", "AZaz09_-", strings.Repeat("x", 255), newMediaID()} {
		if !ValidMediaID(id) {
			t.Errorf("ValidMediaID(%q): got false, want true", id)
		}
	}
	for _, id := range []string{"", ".", "..", "a/b", "a%2Fb", "a\x00", "é", strings.Repeat("x", 256)} {
		if ValidMediaID(id) {
			t.Errorf("ValidMediaID(%q): got true, want false", id)
		}
	}
}

func TestNormalizeContentType(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "application/octet-stream",
		"image/PNG":                 "image/png",
		"text/plain;charset=utf-8":  "text/plain; charset=utf-8",
		"text/html\r\nX-Evil: 1":    "application/octet-stream",
		"not a type":                "application/octet-stream",
		strings.Repeat("a", 300):    "application/octet-stream",
		"application/json; q=\"1\"": "application/json; q=1",
	} {
		if got := normalizeContentType(in); got != want {
			t.Errorf("normalizeContentType(%q): got %q, want %q", in, got, want)
		}
	}
}
