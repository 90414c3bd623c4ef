package storage_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// searchFixture is a database with rooms whose events are in the search
// index; positions count up from 1 in the order events were added.
type searchFixture struct {
	db    *storage.DB
	rooms map[string]storage.RoomNID
	ids   map[int64]string // stream position -> event id
	pos   int64
}

func newSearchFixture(t *testing.T, db *storage.DB, rooms ...string) *searchFixture {
	t.Helper()
	f := &searchFixture{db: db, rooms: map[string]storage.RoomNID{}, ids: map[int64]string{}}
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		for _, id := range rooms {
			nid, err := tx.InsertRoom(ctx, id, "10")
			if err != nil {
				return err
			}
			f.rooms[id] = nid
		}
		return nil
	})
	return f
}

// add stores an accepted event of the type in the room and indexes its
// text; it returns the event's stream position.
func (f *searchFixture) add(t *testing.T, room, sender, typ, text string) int64 {
	t.Helper()
	types, err := f.db.TypeNIDs(t.Context(), []string{typ})
	if err != nil {
		t.Fatal(err)
	}
	f.pos++
	pos, id := f.pos, fmt.Sprintf("$e%d", f.pos)
	mustTx(t, f.db, func(ctx context.Context, tx *storage.Tx) error {
		nid, err := tx.InsertEvent(ctx, storage.Event{
			Room: f.rooms[room], ID: id, Type: types[typ], Sender: sender, Depth: pos, OriginTS: 1000 * pos,
			StreamPos: pos, JSON: []byte(`{}`),
		})
		if err != nil {
			return err
		}
		return tx.InsertSearchDoc(ctx, storage.SearchDoc{
			Event: nid, Room: f.rooms[room], Sender: sender, Type: typ, StreamPos: pos, OriginTS: 1000 * pos, Text: text,
		})
	})
	f.ids[pos] = id
	return pos
}

// msg adds an m.room.message from alice.
func (f *searchFixture) msg(t *testing.T, room, text string) int64 {
	t.Helper()
	return f.add(t, room, "@alice:test.local", "m.room.message", text)
}

// all is a query over every room of the fixture, open-ended.
func (f *searchFixture) all(terms string) storage.SearchQuery {
	q := storage.SearchQuery{Terms: storage.ParseSearchTerms(terms), Limit: 100}
	for _, nid := range f.rooms {
		q.Rooms = append(q.Rooms, storage.SearchRoom{NID: nid})
	}
	return q
}

// positions runs q and returns the stream positions of the hits in order.
func (f *searchFixture) positions(t *testing.T, q storage.SearchQuery) []int64 {
	t.Helper()
	hits, err := f.db.Search(t.Context(), q)
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	out := make([]int64, len(hits))
	for i, h := range hits {
		out[i] = h.StreamPos
		if h.EventID != f.ids[h.StreamPos] {
			t.Errorf("hit at %d: got event id %s, want %s", h.StreamPos, h.EventID, f.ids[h.StreamPos])
		}
	}
	return out
}

func wantPositions(t *testing.T, f *searchFixture, q storage.SearchQuery, want ...int64) {
	t.Helper()
	if got := f.positions(t, q); !slices.Equal(got, want) {
		t.Errorf("search %+v: got positions %v, want %v", q.Terms, got, want)
	}
}

func TestDB_Search(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newSearchFixture(t, db, "!a:test.local", "!b:test.local")
		tiles := f.msg(t, "!a:test.local", "The tiles arrive on Monday")
		crane := f.msg(t, "!a:test.local", "Crane booked for the roof-tiles delivery")
		email := f.msg(t, "!b:test.local", "Mail offers to anna@example.org, please")
		umlaut := f.msg(t, "!b:test.local", "Größe der Dachziegel: MÜNCHEN")
		name := f.add(t, "!b:test.local", "@bob:test.local", "m.room.name", "Tiles and deadlines")

		t.Run("Words", func(t *testing.T) {
			wantPositions(t, f, f.all("tiles"), name, crane, tiles)
			wantPositions(t, f, f.all("TILES monday"), tiles)
			wantPositions(t, f, f.all("til"), name, crane, tiles) // every word is a prefix
			wantPositions(t, f, f.all("roof tiles"), crane)
			wantPositions(t, f, f.all("dachziegel größe"), umlaut)
			wantPositions(t, f, f.all("münchen"), umlaut)
			wantPositions(t, f, f.all("anna@example.org"), email)
			wantPositions(t, f, f.all("bricks"))
		})
		t.Run("Syntax", func(t *testing.T) {
			wantPositions(t, f, f.all(`"tiles delivery"`), crane)
			wantPositions(t, f, f.all(`"delivery tiles"`))
			wantPositions(t, f, f.all(`"til"`)) // quoted words are whole words
			wantPositions(t, f, f.all("tiles -monday"), name, crane)
			wantPositions(t, f, f.all(`tiles -"roof tiles"`), name, tiles)
			wantPositions(t, f, f.all("monday OR crane"), crane, tiles)
			wantPositions(t, f, f.all("tiles monday OR crane"), crane, tiles)
			wantPositions(t, f, f.all("-tiles"))
			wantPositions(t, f, f.all(`!!! "" -`))
		})
		t.Run("Rooms", func(t *testing.T) {
			q := f.all("tiles")
			q.Rooms = []storage.SearchRoom{{NID: f.rooms["!a:test.local"]}}
			wantPositions(t, f, q, crane, tiles)
			q.Rooms = []storage.SearchRoom{{NID: f.rooms["!a:test.local"], Until: tiles}, {NID: f.rooms["!b:test.local"]}}
			wantPositions(t, f, q, name, tiles)
			q.Rooms = nil
			wantPositions(t, f, q)
		})
		t.Run("Filters", func(t *testing.T) {
			q := f.all("tiles")
			q.Types = []string{"m.room.name", "m.room.topic"}
			wantPositions(t, f, q, name)
			q.Types = []string{}
			wantPositions(t, f, q)
			q = f.all("tiles")
			q.Senders = []string{"@bob:test.local"}
			wantPositions(t, f, q, name)
			q.Senders, q.NotSenders = nil, []string{"@bob:test.local"}
			wantPositions(t, f, q, crane, tiles)
		})
		t.Run("Count", func(t *testing.T) {
			q := f.all("tiles")
			q.Limit = 1
			n, err := db.SearchCount(t.Context(), q)
			if err != nil || n != 3 {
				t.Errorf("SearchCount: got %d, %v, want 3", n, err)
			}
		})
		t.Run("IndexTwice", func(t *testing.T) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				e, err := tx.EventByID(ctx, f.ids[tiles])
				if err != nil {
					return err
				}
				return tx.InsertSearchDoc(ctx, storage.SearchDoc{Event: e.NID, Room: e.Room, Type: "m.room.message",
					StreamPos: tiles, Text: "something else"})
			})
			wantPositions(t, f, f.all("tiles monday"), tiles)
			wantPositions(t, f, f.all("something"))
		})
	})
}

func TestDB_SearchOrder(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newSearchFixture(t, db, "!a:test.local")
		var recent []int64
		for i := range 7 {
			recent = append(recent, f.msg(t, "!a:test.local", fmt.Sprintf("deadline %d is in a long sentence about the weather and more", i)))
		}
		dense := f.msg(t, "!a:test.local", "deadline deadline")
		old := recent[0]
		slices.Reverse(recent)
		recent = append([]int64{dense}, recent...)

		t.Run("Recent", func(t *testing.T) {
			wantPositions(t, f, f.all("deadline"), recent...)
			wantPages(t, f, f.all("deadline"), 3, recent)
		})
		t.Run("Rank", func(t *testing.T) {
			q := f.all("deadline")
			q.ByRank = true
			got := f.positions(t, q)
			if len(got) != len(recent) || got[0] != dense {
				t.Fatalf("by rank: got %v, want %d first of %d", got, dense, len(recent))
			}
			// Equal ranks: newest first.
			if !slices.Equal(got[1:], recent[1:]) {
				t.Errorf("by rank, equal ranks: got %v, want %v", got[1:], recent[1:])
			}
			wantPages(t, f, q, 2, got)
			hits, err := db.Search(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			if last := hits[len(hits)-1]; !(hits[0].Rank > last.Rank) || last.StreamPos != old {
				t.Errorf("ranks: got first %v, last %v at %d, want first higher, last at %d", hits[0].Rank, last.Rank, last.StreamPos, old)
			}
		})
	})
}

// wantPages pages through q with pages of size n and checks that they
// join up to want.
func wantPages(t *testing.T, f *searchFixture, q storage.SearchQuery, n int, want []int64) {
	t.Helper()
	q.Limit = n
	var got []int64
	for range len(want) + 1 {
		hits, err := f.db.Search(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			got = append(got, h.StreamPos)
		}
		if len(hits) < n {
			break
		}
		q.After = &hits[len(hits)-1].SearchCursor
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages of %d: got %v, want %v", n, got, want)
	}
}

func TestTx_UnindexRedacted(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newSearchFixture(t, db, "!a:test.local")
		kept := f.msg(t, "!a:test.local", "secret plans")
		gone := f.msg(t, "!a:test.local", "secret password hunter2")
		t.Run("NotRedacted", func(t *testing.T) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.UnindexRedacted(ctx, f.ids[gone])
			})
			wantPositions(t, f, f.all("secret"), gone, kept)
		})
		t.Run("Redacted", func(t *testing.T) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				e, err := tx.EventByID(ctx, f.ids[gone])
				if err != nil {
					return err
				}
				if err := tx.SetEventRedacted(ctx, e.NID, "$redaction", []byte(`{}`)); err != nil {
					return err
				}
				// Redacted events are never found, even before they leave
				// the index.
				return nil
			})
			wantPositions(t, f, f.all("secret"), kept)
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				if err := tx.UnindexRedacted(ctx, f.ids[gone]); err != nil {
					return err
				}
				return tx.UnindexRedacted(ctx, "$unknown")
			})
			wantPositions(t, f, f.all("secret"), kept)
			wantPositions(t, f, f.all("hunter2"))
			var n int
			if err := storage.ReadPool(db).QueryRowContext(t.Context(),
				"SELECT COUNT(*) FROM search_docs").Scan(&n); err != nil || n != 1 {
				t.Errorf("search_docs rows: got %d, %v, want 1", n, err)
			}
		})
	})
}

func TestTx_SetSearchPos(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		for _, tc := range []struct{ set, want int64 }{{5, 5}, {3, 5}, {9, 9}} {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error { return tx.SetSearchPos(ctx, tc.set) })
			if got, err := db.StreamPos(t.Context(), storage.SearchStream); err != nil || got != tc.want {
				t.Errorf("after SetSearchPos(%d): got %d, %v, want %d", tc.set, got, err, tc.want)
			}
		}
	})
}

func TestSearchTerms(t *testing.T) {
	for _, tc := range []struct {
		query      string
		empty      bool
		words      []string
		text       string
		highlights []string
	}{
		{"tiles", false, []string{"tiles"}, "Tiles, tiles and tiled", []string{"tiles"}},
		{"TIL -roof", false, []string{"til"}, "Tiles on the roof; tiled", []string{"tiles", "tiled"}},
		{`"roof tiles" OR crane`, false, []string{"roof", "tiles", "crane"}, "Cranes roof tiles", []string{"cranes", "roof", "tiles"}},
		{"-tiles", true, nil, "tiles", nil},
		{`"" !! -`, true, nil, "anything", nil},
		{"e-mail", false, []string{"e", "mail"}, "E-Mail mails", []string{"e", "mail"}},
	} {
		q := storage.ParseSearchTerms(tc.query)
		if q.Empty() != tc.empty {
			t.Errorf("%q: got Empty %v, want %v", tc.query, q.Empty(), tc.empty)
		}
		if got := q.Words(); !slices.Equal(got, tc.words) {
			t.Errorf("%q: got words %q, want %q", tc.query, got, tc.words)
		}
		if got := q.Highlights(tc.text); !slices.Equal(got, tc.highlights) {
			t.Errorf("%q: got highlights of %q %q, want %q", tc.query, tc.text, got, tc.highlights)
		}
	}
}
