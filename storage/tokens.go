package storage

import (
	"context"
	"fmt"
	"time"
)

// Session is what an access token stands for.
type Session struct {
	Localpart   string
	DeviceID    string
	IsGuest     bool
	IsAdmin     bool
	Deactivated bool
	ExpiresAt   time.Time // zero: never expires
}

// AccessToken is a token to store; Hash is the token's SHA-256 hex digest.
type AccessToken struct {
	Hash        string
	Localpart   string
	DeviceID    string
	RefreshHash string    // the refresh token issued with it, or ""
	ExpiresAt   time.Time // zero: never expires
}

// InsertAccessToken stores a new access token for an existing device.
func (tx *Tx) InsertAccessToken(ctx context.Context, t AccessToken) error {
	var expires int64
	if !t.ExpiresAt.IsZero() {
		expires = millis(t.ExpiresAt)
	}
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO access_tokens
		(token_hash, localpart, device_id, refresh_hash, created_ts, expires_ts) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.Hash, t.Localpart, t.DeviceID, t.RefreshHash, millis(tx.Now), expires)
	if err != nil {
		return fmt.Errorf("insert access token: %w", err)
	}
	return nil
}

// SessionByToken returns the session of an access token hash, or
// ErrNotFound. An expired token is still returned; the caller checks
// ExpiresAt (expired tokens answer with soft_logout).
func (db *DB) SessionByToken(ctx context.Context, hash string) (Session, error) {
	var (
		s       Session
		expires int64
	)
	err := db.read.QueryRowContext(ctx, `SELECT t.localpart, t.device_id, a.is_guest, a.is_admin, a.deactivated, t.expires_ts
		FROM access_tokens t JOIN accounts a ON a.localpart = t.localpart WHERE t.token_hash = $1`, hash).Scan(
		&s.Localpart, &s.DeviceID, &s.IsGuest, &s.IsAdmin, &s.Deactivated, &expires)
	if err != nil {
		return Session{}, notFound(err)
	}
	if expires != 0 {
		s.ExpiresAt = time.UnixMilli(expires)
	}
	return s, nil
}

// DeleteAccessToken revokes one access token and the refresh token issued
// with it. Returns ErrNotFound if there was no such token.
func (tx *Tx) DeleteAccessToken(ctx context.Context, hash string) error {
	var refresh string
	err := tx.tx.QueryRowContext(ctx,
		"DELETE FROM access_tokens WHERE token_hash = $1 RETURNING refresh_hash", hash).Scan(&refresh)
	if err != nil {
		return notFound(err)
	}
	if refresh != "" {
		_, err = tx.tx.ExecContext(ctx, "DELETE FROM refresh_tokens WHERE token_hash = $1", refresh)
	}
	return err
}

// RefreshToken is a stored refresh token.
type RefreshToken struct {
	Hash      string
	Localpart string
	DeviceID  string
	PrevHash  string // the refresh token this one replaced, or ""
}

// InsertRefreshToken stores a refresh token.
func (tx *Tx) InsertRefreshToken(ctx context.Context, t RefreshToken) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO refresh_tokens
		(token_hash, localpart, device_id, prev_hash, created_ts) VALUES ($1, $2, $3, $4, $5)`,
		t.Hash, t.Localpart, t.DeviceID, t.PrevHash, millis(tx.Now))
	if err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

// UseRefreshToken prepares the rotation of refresh token hash: it returns
// the token, and revokes what it supersedes: the access token issued with
// it, the refresh token it replaced (its use proves the client has it), and
// any tokens issued from an earlier use of it that the client never used (a
// retried refresh). The caller then inserts the new pair with PrevHash set to
// hash. Returns ErrNotFound for an unknown (or already superseded) token.
func (tx *Tx) UseRefreshToken(ctx context.Context, hash string) (RefreshToken, error) {
	t := RefreshToken{Hash: hash}
	err := tx.tx.QueryRowContext(ctx,
		"SELECT localpart, device_id, prev_hash FROM refresh_tokens WHERE token_hash = $1", hash).Scan(
		&t.Localpart, &t.DeviceID, &t.PrevHash)
	if err != nil {
		return RefreshToken{}, notFound(err)
	}
	stmts := [][2]string{ // query, argument
		{"DELETE FROM access_tokens WHERE refresh_hash IN (SELECT token_hash FROM refresh_tokens WHERE prev_hash = $1)", hash},
		{"DELETE FROM refresh_tokens WHERE prev_hash = $1", hash},
		{"DELETE FROM access_tokens WHERE refresh_hash = $1", hash},
	}
	if t.PrevHash != "" {
		stmts = append(stmts, [2]string{"DELETE FROM refresh_tokens WHERE token_hash = $1", t.PrevHash})
	}
	for _, s := range stmts {
		if _, err := tx.tx.ExecContext(ctx, s[0], s[1]); err != nil {
			return RefreshToken{}, fmt.Errorf("rotate refresh token: %w", err)
		}
	}
	return t, nil
}

// InsertLoginToken stores a short-lived m.login.token.
func (tx *Tx) InsertLoginToken(ctx context.Context, hash, localpart string, expires time.Time) error {
	_, err := tx.tx.ExecContext(ctx,
		"INSERT INTO login_tokens (token_hash, localpart, expires_ts) VALUES ($1, $2, $3)",
		hash, localpart, millis(expires))
	return err
}

// UseLoginToken deletes a login token and returns its account. Returns
// ErrNotFound for an unknown, used or expired token.
func (tx *Tx) UseLoginToken(ctx context.Context, hash string) (string, error) {
	var (
		localpart string
		expires   int64
	)
	err := tx.tx.QueryRowContext(ctx,
		"DELETE FROM login_tokens WHERE token_hash = $1 RETURNING localpart, expires_ts", hash).Scan(&localpart, &expires)
	if err != nil {
		return "", notFound(err)
	}
	if expires <= millis(tx.Now) {
		return "", ErrNotFound
	}
	return localpart, nil
}
