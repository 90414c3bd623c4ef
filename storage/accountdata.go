package storage

import (
	"context"
	"encoding/json"
	"fmt"
)

// AccountData is one piece of a user's account data; RoomID is "" for
// global data.
type AccountData struct {
	RoomID    string
	Type      string
	Content   json.RawMessage
	StreamPos int64
}

// PutAccountData stores (replacing) one piece of account data and returns
// its position in the account_data stream.
func (tx *Tx) PutAccountData(ctx context.Context, localpart, roomID, typ string, content json.RawMessage) (int64, error) {
	pos, err := tx.NextStreamPos(ctx, "account_data")
	if err != nil {
		return 0, err
	}
	_, err = tx.tx.ExecContext(ctx, `INSERT INTO account_data (localpart, room_id, type, content, stream_pos)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (localpart, room_id, type) DO UPDATE SET content = excluded.content, stream_pos = excluded.stream_pos`,
		localpart, roomID, typ, string(content), pos)
	if err != nil {
		return 0, fmt.Errorf("put account data %s: %w", typ, err)
	}
	return pos, nil
}

// AccountData returns one piece of account data, or ErrNotFound.
func (db *DB) AccountData(ctx context.Context, localpart, roomID, typ string) (json.RawMessage, error) {
	var content string
	err := db.read.QueryRowContext(ctx,
		"SELECT content FROM account_data WHERE localpart = $1 AND room_id = $2 AND type = $3",
		localpart, roomID, typ).Scan(&content)
	if err != nil {
		return nil, notFound(err)
	}
	return json.RawMessage(content), nil
}

// AccountDataSince lists a user's account data changed after stream
// position since (0: all), in stream order.
func (db *DB) AccountDataSince(ctx context.Context, localpart string, since int64) ([]AccountData, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT room_id, type, content, stream_pos FROM account_data
		WHERE localpart = $1 AND stream_pos > $2 ORDER BY stream_pos`, localpart, since)
	if err != nil {
		return nil, fmt.Errorf("list account data of %s: %w", localpart, err)
	}
	defer rows.Close()
	var out []AccountData
	for rows.Next() {
		var (
			d       AccountData
			content string
		)
		if err := rows.Scan(&d.RoomID, &d.Type, &content, &d.StreamPos); err != nil {
			return nil, err
		}
		d.Content = json.RawMessage(content)
		out = append(out, d)
	}
	return out, rows.Err()
}

// GlobalAccountData returns one type of global account data of each of the
// accounts that have it, by localpart.
func (db *DB) GlobalAccountData(ctx context.Context, localparts []string, typ string) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	if len(localparts) == 0 {
		return out, nil
	}
	args := []any{typ}
	for _, l := range localparts {
		args = append(args, l)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT localpart, content FROM account_data
		WHERE room_id = '' AND type = $1 AND localpart IN (`+placeholdersFrom(2, len(localparts))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("query account data %s: %w", typ, err)
	}
	defer rows.Close()
	for rows.Next() {
		var localpart, content string
		if err := rows.Scan(&localpart, &content); err != nil {
			return nil, err
		}
		if content != "" { // "" only inside an UpdateAccountData that has not committed
			out[localpart] = json.RawMessage(content)
		}
	}
	return out, rows.Err()
}
