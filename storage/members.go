package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// SetCurrentState applies state changes to the current_state index of a
// room (Event 0 removes an entry).
func (tx *Tx) SetCurrentState(ctx context.Context, room RoomNID, changes []StateEntry) error {
	for _, c := range changes {
		var err error
		if c.Event == 0 {
			_, err = tx.tx.ExecContext(ctx,
				"DELETE FROM current_state WHERE room_nid = $1 AND type_nid = $2 AND state_key_nid = $3",
				room, c.Type, c.Key)
		} else {
			_, err = tx.tx.ExecContext(ctx, `INSERT INTO current_state (room_nid, type_nid, state_key_nid, event_nid)
				VALUES ($1, $2, $3, $4) ON CONFLICT (room_nid, type_nid, state_key_nid)
				DO UPDATE SET event_nid = excluded.event_nid`, room, c.Type, c.Key, c.Event)
		}
		if err != nil {
			return fmt.Errorf("update current state of room %d: %w", room, err)
		}
	}
	return nil
}

// CurrentState returns the current state entries of a room.
func (db *DB) CurrentState(ctx context.Context, room RoomNID) ([]StateEntry, error) {
	rows, err := db.read.QueryContext(ctx,
		"SELECT type_nid, state_key_nid, event_nid FROM current_state WHERE room_nid = $1", room)
	if err != nil {
		return nil, fmt.Errorf("current state of room %d: %w", room, err)
	}
	defer rows.Close()
	var out []StateEntry
	for rows.Next() {
		var e StateEntry
		if err := rows.Scan(&e.Type, &e.Key, &e.Event); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// CurrentStateEvent returns the event holding (type, key) in a room's
// current state, or ErrNotFound.
func (db *DB) CurrentStateEvent(ctx context.Context, room RoomNID, t TypeNID, k StateKeyNID) (EventNID, error) {
	var nid EventNID
	err := db.read.QueryRowContext(ctx,
		"SELECT event_nid FROM current_state WHERE room_nid = $1 AND type_nid = $2 AND state_key_nid = $3",
		room, t, k).Scan(&nid)
	return nid, notFound(err)
}

// Membership is a user's current membership of a room.
type Membership struct {
	Room       RoomNID
	UserID     string
	Membership string // join, invite, leave, ban, knock
	Event      EventNID
	StreamPos  int64
}

// SetMembership records a user's current membership of a room.
func (tx *Tx) SetMembership(ctx context.Context, m Membership) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO memberships (room_nid, user_id, membership, event_nid, stream_pos)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room_nid, user_id) DO UPDATE SET
		membership = excluded.membership, event_nid = excluded.event_nid, stream_pos = excluded.stream_pos`,
		m.Room, m.UserID, m.Membership, m.Event, m.StreamPos)
	if err != nil {
		return fmt.Errorf("set membership of %s: %w", m.UserID, err)
	}
	return nil
}

// MembershipOf returns a user's current membership of a room, or
// ErrNotFound if it never had one.
func (db *DB) MembershipOf(ctx context.Context, room RoomNID, userID string) (Membership, error) {
	m := Membership{Room: room, UserID: userID}
	err := db.read.QueryRowContext(ctx,
		"SELECT membership, event_nid, stream_pos FROM memberships WHERE room_nid = $1 AND user_id = $2",
		room, userID).Scan(&m.Membership, &m.Event, &m.StreamPos)
	return m, notFound(err)
}

// RoomMembers returns the memberships of a room, only those with the given
// membership unless it is "".
func (db *DB) RoomMembers(ctx context.Context, room RoomNID, membership string) ([]Membership, error) {
	query := "SELECT user_id, membership, event_nid, stream_pos FROM memberships WHERE room_nid = $1"
	args := []any{room}
	if membership != "" {
		query += " AND membership = $2"
		args = append(args, membership)
	}
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("members of room %d: %w", room, err)
	}
	defer rows.Close()
	var out []Membership
	for rows.Next() {
		m := Membership{Room: room}
		if err := rows.Scan(&m.UserID, &m.Membership, &m.Event, &m.StreamPos); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	// Sorted here, not by SQL: byte order, whatever the database collation.
	slices.SortFunc(out, func(a, b Membership) int { return strings.Compare(a.UserID, b.UserID) })
	return out, rows.Err()
}

// UserRooms returns the rooms in which a user has the membership, with
// their ids.
func (db *DB) UserRooms(ctx context.Context, userID, membership string) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT r.room_id FROM memberships m JOIN rooms r ON r.room_nid = m.room_nid
		WHERE m.user_id = $1 AND m.membership = $2`, userID, membership)
	if err != nil {
		return nil, fmt.Errorf("rooms of %s: %w", userID, err)
	}
	out, err := scanColumn[string](rows)
	slices.Sort(out)
	return out, err
}

// UserMembership is a user's membership of one room, with the room id.
type UserMembership struct {
	Membership
	RoomID string
}

// UserMemberships returns every room membership of a user.
func (db *DB) UserMemberships(ctx context.Context, userID string) ([]UserMembership, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT m.room_nid, r.room_id, m.membership, m.event_nid, m.stream_pos
		FROM memberships m JOIN rooms r ON r.room_nid = m.room_nid WHERE m.user_id = $1`, userID)
	if err != nil {
		return nil, fmt.Errorf("memberships of %s: %w", userID, err)
	}
	defer rows.Close()
	var out []UserMembership
	for rows.Next() {
		um := UserMembership{Membership: Membership{UserID: userID}}
		if err := rows.Scan(&um.Room, &um.RoomID, &um.Membership.Membership, &um.Event, &um.StreamPos); err != nil {
			return nil, err
		}
		out = append(out, um)
	}
	return out, rows.Err()
}

// JoinedLocalMembers returns, for every room, the joined users whose ids
// end in ":"+serverName.
func (db *DB) JoinedLocalMembers(ctx context.Context, serverName string) (map[string][]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT r.room_id, m.user_id FROM memberships m
		JOIN rooms r ON r.room_nid = m.room_nid WHERE m.membership = 'join' AND m.user_id LIKE $1`,
		"%:"+serverName)
	if err != nil {
		return nil, fmt.Errorf("joined local members: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var roomID, userID string
		if err := rows.Scan(&roomID, &userID); err != nil {
			return nil, err
		}
		if strings.HasSuffix(userID, ":"+serverName) { // LIKE's _ matches any character
			out[roomID] = append(out[roomID], userID)
		}
	}
	return out, rows.Err()
}

// MembershipChange is a membership event seen by a user.
type MembershipChange struct {
	UserID     string
	Membership string
}

// MembershipChanges returns the membership events with positions in
// (from, to] of the rooms the user has a membership in, oldest first.
func (db *DB) MembershipChanges(ctx context.Context, userID string, from, to int64) ([]MembershipChange, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT e.json FROM events e
		JOIN memberships m ON m.room_nid = e.room_nid AND m.user_id = $1
		JOIN event_types t ON t.type_nid = e.type_nid
		WHERE t.type = 'm.room.member' AND e.stream_pos > $2 AND e.stream_pos <= $3 AND e.status = 0
		ORDER BY e.stream_pos`, userID, from, to)
	if err != nil {
		return nil, fmt.Errorf("membership changes for %s: %w", userID, err)
	}
	defer rows.Close()
	var out []MembershipChange
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var ev struct {
			StateKey string `json:"state_key"`
			Content  struct {
				Membership string `json:"membership"`
			} `json:"content"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			return nil, err
		}
		out = append(out, MembershipChange{UserID: ev.StateKey, Membership: ev.Content.Membership})
	}
	return out, rows.Err()
}

// RoomListEntry is a room in a user's room list with its activity.
type RoomListEntry struct {
	UserMembership
	LastPos int64 // position of the room's newest timeline event
	BumpPos int64 // position of its newest event of the bump types
}

// RoomList returns every room the user has a membership in, with the
// positions of its latest activity and of its latest event of one of
// bumpTypes (for sliding sync's bump_stamp).
func (db *DB) RoomList(ctx context.Context, userID string, bumpTypes []TypeNID) ([]RoomListEntry, error) {
	args := []any{userID}
	inTypes := "0"
	if len(bumpTypes) > 0 {
		for _, t := range bumpTypes {
			args = append(args, t)
		}
		inTypes = placeholdersFrom(2, len(bumpTypes))
	}
	rows, err := db.read.QueryContext(ctx, `SELECT m.room_nid, r.room_id, m.membership, m.event_nid, m.stream_pos,
			COALESCE((SELECT MAX(e.stream_pos) FROM events e WHERE e.room_nid = m.room_nid), 0),
			COALESCE((SELECT e.stream_pos FROM events e WHERE e.room_nid = m.room_nid AND e.stream_pos IS NOT NULL
				AND e.type_nid IN (`+inTypes+`) ORDER BY e.stream_pos DESC LIMIT 1), 0)
		FROM memberships m JOIN rooms r ON r.room_nid = m.room_nid WHERE m.user_id = $1`, args...)
	if err != nil {
		return nil, fmt.Errorf("room list of %s: %w", userID, err)
	}
	defer rows.Close()
	var out []RoomListEntry
	for rows.Next() {
		e := RoomListEntry{UserMembership: UserMembership{Membership: Membership{UserID: userID}}}
		if err := rows.Scan(&e.Room, &e.RoomID, &e.Membership.Membership, &e.Event, &e.StreamPos, &e.LastPos, &e.BumpPos); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// SharingRoom returns those of the candidates who are joined to a room the
// user is joined to.
func (db *DB) SharingRoom(ctx context.Context, userID string, candidates []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(candidates) == 0 {
		return out, nil
	}
	args := []any{userID}
	for _, c := range candidates {
		args = append(args, c)
	}
	err := eachRow(ctx, db.read, `SELECT DISTINCT b.user_id FROM memberships a
		JOIN memberships b ON b.room_nid = a.room_nid AND b.membership = 'join'
		WHERE a.user_id = $1 AND a.membership = 'join' AND b.user_id IN (`+placeholdersFrom(2, len(candidates))+`)`,
		args, func(scan func(...any) error) error {
			var u string
			if err := scan(&u); err != nil {
				return err
			}
			out[u] = true
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("users sharing a room with %s: %w", userID, err)
	}
	return out, nil
}
