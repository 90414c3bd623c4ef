package storage_test

import (
	"errors"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// TestDB_Claim: one server process at a time per database; the claim
// goes with Close.
func TestDB_Claim(t *testing.T) {
	for _, dialect := range storagetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			url := storagetest.URL(t, dialect)
			first := storagetest.Open(t, url)
			if err := first.Claim(t.Context()); err != nil {
				t.Fatalf("first claim: %v", err)
			}
			second := storagetest.Open(t, url)
			if err := second.Claim(t.Context()); !errors.Is(err, storage.ErrClaimed) {
				t.Fatalf("second claim while the first holds it: got %v, want ErrClaimed", err)
			}
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			if err := second.Claim(t.Context()); err != nil {
				t.Errorf("claim after the first closed: %v", err)
			}
			other := storagetest.Open(t, storagetest.URL(t, dialect))
			if err := other.Claim(t.Context()); err != nil {
				t.Errorf("claim of another database: %v", err)
			}
		})
	}
}
