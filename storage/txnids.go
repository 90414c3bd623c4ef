package storage

import (
	"context"
	"fmt"
	"slices"
)

// TxnIDs returns, of the events eventIDs, those a device's client
// transactions produced, mapped to the stored transaction key.
func (db *DB) TxnIDs(ctx context.Context, localpart, deviceID string, eventIDs []string) (map[string]string, error) {
	out := map[string]string{}
	if len(eventIDs) == 0 {
		return out, nil
	}
	for chunk := range slices.Chunk(eventIDs, maxTxnIDsPerQuery) {
		args := make([]any, 0, len(chunk))
		for _, id := range chunk {
			args = append(args, id)
		}
		// By event id alone, so that the only index to use is the one on
		// event_id; other devices' rows (a few at most) are left out here.
		err := eachRow(ctx, db.read, `SELECT event_id, txn_id, localpart, device_id FROM txn_ids
			WHERE event_id IN (`+placeholdersFrom(1, len(chunk))+`)`, args,
			func(scan func(...any) error) error {
				var eventID, txnID, lp, dev string
				if err := scan(&eventID, &txnID, &lp, &dev); err != nil {
					return err
				}
				if lp == localpart && dev == deviceID {
					out[eventID] = txnID
				}
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("read transaction ids of %s's device %s: %w", localpart, deviceID, err)
		}
	}
	return out, nil
}

// maxTxnIDsPerQuery bounds the event ids of one query (both databases
// limit a statement's parameters).
const maxTxnIDsPerQuery = 1000
