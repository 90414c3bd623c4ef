package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ganglion/ganglion/config"
)

// TestMediaCommand: "ganglion media delete" deletes media of a running
// server from its database and media directory: the download answers 404
// at once, the file stays while other media has the same content and goes
// with the last of them; unknown, remote and malformed URIs are errors.
func TestMediaCommand(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		path := writeConfig(t, cfg)
		ctx := t.Context()
		alice := mustRegister(t, srv.URL, "alice", "alice password")
		content := []byte("quarterly figures")
		first := mustUploadMedia(t, alice, content, "text/plain", "a.txt")
		second := mustUploadMedia(t, alice, content, "text/plain", "b.txt")
		sum := sha256.Sum256(content)
		hash := hex.EncodeToString(sum[:])
		file := filepath.Join(cfg.Media.Directory, hash[0:2], hash[2:4], hash)
		present := func() bool {
			_, err := os.Stat(file)
			return err == nil
		}
		if !present() {
			t.Fatalf("content file %s missing after upload", file)
		}
		deleteURI := func(uri string) error {
			return run(ctx, []string{"media", "delete", "-config", path, uri})
		}

		if err := deleteURI(first.String()); err != nil {
			t.Fatalf("delete %s: %v", first, err)
		}
		if _, err := alice.DownloadBytes(ctx, first); err == nil {
			t.Error("download of deleted media: got it, want 404")
		} else if status, errcode := httpError(err); status != http.StatusNotFound || errcode != "M_NOT_FOUND" {
			t.Errorf("download of deleted media: got %d %s, want 404 M_NOT_FOUND", status, errcode)
		}
		if got, err := alice.DownloadBytes(ctx, second); err != nil || string(got) != string(content) {
			t.Errorf("download of the media with the same content: got %q, %v", got, err)
		}
		if !present() {
			t.Error("content file removed while other media has the same content")
		}

		for _, bad := range []string{first.String(), "mxc://other.example/abc", "https://test.local/abc", "mxc://test.local/a.b"} {
			if err := deleteURI(bad); err == nil || !strings.Contains(err.Error(), bad) {
				t.Errorf("delete %s: got %v, want an error naming it", bad, err)
			}
		}
		if err := run(ctx, []string{"media", "delete", "-config", path}); err == nil {
			t.Error("delete without a URI: got nil error")
		}

		if err := deleteURI(second.String()); err != nil {
			t.Fatalf("delete %s: %v", second, err)
		}
		if present() {
			t.Error("content file kept after its last media was deleted")
		}
	})
}
