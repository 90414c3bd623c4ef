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
// room's lock, and only after a commit.
type roomInfo struct {
	nid         storage.RoomNID
	id          string
	version     gmsl.IRoomVersion
	snapshot    storage.SnapshotNID
	state       map[gmsl.StateKeyTuple]storage.EventNID
	extremities []extremity
}

type extremity struct {
	nid   storage.EventNID
	id    string
	depth int64
}

// clone returns a copy that a writer may change before its commit.
func (ri *roomInfo) clone() *roomInfo {
	c := *ri
	c.state = make(map[gmsl.StateKeyTuple]storage.EventNID, len(ri.state))
	for k, v := range ri.state {
		c.state[k] = v
	}
	c.extremities = append([]extremity(nil), ri.extremities...)
	return &c
}

const (
	roomCacheSize  = 1024
	eventCacheSize = 65536
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
// redaction, which replaces the entry.
type eventCache struct {
	mu     sync.RWMutex
	max    int
	events map[storage.EventNID]gmsl.PDU
}

func newEventCache(max int) *eventCache {
	return &eventCache{max: max, events: map[storage.EventNID]gmsl.PDU{}}
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

func (c *eventCache) drop(nid storage.EventNID) {
	c.mu.Lock()
	delete(c.events, nid)
	c.mu.Unlock()
}
