package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// DehydratedDevice is a user's dehydrated device (MSC3814): a device of the
// user without access tokens whose private keys the client stored, encrypted,
// as Data for a later login to rehydrate.
type DehydratedDevice struct {
	UserID    string
	DeviceID  string
	Data      json.RawMessage // opaque to the server: a JSON object
	CreatedAt time.Time
}

// DehydratedDevice returns the user's dehydrated device, or ErrNotFound if
// there is none.
func (db *DB) DehydratedDevice(ctx context.Context, userID string) (DehydratedDevice, error) {
	return dehydratedDevice(ctx, db.read, userID)
}

// DehydratedDevice is DB.DehydratedDevice inside the transaction.
func (tx *Tx) DehydratedDevice(ctx context.Context, userID string) (DehydratedDevice, error) {
	return dehydratedDevice(ctx, tx.tx, userID)
}

func dehydratedDevice(ctx context.Context, q querier, userID string) (DehydratedDevice, error) {
	d := DehydratedDevice{UserID: userID}
	var (
		data    string
		created int64
	)
	err := q.QueryRowContext(ctx, "SELECT device_id, device_data, created_ts FROM dehydrated_devices WHERE user_id = $1",
		userID).Scan(&d.DeviceID, &data, &created)
	if err != nil {
		if err = notFound(err); err == ErrNotFound {
			return DehydratedDevice{}, err
		}
		return DehydratedDevice{}, fmt.Errorf("dehydrated device of %s: %w", userID, err)
	}
	d.Data, d.CreatedAt = json.RawMessage(data), time.UnixMilli(created)
	return d, nil
}

// SetDehydratedDevice makes deviceID the user's dehydrated device with its
// data, replacing the record of any previous one (the caller deletes that
// device). The device itself must exist in devices.
func (tx *Tx) SetDehydratedDevice(ctx context.Context, userID, deviceID string, data json.RawMessage) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO dehydrated_devices (user_id, device_id, device_data, created_ts)
		VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET
		device_id = excluded.device_id, device_data = excluded.device_data, created_ts = excluded.created_ts`,
		userID, deviceID, string(data), millis(tx.Now))
	if err != nil {
		return fmt.Errorf("set dehydrated device of %s: %w", userID, err)
	}
	return nil
}

// forgetDehydrated drops the dehydrated device record if deviceID is the
// user's dehydrated device: the device was deleted.
func (tx *Tx) forgetDehydrated(ctx context.Context, userID, deviceID string) error {
	if _, err := tx.tx.ExecContext(ctx, "DELETE FROM dehydrated_devices WHERE user_id = $1 AND device_id = $2",
		userID, deviceID); err != nil {
		return fmt.Errorf("forget dehydrated device %s/%s: %w", userID, deviceID, err)
	}
	return nil
}
