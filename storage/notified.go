package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// An event's notifications are one row of event_notifications (see
// migration 0020): its users column lists the notified users, one entry
// each, as "\n" user_id "\t" then 'h' (highlight) or 'n', then the user's
// actions as compact JSON, or nothing when they equal the row's actions.

// appendNotified appends userID's entry to a users column.
func appendNotified(b []byte, userID string, highlight bool, actions []byte) []byte {
	b = append(b, '\n')
	b = append(b, userID...)
	b = append(b, '\t')
	if highlight {
		b = append(b, 'h')
	} else {
		b = append(b, 'n')
	}
	return append(b, actions...)
}

// notifiedUser finds userID's entry in a users column. actions is "" when
// they are the row's.
func notifiedUser(users, userID string) (highlight bool, actions string, ok bool) {
	i := strings.Index(users, "\n"+userID+"\t")
	if i < 0 {
		return false, "", false
	}
	rest := users[i+len(userID)+2:]
	if end := strings.IndexByte(rest, '\n'); end >= 0 {
		rest = rest[:end]
	}
	if rest == "" {
		return false, "", false // not written by appendNotified
	}
	return rest[0] == 'h', rest[1:], true
}

// notifiedPattern is a LIKE pattern (escaped with '\') matching the users
// columns that list userID. SQLite's LIKE ignores ASCII case, so a match
// is confirmed with notifiedUser.
func notifiedPattern(userID string) string {
	escaped := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(userID)
	return "%\n" + escaped + "\t%"
}

// compactActions is a rule's actions without JSON whitespace: an entry of
// a users column holds no newline.
func compactActions(actions json.RawMessage) ([]byte, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, actions); err != nil {
		return nil, fmt.Errorf("notification actions: %w", err)
	}
	return b.Bytes(), nil
}

// insertEventNotifications writes the rows of the events ns notifies of.
func (tx *Tx) insertEventNotifications(ctx context.Context, ns []Notification) error {
	type event struct {
		first   Notification
		actions []int // per notification of the event: its compacted actions, by index in distinct
		users   []int // the event's notifications, by index in ns
		size    int   // of its users column, without actions
	}
	var events []*event
	byPos := map[int64]*event{}
	// Most notifications share their rule's actions: each distinct list
	// is compacted once and known by its index, found by its raw or its
	// compacted JSON.
	var distinct [][]byte
	index := map[string]int{}
	for i, n := range ns {
		e := byPos[n.StreamPos]
		if e == nil {
			e = &event{first: n}
			byPos[n.StreamPos] = e
			events = append(events, e)
		}
		a, ok := index[string(n.Actions)]
		if !ok {
			compact, err := compactActions(n.Actions)
			if err != nil {
				return err
			}
			if a, ok = index[string(compact)]; !ok {
				a = len(distinct)
				distinct = append(distinct, compact)
				index[string(compact)] = a
			}
			index[string(n.Actions)] = a
		}
		e.actions = append(e.actions, a)
		e.users = append(e.users, i)
		e.size += len(n.UserID) + 3
	}
	var users []byte // reused: each row's column is copied into a string
	for start := 0; start < len(events); start += notificationRows {
		chunk := events[start:min(start+notificationRows, len(events))]
		args := make([]any, 0, len(chunk)*7)
		for _, e := range chunk {
			common := mostCommon(e.actions, len(distinct))
			users = slices.Grow(users[:0], e.size)
			for j, i := range e.users {
				var a []byte // the row's actions: left out
				if e.actions[j] != common {
					a = distinct[e.actions[j]]
				}
				users = appendNotified(users, ns[i].UserID, ns[i].Highlight, a)
			}
			args = append(args, e.first.StreamPos, e.first.RoomID, e.first.EventID, e.first.ThreadID, millis(tx.Now),
				string(distinct[common]), string(users))
		}
		if _, err := tx.tx.ExecContext(ctx, `INSERT INTO event_notifications
			(stream_pos, room_id, event_id, thread_id, ts, actions, users) VALUES `+rowPlaceholders(len(chunk), 7),
			args...); err != nil {
			return fmt.Errorf("insert notifications: %w", err)
		}
	}
	return nil
}

// mostCommon returns the value in [0, n) that occurs most often in vs (of
// equals, the first to reach the count), vs not empty.
func mostCommon(vs []int, n int) int {
	counts := make([]int, n)
	best := vs[0]
	for _, v := range vs {
		counts[v]++
		if counts[v] > counts[best] {
			best = v
		}
	}
	return best
}

// countNotified counts a user's notifications in a room's thread after
// stream position after, and how many of them are highlights.
func (tx *Tx) countNotified(ctx context.Context, userID, roomID, threadID string, after int64) (notify, highlights int64, err error) {
	err = eachRow(ctx, tx.tx, `SELECT users FROM event_notifications
		WHERE room_id = $1 AND thread_id = $2 AND stream_pos > $3 AND users LIKE $4 ESCAPE '\'`,
		[]any{roomID, threadID, after, notifiedPattern(userID)}, func(scan func(...any) error) error {
			var users string
			if err := scan(&users); err != nil {
				return err
			}
			if highlight, _, ok := notifiedUser(users, userID); ok {
				notify++
				if highlight {
					highlights++
				}
			}
			return nil
		})
	if err != nil {
		return 0, 0, fmt.Errorf("count unread notifications: %w", err)
	}
	return notify, highlights, nil
}

// NotificationScan bounds the event rows one listing of a user's
// notifications reads: no index tells whom a row notifies, so a listing
// walks the events stream and stops after this many rows.
const NotificationScan = 2000

// errPageFull ends a scan early.
var errPageFull = errors.New("page full")

// scanNotifications lists up to limit of a user's notifications that keep
// accepts, walking event rows from stream position from (exclusive; 0: an
// end of the stream) backwards, or forwards if forwards. next is where a
// further walk continues from: the last row read, or 0 if the walk reached
// the end of the stream.
func (db *DB) scanNotifications(ctx context.Context, userID string, from int64, forwards bool, limit int,
	keep func(Notification) bool) (out []Notification, next int64, err error) {
	query := `SELECT stream_pos, room_id, event_id, thread_id, ts, actions,
		CASE WHEN users LIKE $2 ESCAPE '\' THEN users ELSE '' END FROM event_notifications `
	if forwards {
		query += "WHERE stream_pos > $1 ORDER BY stream_pos"
	} else {
		if from <= 0 {
			from = math.MaxInt64
		}
		query += "WHERE stream_pos < $1 ORDER BY stream_pos DESC"
	}
	read := 0
	err = eachRow(ctx, db.read, query+" LIMIT $3", []any{from, notifiedPattern(userID), NotificationScan},
		func(scan func(...any) error) error {
			n := Notification{UserID: userID}
			var common, users string
			if err := scan(&n.StreamPos, &n.RoomID, &n.EventID, &n.ThreadID, &n.TS, &common, &users); err != nil {
				return err
			}
			read++
			next = n.StreamPos
			highlight, actions, ok := notifiedUser(users, userID)
			if !ok {
				return nil
			}
			if actions == "" {
				actions = common
			}
			n.Highlight, n.Actions = highlight, json.RawMessage(actions)
			if !keep(n) {
				return nil
			}
			out = append(out, n)
			if len(out) == limit {
				return errPageFull
			}
			return nil
		})
	switch {
	case errors.Is(err, errPageFull):
	case err != nil:
		return nil, 0, fmt.Errorf("notifications of %s: %w", userID, err)
	case read < NotificationScan:
		next = 0 // the stream's end
	}
	if err := db.markReadNotifications(ctx, userID, out); err != nil {
		return nil, 0, err
	}
	return out, next, nil
}

// markReadNotifications sets Read on the notifications of ns that their
// threads' read positions cover.
func (db *DB) markReadNotifications(ctx context.Context, userID string, ns []Notification) error {
	if len(ns) == 0 {
		return nil
	}
	readPos := map[[2]string]int64{}
	err := eachRow(ctx, db.read, `SELECT room_id, thread_id, read_pos FROM notification_counts
		WHERE user_id = $1 AND read_pos > 0`, []any{userID}, func(scan func(...any) error) error {
		var (
			k   [2]string
			pos int64
		)
		if err := scan(&k[0], &k[1], &pos); err != nil {
			return err
		}
		readPos[k] = pos
		return nil
	})
	if err != nil {
		return fmt.Errorf("read positions of %s: %w", userID, err)
	}
	for i := range ns {
		ns[i].Read = ns[i].StreamPos <= readPos[[2]string{ns[i].RoomID, ns[i].ThreadID}]
	}
	return nil
}
