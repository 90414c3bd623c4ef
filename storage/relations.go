package storage

import (
	"context"
	"fmt"
	"strconv"
)

// Relation is one event's relation to another (its content.m.relates_to).
type Relation struct {
	Event     EventNID
	EventID   string // read only: filled by Relations
	Room      RoomNID
	ParentID  string
	RelType   string
	Type      string // the relating event's type
	Sender    string
	StreamPos int64
}

// InsertRelation records a relation of an accepted event.
func (tx *Tx) InsertRelation(ctx context.Context, r Relation) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO event_relations
		(event_nid, room_nid, parent_id, rel_type, type, sender, stream_pos) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		r.Event, r.Room, r.ParentID, r.RelType, r.Type, r.Sender, r.StreamPos)
	if err != nil {
		return fmt.Errorf("insert relation: %w", err)
	}
	return nil
}

// RelationQuery selects relations of one parent event.
type RelationQuery struct {
	ParentIDs []string // the events related to
	RelType   string   // "" for any
	Type      string   // "" for any
	// After and Before bound stream positions (exclusive, 0 open); Limit
	// bounds the rows; Backwards returns newest first.
	After, Before int64
	Limit         int
	Backwards     bool
}

// Relations returns the relations matching q.
func (db *DB) Relations(ctx context.Context, q RelationQuery) ([]Relation, error) {
	if len(q.ParentIDs) == 0 {
		return nil, nil
	}
	before := q.Before
	if before == 0 {
		before = 1<<63 - 1
	}
	args := []any{q.RelType, q.Type, q.After, before}
	for _, id := range q.ParentIDs {
		args = append(args, id)
	}
	order := "ASC"
	if q.Backwards {
		order = "DESC"
	}
	limit := ""
	if q.Limit > 0 {
		limit = fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT r.event_nid, e.event_id, r.room_nid, r.parent_id, r.rel_type,
			r.type, r.sender, r.stream_pos
		FROM event_relations r JOIN events e ON e.event_nid = r.event_nid
		WHERE ($1 = '' OR r.rel_type = $1) AND ($2 = '' OR r.type = $2)
		AND r.stream_pos > $3 AND r.stream_pos < $4 AND r.parent_id IN (`+placeholdersFrom(5, len(q.ParentIDs))+`)
		ORDER BY r.stream_pos `+order+limit, args...)
	if err != nil {
		return nil, fmt.Errorf("query relations: %w", err)
	}
	defer rows.Close()
	var out []Relation
	for rows.Next() {
		var r Relation
		if err := rows.Scan(&r.Event, &r.EventID, &r.Room, &r.ParentID, &r.RelType, &r.Type, &r.Sender, &r.StreamPos); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ThreadRoots returns the thread roots of a room, most recently active
// first, with the position of each thread's latest event: only threads
// whose latest activity is before position before (0: open), at most
// limit. With participant set, only threads the user started or replied in.
func (db *DB) ThreadRoots(ctx context.Context, room RoomNID, participant string, before int64, limit int) ([]ThreadRoot, error) {
	if before == 0 {
		before = 1<<63 - 1
	}
	rows, err := db.read.QueryContext(ctx, `SELECT r.parent_id, MAX(r.stream_pos) FROM event_relations r
		WHERE r.room_nid = $1 AND r.rel_type = 'm.thread'
		GROUP BY r.parent_id
		HAVING MAX(r.stream_pos) < $2 AND ($3 = ''
			OR SUM(CASE WHEN r.sender = $3 THEN 1 ELSE 0 END) > 0
			OR EXISTS (SELECT 1 FROM events e WHERE e.event_id = r.parent_id AND e.sender = $3))
		ORDER BY MAX(r.stream_pos) DESC LIMIT $4`, room, before, participant, limit)
	if err != nil {
		return nil, fmt.Errorf("query threads: %w", err)
	}
	defer rows.Close()
	var out []ThreadRoot
	for rows.Next() {
		var t ThreadRoot
		if err := rows.Scan(&t.RootID, &t.Latest); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// ThreadRoot is a thread root and the position of its latest reply.
type ThreadRoot struct {
	RootID string
	Latest int64
}

// placeholdersFrom returns "$from, ..., $(from+n-1)".
func placeholdersFrom(from, n int) string {
	return string(appendPlaceholders(make([]byte, 0, n*6), from, n))
}

func appendPlaceholders(b []byte, from, n int) []byte {
	for i := range n {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(append(b, '$'), int64(from+i), 10)
	}
	return b
}

// rowPlaceholders returns the placeholders of a multi-row VALUES: rows
// parenthesized lists of cols, from $1 on.
func rowPlaceholders(rows, cols int) string {
	b := make([]byte, 0, rows*(cols*6+4))
	for r := range rows {
		if r > 0 {
			b = append(b, ", "...)
		}
		b = append(appendPlaceholders(append(b, '('), 1+r*cols, cols), ')')
	}
	return string(b)
}

// RelationOf returns the relation an event has to another, or ErrNotFound
// if it has none (or is not stored).
func (db *DB) RelationOf(ctx context.Context, eventID string) (Relation, error) {
	r := Relation{EventID: eventID}
	err := db.read.QueryRowContext(ctx, `SELECT r.event_nid, r.room_nid, r.parent_id, r.rel_type, r.type, r.sender,
			r.stream_pos
		FROM event_relations r JOIN events e ON e.event_nid = r.event_nid WHERE e.event_id = $1`, eventID).
		Scan(&r.Event, &r.Room, &r.ParentID, &r.RelType, &r.Type, &r.Sender, &r.StreamPos)
	return r, notFound(err)
}
