package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
)

// InsertFilter stores a filter and returns its id. Ids come from one
// counter, so concurrent inserts never collide.
func (tx *Tx) InsertFilter(ctx context.Context, localpart string, filter json.RawMessage) (string, error) {
	id, err := tx.NextStreamPos(ctx, "filter")
	if err != nil {
		return "", err
	}
	if _, err := tx.tx.ExecContext(ctx, "INSERT INTO filters (localpart, filter_id, filter) VALUES ($1, $2, $3)",
		localpart, id, string(filter)); err != nil {
		return "", fmt.Errorf("insert filter: %w", err)
	}
	return strconv.FormatInt(id, 10), nil
}

// Filter returns a stored filter, or ErrNotFound (also for an id that is
// not a number).
func (db *DB) Filter(ctx context.Context, localpart, id string) (json.RawMessage, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, ErrNotFound
	}
	var filter string
	err = db.read.QueryRowContext(ctx,
		"SELECT filter FROM filters WHERE localpart = $1 AND filter_id = $2", localpart, n).Scan(&filter)
	if err != nil {
		return nil, notFound(err)
	}
	return json.RawMessage(filter), nil
}
