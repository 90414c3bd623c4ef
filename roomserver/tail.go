package roomserver

import (
	"sync"
)

// tailLength is how many of a room's newest timeline events the tail
// keeps: enough for the incremental syncs of every member woken by a new
// message, which all ask for the same few newest events.
const tailLength = 32

// tailRooms bounds how many rooms keep a tail.
const tailRooms = 2048

// roomTail is the newest part of a room's timeline, in stream order. It
// is complete after from: every accepted event of the room with a stream
// position above from is in events. A tail is never changed once
// published; the writer replaces it.
type roomTail struct {
	from   int64
	events []Event
}

// tails keeps the tails of recently written rooms, so that the many
// readers of a room's newest events (every member's /sync) are answered
// from memory. Only the room's writer, holding the room's lock, changes a
// room's tail, which keeps the tail in stream order without a gap.
type tails struct {
	mu    sync.Mutex
	rooms map[string]*roomTail
}

// appended records events just committed to a room, in stream order.
func (t *tails) appended(roomID string, events []Event) {
	if len(events) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rooms == nil {
		t.rooms = map[string]*roomTail{}
	}
	old := t.rooms[roomID]
	next := &roomTail{from: events[0].StreamPos - 1}
	if old != nil {
		next.from = old.from
		next.events = append(next.events, old.events...)
	} else {
		evictRandom(t.rooms, tailRooms)
	}
	next.events = append(next.events, events...)
	if drop := len(next.events) - tailLength; drop > 0 {
		next.from = next.events[drop-1].StreamPos
		next.events = next.events[drop:]
	}
	t.rooms[roomID] = next
}

// forget drops a room's tail, when an event in it changed (a redaction).
func (t *tails) forget(roomID string) {
	t.mu.Lock()
	delete(t.rooms, roomID)
	t.mu.Unlock()
}

// timeline answers a timeline read like storage's RoomTimeline: the
// events with positions in (after, before) (before 0: no bound), oldest
// first or, backwards, newest first, at most limit. ok is false when the
// tail does not reach back to after.
func (t *tails) timeline(roomID string, after, before int64, limit int, backwards bool) (events []Event, ok bool) {
	t.mu.Lock()
	tail := t.rooms[roomID]
	t.mu.Unlock()
	if tail == nil {
		return nil, false
	}
	// The tail holds every event after tail.from up to the room's newest:
	// it answers a range that starts there or later, and a backwards page
	// that it fills (the newest events of the range are all in it).
	complete := after >= tail.from
	in := func(e Event) bool { return e.StreamPos > after && (before == 0 || e.StreamPos < before) }
	if backwards {
		for i := len(tail.events) - 1; i >= 0 && len(events) < limit; i-- {
			if in(tail.events[i]) {
				events = append(events, tail.events[i])
			}
		}
	} else {
		for i := 0; i < len(tail.events) && len(events) < limit; i++ {
			if in(tail.events[i]) {
				events = append(events, tail.events[i])
			}
		}
	}
	if !complete && !(backwards && len(events) == limit) {
		return nil, false
	}
	return events, true
}
