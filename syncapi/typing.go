package syncapi

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Typing holds who is typing in which room, in memory: typing
// notifications are ephemeral and lost on restart, as the spec allows.
// Every change takes a position in the typing stream.
type Typing struct {
	notifier *Notifier
	clock    func() time.Time

	mu    sync.Mutex
	pos   int64
	rooms map[string]*roomTyping
}

type roomTyping struct {
	until map[string]time.Time // user id -> expiry
	pos   int64                // position of the last change
}

// NewTyping returns an empty typing state that wakes syncs through n.
func NewTyping(n *Notifier, clock func() time.Time) *Typing {
	return &Typing{notifier: n, clock: clock, rooms: map[string]*roomTyping{}}
}

// Set records that the user started (for timeout) or stopped typing.
func (t *Typing) Set(roomID, userID string, typing bool, timeout time.Duration) {
	t.mu.Lock()
	rt := t.rooms[roomID]
	if rt == nil {
		rt = &roomTyping{until: map[string]time.Time{}}
		t.rooms[roomID] = rt
	}
	_, was := rt.until[userID]
	if typing {
		rt.until[userID] = t.clock().Add(timeout)
	} else {
		delete(rt.until, userID)
	}
	changed := was != typing
	if changed {
		t.pos++
		rt.pos = t.pos
	}
	t.mu.Unlock()
	if changed {
		t.notifier.WakeRoom(roomID)
	}
}

// Pos is the current typing position.
func (t *Typing) Pos() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pos
}

// Since returns the users typing in the room, and whether that changed
// after position since. A position past the current one comes from before
// a restart: everything counts as changed.
func (t *Typing) Since(roomID string, since int64) (users []string, changed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rt := t.rooms[roomID]
	if rt == nil {
		return nil, since > t.pos
	}
	for u := range rt.until {
		users = append(users, u)
	}
	slices.Sort(users)
	return users, rt.pos > since || since > t.pos
}

// Run expires typing notifications whose timeout passed, until ctx ends.
func (t *Typing) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			t.expire()
		}
	}
}

func (t *Typing) expire() {
	now := t.clock()
	var woken []string
	t.mu.Lock()
	for roomID, rt := range t.rooms {
		before := len(rt.until)
		for u, until := range rt.until {
			if !now.Before(until) {
				delete(rt.until, u)
			}
		}
		if len(rt.until) != before {
			t.pos++
			rt.pos = t.pos
			woken = append(woken, roomID)
		}
		if len(rt.until) == 0 && rt.pos <= t.pos-1000 {
			delete(t.rooms, roomID) // long quiet: forget the room
		}
	}
	t.mu.Unlock()
	for _, roomID := range woken {
		t.notifier.WakeRoom(roomID)
	}
}
