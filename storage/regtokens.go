package storage

import (
	"context"
	"database/sql"
	"fmt"
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

// RegistrationTokens lists every token.
func (db *DB) RegistrationTokens(ctx context.Context) ([]RegistrationToken, error) {
	rows, err := db.read.QueryContext(ctx, selectRegistrationToken+" ORDER BY token")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RegistrationToken
	for rows.Next() {
		t, err := scanRegistrationToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
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

// AddRegistrationTokenUse moves counts of a token: pending by dPending and
// completed by dCompleted.
func (tx *Tx) AddRegistrationTokenUse(ctx context.Context, token string, dPending, dCompleted int64) error {
	res, err := tx.tx.ExecContext(ctx,
		"UPDATE registration_tokens SET pending = pending + $2, completed = completed + $3 WHERE token = $1",
		token, dPending, dCompleted)
	if err != nil {
		return fmt.Errorf("count use of registration token: %w", err)
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
