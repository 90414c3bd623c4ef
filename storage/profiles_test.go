package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

func TestDB_Profile(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		mustAccount(t, db, "alice")
		t.Run("OK", func(t *testing.T) {
			p, err := db.Profile(t.Context(), "alice")
			if err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			if p.DisplayName != nil || p.AvatarURL != nil {
				t.Errorf("got %s %s, want an empty profile", str(p.DisplayName), str(p.AvatarURL))
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			if _, err := db.Profile(t.Context(), "nobody"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
	})
}

// TestTx_SetProfileField covers SetDisplayName and SetAvatarURL, which
// differ only in the field they write.
func TestTx_SetProfileField(t *testing.T) {
	for _, field := range []struct {
		name  string
		set   func(tx *storage.Tx, ctx context.Context, localpart string, v *string) error
		get   func(storage.Profile) *string
		other func(storage.Profile) *string
	}{
		{
			name:  "SetDisplayName",
			set:   (*storage.Tx).SetDisplayName,
			get:   func(p storage.Profile) *string { return p.DisplayName },
			other: func(p storage.Profile) *string { return p.AvatarURL },
		},
		{
			name:  "SetAvatarURL",
			set:   (*storage.Tx).SetAvatarURL,
			get:   func(p storage.Profile) *string { return p.AvatarURL },
			other: func(p storage.Profile) *string { return p.DisplayName },
		},
	} {
		t.Run(field.name, func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				mustAccount(t, db, "alice")
				mustAccount(t, db, "bob")
				t.Run("OK", func(t *testing.T) {
					for _, v := range []*string{ptr("first"), ptr("second ✓"), ptr(""), nil, ptr("again")} {
						mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
							return field.set(tx, ctx, "alice", v)
						})
						p, err := db.Profile(t.Context(), "alice")
						if err != nil {
							t.Fatal(err)
						}
						if got := field.get(p); str(got) != str(v) {
							t.Errorf("after setting %s: got %s, want %s", str(v), str(got), str(v))
						}
						if got := field.other(p); got != nil {
							t.Errorf("other field: got %s, want <nil>", str(got))
						}
					}
					p, err := db.Profile(t.Context(), "bob")
					if err != nil {
						t.Fatal(err)
					}
					if got := field.get(p); got != nil {
						t.Errorf("bob's field: got %s, want <nil>", str(got))
					}
				})
				t.Run("ErrNotFound", func(t *testing.T) {
					err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
						return field.set(tx, ctx, "nobody", ptr("x"))
					})
					if !errors.Is(err, storage.ErrNotFound) {
						t.Fatalf("got %v, want ErrNotFound", err)
					}
				})
			})
		})
	}
}
