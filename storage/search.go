package storage

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// SearchStream names the streams row that holds how far the search
// indexer has indexed the events stream.
const SearchStream = "search"

// SearchDoc is the searchable text of one event.
type SearchDoc struct {
	Event     EventNID
	Room      RoomNID
	Sender    string
	Type      string
	StreamPos int64
	OriginTS  int64
	Text      string // as the event has it; the index stores it normalised
}

// InsertSearchDoc adds an event's text to the full-text index. An event
// already indexed is left as it is; text without words is not indexed.
func (tx *Tx) InsertSearchDoc(ctx context.Context, d SearchDoc) error {
	text := normaliseSearchText(d.Text)
	if text == "" {
		return nil
	}
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO search_docs
		(event_nid, room_nid, sender, type, stream_pos, origin_ts, text) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (event_nid) DO NOTHING`,
		d.Event, d.Room, d.Sender, d.Type, d.StreamPos, d.OriginTS, text)
	if err != nil {
		return fmt.Errorf("index event %d: %w", d.Event, err)
	}
	return nil
}

// UnindexRedacted removes the event with the id from the full-text index
// if its stored form is redacted. It is a no-op otherwise, and for events
// that are not indexed.
func (tx *Tx) UnindexRedacted(ctx context.Context, eventID string) error {
	_, err := tx.tx.ExecContext(ctx, `DELETE FROM search_docs WHERE event_nid =
		(SELECT event_nid FROM events WHERE event_id = $1 AND redacted_by <> '')`, eventID)
	if err != nil {
		return fmt.Errorf("unindex redacted %s: %w", eventID, err)
	}
	return nil
}

// SetSearchPos records that the search index holds every event up to
// stream position pos. The position never moves back.
func (tx *Tx) SetSearchPos(ctx context.Context, pos int64) error {
	_, err := tx.tx.ExecContext(ctx, "UPDATE streams SET pos = $2 WHERE name = $1 AND pos < $2", SearchStream, pos)
	if err != nil {
		return fmt.Errorf("set search position %d: %w", pos, err)
	}
	return nil
}

// SearchRoom is a room to search, up to a stream position.
type SearchRoom struct {
	NID   RoomNID
	Until int64 // the last position to search; 0: no bound
}

// SearchQuery selects events of the full-text index.
type SearchQuery struct {
	Terms SearchTerms
	// Rooms to search; none means no results.
	Rooms []SearchRoom
	// Types of the events to find; nil means any, empty means none.
	Types []string
	// Senders (nil: any) and senders to leave out.
	Senders    []string
	NotSenders []string
	// ByRank orders the best matches first, otherwise the most recent.
	ByRank bool
	// After continues from a hit of an earlier page in the same order.
	After *SearchCursor
	Limit int
}

// SearchCursor is the place of a hit in the order of a query.
type SearchCursor struct {
	Rank      float64
	StreamPos int64
}

// SearchHit is one event the full-text index found.
type SearchHit struct {
	Event   EventNID
	EventID string
	RoomID  string
	SearchCursor
}

// Search returns up to q.Limit redaction-free events that match q, in its
// order: by rank (higher is better, then newest first) or newest first.
func (db *DB) Search(ctx context.Context, q SearchQuery) ([]SearchHit, error) {
	b, ok := db.searchWhere(q)
	if !ok {
		return nil, nil
	}
	order := "s.stream_pos DESC"
	if q.ByRank {
		order = "s.score DESC, s.stream_pos DESC"
	}
	var after string
	if c := q.After; c != nil {
		if q.ByRank {
			after = fmt.Sprintf("WHERE s.score < %s OR (s.score = %s AND s.stream_pos < %s)",
				b.arg(c.Rank), b.arg(c.Rank), b.arg(c.StreamPos))
		} else {
			after = "WHERE s.stream_pos < " + b.arg(c.StreamPos)
		}
	}
	rows, err := db.read.QueryContext(ctx, `SELECT s.event_nid, s.event_id, s.room_id, s.score, s.stream_pos FROM (
			SELECT d.event_nid, e.event_id, r.room_id, `+b.rank+` AS score, d.stream_pos
			FROM `+b.from+`
			JOIN events e ON e.event_nid = d.event_nid
			JOIN rooms r ON r.room_nid = d.room_nid
			WHERE `+b.where()+`
		) s `+after+` ORDER BY `+order+` LIMIT `+b.arg(q.Limit), b.args...)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	var out []SearchHit
	for rows.Next() {
		var h SearchHit
		if err := rows.Scan(&h.Event, &h.EventID, &h.RoomID, &h.Rank, &h.StreamPos); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// SearchCount returns how many events match q, whatever its order, cursor
// and limit.
func (db *DB) SearchCount(ctx context.Context, q SearchQuery) (int, error) {
	b, ok := db.searchWhere(q)
	if !ok {
		return 0, nil
	}
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+b.from+`
		JOIN events e ON e.event_nid = d.event_nid WHERE `+b.where(), b.args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count search results: %w", err)
	}
	return n, nil
}

// searchSQL collects the conditions and arguments of a search query.
type searchSQL struct {
	textMatch
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (b *searchSQL) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// in returns a placeholder list for the values.
func in[T any](b *searchSQL, values []T) string {
	ps := make([]string, len(values))
	for i, v := range values {
		ps[i] = b.arg(v)
	}
	return strings.Join(ps, ", ")
}

func (b *searchSQL) where() string { return strings.Join(b.conds, " AND ") }

// searchWhere builds the conditions of q; ok is false if q can match
// nothing.
func (db *DB) searchWhere(q SearchQuery) (b *searchSQL, ok bool) {
	if q.Terms.Empty() || len(q.Rooms) == 0 || (q.Types != nil && len(q.Types) == 0) ||
		(q.Senders != nil && len(q.Senders) == 0) {
		return nil, false
	}
	b = &searchSQL{textMatch: db.dialect.textSearch(q.Terms, "$1")}
	b.args = []any{b.textMatch.arg}
	b.conds = append(b.conds, b.match, "e.redacted_by = ''")
	var open []RoomNID
	var bounded []string
	for _, r := range q.Rooms {
		if r.Until == 0 {
			open = append(open, r.NID)
		} else {
			bounded = append(bounded, "(d.room_nid = "+b.arg(r.NID)+" AND d.stream_pos <= "+b.arg(r.Until)+")")
		}
	}
	if len(open) > 0 {
		bounded = append(bounded, "d.room_nid IN ("+in(b, open)+")")
	}
	b.conds = append(b.conds, "("+strings.Join(bounded, " OR ")+")")
	if q.Types != nil {
		b.conds = append(b.conds, "d.type IN ("+in(b, q.Types)+")")
	}
	if q.Senders != nil {
		b.conds = append(b.conds, "d.sender IN ("+in(b, q.Senders)+")")
	}
	if len(q.NotSenders) > 0 {
		b.conds = append(b.conds, "d.sender NOT IN ("+in(b, q.NotSenders)+")")
	}
	return b, true
}
