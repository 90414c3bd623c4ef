package main

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

func searchIDs(t *testing.T, cli *mautrix.Client, term string) []id.EventID {
	t.Helper()
	resp, err := cli.Search(context.Background(), &mautrix.ReqSearch{SearchTerm: term, OrderBy: "recent"})
	if err != nil {
		t.Fatalf("search %q: %v", term, err)
	}
	var out []id.EventID
	for _, r := range resp.Results {
		out = append(out, r.Event.ID)
	}
	return out
}

// TestSearch is server-side search and the user directory through
// mautrix-go on the wired server: the indexer follows new messages and
// redactions, and after a restart catches up on what it has not indexed;
// a search finds what was sent (or redacted) just before it.
func TestSearch(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, stop := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob", "carol")
		alice, bob := users[0], users[1]
		if err := bob.SetDisplayName(ctx, "Bob Builder"); err != nil {
			t.Fatal(err)
		}
		room := mustPrivateRoom(t, alice, bob)
		var sent []id.EventID
		for _, text := range []string{"tiles arrive monday", "crane booked", "more tiles needed"} {
			resp, err := alice.SendText(ctx, room, text)
			if err != nil {
				t.Fatal(err)
			}
			sent = append(sent, resp.EventID)
		}
		if got, want := searchIDs(t, bob, "tiles"), []id.EventID{sent[2], sent[0]}; !slices.Equal(got, want) {
			t.Errorf("bob searches tiles: got %v, want %v", got, want)
		}
		if _, err := alice.RedactEvent(ctx, room, sent[2]); err != nil {
			t.Fatal(err)
		}
		if got, want := searchIDs(t, bob, "tiles"), []id.EventID{sent[0]}; !slices.Equal(got, want) {
			t.Errorf("after the redaction: got %v, want %v", got, want)
		}

		dir, err := alice.SearchUserDirectory(ctx, "builder", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(dir.Results) != 1 || dir.Results[0].UserID != bob.UserID {
			t.Errorf("directory search builder: got %+v, want bob", dir.Results)
		}
		if dir, err = alice.SearchUserDirectory(ctx, "carol", 10); err != nil || len(dir.Results) != 0 {
			t.Errorf("directory search carol: got %+v, %v, want nobody: they share no room", dir, err)
		}

		// An index behind the events (a database from before search, or a
		// crash between a commit and its indexing) catches up at start.
		stop()
		rewindSearchIndex(t, cfg)
		srv, _ = startServer(t, cfg)
		bob = mustLogin(t, srv.URL, "bob", "bob password", "after restart")
		if got, want := searchIDs(t, bob, "crane"), []id.EventID{sent[1]}; !slices.Equal(got, want) {
			t.Errorf("after the restart: got %v, want %v", got, want)
		}
		if got, want := searchIDs(t, bob, "tiles"), []id.EventID{sent[0]}; !slices.Equal(got, want) {
			t.Errorf("after the restart, redacted: got %v, want %v", got, want)
		}
	})
}

// rewindSearchIndex empties the search index of a stopped server's
// database and sets its position back to the start.
func rewindSearchIndex(t *testing.T, cfg *config.Config) {
	t.Helper()
	url := string(cfg.Database.URL)
	driver := "pgx"
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		driver, url = "sqlite3", path
	}
	db, err := sql.Open(driver, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"DELETE FROM search_docs", "UPDATE streams SET pos = 0 WHERE name = 'search'"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
