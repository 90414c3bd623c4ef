package push

import (
	"context"
	"slices"

	"github.com/ganglion/ganglion/storage"
)

// A message in a room of a thousand members makes a thousand notification
// rows, and storing them takes far longer than matching the rules. Every
// /sync woken by the message needs the counts they add up to, so the
// evaluator publishes a batch's counts in memory (a flight) as soon as it
// is evaluated, and Counts adds them to the stored ones until the batch is
// committed. A reader must never count a batch twice, stored and in
// flight: the flight turns "committing" before its transaction can
// commit, and a stored count read while the flight was still "pending"
// cannot include it.

// While the batch commits, the counts of a member it changes are its base
// (read before its transaction) plus its changes, unless another
// transaction changed them meanwhile: then Counts waits for the batch to
// land. A /sync woken by the batch's events comes just when its
// transaction commits, and would otherwise wait for its fsync.

// flight is an evaluated batch whose notifications are being stored.
type flight struct {
	rooms      map[userRoom]*roomCounts
	committing bool          // its transaction may commit from now on
	landed     chan struct{} // closed when it is stored or failed
	// bases are the stored counts it changes, read before its transaction
	// with their generation: once it is stored, base plus flight is what
	// storage holds, and goes to storage's cache instead of a read per
	// member's /sync.
	bases map[userRoom]storedCounts
}

type storedCounts struct {
	counts []storage.ThreadCounts
	gen    uint64
}

type userRoom struct{ user, room string }

// roomCounts is what a batch changes in a user's counts in a room: threads
// it reads (all of them if readAll), then adds.
type roomCounts struct {
	readAll bool
	threads []threadCounts // mostly one: the main timeline's
}

type threadCounts struct {
	id                 string
	read               bool // the stored count drops to zero
	notify, highlights int64
}

// thread returns the thread's changes, nil if there are none.
func (rc *roomCounts) thread(id string) *threadCounts {
	for i := range rc.threads {
		if rc.threads[i].id == id {
			return &rc.threads[i]
		}
	}
	return nil
}

func newFlight() *flight {
	return &flight{rooms: map[userRoom]*roomCounts{}, landed: make(chan struct{}), bases: map[userRoom]storedCounts{}}
}

func (f *flight) room(user, room string) *roomCounts {
	k := userRoom{user, room}
	rc := f.rooms[k]
	if rc == nil {
		rc = &roomCounts{}
		f.rooms[k] = rc
	}
	return rc
}

// add counts a notification.
func (f *flight) add(n storage.Notification) {
	rc := f.room(n.UserID, n.RoomID)
	tc := rc.thread(n.ThreadID)
	if tc == nil {
		rc.threads = append(rc.threads, threadCounts{id: n.ThreadID})
		tc = &rc.threads[len(rc.threads)-1]
	}
	tc.notify++
	if n.Highlight {
		tc.highlights++
	}
}

// read applies a read marking of the batch. It reads up to an event of the
// batch, after every stored notification: the stored counts of its thread
// (of every thread for ThreadID "") drop to zero, and so do the batch's
// own notifications before it.
func (f *flight) read(r storage.Notification) {
	rc := f.room(r.UserID, r.RoomID)
	if r.ThreadID == "" {
		rc.readAll = true
		rc.threads = rc.threads[:0]
		return
	}
	if tc := rc.thread(r.ThreadID); tc != nil {
		*tc = threadCounts{id: r.ThreadID, read: true}
		return
	}
	rc.threads = append(rc.threads, threadCounts{id: r.ThreadID, read: true})
}

// apply returns stored counts with the batch's changes.
func (rc *roomCounts) apply(stored []storage.ThreadCounts) []storage.ThreadCounts {
	out := make([]storage.ThreadCounts, 0, len(stored)+len(rc.threads))
	for _, c := range stored {
		if tc := rc.thread(c.ThreadID); rc.readAll || (tc != nil && tc.read) {
			continue
		}
		out = append(out, c)
	}
	for _, tc := range rc.threads {
		i := slices.IndexFunc(out, func(c storage.ThreadCounts) bool { return c.ThreadID == tc.id })
		if i < 0 {
			i = len(out)
			out = append(out, storage.ThreadCounts{ThreadID: tc.id})
		}
		out[i].Notify += tc.notify
		out[i].Highlights += tc.highlights
	}
	return slices.DeleteFunc(out, func(c storage.ThreadCounts) bool { return c.Notify <= 0 })
}

// Counts returns a user's unread notification counts in a room per
// thread, in no particular order, threads without any left out: the
// stored counts and those of the batch being stored.
func (e *Evaluator) Counts(ctx context.Context, userID, roomID string) ([]storage.ThreadCounts, error) {
	for {
		e.mu.Lock()
		f := e.flight
		committing := f != nil && f.committing
		e.mu.Unlock()
		if committing {
			k := userRoom{userID, roomID}
			base, based := f.bases[k]
			switch {
			case !based: // the batch stores nothing of the user's in the room
				return e.db.NotificationCounts(ctx, userID, roomID)
			case e.db.UnreadGen(userID, roomID) == base.gen:
				// Nothing but perhaps the batch was stored since the base
				// was read: what storage holds or is about to.
				return f.rooms[k].apply(base.counts), nil
			}
			select { // the stored counts may or may not include it: wait until they do
			case <-f.landed:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		stored, err := e.db.NotificationCounts(ctx, userID, roomID)
		if err != nil || f == nil {
			return stored, err
		}
		rc := f.rooms[userRoom{userID, roomID}]
		e.mu.Lock()
		still := e.flight == f && !f.committing
		e.mu.Unlock()
		if !still { // it may have committed during the read: read again
			continue
		}
		if rc != nil {
			return rc.apply(stored), nil
		}
		return stored, nil
	}
}

// readBases reads the stored counts the flight changes, before its
// transaction starts.
func (e *Evaluator) readBases(ctx context.Context, f *flight) error {
	byRoom := map[string][]string{}
	for k := range f.rooms {
		byRoom[k.room] = append(byRoom[k.room], k.user)
	}
	for room, users := range byRoom {
		if err := e.db.NotificationCountsIn(ctx, room, users, func(u string, counts []storage.ThreadCounts, gen uint64) {
			f.bases[userRoom{u, room}] = storedCounts{counts, gen}
		}); err != nil {
			return err
		}
	}
	return nil
}

// changing returns the read markings of reads that change stored counts,
// given the flight's bases and its notifications by user and room: a
// sender with nothing unread in the room, before or in the batch, has
// nothing to mark (its notifications are all at or before its thread's
// read position). Their bases go: nothing the flight stores changes those
// counts, so their generation stays.
func (f *flight) changing(reads []storage.Notification, notesOf map[userRoom][]storage.Notification) []storage.Notification {
	out := reads[:0]
	for _, r := range reads {
		k := userRoom{r.UserID, r.RoomID}
		if len(f.bases[k].counts) == 0 && len(notesOf[k]) == 0 {
			delete(f.bases, k)
			continue
		}
		out = append(out, r)
	}
	return out
}

// cacheStored hands storage the counts a stored flight leaves: its base
// plus its changes, for those nothing else changed since the base was read
// (one generation on: the flight's own transaction).
func (e *Evaluator) cacheStored(f *flight) {
	for key, base := range f.bases {
		e.db.CacheNotificationCounts(key.user, key.room, base.gen+1, f.rooms[key].apply(base.counts))
	}
}
