package push_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
	"github.com/ganglion/ganglion/syncapi/push"
)

const (
	server = "test.local"
	alice  = "@alice:test.local"
	bob    = "@bob:test.local"
	carol  = "@carol:test.local"
)

// world is a roomserver and an evaluator on one database.
type world struct {
	db        *storage.DB
	rooms     *roomserver.Roomserver
	log       *logrus.Logger
	published func(pos int64) // the evaluators' Deps.Published
}

func newWorld(t *testing.T, db *storage.DB) *world {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetLevel(logrus.PanicLevel)
	rooms, err := roomserver.New(roomserver.Config{DefaultRoomVersion: "10"}, roomserver.Deps{
		DB: db, Log: log, ServerName: server, KeyID: "ed25519:test", Key: key,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &world{db: db, rooms: rooms, log: log}
}

// startEvaluator runs a new evaluator until the returned stop is called or
// the test ends.
func (w *world) startEvaluator(t *testing.T) (*push.Evaluator, func()) {
	t.Helper()
	ev, err := push.New(context.Background(), server, push.Deps{DB: w.db, Rooms: w.rooms, Log: w.log, Published: w.published})
	if err != nil {
		t.Fatal(err)
	}
	w.rooms.Subscribe(ev)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := ev.Run(ctx); err != nil {
			t.Errorf("evaluator stopped with %v", err)
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return ev, stop
}

func (w *world) send(t *testing.T, roomID, sender, typ string, stateKey *string, content any) roomserver.Sent {
	t.Helper()
	raw, err := json.Marshal(content)
	if err != nil {
		t.Fatal(err)
	}
	sent, err := w.rooms.Send(context.Background(), roomserver.Proto{
		RoomID: roomID, Sender: sender, Type: typ, StateKey: stateKey, Content: raw,
	})
	if err != nil {
		t.Fatalf("send %s: %v", typ, err)
	}
	return sent
}

func (w *world) message(t *testing.T, roomID, sender string, content map[string]any) roomserver.Sent {
	t.Helper()
	if content["msgtype"] == nil {
		content["msgtype"] = "m.text"
	}
	return w.send(t, roomID, sender, "m.room.message", nil, content)
}

// room creates a public room of alice that the others join.
func (w *world) room(t *testing.T, others ...string) string {
	t.Helper()
	roomID, err := w.rooms.CreateRoom(context.Background(), roomserver.CreateRequest{
		Creator: alice, Preset: roomserver.PresetPublic,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range others {
		w.send(t, roomID, u, spec.MRoomMember, &u, map[string]string{"membership": "join"})
	}
	return roomID
}

func mustWait(t *testing.T, ev *push.Evaluator, pos int64) {
	t.Helper()
	if !ev.WaitStored(t.Context(), pos) {
		t.Fatalf("evaluator did not reach position %d (at %d)", pos, ev.Processed())
	}
}

// counts renders a user's counts in a room as thread=notify/highlight.
func counts(t *testing.T, db *storage.DB, user, roomID string) map[string]string {
	t.Helper()
	cs, err := db.NotificationCounts(t.Context(), user, roomID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range cs {
		out[c.ThreadID] = fmt.Sprintf("%d/%d", c.Notify, c.Highlights)
	}
	return out
}

func wantCounts(t *testing.T, db *storage.DB, user, roomID string, want map[string]string) {
	t.Helper()
	got := counts(t, db, user, roomID)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("counts of %s: got %v, want %v", user, got, want)
	}
}

const main = storage.MainThread

func TestEvaluator_Counts(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		w := newWorld(t, db)
		ev, _ := w.startEvaluator(t)
		roomID := w.room(t, bob, carol)

		w.message(t, roomID, alice, map[string]any{"body": "hello"})
		sent := w.message(t, roomID, alice, map[string]any{"body": "bob?", "m.mentions": map[string]any{"user_ids": []string{bob}}})
		mustWait(t, ev, sent.StreamPos)
		wantCounts(t, db, bob, roomID, map[string]string{main: "2/1"})
		wantCounts(t, db, carol, roomID, map[string]string{main: "2/0"})
		wantCounts(t, db, alice, roomID, map[string]string{})

		t.Run("SenderReads", func(t *testing.T) {
			sent := w.message(t, roomID, bob, map[string]any{"body": "here"})
			mustWait(t, ev, sent.StreamPos)
			wantCounts(t, db, bob, roomID, map[string]string{})
			wantCounts(t, db, alice, roomID, map[string]string{main: "1/0"})
		})
		t.Run("Threads", func(t *testing.T) {
			root := w.message(t, roomID, alice, map[string]any{"body": "root"})
			thread := map[string]any{"rel_type": "m.thread", "event_id": root.EventID}
			reply := w.message(t, roomID, alice, map[string]any{"body": "in thread", "m.relates_to": thread})
			if err := ev.UpdateRules(t.Context(), carol, func(rs *push.Ruleset) error {
				return rs.Put(push.Override, "everything", push.RuleInput{Actions: json.RawMessage(`["notify"]`)}, "", "")
			}); err != nil {
				t.Fatal(err)
			}
			// A reaction to the reply is in the reply's thread: one hop.
			reaction := w.send(t, roomID, alice, "m.reaction", nil, map[string]any{"m.relates_to": map[string]any{
				"rel_type": "m.annotation", "event_id": reply.EventID, "key": "👍"}})
			mustWait(t, ev, reaction.StreamPos)
			wantCounts(t, db, bob, roomID, map[string]string{main: "1/0", root.EventID: "1/0"})
			wantCounts(t, db, carol, roomID, map[string]string{main: "4/0", root.EventID: "2/0"})
		})
		t.Run("RulesChange", func(t *testing.T) {
			before := counts(t, db, bob, roomID)
			if err := ev.UpdateRules(t.Context(), bob, func(rs *push.Ruleset) error {
				return rs.SetActions(push.Underride, ".m.rule.message", json.RawMessage(`[]`))
			}); err != nil {
				t.Fatal(err)
			}
			sent := w.message(t, roomID, alice, map[string]any{"body": "quiet"})
			mustWait(t, ev, sent.StreamPos)
			wantCounts(t, db, bob, roomID, before)
		})
		t.Run("LeaveDropsCounts", func(t *testing.T) {
			left := w.send(t, roomID, carol, spec.MRoomMember, ptr(carol), map[string]string{"membership": "leave"})
			mustWait(t, ev, left.StreamPos)
			wantCounts(t, db, carol, roomID, map[string]string{})
		})
	})
}

func ptr(s string) *string { return &s }

// TestEvaluator_Published: Deps.Published is told each position evaluated,
// in order, once the counts of the events up to it can be read.
func TestEvaluator_Published(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		w := newWorld(t, db)
		roomID := w.room(t, bob)
		told := make(chan int64, 100)
		var ev *push.Evaluator
		w.published = func(pos int64) {
			counts, err := ev.Counts(context.Background(), bob, roomID)
			if err != nil {
				t.Error(err)
			}
			var notify int64
			for _, c := range counts {
				notify += c.Notify
			}
			told <- pos<<8 | notify
		}
		sent := w.message(t, roomID, alice, map[string]any{"body": "before the start"})
		ev, _ = w.startEvaluator(t)
		second := w.message(t, roomID, alice, map[string]any{"body": "one more"})
		var last, notify int64
		for i, want := range []int64{sent.StreamPos, second.StreamPos} {
			for last < want {
				select {
				case got := <-told:
					if got>>8 <= last {
						t.Fatalf("told %d after %d", got>>8, last)
					}
					last, notify = got>>8, got&0xff
				case <-time.After(10 * time.Second):
					t.Fatalf("position %d never told (last %d)", want, last)
				}
			}
			if last == want && notify != int64(i+1) {
				t.Errorf("counts when %d was told: %d notifications, want %d", last, notify, i+1)
			}
		}
	})
}

// TestEvaluator_Resume: a new evaluator (a restart) evaluates what was
// sent while none ran, and nothing twice.
func TestEvaluator_Resume(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		w := newWorld(t, db)
		ev, stop := w.startEvaluator(t)
		roomID := w.room(t, bob)
		mustWait(t, ev, w.message(t, roomID, alice, map[string]any{"body": "one"}).StreamPos)
		stop()
		w.message(t, roomID, alice, map[string]any{"body": "two"})
		last := w.message(t, roomID, alice, map[string]any{"body": "three"})
		wantCounts(t, db, bob, roomID, map[string]string{main: "1/0"})

		again, _ := w.startEvaluator(t)
		mustWait(t, again, last.StreamPos)
		wantCounts(t, db, bob, roomID, map[string]string{main: "3/0"})
		notes, _, err := db.Notifications(t.Context(), bob, 0, 10, false)
		if err != nil || len(notes) != 3 || notes[0].EventID != last.EventID {
			t.Fatalf("notifications: got %+v, %v", notes, err)
		}
	})
}

// TestEvaluator_TwoAtOnce: two evaluators on one database (two processes)
// take turns and count every event once.
func TestEvaluator_TwoAtOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		w := newWorld(t, db)
		one, _ := w.startEvaluator(t)
		two, _ := w.startEvaluator(t)
		roomID := w.room(t, bob)
		var last roomserver.Sent
		for i := range 20 {
			last = w.message(t, roomID, alice, map[string]any{"body": fmt.Sprint(i)})
		}
		mustWait(t, one, last.StreamPos)
		mustWait(t, two, last.StreamPos)
		wantCounts(t, db, bob, roomID, map[string]string{main: "20/0"})
	})
}

// TestEvaluator_IgnoredSenders: events from a user someone ignores never
// notify that someone, from the moment the list changes (the cached rules
// are dropped) until it changes back.
func TestEvaluator_IgnoredSenders(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		w := newWorld(t, db)
		ev, _ := w.startEvaluator(t)
		roomID := w.room(t, bob, carol)
		setIgnored := func(content string) {
			t.Helper()
			if err := db.WithTx(t.Context(), func(ctx context.Context, tx *storage.Tx) error {
				_, err := tx.PutAccountData(ctx, "bob", "", push.IgnoredListType, json.RawMessage(content))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			ev.IgnoredListChanged(bob)
		}
		mention := map[string]any{"body": "bob?", "m.mentions": map[string]any{"user_ids": []string{bob}}}

		mustWait(t, ev, w.message(t, roomID, alice, map[string]any{"body": "hello"}).StreamPos) // bob's rules are cached now
		wantCounts(t, db, bob, roomID, map[string]string{main: "1/0"})

		setIgnored(`{"ignored_users":{"@alice:test.local":{}}}`)
		mustWait(t, ev, w.message(t, roomID, alice, mention).StreamPos)
		wantCounts(t, db, bob, roomID, map[string]string{main: "1/0"})
		wantCounts(t, db, carol, roomID, map[string]string{main: "2/0"})

		setIgnored(`{"ignored_users":{}}`)
		mustWait(t, ev, w.message(t, roomID, alice, mention).StreamPos)
		wantCounts(t, db, bob, roomID, map[string]string{main: "2/1"})
	})
}

// TestEvaluator_SendingReads: sending reads the sender's thread up to the
// event; a sender with nothing unread in the room costs no write.
func TestEvaluator_SendingReads(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		w := newWorld(t, db)
		ev, _ := w.startEvaluator(t)
		roomID := w.room(t, bob)
		mustWait(t, ev, w.message(t, roomID, bob, map[string]any{"body": "hi"}).StreamPos)
		wantCounts(t, db, alice, roomID, map[string]string{main: "1/0"})
		mustWait(t, ev, w.message(t, roomID, alice, map[string]any{"body": "reply"}).StreamPos)
		wantCounts(t, db, alice, roomID, map[string]string{})

		gen := db.UnreadGen(alice, roomID)
		mustWait(t, ev, w.message(t, roomID, alice, map[string]any{"body": "again"}).StreamPos)
		if got := db.UnreadGen(alice, roomID); got != gen {
			t.Errorf("alice's counts generation moved from %d to %d: nothing was unread", gen, got)
		}
		wantCounts(t, db, alice, roomID, map[string]string{})
		wantCounts(t, db, bob, roomID, map[string]string{main: "2/0"})

		mustWait(t, ev, w.message(t, roomID, bob, map[string]any{"body": "more"}).StreamPos)
		wantCounts(t, db, alice, roomID, map[string]string{main: "1/0"})
		mustWait(t, ev, w.message(t, roomID, alice, map[string]any{"body": "read"}).StreamPos)
		wantCounts(t, db, alice, roomID, map[string]string{})
	})
}

// TestEvaluator_ReadsInOneBatch: a read marking in the middle of a batch
// keeps the notifications the batch adds after it.
func TestEvaluator_ReadsInOneBatch(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		w := newWorld(t, db)
		_, stop := w.startEvaluator(t)
		roomID := w.room(t, bob)
		stop()
		w.message(t, roomID, bob, map[string]any{"body": "one"})
		w.message(t, roomID, alice, map[string]any{"body": "reading"})
		last := w.message(t, roomID, bob, map[string]any{"body": "two"})
		again, _ := w.startEvaluator(t) // evaluates the three in one batch
		mustWait(t, again, last.StreamPos)
		// Read the stored counts, not those the evaluator cached: a read
		// marking before everything moves the generation and nothing else.
		for _, u := range []string{alice, bob} {
			if err := db.WithTx(t.Context(), func(ctx context.Context, tx *storage.Tx) error {
				_, err := tx.MarkNotificationsRead(ctx, u, roomID, "", 0)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		wantCounts(t, db, alice, roomID, map[string]string{main: "1/0"})
		wantCounts(t, db, bob, roomID, map[string]string{})
	})
}
