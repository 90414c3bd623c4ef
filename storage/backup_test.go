package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

const megolmBackup = "m.megolm_backup.v1.curve25519-aes-sha2"

func mustBackupVersion(t *testing.T, db *storage.DB, userID string) int64 {
	t.Helper()
	var v int64
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		var err error
		v, err = tx.CreateBackupVersion(ctx, userID, megolmBackup, json.RawMessage(`{"public_key":"pk"}`))
		return err
	})
	return v
}

func mustBackupKeys(t *testing.T, db *storage.DB, userID string, version int64, keys ...storage.BackupKey) {
	t.Helper()
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		if _, err := tx.LockBackupVersion(ctx, userID, version); err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.PutBackupKey(ctx, userID, version, k); err != nil {
				return err
			}
		}
		return tx.BumpBackupEtag(ctx, userID, version)
	})
}

func backupKey(room, session string, index int64) storage.BackupKey {
	return storage.BackupKey{RoomID: room, SessionID: session, FirstMessageIndex: index, SessionData: json.RawMessage(`{"ciphertext":"c"}`)}
}

func TestDB_BackupVersion(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		t.Run("ErrNotFoundNone", func(t *testing.T) {
			if _, err := db.BackupVersion(ctx, "@nobody:x", 0); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("got %v, want ErrNotFound", err)
			}
		})
		t.Run("OKNewestIsCurrent", func(t *testing.T) {
			first := mustBackupVersion(t, db, "@alice:x")
			second := mustBackupVersion(t, db, "@alice:x")
			if second <= first {
				t.Fatalf("second version: got %d, want > %d", second, first)
			}
			cur, err := db.BackupVersion(ctx, "@alice:x", 0)
			if err != nil || cur.Version != second || cur.Algorithm != megolmBackup || string(cur.AuthData) != `{"public_key":"pk"}` {
				t.Fatalf("current: got %+v, %v; want version %d", cur, err, second)
			}
			if old, err := db.BackupVersion(ctx, "@alice:x", first); err != nil || old.Version != first {
				t.Errorf("old version: got %+v, %v", old, err)
			}
			if _, err := db.BackupVersion(ctx, "@bob:x", first); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("another user's version: got %v, want ErrNotFound", err)
			}
		})
		t.Run("OKDeleteFallsBackAndRemovesKeys", func(t *testing.T) {
			first := mustBackupVersion(t, db, "@carol:x")
			second := mustBackupVersion(t, db, "@carol:x")
			mustBackupKeys(t, db, "@carol:x", second, backupKey("!r:x", "s1", 0))
			for range 2 { // deleting twice succeeds
				mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
					return tx.DeleteBackupVersion(ctx, "@carol:x", second)
				})
			}
			if cur, err := db.BackupVersion(ctx, "@carol:x", 0); err != nil || cur.Version != first {
				t.Errorf("current after delete: got %+v, %v; want version %d", cur, err, first)
			}
			if _, err := db.BackupVersion(ctx, "@carol:x", second); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("deleted version: got %v, want ErrNotFound", err)
			}
			if keys, err := db.BackupKeys(ctx, "@carol:x", second, "", ""); err != nil || len(keys) != 0 {
				t.Errorf("keys of the deleted version: got %v, %v; want none", keys, err)
			}
			err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				_, err := tx.LockBackupVersion(ctx, "@carol:x", second)
				return err
			})
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("lock deleted version: got %v, want ErrNotFound", err)
			}
			if third := mustBackupVersion(t, db, "@carol:x"); third <= second {
				t.Errorf("version after delete: got %d, want > %d (never reused)", third, second)
			}
		})
		t.Run("ErrNotFoundDeleteUnknown", func(t *testing.T) {
			err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.DeleteBackupVersion(ctx, "@dave:x", 12345)
			})
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("got %v, want ErrNotFound", err)
			}
		})
		t.Run("OKUpdateAuthData", func(t *testing.T) {
			v := mustBackupVersion(t, db, "@erin:x")
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.UpdateBackupAuthData(ctx, "@erin:x", v, json.RawMessage(`{"public_key":"new"}`))
			})
			if got, err := db.BackupVersion(ctx, "@erin:x", v); err != nil || string(got.AuthData) != `{"public_key":"new"}` {
				t.Errorf("got %+v, %v; want the new auth_data", got, err)
			}
		})
	})
}

func TestTx_PutBackupKey(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		v := mustBackupVersion(t, db, "@alice:x")
		before, err := db.BackupVersion(ctx, "@alice:x", v)
		if err != nil {
			t.Fatal(err)
		}
		mustBackupKeys(t, db, "@alice:x", v, backupKey("!a:x", "s1", 3), backupKey("!a:x", "s2", 0), backupKey("!b:x", "s1", 0))
		after, err := db.BackupVersion(ctx, "@alice:x", v)
		if err != nil {
			t.Fatal(err)
		}
		if after.Count != 3 || after.Etag == before.Etag {
			t.Errorf("after storing: got count %d etag %d, want 3 and an etag other than %d", after.Count, after.Etag, before.Etag)
		}
		replaced := backupKey("!a:x", "s1", 1)
		replaced.IsVerified = true
		mustBackupKeys(t, db, "@alice:x", v, replaced)
		var got storage.BackupKey
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			got, err = tx.BackupKey(ctx, "@alice:x", v, "!a:x", "s1")
			return err
		})
		if got.FirstMessageIndex != 1 || !got.IsVerified {
			t.Errorf("replaced key: got %+v", got)
		}
		if room, err := db.BackupKeys(ctx, "@alice:x", v, "!a:x", ""); err != nil || len(room) != 2 {
			t.Errorf("keys of room !a:x: got %d, %v; want 2", len(room), err)
		}
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return tx.DeleteBackupKeys(ctx, "@alice:x", v, "!a:x", "s2")
		})
		deleted, err := db.BackupVersion(ctx, "@alice:x", v)
		if err != nil || deleted.Count != 2 || deleted.Etag == after.Etag {
			t.Errorf("after deleting one: got %+v, %v; want count 2 and a new etag", deleted, err)
		}
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return tx.DeleteBackupKeys(ctx, "@alice:x", v, "!nothing:x", "")
		})
		if same, _ := db.BackupVersion(ctx, "@alice:x", v); same.Etag != deleted.Etag {
			t.Errorf("deleting nothing: got etag %d, want %d unchanged", same.Etag, deleted.Etag)
		}
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return tx.DeleteBackupKeys(ctx, "@alice:x", v, "", "")
		})
		if all, err := db.BackupKeys(ctx, "@alice:x", v, "", ""); err != nil || len(all) != 0 {
			t.Errorf("after deleting all: got %v, %v", all, err)
		}
	})
}
