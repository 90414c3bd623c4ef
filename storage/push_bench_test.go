package storage_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// BenchmarkAddNotifications stores the notifications of 100 messages in
// rooms of 10 (9 members notified each) in one transaction, as the push
// evaluator does under the rooms load.
func BenchmarkAddNotifications(b *testing.B) {
	db := storagetest.Open(b, storagetest.URL(b, "sqlite"))
	pos := int64(0)
	b.ResetTimer()
	for range b.N {
		var ns []storage.Notification
		for range 100 {
			pos++
			room := pos % 100
			for m := range 9 {
				ns = append(ns, note(fmt.Sprintf("@user%d:bench.local", (room*7+int64(m))%100), pos,
					fmt.Sprintf("!room%d:bench.local", room), storage.MainThread, false))
			}
		}
		if err := db.WithTx(context.Background(), func(ctx context.Context, tx *storage.Tx) error {
			return tx.AddNotifications(ctx, ns)
		}); err != nil {
			b.Fatal(err)
		}
	}
}
