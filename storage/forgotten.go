package storage

import (
	"context"
	"fmt"
	"slices"
)

// A user forgets a room it left or was banned from. The forgetting is tied
// to the membership event it had then: any later membership event of the
// user in the room (a join, an invite, a knock, whoever sent it) ends it
// without anyone having to clear the row. UnforgetRoom removes the row
// where the client API sees a join.

// ForgetRoom records that the user forgot the room while its membership
// event was event (a leave or a ban), replacing an earlier record.
func (tx *Tx) ForgetRoom(ctx context.Context, userID, roomID string, event EventNID) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO forgotten_rooms (user_id, room_id, event_nid) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, room_id) DO UPDATE SET event_nid = excluded.event_nid`, userID, roomID, event)
	if err != nil {
		return fmt.Errorf("forget room %s for %s: %w", roomID, userID, err)
	}
	return nil
}

// UnforgetRoom removes the user's record of forgetting the room, if any.
func (tx *Tx) UnforgetRoom(ctx context.Context, userID, roomID string) error {
	_, err := tx.tx.ExecContext(ctx, "DELETE FROM forgotten_rooms WHERE user_id = $1 AND room_id = $2", userID, roomID)
	if err != nil {
		return fmt.Errorf("unforget room %s for %s: %w", roomID, userID, err)
	}
	return nil
}

// forgottenJoin selects the forgotten rooms whose membership event is still
// the one the user forgot them with.
const forgottenJoin = `FROM forgotten_rooms f
	JOIN rooms r ON r.room_id = f.room_id
	JOIN memberships m ON m.room_nid = r.room_nid AND m.user_id = f.user_id AND m.event_nid = f.event_nid
	WHERE f.user_id = $1`

// Forgotten reports whether the user has forgotten the room and has had no
// membership event in it since.
func (db *DB) Forgotten(ctx context.Context, userID, roomID string) (bool, error) {
	var n int
	err := db.read.QueryRowContext(ctx, "SELECT COUNT(*) "+forgottenJoin+" AND f.room_id = $2", userID, roomID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("has %s forgotten %s: %w", userID, roomID, err)
	}
	return n > 0, nil
}

// ForgottenRooms returns the ids of the rooms the user has forgotten (as
// Forgotten), in byte order.
func (db *DB) ForgottenRooms(ctx context.Context, userID string) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, "SELECT f.room_id "+forgottenJoin, userID)
	if err != nil {
		return nil, fmt.Errorf("rooms %s forgot: %w", userID, err)
	}
	out, err := scanColumn[string](rows)
	slices.Sort(out)
	return out, err
}
