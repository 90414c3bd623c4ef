package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
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

// TestDB_DeviceKeyCounts: the counts every /sync reads follow each
// committed upload, claim and deletion, even right after a read cached
// them, and a rolled-back change leaves them as they were.
func TestDB_DeviceKeyCounts(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		const user, device, alg = "@alice:test.local", "PHONE", "signed_curve25519"
		otk := func(id string) storage.OneTimeKey {
			return storage.OneTimeKey{KeyID: alg + ":" + id, Algorithm: alg, JSON: json.RawMessage(`{"key":"` + id + `"}`)}
		}
		check := func(when string, wantOTK int, wantFallback []string) {
			t.Helper()
			for range 2 { // the second read comes from the cache
				got, err := db.DeviceKeyCounts(ctx, user, device)
				if err != nil {
					t.Fatal(err)
				}
				if got.OneTime[alg] != wantOTK || len(got.UnusedFallback) != len(wantFallback) ||
					(len(wantFallback) > 0 && got.UnusedFallback[0] != wantFallback[0]) {
					t.Fatalf("%s: got %v unused fallback %v, want %d and %v", when, got.OneTime, got.UnusedFallback, wantOTK, wantFallback)
				}
			}
		}
		check("no keys", 0, nil)
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			if err := tx.AddOneTimeKeys(ctx, user, device, []storage.OneTimeKey{otk("A"), otk("B")}); err != nil {
				return err
			}
			return tx.SetFallbackKey(ctx, user, device, otk("F"))
		})
		check("after an upload", 2, []string{alg})
		claim := func() {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				_, err := tx.ClaimKey(ctx, user, device, alg)
				return err
			})
		}
		claim()
		check("after a claim", 1, []string{alg})
		_ = db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
			if _, err := tx.ClaimKey(ctx, user, device, alg); err != nil {
				return err
			}
			return storage.ErrExists // roll back
		})
		check("after a rolled-back claim", 1, []string{alg})
		claim()
		claim() // the fallback key
		check("after the fallback key went out", 0, nil)
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return tx.AddOneTimeKeys(ctx, user, device, []storage.OneTimeKey{otk("C")})
		})
		check("after another upload", 1, nil)
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return tx.DeleteDeviceKeys(ctx, user, device)
		})
		check("after the device's keys were deleted", 0, nil)
	})
}

// TestTx_SetFallbackKey: a new fallback key is unused; the same key
// uploaded again (a retry, or a client sending its current key along with
// new one-time keys) keeps its used mark, so that sync still tells the
// client to replace it.
func TestTx_SetFallbackKey(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		const user, device = "@alice:test.local", "PHONE"
		fallback := func(id string) storage.OneTimeKey {
			return storage.OneTimeKey{KeyID: "signed_curve25519:" + id, Algorithm: "signed_curve25519",
				JSON: json.RawMessage(`{"fallback":true,"key":"` + id + `"}`)}
		}
		set := func(k storage.OneTimeKey) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error { return tx.SetFallbackKey(ctx, user, device, k) })
		}
		unused := func() int {
			t.Helper()
			counts, err := db.DeviceKeyCounts(t.Context(), user, device)
			if err != nil {
				t.Fatal(err)
			}
			return len(counts.UnusedFallback)
		}
		set(fallback("F1"))
		if n := unused(); n != 1 {
			t.Fatalf("after the first upload: got %d unused fallback keys, want 1", n)
		}
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			_, err := tx.ClaimKey(ctx, user, device, "signed_curve25519")
			return err
		})
		t.Run("SameKeyStaysUsed", func(t *testing.T) {
			set(fallback("F1"))
			if n := unused(); n != 0 {
				t.Errorf("the used key uploaded again: got %d unused fallback keys, want 0", n)
			}
		})
		t.Run("NewKeyUnused", func(t *testing.T) {
			set(fallback("F2"))
			if n := unused(); n != 1 {
				t.Errorf("a new key: got %d unused fallback keys, want 1", n)
			}
		})
	})
}

// TestTx_DeleteDeviceKeys: a deleted device's keys and the signatures over
// them are gone, so that a new device with the same id does not show them.
func TestTx_DeleteDeviceKeys(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		const user = "@alice:test.local"
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			if _, err := tx.PutDeviceKeys(ctx, user, "PHONE", json.RawMessage(`{"device_id":"PHONE"}`)); err != nil {
				return err
			}
			for _, target := range []string{"PHONE", "LAPTOP"} {
				if err := tx.PutKeySignature(ctx, storage.KeySignature{TargetUser: user, TargetKeyID: target,
					SignerUser: user, SignerKeyID: "ed25519:SSK", Signature: "sig"}); err != nil {
					return err
				}
			}
			return nil
		})
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error { return tx.DeleteDeviceKeys(ctx, user, "PHONE") })
		got, err := db.KeysOf(t.Context(), []string{user}, nil, user)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Devices[user]) != 0 {
			t.Errorf("device keys: got %v, want none", got.Devices[user])
		}
		if sigs := got.Signatures[user]; len(sigs) != 1 || sigs[0].TargetKeyID != "LAPTOP" {
			t.Errorf("signatures: got %+v, want only the one over LAPTOP", sigs)
		}
	})
}

// TestTx_PutDeviceKeys: the newest upload of a device's keys stands; the same
// keys with other signatures replace the stored object.
func TestTx_PutDeviceKeys(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		const user = "@alice:test.local"
		put := func(keys string) (bool, error) {
			var changed bool
			err := db.WithTx(t.Context(), func(ctx context.Context, tx *storage.Tx) error {
				var err error
				changed, err = tx.PutDeviceKeys(ctx, user, "PHONE", json.RawMessage(keys))
				return err
			})
			return changed, err
		}
		first := `{"device_id":"PHONE","keys":{"curve25519:PHONE":"c1","ed25519:PHONE":"e1"},"signatures":{}}`
		resigned := `{"device_id":"PHONE","keys":{"curve25519:PHONE":"c1","ed25519:PHONE":"e1"},"signatures":{"x":{}}}`
		rekeyed := `{"device_id":"PHONE","keys":{"curve25519:PHONE":"c2","ed25519:PHONE":"e1"},"signatures":{}}`
		for _, step := range []struct {
			name        string
			keys        string
			wantChanged bool
			wantErr     error
		}{
			{"first", first, true, nil},
			{"again", first, false, nil},
			{"other signatures", resigned, true, nil},
		} {
			changed, err := put(step.keys)
			if changed != step.wantChanged || !errors.Is(err, step.wantErr) {
				t.Errorf("%s: got changed %v, %v; want %v, %v", step.name, changed, err, step.wantChanged, step.wantErr)
			}
		}
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return tx.PutKeySignature(ctx, storage.KeySignature{TargetUser: user, TargetKeyID: "PHONE",
				SignerUser: user, SignerKeyID: "ed25519:SELF", Signature: "selfsig"})
		})
		stored := func() string { // the device's keys and the signatures over them
			got, err := db.KeysOf(t.Context(), []string{user}, nil, user)
			if err != nil {
				t.Fatal(err)
			}
			out := string(got.Devices[user]["PHONE"])
			for _, sig := range got.Signatures[user] {
				if sig.TargetKeyID == "PHONE" {
					out += " " + sig.Signature
				}
			}
			return out
		}
		if s := stored(); !strings.Contains(s, `"x"`) || !strings.Contains(s, "selfsig") {
			t.Errorf("stored keys: got %s, want the re-signed object with the self-signing signature", s)
		}
		// A device set up again with new identity keys replaces them, and
		// signatures over the old keys no longer apply.
		if changed, err := put(rekeyed); !changed || err != nil {
			t.Fatalf("other identity keys: got changed %v, %v; want true, nil", changed, err)
		}
		if s := stored(); !strings.Contains(s, `"c2"`) || strings.Contains(s, "selfsig") {
			t.Errorf("stored keys after new identity keys: got %s, want c2 without the old signature", s)
		}
	})
}
