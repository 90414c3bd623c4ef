package storage

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Device is one logged-in client of an account.
type Device struct {
	Localpart   string
	ID          string
	DisplayName *string // nil: none set
	CreatedAt   time.Time
	LastSeenAt  time.Time
	LastSeenIP  string
	UserAgent   string
}

// UpsertDevice creates the device, or, if it exists, revokes every token it
// had (a login that names an existing device replaces its session). A nil
// display name leaves an existing one unchanged. ip and userAgent record
// where the login came from.
func (tx *Tx) UpsertDevice(ctx context.Context, localpart, deviceID string, displayName *string, ip, userAgent string) error {
	now := millis(tx.Now)
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO devices
		(localpart, device_id, display_name, created_ts, last_seen_ts, last_seen_ip, user_agent)
		VALUES ($1, $2, $3, $4, $4, $5, $6)
		ON CONFLICT (localpart, device_id) DO UPDATE SET
			display_name = COALESCE(excluded.display_name, devices.display_name),
			last_seen_ts = excluded.last_seen_ts, last_seen_ip = excluded.last_seen_ip,
			user_agent = excluded.user_agent`,
		localpart, deviceID, displayName, now, ip, userAgent)
	if err != nil {
		return fmt.Errorf("upsert device %s/%s: %w", localpart, deviceID, err)
	}
	return tx.revokeDeviceTokens(ctx, localpart, deviceID)
}

func (tx *Tx) revokeDeviceTokens(ctx context.Context, localpart, deviceID string) error {
	for _, table := range []string{"access_tokens", "refresh_tokens"} {
		if _, err := tx.tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE localpart = $1 AND device_id = $2",
			localpart, deviceID); err != nil {
			return fmt.Errorf("revoke tokens of %s/%s: %w", localpart, deviceID, err)
		}
	}
	return nil
}

const selectDevice = `SELECT localpart, device_id, display_name, created_ts, last_seen_ts, last_seen_ip, user_agent
	FROM devices`

// Devices lists an account's devices, ordered by id (byte-wise: SQL ORDER BY
// would follow the PostgreSQL database's collation).
func (db *DB) Devices(ctx context.Context, localpart string) ([]Device, error) {
	out, err := queryAll(ctx, db.read, scanDevice, selectDevice+" WHERE localpart = $1", localpart)
	if err != nil {
		return nil, fmt.Errorf("list devices of %s: %w", localpart, err)
	}
	slices.SortFunc(out, func(a, b Device) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Device returns one device, or ErrNotFound.
func (db *DB) Device(ctx context.Context, localpart, deviceID string) (Device, error) {
	row := db.read.QueryRowContext(ctx, selectDevice+" WHERE localpart = $1 AND device_id = $2", localpart, deviceID)
	d, err := scanDevice(row)
	return d, notFound(err)
}

func scanDevice(s interface{ Scan(...any) error }) (Device, error) {
	var (
		d             Device
		name          sql.NullString
		created, seen int64
	)
	if err := s.Scan(&d.Localpart, &d.ID, &name, &created, &seen, &d.LastSeenIP, &d.UserAgent); err != nil {
		return Device{}, err
	}
	if name.Valid {
		d.DisplayName = &name.String
	}
	d.CreatedAt, d.LastSeenAt = time.UnixMilli(created), time.UnixMilli(seen)
	return d, nil
}

// SetDeviceDisplayName renames a device. Returns ErrNotFound for an unknown
// device.
func (tx *Tx) SetDeviceDisplayName(ctx context.Context, localpart, deviceID, name string) error {
	res, err := tx.tx.ExecContext(ctx,
		"UPDATE devices SET display_name = $3 WHERE localpart = $1 AND device_id = $2", localpart, deviceID, name)
	if err != nil {
		return fmt.Errorf("rename device %s/%s: %w", localpart, deviceID, err)
	}
	return oneRow(res)
}

// TouchDevice records that the device was just used from ip.
func (tx *Tx) TouchDevice(ctx context.Context, localpart, deviceID, ip, userAgent string) error {
	_, err := tx.tx.ExecContext(ctx, `UPDATE devices SET last_seen_ts = $3, last_seen_ip = $4, user_agent = $5
		WHERE localpart = $1 AND device_id = $2`, localpart, deviceID, millis(tx.Now), ip, userAgent)
	return err
}

// DeleteDevices deletes the named devices of an account with every token
// and pusher they had. Unknown ids are ignored.
func (tx *Tx) DeleteDevices(ctx context.Context, localpart string, deviceIDs []string) error {
	for _, id := range deviceIDs {
		if err := tx.revokeDeviceTokens(ctx, localpart, id); err != nil {
			return err
		}
		if _, err := tx.tx.ExecContext(ctx, "DELETE FROM devices WHERE localpart = $1 AND device_id = $2",
			localpart, id); err != nil {
			return fmt.Errorf("delete device %s/%s: %w", localpart, id, err)
		}
		if err := tx.deleteDevicePushers(ctx, localpart, id); err != nil {
			return err
		}
	}
	return nil
}

// DeviceIDs lists the ids of an account's devices inside the transaction.
func (tx *Tx) DeviceIDs(ctx context.Context, localpart string) ([]string, error) {
	rows, err := tx.tx.QueryContext(ctx, "SELECT device_id FROM devices WHERE localpart = $1", localpart)
	if err != nil {
		return nil, err
	}
	return scanColumn[string](rows)
}
