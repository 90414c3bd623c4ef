package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// UpdateAccountData replaces one piece of account data with what fn makes of
// the current content (nil if there is none), as PutAccountData, and returns
// its new stream position. The row stays locked from the read to the write,
// so that concurrent updates (two tags set at once) do not lose each other.
// An error from fn is returned as it is, and the transaction must then be
// rolled back (WithTx does when its function returns the error).
func (tx *Tx) UpdateAccountData(ctx context.Context, localpart, roomID, typ string,
	fn func(old json.RawMessage) (json.RawMessage, error)) (int64, error) {
	// The same statements on both engines: SQLite has one writer anyway;
	// PostgreSQL's UPDATE takes the row lock (waiting for a concurrent
	// updater to commit) and the SELECT after it sees the committed row.
	// The placeholder row exists only inside this transaction.
	if _, err := tx.tx.ExecContext(ctx, `INSERT INTO account_data (localpart, room_id, type, content, stream_pos)
		VALUES ($1, $2, $3, '', 0) ON CONFLICT (localpart, room_id, type) DO NOTHING`, localpart, roomID, typ); err != nil {
		return 0, fmt.Errorf("lock account data %s: %w", typ, err)
	}
	if _, err := tx.tx.ExecContext(ctx, `UPDATE account_data SET content = content
		WHERE localpart = $1 AND room_id = $2 AND type = $3`, localpart, roomID, typ); err != nil {
		return 0, fmt.Errorf("lock account data %s: %w", typ, err)
	}
	var content string
	err := tx.tx.QueryRowContext(ctx,
		"SELECT content FROM account_data WHERE localpart = $1 AND room_id = $2 AND type = $3",
		localpart, roomID, typ).Scan(&content)
	if err != nil {
		return 0, fmt.Errorf("read account data %s: %w", typ, notFound(err))
	}
	var old json.RawMessage
	if content != "" {
		old = json.RawMessage(content)
	}
	updated, err := fn(old)
	if err != nil {
		return 0, err
	}
	if len(updated) == 0 {
		return 0, errors.New("update account data: empty content")
	}
	return tx.PutAccountData(ctx, localpart, roomID, typ, updated)
}
