// Package presence keeps the presence of local users: set by clients
// (PUT /presence), refreshed by their syncs, demoted when they go quiet,
// and shown to the users who share a room with them.
package presence

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/syncapi"
)

const (
	// touchInterval is how often a user's syncs write its last active
	// time: at most once per interval, so that most syncs write nothing.
	touchInterval = time.Minute
	// idleAfter demotes an online user who was not active (no sync, no
	// PUT) for this long to unavailable. It is longer than the longest
	// /sync long-poll (5 minutes) plus touchInterval, so that a client
	// that keeps syncing stays online.
	idleAfter = 10 * time.Minute
	// offlineAfter makes a user who was not active for this long offline.
	offlineAfter = 30 * time.Minute
)

// Tracker stores presence and wakes the syncs of those who see a change.
// Disabled, it stores nothing and everyone is offline.
type Tracker struct {
	db       *storage.DB
	notifier *syncapi.Notifier
	enabled  bool

	mu      sync.Mutex
	touched map[string]touch // user id -> what its syncs last wrote or read
}

// touch is a user's presence as the tracker last saw it.
type touch struct {
	state string
	at    int64 // last active, in milliseconds
}

// New returns a tracker; enabled is the config's presence.enabled.
func New(db *storage.DB, notifier *syncapi.Notifier, enabled bool) *Tracker {
	return &Tracker{db: db, notifier: notifier, enabled: enabled, touched: map[string]touch{}}
}

// Valid reports whether state is one of the spec's presence states.
func Valid(state string) bool {
	switch state {
	case syncapi.PresenceOnline, syncapi.PresenceUnavailable, syncapi.PresenceOffline:
		return true
	}
	return false
}

// Set is a user setting its presence and status message (nil or "" for
// none); it counts as activity.
func (t *Tracker) Set(ctx context.Context, userID, state string, statusMsg *string) error {
	if !t.enabled {
		return nil
	}
	if statusMsg != nil && *statusMsg == "" {
		statusMsg = nil
	}
	now := t.db.Now().UnixMilli()
	return t.write(ctx, userID, state, now, func(ctx context.Context, tx *storage.Tx) (bool, error) {
		old, err := tx.Presence(ctx, userID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return false, err
		}
		if err == nil && old.Presence == state && sameMsg(old.StatusMsg, statusMsg) {
			return false, tx.TouchPresence(ctx, userID, now)
		}
		_, err = tx.PutPresence(ctx, storage.Presence{UserID: userID, Presence: state, StatusMsg: statusMsg, LastActiveTS: now})
		return true, err
	})
}

func sameMsg(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// Synced records a sync of the user with set_presence state: online or
// unavailable mark the user so and refresh its last active time (written
// at most once per touchInterval); offline leaves its presence alone.
func (t *Tracker) Synced(ctx context.Context, userID, state string) error {
	if !t.enabled || state == syncapi.PresenceOffline {
		return nil
	}
	now := t.db.Now().UnixMilli()
	t.mu.Lock()
	last, ok := t.touched[userID]
	t.mu.Unlock()
	if ok && last.state == state && now-last.at < touchInterval.Milliseconds() {
		return nil
	}
	old, err := t.db.Presence(ctx, userID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	if err == nil && old.Presence == state && now-old.LastActiveTS < touchInterval.Milliseconds() {
		t.remember(userID, touch{state: state, at: old.LastActiveTS})
		return nil
	}
	changed := err != nil || old.Presence != state
	return t.write(ctx, userID, state, now, func(ctx context.Context, tx *storage.Tx) (bool, error) {
		if !changed {
			return false, tx.TouchPresence(ctx, userID, now)
		}
		_, err := tx.PutPresence(ctx, storage.Presence{UserID: userID, Presence: state, StatusMsg: old.StatusMsg, LastActiveTS: now})
		return true, err
	})
}

// write runs store, which writes the user's presence and reports whether
// it changed (rather than only its last active time), in a transaction.
// After the commit it remembers the user as state, active at now, and on a
// change wakes the syncs that see the user.
func (t *Tracker) write(ctx context.Context, userID, state string, now int64, store func(context.Context, *storage.Tx) (bool, error)) error {
	changed := false
	err := t.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		var err error
		changed, err = store(ctx, tx)
		return err
	})
	if err != nil {
		return err
	}
	t.remember(userID, touch{state: state, at: now})
	if changed {
		t.notifier.WakeShared(userID)
	}
	return nil
}

func (t *Tracker) remember(userID string, tc touch) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.touched[userID] = tc
}

// Get returns the presence of target as viewer may see it: its own, or
// that of a user who shares a room with it; others get M_FORBIDDEN. A
// user without stored presence is offline.
func (t *Tracker) Get(ctx context.Context, viewer, target string) (syncapi.PresenceContent, error) {
	offline := syncapi.PresenceContent{Presence: syncapi.PresenceOffline}
	if !t.enabled {
		return offline, nil
	}
	if viewer != target {
		shares, err := t.db.SharesRoom(ctx, viewer, target)
		if err != nil {
			return offline, err
		}
		if !shares {
			return offline, mxerr.Forbidden("you do not share a room with %s", target)
		}
	}
	p, err := t.db.Presence(ctx, target)
	if errors.Is(err, storage.ErrNotFound) {
		return offline, nil
	}
	if err != nil {
		return offline, err
	}
	return syncapi.NewPresenceContent(p, t.db.Now()), nil
}

// Sweep demotes the users who went quiet: online ones idle for idleAfter
// become unavailable, and anyone inactive for offlineAfter offline. It
// also forgets what it remembered of syncs that are older than
// touchInterval.
func (t *Tracker) Sweep(ctx context.Context) error {
	if !t.enabled {
		return nil
	}
	now := t.db.Now().UnixMilli()
	t.mu.Lock()
	for u, tc := range t.touched {
		if now-tc.at >= touchInterval.Milliseconds() {
			delete(t.touched, u)
		}
	}
	t.mu.Unlock()
	for _, step := range []struct {
		from, to string
		after    time.Duration
	}{
		{syncapi.PresenceOnline, syncapi.PresenceUnavailable, idleAfter},
		{syncapi.PresenceUnavailable, syncapi.PresenceOffline, offlineAfter}, // after the step above
	} {
		if err := t.demote(ctx, step.from, step.to, now-step.after.Milliseconds()); err != nil {
			return err
		}
	}
	return nil
}

// demote moves the users in state from whose last activity is before
// cutoff to state to, keeping their status message and last active time.
func (t *Tracker) demote(ctx context.Context, from, to string, cutoff int64) error {
	stale, err := t.db.StalePresence(ctx, from, cutoff)
	if err != nil {
		return err
	}
	for _, p := range stale {
		moved := false
		err := t.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
			now, err := tx.Presence(ctx, p.UserID)
			if err != nil || now.Presence != from || now.LastActiveTS >= cutoff {
				return err // active again meanwhile, or another process moved it
			}
			now.Presence, moved = to, true
			_, err = tx.PutPresence(ctx, now)
			return err
		})
		if err != nil {
			return err
		}
		if moved {
			t.mu.Lock()
			delete(t.touched, p.UserID)
			t.mu.Unlock()
			t.notifier.WakeShared(p.UserID)
		}
	}
	return nil
}
