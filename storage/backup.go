package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// BackupVersion is one version of a user's server-side key backup.
type BackupVersion struct {
	Version   int64
	Algorithm string
	AuthData  json.RawMessage
	Etag      int64 // changes whenever the version's keys change
	Count     int   // number of keys stored
}

// BackupKey is one backed-up session key.
type BackupKey struct {
	RoomID            string
	SessionID         string
	FirstMessageIndex int64
	ForwardedCount    int64
	IsVerified        bool
	SessionData       json.RawMessage
}

// CreateBackupVersion adds a backup version for the user, which becomes
// its current one, and returns its number.
func (tx *Tx) CreateBackupVersion(ctx context.Context, userID, algorithm string, authData json.RawMessage) (int64, error) {
	version, err := tx.NextStreamPos(ctx, "backup_version")
	if err != nil {
		return 0, err
	}
	_, err = tx.tx.ExecContext(ctx, `INSERT INTO backup_versions (user_id, version, algorithm, auth_data)
		VALUES ($1, $2, $3, $4)`, userID, version, algorithm, string(authData))
	if err != nil {
		return 0, fmt.Errorf("create backup version of %s: %w", userID, err)
	}
	return version, nil
}

const selectBackupVersion = `SELECT v.version, v.algorithm, v.auth_data, v.etag,
	(SELECT COUNT(*) FROM backup_keys k WHERE k.user_id = v.user_id AND k.version = v.version)
	FROM backup_versions v`

// BackupVersion returns a backup version of the user that is not deleted,
// or with version 0 its current (newest not deleted) one. Returns
// ErrNotFound if there is none.
func (db *DB) BackupVersion(ctx context.Context, userID string, version int64) (BackupVersion, error) {
	return backupVersion(ctx, db.read, userID, version)
}

// BackupVersion is DB.BackupVersion inside the transaction.
func (tx *Tx) BackupVersion(ctx context.Context, userID string, version int64) (BackupVersion, error) {
	return backupVersion(ctx, tx.tx, userID, version)
}

func backupVersion(ctx context.Context, q querier, userID string, version int64) (BackupVersion, error) {
	var row *sql.Row
	if version == 0 {
		row = q.QueryRowContext(ctx, selectBackupVersion+` WHERE v.user_id = $1 AND NOT v.deleted
			ORDER BY v.version DESC LIMIT 1`, userID)
	} else {
		row = q.QueryRowContext(ctx, selectBackupVersion+` WHERE v.user_id = $1 AND v.version = $2 AND NOT v.deleted`,
			userID, version)
	}
	var (
		v        BackupVersion
		authData string
	)
	if err := row.Scan(&v.Version, &v.Algorithm, &authData, &v.Etag, &v.Count); err != nil {
		return v, notFound(err)
	}
	v.AuthData = json.RawMessage(authData)
	return v, nil
}

// LockBackupVersion locks a backup version that is not deleted against
// concurrent changes of its keys until the transaction ends, and returns
// it. Returns ErrNotFound if there is no such version.
func (tx *Tx) LockBackupVersion(ctx context.Context, userID string, version int64) (BackupVersion, error) {
	// A write to the row takes PostgreSQL's row lock; SQLite has one
	// writer anyway.
	res, err := tx.tx.ExecContext(ctx, `UPDATE backup_versions SET etag = etag
		WHERE user_id = $1 AND version = $2 AND NOT deleted`, userID, version)
	if err != nil {
		return BackupVersion{}, fmt.Errorf("lock backup version %d: %w", version, err)
	}
	if err := oneRow(res); err != nil {
		return BackupVersion{}, err
	}
	return tx.BackupVersion(ctx, userID, version)
}

// UpdateBackupAuthData replaces the auth_data of a backup version that is
// not deleted. Returns ErrNotFound if there is no such version.
func (tx *Tx) UpdateBackupAuthData(ctx context.Context, userID string, version int64, authData json.RawMessage) error {
	res, err := tx.tx.ExecContext(ctx, `UPDATE backup_versions SET auth_data = $3
		WHERE user_id = $1 AND version = $2 AND NOT deleted`, userID, version, string(authData))
	if err != nil {
		return fmt.Errorf("update backup version %d: %w", version, err)
	}
	return oneRow(res)
}

// DeleteBackupVersion marks a backup version deleted and deletes its keys.
// Deleting a deleted version again succeeds; returns ErrNotFound if the
// user never had the version.
func (tx *Tx) DeleteBackupVersion(ctx context.Context, userID string, version int64) error {
	res, err := tx.tx.ExecContext(ctx, `UPDATE backup_versions SET deleted = TRUE
		WHERE user_id = $1 AND version = $2`, userID, version)
	if err != nil {
		return fmt.Errorf("delete backup version %d: %w", version, err)
	}
	if err := oneRow(res); err != nil {
		return err
	}
	_, err = tx.tx.ExecContext(ctx, "DELETE FROM backup_keys WHERE user_id = $1 AND version = $2", userID, version)
	if err != nil {
		return fmt.Errorf("delete keys of backup version %d: %w", version, err)
	}
	return nil
}

// BackupKey returns one stored session key of a backup version, or
// ErrNotFound.
func (tx *Tx) BackupKey(ctx context.Context, userID string, version int64, roomID, sessionID string) (BackupKey, error) {
	keys, err := backupKeys(ctx, tx.tx, userID, version, roomID, sessionID)
	if err != nil {
		return BackupKey{}, err
	}
	if len(keys) == 0 {
		return BackupKey{}, ErrNotFound
	}
	return keys[0], nil
}

// PutBackupKey stores a session key in a backup version, replacing the
// one stored for the same session. The caller decides whether a stored key
// is to be replaced, and calls BumpBackupEtag once it stored its keys.
func (tx *Tx) PutBackupKey(ctx context.Context, userID string, version int64, k BackupKey) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO backup_keys (user_id, version, room_id, session_id,
			first_message_index, forwarded_count, is_verified, session_data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET
			first_message_index = excluded.first_message_index, forwarded_count = excluded.forwarded_count,
			is_verified = excluded.is_verified, session_data = excluded.session_data`,
		userID, version, k.RoomID, k.SessionID, k.FirstMessageIndex, k.ForwardedCount, k.IsVerified, string(k.SessionData))
	if err != nil {
		return fmt.Errorf("put backup key %s/%s: %w", k.RoomID, k.SessionID, err)
	}
	return nil
}

// DeleteBackupKeys deletes the keys of a backup version: all of them
// (roomID ""), a room's (sessionID "") or one session's. The version's etag
// changes if any key was deleted.
func (tx *Tx) DeleteBackupKeys(ctx context.Context, userID string, version int64, roomID, sessionID string) error {
	query, args := backupKeysWhere(userID, version, roomID, sessionID)
	res, err := tx.tx.ExecContext(ctx, "DELETE FROM backup_keys"+query, args...)
	if err != nil {
		return fmt.Errorf("delete backup keys of version %d: %w", version, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	return tx.BumpBackupEtag(ctx, userID, version)
}

// BumpBackupEtag changes the etag of a backup version: its keys changed.
func (tx *Tx) BumpBackupEtag(ctx context.Context, userID string, version int64) error {
	_, err := tx.tx.ExecContext(ctx, "UPDATE backup_versions SET etag = etag + 1 WHERE user_id = $1 AND version = $2",
		userID, version)
	if err != nil {
		return fmt.Errorf("change etag of backup version %d: %w", version, err)
	}
	return nil
}

// BackupKeys returns the stored keys of a backup version: all of them
// (roomID ""), a room's (sessionID "") or one session's, ordered by room
// and session.
func (db *DB) BackupKeys(ctx context.Context, userID string, version int64, roomID, sessionID string) ([]BackupKey, error) {
	return backupKeys(ctx, db.read, userID, version, roomID, sessionID)
}

func backupKeysWhere(userID string, version int64, roomID, sessionID string) (string, []any) {
	where, args := " WHERE user_id = $1 AND version = $2", []any{userID, version}
	if roomID != "" {
		where, args = where+" AND room_id = $3", append(args, roomID)
		if sessionID != "" {
			where, args = where+" AND session_id = $4", append(args, sessionID)
		}
	}
	return where, args
}

func backupKeys(ctx context.Context, q querier, userID string, version int64, roomID, sessionID string) ([]BackupKey, error) {
	where, args := backupKeysWhere(userID, version, roomID, sessionID)
	rows, err := q.QueryContext(ctx, `SELECT room_id, session_id, first_message_index, forwarded_count,
		is_verified, session_data FROM backup_keys`+where+" ORDER BY room_id, session_id", args...)
	if err != nil {
		return nil, fmt.Errorf("backup keys of version %d: %w", version, err)
	}
	defer rows.Close()
	var out []BackupKey
	for rows.Next() {
		var (
			k    BackupKey
			data string
		)
		if err := rows.Scan(&k.RoomID, &k.SessionID, &k.FirstMessageIndex, &k.ForwardedCount, &k.IsVerified, &data); err != nil {
			return nil, err
		}
		k.SessionData = json.RawMessage(data)
		out = append(out, k)
	}
	return out, rows.Err()
}
