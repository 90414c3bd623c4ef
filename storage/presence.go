package storage

import (
	"context"
	"database/sql"
	"fmt"
)

// Presence is a user's stored presence.
type Presence struct {
	UserID       string
	Presence     string  // online, unavailable or offline
	StatusMsg    *string // nil: none set
	LastActiveTS int64
	StreamPos    int64 // position of the last change of Presence or StatusMsg
}

// PutPresence stores a user's presence, status message and last active
// time at a new position of the presence stream, and returns it.
func (tx *Tx) PutPresence(ctx context.Context, p Presence) (int64, error) {
	pos, err := tx.NextStreamPos(ctx, "presence")
	if err != nil {
		return 0, err
	}
	_, err = tx.tx.ExecContext(ctx, `INSERT INTO presence (user_id, presence, status_msg, last_active_ts, stream_pos)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO UPDATE SET presence = excluded.presence,
		status_msg = excluded.status_msg, last_active_ts = excluded.last_active_ts, stream_pos = excluded.stream_pos`,
		p.UserID, p.Presence, p.StatusMsg, p.LastActiveTS, pos)
	if err != nil {
		return 0, fmt.Errorf("put presence of %s: %w", p.UserID, err)
	}
	return pos, nil
}

// TouchPresence sets a user's last active time without a new stream
// position: clients compute last_active_ago from it when they are next
// told about the user. Returns ErrNotFound if the user has no presence.
func (tx *Tx) TouchPresence(ctx context.Context, userID string, ts int64) error {
	res, err := tx.tx.ExecContext(ctx, "UPDATE presence SET last_active_ts = $2 WHERE user_id = $1", userID, ts)
	if err != nil {
		return fmt.Errorf("touch presence of %s: %w", userID, err)
	}
	return oneRow(res)
}

const selectPresence = "SELECT user_id, presence, status_msg, last_active_ts, stream_pos FROM presence"

// Presence returns a user's stored presence, or ErrNotFound.
func (db *DB) Presence(ctx context.Context, userID string) (Presence, error) {
	return presenceOf(ctx, db.read, userID)
}

// Presence is DB.Presence inside the transaction.
func (tx *Tx) Presence(ctx context.Context, userID string) (Presence, error) {
	return presenceOf(ctx, tx.tx, userID)
}

func presenceOf(ctx context.Context, q querier, userID string) (Presence, error) {
	var p Presence
	err := q.QueryRowContext(ctx, selectPresence+" WHERE user_id = $1", userID).
		Scan(&p.UserID, &p.Presence, &p.StatusMsg, &p.LastActiveTS, &p.StreamPos)
	return p, notFound(err)
}

// PresenceChanges returns the presence changed at positions in (from, to]
// of the user itself and of the users who share a joined room with it.
func (db *DB) PresenceChanges(ctx context.Context, userID string, from, to int64) ([]Presence, error) {
	return scanPresence(db.read.QueryContext(ctx, selectPresence+` p WHERE p.stream_pos > $2 AND p.stream_pos <= $3
		AND (p.user_id = $1 OR EXISTS (SELECT 1 FROM memberships mine
			JOIN memberships theirs ON theirs.room_nid = mine.room_nid
			WHERE mine.user_id = $1 AND mine.membership = 'join'
			AND theirs.user_id = p.user_id AND theirs.membership = 'join'))
		ORDER BY p.stream_pos`, userID, from, to))
}

// maxPresenceBatch bounds the user ids of one query (SQLite allows 32766
// parameters, PostgreSQL 65535).
const maxPresenceBatch = 500

// PresenceOfUsers returns the stored presence of those of the users who
// have one, at positions up to to.
func (db *DB) PresenceOfUsers(ctx context.Context, users []string, to int64) ([]Presence, error) {
	var out []Presence
	for start := 0; start < len(users); start += maxPresenceBatch {
		batch := users[start:min(start+maxPresenceBatch, len(users))]
		args := []any{to}
		for _, u := range batch {
			args = append(args, u)
		}
		got, err := scanPresence(db.read.QueryContext(ctx, selectPresence+" WHERE stream_pos <= $1 AND user_id IN ("+
			placeholdersFrom(2, len(batch))+")", args...))
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// StalePresence returns the users whose presence is the given state and
// whose last active time is before ts.
func (db *DB) StalePresence(ctx context.Context, presence string, before int64) ([]Presence, error) {
	return scanPresence(db.read.QueryContext(ctx, selectPresence+" WHERE presence = $1 AND last_active_ts < $2",
		presence, before))
}

// SharesRoom reports whether two users are joined to a common room.
func (db *DB) SharesRoom(ctx context.Context, a, b string) (bool, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM memberships x
		JOIN memberships y ON y.room_nid = x.room_nid
		WHERE x.user_id = $1 AND x.membership = 'join' AND y.user_id = $2 AND y.membership = 'join'`, a, b).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("shared rooms of %s and %s: %w", a, b, err)
	}
	return n > 0, nil
}

func scanPresence(rows *sql.Rows, err error) ([]Presence, error) {
	if err != nil {
		return nil, fmt.Errorf("read presence: %w", err)
	}
	defer rows.Close()
	var out []Presence
	for rows.Next() {
		var p Presence
		if err := rows.Scan(&p.UserID, &p.Presence, &p.StatusMsg, &p.LastActiveTS, &p.StreamPos); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
