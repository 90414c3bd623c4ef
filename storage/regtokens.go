package storage

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// RegistrationToken allows registration when registration mode is "token".
type RegistrationToken struct {
	Token       string
	UsesAllowed *int64     // nil: unlimited
	Pending     int64      // registrations in progress that used it
	Completed   int64      // registrations that completed with it
	ExpiresAt   *time.Time // nil: never
}

// Valid reports whether the token may still be used at now.
func (t RegistrationToken) Valid(now time.Time) bool {
	if t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) {
		return false
	}
	return t.UsesAllowed == nil || t.Pending+t.Completed < *t.UsesAllowed
}

// InsertRegistrationToken creates a token. Returns ErrExists if it exists.
func (tx *Tx) InsertRegistrationToken(ctx context.Context, t RegistrationToken) error {
	var expiry *int64
	if t.ExpiresAt != nil {
		ms := millis(*t.ExpiresAt)
		expiry = &ms
	}
	_, err := tx.tx.ExecContext(ctx,
		"INSERT INTO registration_tokens (token, uses_allowed, expiry_ts) VALUES ($1, $2, $3)",
		t.Token, t.UsesAllowed, expiry)
	if tx.dialect.isUniqueViolation(err) {
		return ErrExists
	}
	return err
}

const selectRegistrationToken = "SELECT token, uses_allowed, pending, completed, expiry_ts FROM registration_tokens"

// RegistrationToken returns a token, or ErrNotFound.
func (db *DB) RegistrationToken(ctx context.Context, token string) (RegistrationToken, error) {
	return scanRegistrationToken(db.read.QueryRowContext(ctx, selectRegistrationToken+" WHERE token = $1", token))
}

// RegistrationToken is DB.RegistrationToken inside the transaction.
func (tx *Tx) RegistrationToken(ctx context.Context, token string) (RegistrationToken, error) {
	return scanRegistrationToken(tx.tx.QueryRowContext(ctx, selectRegistrationToken+" WHERE token = $1", token))
}

// RegistrationTokens lists every token, ordered byte-wise (SQL ORDER BY
// would follow the PostgreSQL database's collation).
func (db *DB) RegistrationTokens(ctx context.Context) ([]RegistrationToken, error) {
	out, err := queryAll(ctx, db.read, scanRegistrationToken, selectRegistrationToken)
	if err != nil {
		return nil, fmt.Errorf("list registration tokens: %w", err)
	}
	slices.SortFunc(out, func(a, b RegistrationToken) int { return strings.Compare(a.Token, b.Token) })
	return out, nil
}

func scanRegistrationToken(s interface{ Scan(...any) error }) (RegistrationToken, error) {
	var (
		t      RegistrationToken
		uses   sql.NullInt64
		expiry sql.NullInt64
	)
	if err := s.Scan(&t.Token, &uses, &t.Pending, &t.Completed, &expiry); err != nil {
		return RegistrationToken{}, notFound(err)
	}
	if uses.Valid {
		t.UsesAllowed = &uses.Int64
	}
	if expiry.Valid {
		e := time.UnixMilli(expiry.Int64)
		t.ExpiresAt = &e
	}
	return t, nil
}

// ReserveRegistrationToken counts a registration in progress against the
// token (pending + 1). Returns ErrNotFound if the token is unknown, expired
// or used up; the check and the count are one statement, so concurrent
// registrations never overdraw a token.
func (tx *Tx) ReserveRegistrationToken(ctx context.Context, token string) error {
	res, err := tx.tx.ExecContext(ctx, `UPDATE registration_tokens SET pending = pending + 1
		WHERE token = $1 AND (uses_allowed IS NULL OR pending + completed < uses_allowed)
		AND (expiry_ts IS NULL OR expiry_ts > $2)`, token, millis(tx.Now))
	if err != nil {
		return fmt.Errorf("reserve registration token: %w", err)
	}
	return oneRow(res)
}

// CompleteRegistrationToken turns a reservation into a completed use.
func (tx *Tx) CompleteRegistrationToken(ctx context.Context, token string) error {
	res, err := tx.tx.ExecContext(ctx, `UPDATE registration_tokens SET pending = pending - 1, completed = completed + 1
		WHERE token = $1 AND pending > 0`, token)
	if err != nil {
		return fmt.Errorf("complete registration token: %w", err)
	}
	return oneRow(res)
}

// DeleteRegistrationToken removes a token. Returns ErrNotFound if absent.
func (tx *Tx) DeleteRegistrationToken(ctx context.Context, token string) error {
	res, err := tx.tx.ExecContext(ctx, "DELETE FROM registration_tokens WHERE token = $1", token)
	if err != nil {
		return err
	}
	return oneRow(res)
}
