package clientapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ganglion/ganglion/storage"
)

// mustAdmin registers a user, makes it a server administrator and logs it
// in again (the first token's session predates the flag).
func (s *testServer) mustAdmin(t *testing.T, localpart string) user {
	t.Helper()
	s.mustRegister(t, localpart, localpart+" password")
	mustTx(t, s.DB, func(ctx context.Context, tx *storage.Tx) error {
		return tx.SetAdmin(ctx, localpart, true)
	})
	return s.mustLogin(t, localpart, localpart+" password")
}

// mustUpload uploads content and returns its media id.
func (s *testServer) mustUpload(t *testing.T, u user, contentType string, content []byte) string {
	t.Helper()
	r := s.doHeaders(t, "POST", "/_matrix/media/v3/upload", u.Token, rawBody(content),
		map[string]string{"Content-Type": contentType})
	wantOK(t, r)
	uri := r.str("content_uri")
	prefix := "mxc://" + serverName + "/"
	if !strings.HasPrefix(uri, prefix) {
		t.Fatalf("upload: got content_uri %q, want %s...", uri, prefix)
	}
	return strings.TrimPrefix(uri, prefix)
}

// contentFile is where the media store keeps content with the hash.
func (s *testServer) contentFile(hash string) string {
	return filepath.Join(s.Cfg.Media.Directory, hash[0:2], hash[2:4], hash)
}

func wantFile(t *testing.T, path string, want bool) {
	t.Helper()
	_, err := os.Stat(path)
	if got := err == nil; got != want {
		t.Errorf("file %s: got present=%v (%v), want %v", filepath.Base(path), got, err, want)
	}
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// smallPNG is a 40x40 PNG: large enough for one common thumbnail (32x32),
// too small for the others.
func smallPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 40, 40))
	for y := range 40 {
		for x := range 40 {
			img.Set(x, y, color.NRGBA{uint8(6 * x), uint8(6 * y), 90, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestAPI_AdminDeleteMedia: a server administrator deletes local media
// with DELETE /_synapse/admin/v1/media/{serverName}/{mediaId}. The file
// goes when no other media has the same content and stays while one does;
// thumbnails go with the media; downloads answer 404 afterwards. Others
// are refused and nothing changes.
func TestAPI_AdminDeleteMedia(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		admin := s.mustAdmin(t, "root")
		text := []byte("minutes of the meeting")
		first := s.mustUpload(t, alice, "text/plain", text)
		second := s.mustUpload(t, alice, "text/plain", text) // the same content, stored once
		textFile := s.contentFile(sha256Hex(text))
		wantFile(t, textFile, true)

		deletePath := func(server, id string) string {
			return "/_synapse/admin/v1/media/" + server + "/" + id
		}
		download := func(id string) int {
			return s.do(t, "GET", v1+"/media/download/"+serverName+"/"+id, alice.Token, nil).Status
		}

		t.Run("ErrForbidden", func(t *testing.T) {
			wantErr(t, s.do(t, "DELETE", deletePath(serverName, first), alice.Token, nil), http.StatusForbidden, "M_FORBIDDEN")
			wantErr(t, s.do(t, "DELETE", deletePath(serverName, "nosuchmedia"), alice.Token, nil), http.StatusForbidden, "M_FORBIDDEN")
			wantErr(t, s.do(t, "DELETE", deletePath(serverName, first), "", nil), http.StatusUnauthorized, "M_MISSING_TOKEN")
			if got := download(first); got != http.StatusOK {
				t.Errorf("download after a refused delete: got %d, want 200", got)
			}
			wantFile(t, textFile, true)
		})
		t.Run("ErrRemote", func(t *testing.T) {
			wantErr(t, s.do(t, "DELETE", deletePath("other.example", first), admin.Token, nil), http.StatusBadRequest, "M_INVALID_PARAM")
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			wantErr(t, s.do(t, "DELETE", deletePath(serverName, "nosuchmedia"), admin.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
		})
		t.Run("SharedContentKept", func(t *testing.T) {
			r := s.do(t, "DELETE", deletePath(serverName, first), admin.Token, nil)
			wantOK(t, r)
			if got, want := string(r.Raw), `{"deleted_media":["`+first+`"],"total":1}`; got != want {
				t.Errorf("answer: got %s, want %s", got, want)
			}
			if got := download(first); got != http.StatusNotFound {
				t.Errorf("download of the deleted media: got %d, want 404", got)
			}
			if got := download(second); got != http.StatusOK {
				t.Errorf("download of the media sharing its content: got %d, want 200", got)
			}
			wantFile(t, textFile, true)
			wantErr(t, s.do(t, "DELETE", deletePath(serverName, first), admin.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
		})
		t.Run("LastReference", func(t *testing.T) {
			wantOK(t, s.do(t, "DELETE", deletePath(serverName, second), admin.Token, nil))
			if got := download(second); got != http.StatusNotFound {
				t.Errorf("download: got %d, want 404", got)
			}
			wantFile(t, textFile, false)
		})
		t.Run("Thumbnails", func(t *testing.T) {
			img := smallPNG(t)
			id := s.mustUpload(t, alice, "image/png", img)
			var thumbs []storage.Thumbnail
			deadline := time.Now().Add(10 * time.Second) // the common thumbnail is made in the background
			for len(thumbs) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("no thumbnail made within 10s")
				}
				time.Sleep(10 * time.Millisecond)
				var err error
				if thumbs, err = s.DB.Thumbnails(t.Context(), serverName, id); err != nil {
					t.Fatal(err)
				}
			}
			thumbFile := s.contentFile(thumbs[0].ContentHash)
			wantFile(t, thumbFile, true)
			wantOK(t, s.do(t, "DELETE", deletePath(serverName, id), admin.Token, nil))
			wantFile(t, s.contentFile(sha256Hex(img)), false)
			wantFile(t, thumbFile, false)
			r := s.do(t, "GET", v1+"/media/thumbnail/"+serverName+"/"+id+"?width=32&height=32&method=crop", alice.Token, nil)
			wantErr(t, r, http.StatusNotFound, "M_NOT_FOUND")
		})
	})
}
