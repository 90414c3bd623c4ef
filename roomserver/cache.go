package roomserver

import (
	"sync"

	gmsl "github.com/matrix-org/gomatrixserverlib"

	"github.com/ganglion/ganglion/storage"
)

// roomLocks serialises the writers of each room: one at a time per room,
// rooms in parallel. (Several processes on one PostgreSQL database also
// need the database lock taken in the write transaction.)
type roomLocks struct {
	mu    sync.Mutex
	locks map[string]*roomLock
}

type roomLock struct {
	sync.Mutex
	waiters int
}

// lock takes the room's lock and returns its release.
func (l *roomLocks) lock(roomID string) (unlock func()) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*roomLock{}
	}
	rl := l.locks[roomID]
	if rl == nil {
		rl = &roomLock{}
		l.locks[roomID] = rl
	}
	rl.waiters++
	l.mu.Unlock()
	rl.Lock()
	return func() {
		rl.Unlock()
		l.mu.Lock()
		rl.waiters--
		if rl.waiters == 0 {
			delete(l.locks, roomID)
		}
		l.mu.Unlock()
	}
}

// roomInfo is what the writer of a room needs: the room, its current state
// and its forward extremities. It is changed only by the holder of the
// room's lock.
type roomInfo struct {
	nid         storage.RoomNID
	id          string
	version     gmsl.IRoomVersion
	snapshot    storage.SnapshotNID
	state       map[gmsl.StateKeyTuple]storage.EventNID
	extremities []extremity
	// overlay holds a writer's changes to state (0: removed) until its
	// commit; state itself is shared with the cached roomInfo, so that a
	// send does not copy the state of a large room.
	overlay map[gmsl.StateKeyTuple]storage.EventNID
}

type extremity struct {
	nid   storage.EventNID
	id    string
	depth int64
}

// clone returns a copy that a writer changes before its commit: state is
// shared and changes go to the overlay.
func (ri *roomInfo) clone() *roomInfo {
	c := *ri
	c.overlay = map[gmsl.StateKeyTuple]storage.EventNID{}
	c.extremities = append([]extremity(nil), ri.extremities...)
	return &c
}

// committed folds the overlay into the shared state once the writer's
// transaction committed. Only the lock holder reads the state, so changing
// the shared map in place is safe; the previous roomInfo is dropped.
func (ri *roomInfo) committed() {
	for k, v := range ri.overlay {
		if v == 0 {
			delete(ri.state, k)
		} else {
			ri.state[k] = v
		}
	}
	ri.overlay = nil
}

const (
	roomCacheSize  = 1024
	eventCacheSize = 16384
)

// roomCache keeps the roomInfo of recently written rooms.
type roomCache struct {
	mu    sync.Mutex
	max   int
	rooms map[string]*roomInfo
}

func newRoomCache(max int) *roomCache { return &roomCache{max: max, rooms: map[string]*roomInfo{}} }

func (c *roomCache) get(roomID string) *roomInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rooms[roomID]
}

func (c *roomCache) put(ri *roomInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	evictRandom(c.rooms, c.max)
	c.rooms[ri.id] = ri
}

// eventCache keeps parsed events by NID. Stored events only change by
// redaction, which drops the entry. A reader that loaded an event before
// its redaction committed may put it back after the drop; redacted remembers
// the redacted NIDs so that such a stale, unredacted copy is refused.
type eventCache struct {
	mu       sync.RWMutex
	max      int
	events   map[storage.EventNID]gmsl.PDU
	redacted map[storage.EventNID]struct{}
}

func newEventCache(max int) *eventCache {
	return &eventCache{max: max, events: map[storage.EventNID]gmsl.PDU{}, redacted: map[storage.EventNID]struct{}{}}
}

func (c *eventCache) get(nid storage.EventNID) (gmsl.PDU, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.events[nid]
	return e, ok
}

func (c *eventCache) put(nid storage.EventNID, e gmsl.PDU) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, redacted := c.redacted[nid]; redacted && !e.Redacted() {
		return // read before its redaction: stale
	}
	evictRandom(c.events, c.max)
	c.events[nid] = e
}

// evictRandom makes room in a full map by dropping a tenth of it, in map
// order: cheap, and fair enough for caches of immutable data.
func evictRandom[K comparable, V any](m map[K]V, max int) {
	if len(m) < max {
		return
	}
	for k := range m {
		delete(m, k)
		if len(m) < max*9/10 {
			return
		}
	}
}

// drop forgets a redacted event's cached copy, and refuses unredacted
// copies of it from now on.
func (c *eventCache) drop(nid storage.EventNID) {
	c.mu.Lock()
	delete(c.events, nid)
	evictRandom(c.redacted, c.max)
	c.redacted[nid] = struct{}{}
	c.mu.Unlock()
}
