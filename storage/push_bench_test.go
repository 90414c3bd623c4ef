package storage_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// BenchmarkAddNotifications stores, in one transaction as the push
// evaluator does, the notifications of 100 messages in rooms of 10 (9
// members notified each: the rooms load), and of one message notifying
// 999 members (the longpoll load).
func BenchmarkAddNotifications(b *testing.B) {
	db := storagetest.Open(b, storagetest.URL(b, "sqlite"))
	pos := int64(0)
	run := func(b *testing.B, batch func() []storage.Notification) {
		for b.Loop() {
			ns := batch()
			if err := db.WithTx(context.Background(), func(ctx context.Context, tx *storage.Tx) error {
				return tx.AddNotifications(ctx, ns)
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("Rooms", func(b *testing.B) {
		b.ReportAllocs()
		run(b, func() []storage.Notification {
			var ns []storage.Notification
			for range 100 {
				pos++
				room := pos % 100
				for m := range 9 {
					ns = append(ns, note(fmt.Sprintf("@user%d:bench.local", (room*7+int64(m))%100), pos,
						fmt.Sprintf("!room%d:bench.local", room), storage.MainThread, false))
				}
			}
			return ns
		})
	})
	users := make([]string, 999)
	for i := range users {
		users[i] = fmt.Sprintf("@member%d:bench.local", i)
	}
	b.Run("OneRoom", func(b *testing.B) {
		b.ReportAllocs()
		ns := make([]storage.Notification, len(users))
		run(b, func() []storage.Notification {
			pos++
			for i, u := range users {
				ns[i] = note(u, pos, "!big:bench.local", storage.MainThread, false)
			}
			return ns
		})
	})
}
