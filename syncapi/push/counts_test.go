package push

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

const (
	countsUser = "@bob:test.local"
	countsRoom = "!r:test.local"
	thread     = "$root"
)

func notification(pos int64, thread string, highlight bool) storage.Notification {
	return storage.Notification{
		UserID: countsUser, StreamPos: pos, RoomID: countsRoom, EventID: fmt.Sprintf("$e%d", pos), ThreadID: thread,
		Highlight: highlight, Actions: json.RawMessage(`["notify"]`),
	}
}

func render(cs []storage.ThreadCounts) string {
	m := map[string]string{}
	for _, c := range cs {
		m[c.ThreadID] = fmt.Sprintf("%d/%d", c.Notify, c.Highlights)
	}
	out := ""
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out += k + "=" + m[k] + " "
	}
	return out
}

// TestEvaluator_CountsInFlight: the counts of an evaluated batch whose
// notifications are not stored yet are added to the stored ones, as its
// transaction will leave them: reads up to an event of the batch drop
// what is stored, notifications after them count.
func TestEvaluator_CountsInFlight(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := &Evaluator{db: db}
		stored := []storage.Notification{
			notification(1, storage.MainThread, false), notification(2, storage.MainThread, true),
			notification(3, thread, false),
		}
		if err := db.WithTx(t.Context(), func(ctx context.Context, tx *storage.Tx) error {
			return tx.AddNotifications(ctx, stored)
		}); err != nil {
			t.Fatal(err)
		}
		read := func(pos int64, thread string) storage.Notification {
			return storage.Notification{UserID: countsUser, RoomID: countsRoom, ThreadID: thread, StreamPos: pos}
		}
		type op struct {
			n    storage.Notification
			read bool
		}
		for _, tc := range []struct {
			name string
			ops  []op
			want string
		}{
			{"none", nil, "$root=1/0 main=2/1 "},
			{"adds", []op{{n: notification(5, storage.MainThread, true)}, {n: notification(6, "$other", false)}},
				"$other=1/0 $root=1/0 main=3/2 "},
			{"read main, then a new one", []op{
				{n: notification(5, storage.MainThread, false)}, {n: read(6, storage.MainThread), read: true},
				{n: notification(7, storage.MainThread, false)},
			}, "$root=1/0 main=1/0 "},
			{"left the room", []op{{n: notification(5, thread, false)}, {n: read(6, ""), read: true}}, ""},
			{"other user", []op{{n: storage.Notification{UserID: "@carol:test.local", RoomID: countsRoom,
				ThreadID: storage.MainThread, StreamPos: 5}}}, "$root=1/0 main=2/1 "},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := newFlight()
				for _, o := range tc.ops {
					if o.read {
						f.read(o.n)
					} else {
						f.add(o.n)
					}
				}
				e.flight = f
				defer e.land(f)
				got, err := e.Counts(t.Context(), countsUser, countsRoom)
				if err != nil || render(got) != tc.want {
					t.Fatalf("got %q, %v; want %q", render(got), err, tc.want)
				}
			})
		}

		t.Run("committing", func(t *testing.T) { // stored, not yet landed: counted once, without waiting
			f := newFlight()
			n := notification(9, storage.MainThread, false)
			f.add(n)
			if err := e.readBases(t.Context(), f); err != nil {
				t.Fatal(err)
			}
			f.committing = true
			e.flight = f
			defer e.land(f)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			got, err := e.Counts(ctx, countsUser, countsRoom) // before the commit
			if err != nil || render(got) != "$root=1/0 main=3/1 " {
				t.Fatalf("before the commit: got %q, %v; want the stored counts with the batch", render(got), err)
			}
			got, err = e.Counts(ctx, "@carol:test.local", countsRoom)
			if err != nil || render(got) != "" {
				t.Fatalf("a member the batch does not change: got %q, %v; want none", render(got), err)
			}
		})
		t.Run("committing after another change", func(t *testing.T) { // a receipt: wait for the batch
			f := newFlight()
			n := notification(10, storage.MainThread, false)
			f.add(n)
			if err := e.readBases(t.Context(), f); err != nil {
				t.Fatal(err)
			}
			if err := db.WithTx(t.Context(), func(ctx context.Context, tx *storage.Tx) error {
				if _, err := tx.MarkNotificationsRead(ctx, countsUser, countsRoom, "", 9); err != nil {
					return err
				}
				return tx.AddNotifications(ctx, []storage.Notification{n}) // the batch's commit
			}); err != nil {
				t.Fatal(err)
			}
			f.committing = true
			e.flight = f
			landed := make(chan struct{})
			go func() {
				time.Sleep(20 * time.Millisecond)
				close(landed)
				e.land(f)
			}()
			got, err := e.Counts(t.Context(), countsUser, countsRoom)
			select {
			case <-landed:
			default:
				t.Error("counts answered before the batch landed")
			}
			if err != nil || render(got) != "main=1/0 " {
				t.Fatalf("got %q, %v; want the stored counts", render(got), err)
			}
		})
	})
}

// TestEvaluator_CountsStoredFlight: once a flight is stored, the counts
// read before its transaction plus the flight are what storage answers,
// unless another transaction changed them meanwhile (then storage is
// read again).
func TestEvaluator_CountsStoredFlight(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := &Evaluator{db: db}
		add := func(ns ...storage.Notification) {
			t.Helper()
			if err := db.WithTx(t.Context(), func(ctx context.Context, tx *storage.Tx) error {
				return tx.AddNotifications(ctx, ns)
			}); err != nil {
				t.Fatal(err)
			}
		}
		add(notification(1, storage.MainThread, false))
		for _, tc := range []struct {
			name        string
			receipt     bool // a read receipt commits between the read and the flight's commit
			pos         int64
			want, after string
		}{
			{"nothing between", false, 2, "main=2/0 ", "main=2/0 "},
			{"a receipt between", true, 3, "main=3/0 ", "main=1/0 "},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := newFlight()
				n := notification(tc.pos, storage.MainThread, false)
				f.add(n)
				e.flight = f
				if err := e.readBases(t.Context(), f); err != nil {
					t.Fatal(err)
				}
				got, err := e.Counts(t.Context(), countsUser, countsRoom)
				if err != nil || render(got) != tc.want {
					t.Fatalf("pending: got %q, %v; want %q", render(got), err, tc.want)
				}
				if tc.receipt {
					if err := db.WithTx(t.Context(), func(ctx context.Context, tx *storage.Tx) error {
						_, err := tx.MarkNotificationsRead(ctx, countsUser, countsRoom, "", tc.pos-1)
						return err
					}); err != nil {
						t.Fatal(err)
					}
				}
				add(n)
				e.cacheStored(f)
				e.land(f)
				got, err = e.Counts(t.Context(), countsUser, countsRoom)
				if err != nil || render(got) != tc.after {
					t.Fatalf("stored: got %q, %v; want %q", render(got), err, tc.after)
				}
			})
		}
	})
}
