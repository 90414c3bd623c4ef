package storage_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// TestDB_TxnIDs: the transaction ids of a device's events among many
// event ids (more than one query holds), and none of another device's.
func TestDB_TxnIDs(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			for _, r := range []struct{ device, txn, event string }{
				{"PHONE", "send/!r/t1", "$e5"}, {"PHONE", "send/!r/t2", "$e1500"}, {"LAPTOP", "send/!r/t3", "$e7"},
			} {
				if err := tx.InsertTxn(ctx, "alice", r.device, r.txn, r.event); err != nil {
					return err
				}
			}
			return nil
		})
		var ids []string
		for i := range 2000 {
			ids = append(ids, fmt.Sprintf("$e%d", i))
		}
		got, err := db.TxnIDs(t.Context(), "alice", "PHONE", ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got["$e5"] != "send/!r/t1" || got["$e1500"] != "send/!r/t2" {
			t.Errorf("got %v, want $e5 and $e1500 of PHONE only", got)
		}
	})
}
