package storage

import (
	"context"
	"fmt"
	"time"
)

// Account is a local user account.
type Account struct {
	Localpart    string
	PasswordHash string // "" means password login is off
	IsAdmin      bool
	IsGuest      bool
	Deactivated  bool
	CreatedAt    time.Time
}

// InsertAccount creates an account and its empty profile. Returns ErrExists
// if the localpart was ever registered, deactivated accounts included.
func (tx *Tx) InsertAccount(ctx context.Context, a Account) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO accounts
		(localpart, password_hash, is_admin, is_guest, created_ts) VALUES ($1, $2, $3, $4, $5)`,
		a.Localpart, a.PasswordHash, a.IsAdmin, a.IsGuest, millis(tx.Now))
	if tx.dialect.isUniqueViolation(err) {
		return ErrExists
	}
	if err != nil {
		return fmt.Errorf("insert account %s: %w", a.Localpart, err)
	}
	if _, err := tx.tx.ExecContext(ctx,
		"INSERT INTO profiles (localpart) VALUES ($1)", a.Localpart); err != nil {
		return fmt.Errorf("insert profile %s: %w", a.Localpart, err)
	}
	return nil
}

const selectAccount = `SELECT localpart, password_hash, is_admin, is_guest, deactivated, created_ts
	FROM accounts WHERE localpart = $1`

// Account returns the account with the localpart, or ErrNotFound.
func (db *DB) Account(ctx context.Context, localpart string) (Account, error) {
	return account(ctx, db.read, localpart)
}

// Account is DB.Account inside the transaction.
func (tx *Tx) Account(ctx context.Context, localpart string) (Account, error) {
	return account(ctx, tx.tx, localpart)
}

func account(ctx context.Context, q querier, localpart string) (Account, error) {
	var (
		a       Account
		created int64
	)
	err := q.QueryRowContext(ctx, selectAccount, localpart).Scan(
		&a.Localpart, &a.PasswordHash, &a.IsAdmin, &a.IsGuest, &a.Deactivated, &created)
	if err != nil {
		return Account{}, notFound(err)
	}
	a.CreatedAt = time.UnixMilli(created)
	return a, nil
}

// AccountExists reports whether the localpart was ever registered.
func (db *DB) AccountExists(ctx context.Context, localpart string) (bool, error) {
	var n int
	err := db.read.QueryRowContext(ctx,
		"SELECT COUNT(*) FROM accounts WHERE localpart = $1", localpart).Scan(&n)
	return n > 0, err
}

// SetPasswordHash replaces an account's password hash. Returns ErrNotFound
// for an unknown or deactivated account.
func (tx *Tx) SetPasswordHash(ctx context.Context, localpart, hash string) error {
	return tx.updateAccount(ctx, "UPDATE accounts SET password_hash = $2 WHERE localpart = $1 AND NOT deactivated",
		localpart, hash)
}

// SetAdmin grants or revokes server administration. Returns ErrNotFound for
// an unknown account.
func (tx *Tx) SetAdmin(ctx context.Context, localpart string, admin bool) error {
	return tx.updateAccount(ctx, "UPDATE accounts SET is_admin = $2 WHERE localpart = $1", localpart, admin)
}

// SetGuest turns a guest account into a full account or back.
func (tx *Tx) SetGuest(ctx context.Context, localpart string, guest bool) error {
	return tx.updateAccount(ctx, "UPDATE accounts SET is_guest = $2 WHERE localpart = $1", localpart, guest)
}

// DeactivateAccount marks the account deactivated, removes its password and
// every device (and with them every token). With erase it also removes the
// profile, account data and filters. The row stays, so the id is never
// registered again. Returns ErrNotFound for an unknown account.
func (tx *Tx) DeactivateAccount(ctx context.Context, localpart string, erase bool) error {
	if err := tx.updateAccount(ctx,
		"UPDATE accounts SET deactivated = TRUE, password_hash = '' WHERE localpart = $1", localpart); err != nil {
		return err
	}
	stmts := []string{
		"DELETE FROM access_tokens WHERE localpart = $1",
		"DELETE FROM refresh_tokens WHERE localpart = $1",
		"DELETE FROM login_tokens WHERE localpart = $1",
		"DELETE FROM devices WHERE localpart = $1",
		"DELETE FROM pushers WHERE localpart = $1",
	}
	if erase {
		stmts = append(stmts,
			"UPDATE profiles SET displayname = NULL, avatar_url = NULL WHERE localpart = $1",
			"DELETE FROM account_data WHERE localpart = $1",
			"DELETE FROM filters WHERE localpart = $1",
		)
	}
	for _, s := range stmts {
		if _, err := tx.tx.ExecContext(ctx, s, localpart); err != nil {
			return fmt.Errorf("deactivate %s: %w", localpart, err)
		}
	}
	return nil
}

// updateAccount runs an UPDATE of one account, mapping "no row" to
// ErrNotFound.
func (tx *Tx) updateAccount(ctx context.Context, query, localpart string, args ...any) error {
	res, err := tx.tx.ExecContext(ctx, query, append([]any{localpart}, args...)...)
	if err != nil {
		return fmt.Errorf("update account %s: %w", localpart, err)
	}
	return oneRow(res)
}

// EventsStream names the stream of room events.
const EventsStream = "events"

// NextStreamPos advances the named counter in streams and returns its new
// value. Under PostgreSQL the streams /sync reads take theirs from
// sequences (orderedpos.go); for the others (ids of filters, reports, ...)
// the row lock serialises writers until commit: take it as late in the
// transaction as possible.
func (tx *Tx) NextStreamPos(ctx context.Context, stream string) (int64, error) {
	if ordered := tx.db.ordered[stream]; ordered != nil {
		return ordered.next(ctx, tx)
	}
	var pos int64
	err := tx.tx.QueryRowContext(ctx,
		"UPDATE streams SET pos = pos + 1 WHERE name = $1 RETURNING pos", stream).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("next %s position: %w", stream, notFound(err))
	}
	tx.afterCommit(func() { tx.db.publishStreamPosition(stream, pos) })
	return pos, nil
}
