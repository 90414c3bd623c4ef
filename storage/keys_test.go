package storage_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// TestTx_ClaimKey: one-time keys go out in upload order, the oldest
// upload first whatever their ids (MSC4225), then the fallback key.
func TestTx_ClaimKey(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		otk := func(id string) storage.OneTimeKey {
			return storage.OneTimeKey{KeyID: "signed_curve25519:" + id, Algorithm: "signed_curve25519", JSON: json.RawMessage(`{"key":"` + id + `"}`)}
		}
		upload := func(keys ...storage.OneTimeKey) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.AddOneTimeKeys(ctx, "@alice:test.local", "PHONE", keys)
			})
		}
		upload(otk("B"), otk("C"))
		upload(otk("A"))
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return tx.SetFallbackKey(ctx, "@alice:test.local", "PHONE", otk("F"))
		})
		var got []string
		for range 4 {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				k, err := tx.ClaimKey(ctx, "@alice:test.local", "PHONE", "signed_curve25519")
				got = append(got, k.KeyID)
				return err
			})
		}
		want := []string{"signed_curve25519:B", "signed_curve25519:C", "signed_curve25519:A", "signed_curve25519:F"}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("claims: got %q, want %q", got, want)
			}
		}
	})
}
