package storage

import (
	"context"
	"fmt"
)

// RoommatesOfMoves returns, for the rooms whose membership of the user
// changed in (from, to] of the events stream, the users joined to them
// now: joined lists those of rooms the user is joined to (their devices
// are new to it), left those of rooms it left or was banned from (it may
// no longer share a room with them). The user itself is in neither.
func (db *DB) RoommatesOfMoves(ctx context.Context, userID string, from, to int64) (joined, left []string, err error) {
	err = eachRow(ctx, db.read, `SELECT DISTINCT a.membership, b.user_id FROM memberships a
		JOIN memberships b ON b.room_nid = a.room_nid AND b.membership = 'join' AND b.user_id <> a.user_id
		WHERE a.user_id = $1 AND a.stream_pos > $2 AND a.stream_pos <= $3 AND a.membership IN ('join', 'leave', 'ban')`,
		[]any{userID, from, to}, func(scan func(...any) error) error {
			var membership, user string
			if err := scan(&membership, &user); err != nil {
				return err
			}
			if membership == "join" {
				joined = append(joined, user)
			} else {
				left = append(left, user)
			}
			return nil
		})
	if err != nil {
		return nil, nil, fmt.Errorf("roommates of %s's moves: %w", userID, err)
	}
	return joined, left, nil
}
