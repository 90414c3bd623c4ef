package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// UIASession is a user-interactive auth session.
type UIASession struct {
	ID        string
	Endpoint  string // "METHOD /path" of the request it authorises
	Localpart string // the user it authenticated, once known
	Completed []string
	CreatedAt time.Time
	Consumed  bool
}

// InsertUIASession starts a session.
func (tx *Tx) InsertUIASession(ctx context.Context, id, endpoint string) error {
	_, err := tx.tx.ExecContext(ctx,
		"INSERT INTO uia_sessions (session_id, endpoint, created_ts) VALUES ($1, $2, $3)",
		id, endpoint, millis(tx.Now))
	if err != nil {
		return fmt.Errorf("insert uia session: %w", err)
	}
	return nil
}

// UIASession returns a session, or ErrNotFound.
func (tx *Tx) UIASession(ctx context.Context, id string) (UIASession, error) {
	var (
		s         UIASession
		completed string
		created   int64
	)
	err := tx.tx.QueryRowContext(ctx, `SELECT session_id, endpoint, localpart, completed, created_ts, consumed
		FROM uia_sessions WHERE session_id = $1`, id).Scan(
		&s.ID, &s.Endpoint, &s.Localpart, &completed, &created, &s.Consumed)
	if err != nil {
		return UIASession{}, notFound(err)
	}
	if err := json.Unmarshal([]byte(completed), &s.Completed); err != nil {
		return UIASession{}, fmt.Errorf("uia session %s: %w", id, err)
	}
	s.CreatedAt = time.UnixMilli(created)
	return s, nil
}

// UpdateUIASession records the completed stages and authenticated user of a
// session, and whether it is consumed.
func (tx *Tx) UpdateUIASession(ctx context.Context, s UIASession) error {
	completed, err := json.Marshal(s.Completed)
	if err != nil {
		return err
	}
	res, err := tx.tx.ExecContext(ctx,
		"UPDATE uia_sessions SET localpart = $2, completed = $3, consumed = $4 WHERE session_id = $1",
		s.ID, s.Localpart, string(completed), s.Consumed)
	if err != nil {
		return fmt.Errorf("update uia session: %w", err)
	}
	return oneRow(res)
}

// DeleteUIASessionsBefore removes sessions created before t.
func (tx *Tx) DeleteUIASessionsBefore(ctx context.Context, t time.Time) error {
	_, err := tx.tx.ExecContext(ctx, "DELETE FROM uia_sessions WHERE created_ts < $1", millis(t))
	return err
}
