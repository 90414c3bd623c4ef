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
	RegToken  string // registration token accepted by m.login.registration_token
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
	err := tx.tx.QueryRowContext(ctx, `SELECT session_id, endpoint, localpart, completed, reg_token, created_ts, consumed
		FROM uia_sessions WHERE session_id = $1`, id).Scan(
		&s.ID, &s.Endpoint, &s.Localpart, &completed, &s.RegToken, &created, &s.Consumed)
	if err != nil {
		return UIASession{}, notFound(err)
	}
	if err := json.Unmarshal([]byte(completed), &s.Completed); err != nil {
		return UIASession{}, fmt.Errorf("uia session %s: %w", id, err)
	}
	s.CreatedAt = time.UnixMilli(created)
	return s, nil
}

// UpdateUIASession records the completed stages, authenticated user and
// registration token of a session. Consuming goes through ConsumeUIASession.
func (tx *Tx) UpdateUIASession(ctx context.Context, s UIASession) error {
	stages := s.Completed
	if stages == nil {
		stages = []string{} // the column is a JSON list, never null
	}
	completed, err := json.Marshal(stages)
	if err != nil {
		return err
	}
	res, err := tx.tx.ExecContext(ctx,
		"UPDATE uia_sessions SET localpart = $2, completed = $3, reg_token = $4 WHERE session_id = $1",
		s.ID, s.Localpart, string(completed), s.RegToken)
	if err != nil {
		return fmt.Errorf("update uia session: %w", err)
	}
	return oneRow(res)
}

// ConsumeUIASession marks a session used up, so that it authorises exactly
// one request. Returns ErrNotFound if it is unknown or already consumed:
// of two concurrent requests with one session, only one gets nil.
func (tx *Tx) ConsumeUIASession(ctx context.Context, id string) error {
	res, err := tx.tx.ExecContext(ctx,
		"UPDATE uia_sessions SET consumed = TRUE WHERE session_id = $1 AND NOT consumed", id)
	if err != nil {
		return fmt.Errorf("consume uia session: %w", err)
	}
	return oneRow(res)
}

// ExpireUIASessions removes sessions created before t. A registration token
// that an unfinished session had reserved is released.
func (tx *Tx) ExpireUIASessions(ctx context.Context, t time.Time) error {
	_, err := tx.tx.ExecContext(ctx, `UPDATE registration_tokens SET pending = pending - (
			SELECT COUNT(*) FROM uia_sessions s
			WHERE s.reg_token = registration_tokens.token AND s.created_ts < $1 AND NOT s.consumed)
		WHERE token IN (SELECT reg_token FROM uia_sessions WHERE created_ts < $1 AND NOT consumed)`, millis(t))
	if err != nil {
		return fmt.Errorf("release registration tokens of expired uia sessions: %w", err)
	}
	if _, err := tx.tx.ExecContext(ctx, "DELETE FROM uia_sessions WHERE created_ts < $1", millis(t)); err != nil {
		return fmt.Errorf("delete expired uia sessions: %w", err)
	}
	return nil
}
