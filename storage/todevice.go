package storage

import (
	"context"
	"encoding/json"
	"fmt"
)

// ToDeviceMessage is a message for one device.
type ToDeviceMessage struct {
	UserID, DeviceID string
	Sender, Type     string
	Content          json.RawMessage
	StreamPos        int64
}

// AddToDeviceMessage queues a message for a device at a new position of
// the to_device stream.
func (tx *Tx) AddToDeviceMessage(ctx context.Context, m ToDeviceMessage) (int64, error) {
	pos, err := tx.NextStreamPos(ctx, "to_device")
	if err != nil {
		return 0, err
	}
	_, err = tx.tx.ExecContext(ctx, `INSERT INTO to_device_messages (stream_pos, user_id, device_id, sender, type, content)
		VALUES ($1, $2, $3, $4, $5, $6)`, pos, m.UserID, m.DeviceID, m.Sender, m.Type, string(m.Content))
	if err != nil {
		return 0, fmt.Errorf("queue to-device message: %w", err)
	}
	return pos, nil
}

// ToDeviceMessages returns a device's messages with positions in
// (after, upto], oldest first, at most limit.
func (db *DB) ToDeviceMessages(ctx context.Context, userID, deviceID string, after, upto int64, limit int) ([]ToDeviceMessage, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT sender, type, content, stream_pos FROM to_device_messages
		WHERE user_id = $1 AND device_id = $2 AND stream_pos > $3 AND stream_pos <= $4
		ORDER BY stream_pos LIMIT $5`, userID, deviceID, after, upto, limit)
	if err != nil {
		return nil, fmt.Errorf("to-device messages: %w", err)
	}
	defer rows.Close()
	var out []ToDeviceMessage
	for rows.Next() {
		m := ToDeviceMessage{UserID: userID, DeviceID: deviceID}
		var content string
		if err := rows.Scan(&m.Sender, &m.Type, &content, &m.StreamPos); err != nil {
			return nil, err
		}
		m.Content = json.RawMessage(content)
		out = append(out, m)
	}
	return out, rows.Err()
}

// AckToDeviceMessages deletes a device's messages up to position upto: the
// client has them (it synced with a token past them).
func (tx *Tx) AckToDeviceMessages(ctx context.Context, userID, deviceID string, upto int64) error {
	_, err := tx.tx.ExecContext(ctx, `DELETE FROM to_device_messages
		WHERE user_id = $1 AND device_id = $2 AND stream_pos <= $3`, userID, deviceID, upto)
	return err
}
