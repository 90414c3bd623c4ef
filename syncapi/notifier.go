package syncapi

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/internal/gencache"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
)

// Notifier wakes the long-polling /sync requests of exactly the local users
// who can see a change. It carries no data: a woken request reads what is
// new from storage by stream position.
//
// It also knows, for the room event stream, what every /sync may rely on:
// the position up to which subscribers were told (a response never goes
// beyond it, so everything a response covers was seen here first), the
// newest membership change, and a generation per user that changes with
// the user's memberships.
//
// After DeferWakes, the wakes a room event causes wait until Evaluated
// reports its push evaluation done: a long-poll woken before its unread
// counts are known would only wait for them, and its early start would
// take the CPU from the evaluation it waits for. What a new request sees
// is not delayed.
type Notifier struct {
	serverName string

	mu      sync.Mutex
	members map[string]map[string]struct{} // room id -> joined local users
	waiters map[string]chan struct{}       // user id -> closed on the next change
	// pos is the newest room event position told; lastMembership the
	// newest position of an m.room.member event told (at start: pos, as
	// older ones are unknown).
	pos, lastMembership int64
	membershipGens      gencache.Generations[string] // user id: membership changes told
	// roomPos is the newest event position told per room, for rooms with
	// an event told since the Notifier started at position start.
	roomPos map[string]int64
	start   int64

	deferWakes bool
	evaluated  int64         // position Evaluated reported
	pending    []pendingWake // wakes waiting for their evaluation, in arrival order
	flush      *time.Timer   // wakes every pending one after maxWakeDelay
	// maxWakeDelay bounds how long a wake waits for Evaluated, so that
	// a stuck evaluation delays long-polls rather than stops them.
	maxWakeDelay time.Duration
}

// pendingWake is a wake of a room's joined local users, or of one user,
// for the room event at pos.
type pendingWake struct {
	pos        int64
	room, user string
}

// defaultMaxWakeDelay is a Notifier's maxWakeDelay.
const defaultMaxWakeDelay = time.Second

// NewNotifier loads the joined local members of every room and the room
// event stream's position.
func NewNotifier(ctx context.Context, db *storage.DB, serverName string) (*Notifier, error) {
	joined, err := db.JoinedLocalMembers(ctx, serverName)
	if err != nil {
		return nil, err
	}
	positions, err := db.StreamPositions(ctx)
	if err != nil {
		return nil, err
	}
	n := &Notifier{serverName: serverName, members: map[string]map[string]struct{}{}, waiters: map[string]chan struct{}{},
		pos: positions["events"], lastMembership: positions["events"], roomPos: map[string]int64{},
		start: positions["events"], maxWakeDelay: defaultMaxWakeDelay}
	for roomID, users := range joined {
		set := make(map[string]struct{}, len(users))
		for _, u := range users {
			set[u] = struct{}{}
		}
		n.members[roomID] = set
	}
	return n, nil
}

// OnOutput implements roomserver.Subscriber: it wakes the room's joined
// local users, and the target of a membership change (an invited user is
// not joined yet, a user who left is no longer).
func (n *Notifier) OnOutput(_ context.Context, o roomserver.Output) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pos = max(n.pos, o.StreamPos)
	n.roomPos[o.RoomID] = max(n.roomPos[o.RoomID], o.StreamPos)
	n.wakeForLocked(pendingWake{pos: o.StreamPos, room: o.RoomID})
	if o.Type != spec.MRoomMember || o.StateKey == nil {
		return
	}
	n.lastMembership = max(n.lastMembership, o.StreamPos)
	user := *o.StateKey
	if !n.local(user) {
		return
	}
	n.membershipGens.Advance(user)
	n.wakeForLocked(pendingWake{pos: o.StreamPos, user: user})
	set := n.members[o.RoomID]
	if o.Membership == spec.Join {
		if set == nil {
			set = map[string]struct{}{}
			n.members[o.RoomID] = set
		}
		set[user] = struct{}{}
	} else if set != nil {
		delete(set, user)
		if len(set) == 0 {
			delete(n.members, o.RoomID)
		}
	}
}

// DeferWakes makes the wakes of room events after the current position
// wait for Evaluated.
func (n *Notifier) DeferWakes() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.deferWakes, n.evaluated = true, n.pos
}

// Evaluated wakes the long-polls that wait for room events up to pos, now
// that their push evaluation is done.
func (n *Notifier) Evaluated(pos int64) {
	var woken []chan struct{}
	n.mu.Lock()
	n.evaluated = max(n.evaluated, pos)
	kept := n.pending[:0]
	var last pendingWake // a burst in one room wakes its members once
	for _, w := range n.pending {
		switch {
		case w.pos > n.evaluated:
			kept = append(kept, w)
		case w.room != last.room || w.user != last.user:
			woken = n.takeLocked(w, woken)
			last = w
		}
	}
	clear(n.pending[len(kept):])
	n.pending = kept
	if len(kept) == 0 && n.flush != nil {
		n.flush.Stop()
		n.flush = nil
	}
	n.mu.Unlock()
	wake(woken)
}

// wake closes the channels of waiters taken out of Notifier.waiters:
// outside the lock, which the woken requests take first thing.
func wake(woken []chan struct{}) {
	for _, ch := range woken {
		close(ch)
	}
}

// wakeForLocked wakes for a room event now, or once it is evaluated.
func (n *Notifier) wakeForLocked(w pendingWake) {
	if !n.deferWakes || w.pos <= n.evaluated {
		n.wakeNowLocked(w)
		return
	}
	n.pending = append(n.pending, w)
	if n.flush == nil {
		n.flush = time.AfterFunc(n.maxWakeDelay, n.flushPending)
	}
}

// flushPending wakes for every pending room event, evaluated or not.
func (n *Notifier) flushPending() {
	var woken []chan struct{}
	n.mu.Lock()
	for _, w := range n.pending {
		woken = n.takeLocked(w, woken)
	}
	n.pending, n.flush = nil, nil
	n.mu.Unlock()
	wake(woken)
}

func (n *Notifier) wakeNowLocked(w pendingWake) {
	wake(n.takeLocked(w, nil))
}

// takeLocked takes the waiters a wake is for out of n.waiters and
// appends their channels to woken.
func (n *Notifier) takeLocked(w pendingWake, woken []chan struct{}) []chan struct{} {
	take := func(user string) {
		if ch, ok := n.waiters[user]; ok {
			woken = append(woken, ch)
			delete(n.waiters, user)
		}
	}
	if w.user != "" {
		take(w.user)
		return woken
	}
	for user := range n.members[w.room] {
		take(user)
	}
	return woken
}

// eventsPos is the newest room event position told to subscribers: the
// room event position of a new /sync response.
func (n *Notifier) eventsPos() int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pos
}

// activeRooms returns which of the rooms joined in memberships had an
// event told in (since, to] (nil if none), if it knows: not for a since
// before the Notifier started, nor when a room's newest event is after to
// (it may or may not have one before).
func (n *Notifier) activeRooms(memberships []storage.UserMembership, since, to int64) (active map[string]bool, known bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if since < n.start {
		return nil, false
	}
	for _, m := range memberships {
		if m.Membership.Membership != spec.Join {
			continue
		}
		room := m.RoomID
		switch pos := n.roomPos[room]; {
		case pos > to:
			return nil, false
		case pos > since:
			if active == nil {
				active = map[string]bool{}
			}
			active[room] = true
		}
	}
	return active, true
}

// membershipsChangedAfter reports whether any membership event may have
// been told after the position.
func (n *Notifier) membershipsChangedAfter(pos int64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lastMembership > pos
}

// Wake wakes the users' requests, for changes outside rooms (account data,
// to-device messages).
func (n *Notifier) Wake(users ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, u := range users {
		n.wakeLocked(u)
	}
}

func (n *Notifier) wakeLocked(user string) {
	if ch, ok := n.waiters[user]; ok {
		close(ch)
		delete(n.waiters, user)
	}
}

// listen returns a channel closed at the user's next change. Take it before
// reading storage, so that no change between the read and the wait is
// missed.
func (n *Notifier) listen(user string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch, ok := n.waiters[user]
	if !ok {
		ch = make(chan struct{})
		n.waiters[user] = ch
	}
	return ch
}

func (n *Notifier) local(userID string) bool {
	return strings.HasSuffix(userID, ":"+n.serverName)
}

// Waiting reports whether a request of the user is waiting for a change.
func (n *Notifier) Waiting(userID string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.waiters[userID]
	return ok
}

// WakeRoom wakes the joined local users of a room, for ephemeral changes
// (typing, receipts).
func (n *Notifier) WakeRoom(roomID string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for user := range n.members[roomID] {
		n.wakeLocked(user)
	}
}

// WakeShared wakes the user and the joined local users of every room the
// user is joined to, for changes that all of them see (presence, the
// user's devices and keys).
func (n *Notifier) WakeShared(user string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.wakeLocked(user)
	for _, set := range n.members {
		if _, ok := set[user]; !ok {
			continue
		}
		for u := range set {
			n.wakeLocked(u)
		}
	}
}
