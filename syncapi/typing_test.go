package syncapi

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// TestTyping_Expire: a typing notification ends on its own when its
// timeout passes, as a change that syncs from before it see; one renewed
// in time stays.
func TestTyping_Expire(t *testing.T) {
	storagetest.EachClock(t, func(t *testing.T, db *storage.DB, clock *storagetest.Clock) {
		n, err := NewNotifier(context.Background(), db, "test.local")
		if err != nil {
			t.Fatal(err)
		}
		typing := NewTyping(n, clock.Now)
		const room = "!r:test.local"
		typing.Set(room, "@alice:test.local", true, 5*time.Second)
		typing.Set(room, "@bob:test.local", true, 30*time.Second)
		started := typing.Pos()

		clock.Advance(10 * time.Second)
		typing.expire()
		users, changed := typing.Since(room, started)
		if !changed || !slices.Equal(users, []string{"@bob:test.local"}) {
			t.Errorf("after alice's timeout: got %v (changed %v), want only bob, changed", users, changed)
		}
		expired := typing.Pos()

		clock.Advance(10 * time.Second)
		typing.Set(room, "@bob:test.local", true, 30*time.Second) // renewed: no change
		typing.expire()
		if users, changed := typing.Since(room, expired); changed || !slices.Equal(users, []string{"@bob:test.local"}) {
			t.Errorf("bob renewing in time: got %v (changed %v), want bob, unchanged", users, changed)
		}

		clock.Advance(31 * time.Second)
		typing.expire()
		if users, changed := typing.Since(room, expired); !changed || len(users) != 0 {
			t.Errorf("after bob's timeout: got %v (changed %v), want nobody, changed", users, changed)
		}
	})
}
