package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "signing.key")
		if err := WriteFileAtomic(path, []byte("old"), 0o644); err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		if err := WriteFileAtomic(path, []byte("new"), 0o600); err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != "new" {
			t.Errorf("got %q, want %q", data, "new")
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != 0o600 {
			t.Errorf("got mode %v, want %v", got, os.FileMode(0o600))
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Errorf("got %d files in the directory, want 1 (no temporary files left)", len(entries))
		}
	})
	t.Run("ErrNoDirectory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing", "ganglion.yaml")
		err := WriteFileAtomic(path, []byte("x"), 0o644)
		wantErrContaining(t, err, path)
	})
	t.Run("ErrRenameLeavesNoTemp", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "taken")
		if err := os.MkdirAll(filepath.Join(path, "child"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := WriteFileAtomic(path, []byte("x"), 0o644); err == nil {
			t.Fatal("got nil error renaming over a non-empty directory, want one")
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Errorf("got %d entries, want 1 (temporary file removed)", len(entries))
		}
	})
}
