package storage

import (
	"context"
	"fmt"
)

// Receipt is a user's read receipt in a room.
type Receipt struct {
	RoomID    string
	UserID    string
	Type      string // m.read or m.read.private
	ThreadID  string // "" for unthreaded
	EventID   string
	TS        int64
	StreamPos int64
}

// PutReceipt stores (replacing) a receipt and returns its position in the
// receipts stream.
func (tx *Tx) PutReceipt(ctx context.Context, r Receipt) (int64, error) {
	pos, err := tx.NextStreamPos(ctx, "receipts")
	if err != nil {
		return 0, err
	}
	_, err = tx.tx.ExecContext(ctx, `INSERT INTO receipts (room_id, user_id, receipt_type, thread_id, event_id, ts, stream_pos)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (room_id, user_id, receipt_type, thread_id) DO UPDATE SET
		event_id = excluded.event_id, ts = excluded.ts, stream_pos = excluded.stream_pos`,
		r.RoomID, r.UserID, r.Type, r.ThreadID, r.EventID, r.TS, pos)
	if err != nil {
		return 0, fmt.Errorf("put receipt: %w", err)
	}
	return pos, nil
}

// ReceiptsSince returns the receipts of the rooms that changed after
// position since and at most at upto (since 0: all).
func (db *DB) ReceiptsSince(ctx context.Context, roomIDs []string, since, upto int64) ([]Receipt, error) {
	if len(roomIDs) == 0 {
		return nil, nil
	}
	args := []any{since, upto}
	for _, id := range roomIDs {
		args = append(args, id)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT room_id, user_id, receipt_type, thread_id, event_id, ts, stream_pos
		FROM receipts WHERE stream_pos > $1 AND stream_pos <= $2 AND room_id IN (`+placeholdersFrom(3, len(roomIDs))+`)`,
		args...)
	if err != nil {
		return nil, fmt.Errorf("query receipts: %w", err)
	}
	defer rows.Close()
	var out []Receipt
	for rows.Next() {
		var r Receipt
		if err := rows.Scan(&r.RoomID, &r.UserID, &r.Type, &r.ThreadID, &r.EventID, &r.TS, &r.StreamPos); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
