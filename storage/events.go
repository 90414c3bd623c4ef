package storage

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
)

// EventStatus says how the server treats a stored event.
type EventStatus int

const (
	// StatusAccepted: passed every check; part of the room.
	StatusAccepted EventStatus = iota
	// StatusSoftFailed: allowed by its own state but not by the current
	// state; stored, not served, not a forward extremity.
	StatusSoftFailed
	// StatusRejected: failed authorisation; stored so that it is not
	// fetched again, never served.
	StatusRejected
	// StatusOutlier: held without the state before it (an invite from
	// another server, an auth chain event).
	StatusOutlier
)

// Event is a stored event row. JSON is the full event as signed.
type Event struct {
	NID            EventNID
	Room           RoomNID
	ID             string
	Type           TypeNID
	StateKey       StateKeyNID // 0: not a state event
	Sender         string
	Depth          int64
	OriginTS       int64
	Status         EventStatus
	StreamPos      int64 // 0: not in the timeline
	BeforeSnapshot SnapshotNID
	AfterSnapshot  SnapshotNID
	RedactedBy     string
	JSON           []byte
}

// InsertEvent stores an event and returns its NID. Returns ErrExists if
// an event with its id is stored.
func (tx *Tx) InsertEvent(ctx context.Context, e Event) (EventNID, error) {
	var (
		nid EventNID
		pos sql.NullInt64
	)
	if e.StreamPos != 0 {
		pos = sql.NullInt64{Int64: e.StreamPos, Valid: true}
	}
	err := tx.tx.QueryRowContext(ctx, `INSERT INTO events (room_nid, event_id, type_nid, state_key_nid, sender,
			depth, origin_ts, status, stream_pos, before_snapshot, after_snapshot, json)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING event_nid`,
		e.Room, e.ID, e.Type, e.StateKey, e.Sender, e.Depth, e.OriginTS, e.Status, pos,
		e.BeforeSnapshot, e.AfterSnapshot, string(e.JSON)).Scan(&nid)
	if tx.dialect.isUniqueViolation(err) {
		return 0, ErrExists
	}
	if err != nil {
		return 0, fmt.Errorf("insert event %s: %w", e.ID, err)
	}
	return nid, nil
}

// SetEventRedacted records that redaction redacted the event and replaces
// its JSON with the redacted form.
func (tx *Tx) SetEventRedacted(ctx context.Context, nid EventNID, redaction string, redactedJSON []byte) error {
	res, err := tx.tx.ExecContext(ctx, "UPDATE events SET redacted_by = $2, json = $3 WHERE event_nid = $1",
		nid, redaction, string(redactedJSON))
	if err != nil {
		return fmt.Errorf("redact event %d: %w", nid, err)
	}
	return oneRow(res)
}

const selectEvent = `SELECT event_nid, room_nid, event_id, type_nid, state_key_nid, sender, depth, origin_ts,
	status, COALESCE(stream_pos, 0), before_snapshot, after_snapshot, redacted_by, json FROM events`

func scanEvent(row interface{ Scan(...any) error }) (Event, error) {
	var (
		e    Event
		data string
	)
	err := row.Scan(&e.NID, &e.Room, &e.ID, &e.Type, &e.StateKey, &e.Sender, &e.Depth, &e.OriginTS,
		&e.Status, &e.StreamPos, &e.BeforeSnapshot, &e.AfterSnapshot, &e.RedactedBy, &data)
	if err != nil {
		return Event{}, err
	}
	e.JSON = []byte(data)
	return e, nil
}

func queryEvents(ctx context.Context, q querier, query string, args ...any) ([]Event, error) {
	out, err := queryAll(ctx, q, scanEvent, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query events: %w", err)
	}
	return out, nil
}

// EventByID returns an event by id, or ErrNotFound.
func (db *DB) EventByID(ctx context.Context, id string) (Event, error) {
	e, err := scanEvent(db.read.QueryRowContext(ctx, selectEvent+" WHERE event_id = $1", id))
	return e, notFound(err)
}

// EventByID is DB.EventByID inside the transaction.
func (tx *Tx) EventByID(ctx context.Context, id string) (Event, error) {
	e, err := scanEvent(tx.tx.QueryRowContext(ctx, selectEvent+" WHERE event_id = $1", id))
	return e, notFound(err)
}

// EventsByNID returns the events with the NIDs, in no particular order;
// unknown NIDs are left out.
func (db *DB) EventsByNID(ctx context.Context, nids []EventNID) ([]Event, error) {
	if len(nids) == 0 {
		return nil, nil
	}
	args := make([]any, len(nids))
	for i, n := range nids {
		args[i] = n
	}
	return queryEvents(ctx, db.read, selectEvent+" WHERE event_nid IN ("+placeholders(len(nids))+")", args...)
}

// EventsByID returns the events with the ids, in no particular order;
// unknown ids are left out.
func (db *DB) EventsByID(ctx context.Context, ids []string) ([]Event, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return queryEvents(ctx, db.read, selectEvent+" WHERE event_id IN ("+placeholders(len(ids))+")", args...)
}

// RoomTimeline returns up to limit accepted timeline events of a room with
// stream positions in (after, before), newest first if backwards, else
// oldest first. A bound of 0 is open.
func (db *DB) RoomTimeline(ctx context.Context, room RoomNID, after, before int64, limit int, backwards bool) ([]Event, error) {
	if before == 0 {
		before = 1<<63 - 1
	}
	order := "ASC"
	if backwards {
		order = "DESC"
	}
	return queryEvents(ctx, db.read, selectEvent+` WHERE room_nid = $1 AND stream_pos > $2 AND stream_pos < $3
		AND status = 0 ORDER BY stream_pos `+order+` LIMIT $4`, room, after, before, limit)
}

// placeholders returns "$1, $2, ..., $n".
func placeholders(n int) string { return placeholdersFrom(1, n) }

// TxnEvent returns the event id a client transaction produced, or
// ErrNotFound.
func (db *DB) TxnEvent(ctx context.Context, localpart, deviceID, txnID string) (string, error) {
	var id string
	err := db.read.QueryRowContext(ctx,
		"SELECT event_id FROM txn_ids WHERE localpart = $1 AND device_id = $2 AND txn_id = $3",
		localpart, deviceID, txnID).Scan(&id)
	return id, notFound(err)
}

// InsertTxn records the event a client transaction produced. Returns
// ErrExists if the transaction id was used.
func (tx *Tx) InsertTxn(ctx context.Context, localpart, deviceID, txnID, eventID string) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO txn_ids (localpart, device_id, txn_id, event_id, created_ts)
		VALUES ($1, $2, $3, $4, $5)`, localpart, deviceID, txnID, eventID, millis(tx.Now))
	if tx.dialect.isUniqueViolation(err) {
		return ErrExists
	}
	return err
}

// SetEventAfterSnapshot records the state after a state event.
func (tx *Tx) SetEventAfterSnapshot(ctx context.Context, nid EventNID, snapshot SnapshotNID) error {
	res, err := tx.tx.ExecContext(ctx, "UPDATE events SET after_snapshot = $2 WHERE event_nid = $1", nid, snapshot)
	if err != nil {
		return fmt.Errorf("set snapshot of event %d: %w", nid, err)
	}
	return oneRow(res)
}

// EventAtTime returns the accepted timeline event of a room closest to ts
// (milliseconds): the first at or after it if forwards, the last at or
// before it otherwise. Returns ErrNotFound if there is none.
func (db *DB) EventAtTime(ctx context.Context, room RoomNID, ts int64, forwards bool) (Event, error) {
	cond, order := "origin_ts >= $2", "ASC"
	if !forwards {
		cond, order = "origin_ts <= $2", "DESC"
	}
	e, err := scanEvent(db.read.QueryRowContext(ctx, selectEvent+` WHERE room_nid = $1 AND `+cond+`
		AND status = 0 AND stream_pos IS NOT NULL ORDER BY origin_ts `+order+`, stream_pos `+order+` LIMIT 1`, room, ts))
	return e, notFound(err)
}

// LastEventBefore returns the room's newest accepted timeline event with a
// stream position at most pos, or ErrNotFound.
func (db *DB) LastEventBefore(ctx context.Context, room RoomNID, pos int64) (Event, error) {
	e, err := scanEvent(db.read.QueryRowContext(ctx, selectEvent+` WHERE room_nid = $1 AND stream_pos <= $2
		AND status = 0 ORDER BY stream_pos DESC LIMIT 1`, room, pos))
	return e, notFound(err)
}

// StreamPos returns the current position of a stream: every change with a
// position up to it is committed. That of a stream /sync reads is the one
// this process published (orderedpos.go); the others (the push evaluator's
// and search indexer's progress) are read from streams.
func (db *DB) StreamPos(ctx context.Context, stream string) (int64, error) {
	if slices.Contains(orderedStreams, stream) {
		return (*db.positions.Load())[stream], nil
	}
	var pos int64
	err := db.read.QueryRowContext(ctx, "SELECT pos FROM streams WHERE name = $1", stream).Scan(&pos)
	return pos, notFound(err)
}

// RoomActivity is a room with timeline events in a range of positions.
type RoomActivity struct {
	Room   RoomNID
	RoomID string
	Count  int
}

// ActiveRooms returns the rooms in which the user has a membership and
// that have accepted timeline events with positions in (from, to].
func (db *DB) ActiveRooms(ctx context.Context, userID string, from, to int64) ([]RoomActivity, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT e.room_nid, r.room_id, COUNT(*) FROM events e
		JOIN memberships m ON m.room_nid = e.room_nid AND m.user_id = $1
		JOIN rooms r ON r.room_nid = e.room_nid
		WHERE e.stream_pos > $2 AND e.stream_pos <= $3 AND e.status = 0
		GROUP BY e.room_nid, r.room_id`, userID, from, to)
	if err != nil {
		return nil, fmt.Errorf("active rooms of %s: %w", userID, err)
	}
	defer rows.Close()
	var out []RoomActivity
	for rows.Next() {
		var a RoomActivity
		if err := rows.Scan(&a.Room, &a.RoomID, &a.Count); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// EventsInStream returns up to limit accepted timeline events of every room
// with stream positions in (after, upto], oldest first.
func (db *DB) EventsInStream(ctx context.Context, after, upto int64, limit int) ([]Event, error) {
	return queryEvents(ctx, db.read, selectEvent+` WHERE stream_pos > $1 AND stream_pos <= $2 AND status = 0
		ORDER BY stream_pos LIMIT $3`, after, upto, limit)
}

// StreamPositions returns the current position of every stream, from
// memory: those of the last commit made through this DB. The map is
// shared and never changes (a commit publishes a new one): callers must
// not change it.
func (db *DB) StreamPositions(context.Context) (map[string]int64, error) {
	return *db.positions.Load(), nil
}

// loadStreamPositions reads every stream's position.
func (db *DB) loadStreamPositions(ctx context.Context) error {
	out := map[string]int64{}
	err := eachRow(ctx, db.read, "SELECT name, pos FROM streams", nil, func(scan func(...any) error) error {
		var name string
		var pos int64
		if err := scan(&name, &pos); err != nil {
			return err
		}
		out[name] = pos
		return nil
	})
	if err != nil {
		return fmt.Errorf("read stream positions: %w", err)
	}
	db.positions.Store(&out)
	return nil
}

// publishStreamPosition makes a position a committed transaction took
// current.
func (db *DB) publishStreamPosition(stream string, pos int64) {
	db.posMu.Lock()
	defer db.posMu.Unlock()
	current := *db.positions.Load()
	if pos <= current[stream] {
		return
	}
	next := maps.Clone(current)
	next[stream] = pos
	db.positions.Store(&next)
}
