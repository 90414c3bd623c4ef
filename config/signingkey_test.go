package config

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreateSigningKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "signing.key")
	first, created, err := LoadOrCreateSigningKey(path)
	if err != nil || !created {
		t.Fatalf("first load: created=%v err=%v, want created", created, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("got mode %v, want 0600", info.Mode().Perm())
	}
	t.Run("OK", func(t *testing.T) {
		again, created, err := LoadOrCreateSigningKey(path)
		if err != nil || created {
			t.Fatalf("second load: created=%v err=%v, want reuse", created, err)
		}
		if again.ID != first.ID || !bytes.Equal(again.Key, first.Key) {
			t.Errorf("got key %s, want the stored %s", again.ID, first.ID)
		}
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.key")
		for _, content := range []string{"", "ed25519 a", "rsa a AAAA", "ed25519 a !!!!", "ed25519 a AAAA"} {
			if err := os.WriteFile(bad, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, _, err := LoadOrCreateSigningKey(bad); err == nil {
				t.Errorf("content %q: got nil error, want a parse error", content)
			}
		}
	})
}
