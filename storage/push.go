package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// MainThread is the thread id of a room's main timeline: every event that
// is not part of a thread.
const MainThread = "main"

// Notification is an event a user was notified of by its push rules.
type Notification struct {
	UserID    string
	StreamPos int64 // the event's position in the events stream
	RoomID    string
	EventID   string
	ThreadID  string // the thread root's event id, or MainThread
	Highlight bool
	Actions   json.RawMessage // the matching rule's actions
	TS        int64           // unix milliseconds, set by AddNotifications
	Read      bool
}

// ThreadCounts are a user's unread notifications in one thread of a room.
type ThreadCounts struct {
	ThreadID   string
	Notify     int64
	Highlights int64
}

// notificationRows bounds the rows of one multi-row INSERT.
const notificationRows = 100

// AddNotifications stores unread notifications and adds them to their
// users' counts. A user has at most one notification per event, and an
// event's notifications are all added at once: they become the event's
// row of event_notifications.
func (tx *Tx) AddNotifications(ctx context.Context, ns []Notification) error {
	type key struct{ user, room, thread string }
	type sums struct {
		key
		notify, highlights, last int64
	}
	index := make(map[key]int, len(ns))
	var counts []sums // in first-seen order, so that statements are deterministic
	for _, n := range ns {
		k := key{n.UserID, n.RoomID, n.ThreadID}
		i, ok := index[k]
		if !ok {
			i = len(counts)
			index[k] = i
			counts = append(counts, sums{key: k})
		}
		c := &counts[i]
		c.notify++
		if n.Highlight {
			c.highlights++
		}
		c.last = max(c.last, n.StreamPos)
	}
	if err := tx.insertEventNotifications(ctx, ns); err != nil {
		return err
	}
	for _, c := range counts {
		tx.unreadChanged(c.user, c.room)
	}
	args := make([]any, 0, min(len(counts), notificationRows)*6)
	var room, thread boxed // a batch's rows share few rooms and threads
	for start := 0; start < len(counts); start += notificationRows {
		chunk := counts[start:min(start+notificationRows, len(counts))]
		args = args[:0]
		for _, c := range chunk {
			args = append(args, c.user, room.of(c.room), thread.of(c.thread), c.notify, c.highlights, c.last)
		}
		if _, err := tx.tx.ExecContext(ctx, `INSERT INTO notification_counts
			(user_id, room_id, thread_id, notification_count, highlight_count, last_pos) VALUES `+rowPlaceholders(len(chunk), 6)+`
			ON CONFLICT (user_id, room_id, thread_id) DO UPDATE SET
			notification_count = notification_counts.notification_count + excluded.notification_count,
			highlight_count = notification_counts.highlight_count + excluded.highlight_count,
			last_pos = CASE WHEN excluded.last_pos > notification_counts.last_pos
				THEN excluded.last_pos ELSE notification_counts.last_pos END`, args...); err != nil {
			return fmt.Errorf("add notification counts: %w", err)
		}
	}
	return nil
}

// boxed is a string as a statement argument, boxed once for the rows
// that repeat it one after another.
type boxed struct {
	s   string
	arg any
}

func (b *boxed) of(s string) any {
	if b.arg == nil || b.s != s {
		b.s, b.arg = s, s
	}
	return b.arg
}

// MarkNotificationsRead marks a user's notifications in a room read up to
// and including stream position upto, in one thread (threadID "" for
// every thread), and returns how many unread ones that read. A thread read
// up to its newest notification or beyond drops to zero at once; an older
// position counts the notifications after it.
func (tx *Tx) MarkNotificationsRead(ctx context.Context, userID, roomID, threadID string, upto int64) (int, error) {
	return tx.markRead(ctx, userID, roomID, threadID, upto, func(thread string) (int64, int64, error) {
		return tx.countNotified(ctx, userID, roomID, thread, upto)
	})
}

// MarkNotificationsReadBefore is MarkNotificationsRead for a caller that
// knows every notification of the user in the room after upto: after,
// per thread (the push evaluator, reading up to an event of the batch it
// stores, after every stored notification).
func (tx *Tx) MarkNotificationsReadBefore(ctx context.Context, userID, roomID, threadID string, upto int64,
	after map[string]ThreadCounts) (int, error) {
	return tx.markRead(ctx, userID, roomID, threadID, upto, func(thread string) (int64, int64, error) {
		return after[thread].Notify, after[thread].Highlights, nil
	})
}

// markRead is MarkNotificationsRead with the count of a thread's
// notifications after upto coming from count.
func (tx *Tx) markRead(ctx context.Context, userID, roomID, threadID string, upto int64,
	count func(thread string) (notify, highlights int64, err error)) (int, error) {
	type thread struct {
		id                       string
		notify, highlights       int64
		last                     int64
		newNotify, newHighlights int64
	}
	var threads []thread
	err := eachRow(ctx, tx.tx, `SELECT thread_id, notification_count, highlight_count, last_pos
		FROM notification_counts WHERE user_id = $1 AND room_id = $2 AND ($3 = '' OR thread_id = $3) AND read_pos < $4`,
		[]any{userID, roomID, threadID, upto}, func(scan func(...any) error) error {
			var t thread
			if err := scan(&t.id, &t.notify, &t.highlights, &t.last); err != nil {
				return err
			}
			threads = append(threads, t)
			return nil
		})
	if err != nil {
		return 0, fmt.Errorf("notification counts of %s: %w", userID, err)
	}
	tx.unreadChanged(userID, roomID) // even if nothing was unread: see CacheNotificationCounts
	marked := 0
	for _, t := range threads {
		if t.last > upto && t.notify > 0 { // some stay unread: count them
			var err error
			if t.newNotify, t.newHighlights, err = count(t.id); err != nil {
				return 0, err
			}
		}
		if _, err := tx.tx.ExecContext(ctx, `UPDATE notification_counts
			SET notification_count = $4, highlight_count = $5, read_pos = $6
			WHERE user_id = $1 AND room_id = $2 AND thread_id = $3`,
			userID, roomID, t.id, t.newNotify, t.newHighlights, upto); err != nil {
			return 0, fmt.Errorf("mark notifications read: %w", err)
		}
		marked += int(t.notify - t.newNotify)
	}
	return marked, nil
}

// unreadChanged records that the transaction changes a user's counts in a
// room: their generation advances once after the commit, however many
// changes the transaction made.
func (tx *Tx) unreadChanged(userID, roomID string) {
	if tx.unreadKeys == nil {
		tx.unreadKeys = map[[2]string]bool{}
		tx.afterCommit(func() {
			for k := range tx.unreadKeys {
				tx.db.unreadGens.Advance(k)
			}
		})
	}
	tx.unreadKeys[[2]string{userID, roomID}] = true
}

// UnreadGen is the generation of a user's notification counts in a room:
// it advances once with each committed transaction that changes them.
func (db *DB) UnreadGen(userID, roomID string) uint64 {
	return db.unreadGens.Of([2]string{userID, roomID})
}

// CacheNotificationCounts keeps counts that the caller computed for the
// generation gen (what NotificationCounts would read), if gen is still
// current. Every transaction that adds or reads notifications of the user
// in the room advances the generation exactly once, so a caller that read
// counts at generation g and then committed one such transaction knows
// the counts at g+1.
func (db *DB) CacheNotificationCounts(userID, roomID string, gen uint64, counts []ThreadCounts) {
	key := [2]string{userID, roomID}
	if db.unreadGens.Of(key) == gen {
		db.unread.Put(key, gen, counts)
	}
}

// NotificationCountsIn reads the stored counts of several users in a
// room and calls each with every user's counts (nil: none) and the
// generation taken before they were read: from the cache when it holds
// that generation, else read in a few queries (and cached). The slices
// are shared with the cache: callers must not change them.
func (db *DB) NotificationCountsIn(ctx context.Context, roomID string, users []string,
	each func(userID string, counts []ThreadCounts, gen uint64)) error {
	var missed []string
	var missedGens []uint64
	for _, u := range users {
		key := [2]string{u, roomID}
		gen := db.unreadGens.Of(key)
		if cached, ok := db.unread.Get(key, gen); ok {
			each(u, cached, gen)
			continue
		}
		missed, missedGens = append(missed, u), append(missedGens, gen)
	}
	if len(missed) == 0 {
		return nil
	}
	read := map[string][]ThreadCounts{}
	for chunk := range slices.Chunk(missed, notificationRows) {
		args := make([]any, 0, len(chunk)+1)
		args = append(args, roomID)
		for _, u := range chunk {
			args = append(args, u)
		}
		err := eachRow(ctx, db.read, `SELECT user_id, thread_id, notification_count, highlight_count
			FROM notification_counts WHERE room_id = $1 AND user_id IN (`+placeholdersFrom(2, len(chunk))+`)
			AND notification_count > 0`, args, func(scan func(...any) error) error {
			var (
				u string
				c ThreadCounts
			)
			if err := scan(&u, &c.ThreadID, &c.Notify, &c.Highlights); err != nil {
				return err
			}
			read[u] = append(read[u], c)
			return nil
		})
		if err != nil {
			return fmt.Errorf("notification counts in %s: %w", roomID, err)
		}
	}
	for i, u := range missed {
		db.unread.Put([2]string{u, roomID}, missedGens[i], read[u])
		each(u, read[u], missedGens[i])
	}
	return nil
}

// maxCachedUnread bounds the cached notification counts of (user, room)
// pairs.
const maxCachedUnread = 100_000

// NotificationCounts returns a user's unread notification counts in a
// room, per thread, in no particular order; threads without any are left
// out. Every woken /sync asks for them: they are cached until a commit
// changes them. The slice is shared: callers must not change it.
func (db *DB) NotificationCounts(ctx context.Context, userID, roomID string) ([]ThreadCounts, error) {
	key := [2]string{userID, roomID}
	if cached, ok := db.unread.Get(key, db.unreadGens.Of(key)); ok { // every /sync asks: no maps for one user
		return cached, nil
	}
	var counts []ThreadCounts
	err := db.NotificationCountsIn(ctx, roomID, []string{userID}, func(_ string, c []ThreadCounts, _ uint64) {
		counts = c
	})
	return counts, err
}

// Notifications returns up to limit of a user's notifications with
// stream positions before position before (0: open), newest first; only
// highlights if onlyHighlight. next is the before of the next page, 0 if
// there is none; a page may hold fewer than limit and still have a next.
func (db *DB) Notifications(ctx context.Context, userID string, before int64, limit int, onlyHighlight bool) (ns []Notification, next int64, err error) {
	return db.scanNotifications(ctx, userID, before, false, limit, func(n Notification) bool {
		return n.Highlight || !onlyHighlight
	})
}

// PushStream names the streams row that holds how far the push evaluator
// has processed the events stream.
const PushStream = "push"

// LockPushPos returns the push evaluator's position and locks it until the
// transaction ends, so that evaluators of several processes on one
// database take turns and each sees where the other stopped.
func (tx *Tx) LockPushPos(ctx context.Context) (int64, error) {
	var pos int64
	err := tx.tx.QueryRowContext(ctx, "UPDATE streams SET pos = pos WHERE name = $1 RETURNING pos", PushStream).
		Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("lock push position: %w", notFound(err))
	}
	return pos, nil
}

// SetPushPos records that every event up to stream position pos has been
// evaluated. The position never moves back.
func (tx *Tx) SetPushPos(ctx context.Context, pos int64) error {
	_, err := tx.tx.ExecContext(ctx, "UPDATE streams SET pos = $2 WHERE name = $1 AND pos < $2", PushStream, pos)
	if err != nil {
		return fmt.Errorf("set push position %d: %w", pos, err)
	}
	return nil
}

// JoinedLocal returns the number of users joined to a room and the joined
// members whose ids end in ":"+serverName. Returns ErrNotFound for an
// unknown room.
func (db *DB) JoinedLocal(ctx context.Context, roomID, serverName string) (total int, local []Membership, err error) {
	var room RoomNID
	err = db.read.QueryRowContext(ctx, `SELECT r.room_nid, COUNT(m.user_id) FROM rooms r
		LEFT JOIN memberships m ON m.room_nid = r.room_nid AND m.membership = 'join'
		WHERE r.room_id = $1 GROUP BY r.room_nid`, roomID).Scan(&room, &total)
	if err != nil {
		return 0, nil, notFound(err)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT user_id, event_nid, stream_pos FROM memberships
		WHERE room_nid = $1 AND membership = 'join' AND user_id LIKE $2`, room, "%:"+serverName)
	if err != nil {
		return 0, nil, fmt.Errorf("local members of %s: %w", roomID, err)
	}
	defer rows.Close()
	for rows.Next() {
		m := Membership{Room: room, Membership: "join"}
		if err := rows.Scan(&m.UserID, &m.Event, &m.StreamPos); err != nil {
			return 0, nil, err
		}
		if strings.HasSuffix(m.UserID, ":"+serverName) { // LIKE's _ matches any character
			local = append(local, m)
		}
	}
	return total, local, rows.Err()
}
