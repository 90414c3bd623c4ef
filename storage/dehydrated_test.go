package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// TestTx_SetDehydratedDevice: one dehydrated device per user, replaced by
// the next, forgotten with its device.
func TestTx_SetDehydratedDevice(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		const alice = "@alice:test.local"
		ctx := context.Background()
		t.Run("ErrNotFound", func(t *testing.T) {
			if _, err := db.DehydratedDevice(ctx, alice); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
		t.Run("OK", func(t *testing.T) {
			for _, id := range []string{"FIRST", "SECOND"} {
				mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
					return tx.SetDehydratedDevice(ctx, alice, id, json.RawMessage(`{"pickle":"`+id+`"}`))
				})
			}
			d, err := db.DehydratedDevice(ctx, alice)
			if err != nil || d.DeviceID != "SECOND" || string(d.Data) != `{"pickle":"SECOND"}` {
				t.Fatalf("got %+v (%v), want SECOND with its data", d, err)
			}
		})
		t.Run("OKForgotten", func(t *testing.T) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.ForgetDevices(ctx, alice, []string{"FIRST"}) // not the dehydrated one
			})
			if _, err := db.DehydratedDevice(ctx, alice); err != nil {
				t.Fatalf("after forgetting another device: got %v, want it kept", err)
			}
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.ForgetDevices(ctx, alice, []string{"SECOND"})
			})
			if _, err := db.DehydratedDevice(ctx, alice); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("after forgetting it: got %v, want ErrNotFound", err)
			}
		})
	})
}
