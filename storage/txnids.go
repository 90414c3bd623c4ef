package storage

import (
	"context"
	"fmt"
)

// TxnIDs returns, of the events eventIDs, those a device's client
// transactions produced, mapped to the stored transaction key.
func (db *DB) TxnIDs(ctx context.Context, localpart, deviceID string, eventIDs []string) (map[string]string, error) {
	out := map[string]string{}
	if len(eventIDs) == 0 {
		return out, nil
	}
	args := []any{localpart, deviceID}
	for _, id := range eventIDs {
		args = append(args, id)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT event_id, txn_id FROM txn_ids
		WHERE localpart = $1 AND device_id = $2 AND event_id IN (`+placeholdersFrom(3, len(eventIDs))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read transaction ids of %s's device %s: %w", localpart, deviceID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var eventID, txnID string
		if err := rows.Scan(&eventID, &txnID); err != nil {
			return nil, fmt.Errorf("scan transaction id: %w", err)
		}
		out[eventID] = txnID
	}
	return out, rows.Err()
}
