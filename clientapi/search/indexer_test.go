package search_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/clientapi/search"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

const alice = "@alice:test.local"

// fixture is a roomserver on a fresh database with one room of alice's.
type fixture struct {
	db    *storage.DB
	rooms *roomserver.Roomserver
	room  string
}

func newFixture(t *testing.T, db *storage.DB) *fixture {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := roomserver.New(roomserver.Config{DefaultRoomVersion: "10"}, roomserver.Deps{
		DB: db, Log: testLog(t), ServerName: "test.local", KeyID: "ed25519:test", Key: key,
	})
	if err != nil {
		t.Fatal(err)
	}
	name, topic := "Site 7", "Roofing and slates"
	room, err := rs.CreateRoom(t.Context(), roomserver.CreateRequest{Creator: alice, Name: &name, Topic: &topic})
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	return &fixture{db: db, rooms: rs, room: room}
}

// testLog sends log lines to the test; errors fail it.
func testLog(t *testing.T) *logrus.Logger {
	log := logrus.New()
	log.SetOutput(io.Discard)
	log.AddHook(failHook{t})
	return log
}

type failHook struct{ t *testing.T }

func (failHook) Levels() []logrus.Level { return logrus.AllLevels }
func (h failHook) Fire(e *logrus.Entry) error {
	if e.Level <= logrus.ErrorLevel {
		h.t.Errorf("log: %s %v", e.Message, e.Data)
	}
	return nil
}

func newIndexer(t *testing.T, db *storage.DB) *search.Indexer {
	t.Helper()
	ix, err := search.New(search.Deps{DB: db, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// send sends a message of alice's and returns its event id and position.
func (f *fixture) send(t *testing.T, body string) roomserver.Sent {
	t.Helper()
	content, _ := json.Marshal(map[string]string{"msgtype": "m.text", "body": body})
	sent, err := f.rooms.Send(t.Context(), roomserver.Proto{RoomID: f.room, Sender: alice, Type: "m.room.message", Content: content})
	if err != nil {
		t.Fatalf("send %q: %v", body, err)
	}
	return sent
}

func (f *fixture) redact(t *testing.T, eventID string) roomserver.Sent {
	t.Helper()
	sent, err := f.rooms.Send(t.Context(), roomserver.Proto{
		RoomID: f.room, Sender: alice, Type: "m.room.redaction", Redacts: eventID,
		Content: []byte(fmt.Sprintf(`{"redacts":%q}`, eventID)),
	})
	if err != nil {
		t.Fatalf("redact %s: %v", eventID, err)
	}
	return sent
}

// found returns the ids of the events the index finds for terms in the
// fixture's room, newest first.
func (f *fixture) found(t *testing.T, terms string) []string {
	t.Helper()
	room, err := f.db.Room(t.Context(), f.room)
	if err != nil {
		t.Fatal(err)
	}
	hits, err := f.db.Search(t.Context(), storage.SearchQuery{
		Terms: storage.ParseSearchTerms(terms), Rooms: []storage.SearchRoom{{NID: room.NID}}, Limit: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, h := range hits {
		ids = append(ids, h.EventID)
	}
	return ids
}

func wantFound(t *testing.T, f *fixture, terms string, want ...string) {
	t.Helper()
	if got := f.found(t, terms); !slices.Equal(got, want) {
		t.Errorf("search %q: got %v, want %v", terms, got, want)
	}
}

func mustCatchUp(t *testing.T, ix *search.Indexer, want int64) {
	t.Helper()
	got, err := ix.CatchUp(t.Context())
	if err != nil {
		t.Fatalf("CatchUp: %v", err)
	}
	if got != want {
		t.Fatalf("CatchUp: got position %d, want %d", got, want)
	}
}

func TestIndexer_CatchUp(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		tiles := f.send(t, "The tiles arrive on Monday")
		crane := f.send(t, "Crane booked for the tiles")
		ix := newIndexer(t, db)
		ix.SetBatchSize(2) // the room's creation alone takes several batches
		wantFound(t, f, "tiles")
		mustCatchUp(t, ix, crane.StreamPos)

		wantFound(t, f, "tiles", crane.EventID, tiles.EventID)
		wantFound(t, f, "monday", tiles.EventID)
		if got := f.found(t, "roofing"); len(got) != 1 { // the topic
			t.Errorf("search topic: got %v, want the topic event", got)
		}
		if got := f.found(t, "site"); len(got) != 1 { // the name
			t.Errorf("search name: got %v, want the name event", got)
		}
		wantFound(t, f, "alice") // membership events are not indexed
		if pos, err := db.StreamPos(t.Context(), storage.SearchStream); err != nil || pos != crane.StreamPos {
			t.Errorf("stored search position: got %d, %v, want %d", pos, err, crane.StreamPos)
		}
		mustCatchUp(t, ix, crane.StreamPos) // nothing new
	})
}

func TestIndexer_Redaction(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ix := newIndexer(t, db)
		kept := f.send(t, "password policy")
		secret := f.send(t, "password hunter2")
		mustCatchUp(t, ix, secret.StreamPos)
		wantFound(t, f, "password", secret.EventID, kept.EventID)

		t.Run("AfterIndexing", func(t *testing.T) {
			r := f.redact(t, secret.EventID)
			mustCatchUp(t, ix, r.StreamPos)
			wantFound(t, f, "password", kept.EventID)
			wantFound(t, f, "hunter2")
		})
		t.Run("BeforeIndexing", func(t *testing.T) {
			early := f.send(t, "typo in the password")
			r := f.redact(t, early.EventID)
			mustCatchUp(t, ix, r.StreamPos)
			wantFound(t, f, "password", kept.EventID)
			wantFound(t, f, "typo")
		})
	})
}

// TestIndexer_Restart checks that what was committed while no indexer ran
// (a crash, a stop) is indexed by the next one, from the stored position.
func TestIndexer_Restart(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		first := f.send(t, "before the crash")
		mustCatchUp(t, newIndexer(t, db), first.StreamPos)

		second := f.send(t, "while down")
		gone := f.send(t, "unlucky words")
		r := f.redact(t, gone.EventID)
		ix := newIndexer(t, db)
		mustCatchUp(t, ix, r.StreamPos)
		wantFound(t, f, "before", first.EventID)
		wantFound(t, f, "down", second.EventID)
		wantFound(t, f, "unlucky")
	})
}

// TestIndexer_Run checks the loop: outputs wake it, WaitFor sees the
// position, and it stops with its context.
func TestIndexer_Run(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ix := newIndexer(t, db)
		f.rooms.Subscribe(ix)
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ix.Run(ctx); err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
		t.Cleanup(func() { cancel(); wg.Wait() })

		for _, body := range []string{"one fish", "two fish", "red fish"} {
			sent := f.send(t, body)
			wait, done := context.WithTimeout(t.Context(), 10*time.Second)
			if err := ix.WaitFor(wait, sent.StreamPos); err != nil {
				t.Fatalf("WaitFor(%d): %v", sent.StreamPos, err)
			}
			done()
		}
		if got := f.found(t, "fish"); len(got) != 3 {
			t.Errorf("search fish: got %v, want 3 events", got)
		}
		short, done := context.WithTimeout(t.Context(), time.Millisecond)
		defer done()
		if err := ix.WaitFor(short, 1<<40); err == nil {
			t.Error("WaitFor a position never reached: got nil, want the context's error")
		}
	})
}
