package storage

import (
	"context"
	"fmt"
)

// Report is a user's report of a room, an event or a user.
type Report struct {
	ID       int64
	Reporter string
	RoomID   string // "" for a user report
	EventID  string // "" for a room or user report
	UserID   string // the reported user, for a user report
	Reason   string
	Created  int64 // unix milliseconds
}

// InsertReport stores a report and returns its id.
func (tx *Tx) InsertReport(ctx context.Context, r Report) (int64, error) {
	id, err := tx.NextStreamPos(ctx, "report")
	if err != nil {
		return 0, err
	}
	_, err = tx.tx.ExecContext(ctx, `INSERT INTO reports (report_id, reporter, room_id, event_id, user_id, reason, created_ts)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, r.Reporter, r.RoomID, r.EventID, r.UserID, r.Reason, millis(tx.Now))
	if err != nil {
		return 0, fmt.Errorf("insert report: %w", err)
	}
	return id, nil
}

// Reports lists the reports, newest first, at most limit.
func (db *DB) Reports(ctx context.Context, limit int) ([]Report, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT report_id, reporter, room_id, event_id, user_id, reason, created_ts
		FROM reports ORDER BY report_id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list reports: %w", err)
	}
	defer rows.Close()
	var out []Report
	for rows.Next() {
		var r Report
		if err := rows.Scan(&r.ID, &r.Reporter, &r.RoomID, &r.EventID, &r.UserID, &r.Reason, &r.Created); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
