package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// DirectoryUser is a user the user directory may show.
type DirectoryUser struct {
	UserID      string
	DisplayName string // "" if none
	AvatarURL   string // "" if none
	// SharesRoom: joined to a room the searching user is joined to.
	SharesRoom bool
}

// DirectoryCandidates returns the users the user directory may show to
// userID: the joined members of the rooms it is joined to and of public
// rooms (join rule public, or history visibility world_readable), and with
// allLocal every local account. Local users (ids ending in ":"+serverName)
// carry their global profile and are left out if deactivated; remote users
// carry the profile of their latest membership event. userID itself is
// left out. The order is unspecified.
func (db *DB) DirectoryCandidates(ctx context.Context, userID, serverName string, allLocal bool) ([]DirectoryUser, error) {
	mine, err := db.joinedRoomNIDs(ctx, userID)
	if err != nil {
		return nil, err
	}
	public, err := db.publicRoomNIDs(ctx)
	if err != nil {
		return nil, err
	}
	members, err := db.joinedMembersOf(ctx, slices.Concat(mine, public))
	if err != nil {
		return nil, err
	}
	shared := make(map[RoomNID]bool, len(mine))
	for _, r := range mine {
		shared[r] = true
	}
	byID := map[string]*DirectoryUser{}
	latest := map[string]EventNID{} // of remote users: their newest membership event
	for _, m := range members {
		u := byID[m.UserID]
		if u == nil {
			u = &DirectoryUser{UserID: m.UserID}
			byID[m.UserID] = u
		}
		u.SharesRoom = u.SharesRoom || shared[m.Room]
		if !strings.HasSuffix(m.UserID, ":"+serverName) && m.Event > latest[m.UserID] {
			latest[m.UserID] = m.Event
		}
	}
	if err := db.remoteProfiles(ctx, slices.Collect(maps.Values(latest)), byID); err != nil {
		return nil, err
	}
	if err := db.localProfiles(ctx, serverName, allLocal, byID); err != nil {
		return nil, err
	}
	delete(byID, userID)
	out := make([]DirectoryUser, 0, len(byID))
	for _, u := range byID {
		out = append(out, *u)
	}
	return out, nil
}

func (db *DB) joinedRoomNIDs(ctx context.Context, userID string) ([]RoomNID, error) {
	rows, err := db.read.QueryContext(ctx,
		"SELECT room_nid FROM memberships WHERE user_id = $1 AND membership = 'join'", userID)
	if err != nil {
		return nil, fmt.Errorf("rooms of %s: %w", userID, err)
	}
	return scanColumn[RoomNID](rows)
}

// publicRoomNIDs returns the rooms whose current join rule is public or
// whose history is world-readable.
func (db *DB) publicRoomNIDs(ctx context.Context) ([]RoomNID, error) {
	key, ok, err := db.LookupStateKeyNID(ctx, "")
	if err != nil || !ok {
		return nil, err
	}
	var types []any
	for _, t := range []string{"m.room.join_rules", "m.room.history_visibility"} {
		nid, ok, err := db.LookupTypeNID(ctx, t)
		if err != nil {
			return nil, err
		}
		if ok {
			types = append(types, nid)
		}
	}
	if len(types) == 0 {
		return nil, nil
	}
	rows, err := db.read.QueryContext(ctx, `SELECT cs.room_nid, e.json FROM current_state cs
		JOIN events e ON e.event_nid = cs.event_nid
		WHERE cs.state_key_nid = $1 AND cs.type_nid IN (`+placeholdersFrom(2, len(types))+`)`,
		append([]any{key}, types...)...)
	if err != nil {
		return nil, fmt.Errorf("public rooms: %w", err)
	}
	defer rows.Close()
	var out []RoomNID // a room with both is listed twice: joinedMembersOf removes duplicates
	for rows.Next() {
		var (
			room RoomNID
			data string
		)
		if err := rows.Scan(&room, &data); err != nil {
			return nil, err
		}
		var ev struct {
			Content struct {
				JoinRule          string `json:"join_rule"`
				HistoryVisibility string `json:"history_visibility"`
			} `json:"content"`
		}
		if json.Unmarshal([]byte(data), &ev) == nil &&
			(ev.Content.JoinRule == "public" || ev.Content.HistoryVisibility == "world_readable") {
			out = append(out, room)
		}
	}
	return out, rows.Err()
}

// joinedMembersOf returns the joined memberships of the rooms.
func (db *DB) joinedMembersOf(ctx context.Context, rooms []RoomNID) ([]Membership, error) {
	slices.Sort(rooms)
	rooms = slices.Compact(rooms)
	var out []Membership
	for batch := range slices.Chunk(rooms, roomStateBatch) {
		args := make([]any, len(batch))
		for i, r := range batch {
			args[i] = r
		}
		rows, err := db.read.QueryContext(ctx, `SELECT room_nid, user_id, event_nid FROM memberships
			WHERE membership = 'join' AND room_nid IN (`+placeholders(len(batch))+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("members of %d rooms: %w", len(batch), err)
		}
		for rows.Next() {
			m := Membership{Membership: "join"}
			if err := rows.Scan(&m.Room, &m.UserID, &m.Event); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, m)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// remoteProfiles fills in the profiles of remote users from their
// membership events.
func (db *DB) remoteProfiles(ctx context.Context, events []EventNID, byID map[string]*DirectoryUser) error {
	for batch := range slices.Chunk(events, roomStateBatch) {
		evs, err := db.EventsByNID(ctx, batch)
		if err != nil {
			return err
		}
		for _, e := range evs {
			var ev struct {
				StateKey string `json:"state_key"`
				Content  struct {
					DisplayName string `json:"displayname"`
					AvatarURL   string `json:"avatar_url"`
				} `json:"content"`
			}
			if json.Unmarshal(e.JSON, &ev) != nil || byID[ev.StateKey] == nil {
				continue // a malformed profile is no profile
			}
			byID[ev.StateKey].DisplayName = ev.Content.DisplayName
			byID[ev.StateKey].AvatarURL = ev.Content.AvatarURL
		}
	}
	return nil
}

// localProfiles fills in the global profiles of the local users in byID
// and removes the deactivated ones; with all it adds every other active
// local account that is not a guest.
func (db *DB) localProfiles(ctx context.Context, serverName string, all bool, byID map[string]*DirectoryUser) error {
	rows, err := db.read.QueryContext(ctx, `SELECT a.localpart, a.is_guest, p.displayname, p.avatar_url
		FROM accounts a JOIN profiles p ON p.localpart = a.localpart WHERE NOT a.deactivated`)
	if err != nil {
		return fmt.Errorf("local profiles: %w", err)
	}
	defer rows.Close()
	active := map[string]bool{}
	for rows.Next() {
		var (
			localpart    string
			guest        bool
			name, avatar sql.NullString
		)
		if err := rows.Scan(&localpart, &guest, &name, &avatar); err != nil {
			return err
		}
		id := "@" + localpart + ":" + serverName
		u := byID[id]
		if u == nil && all && !guest {
			u = &DirectoryUser{UserID: id}
			byID[id] = u
		}
		if u != nil {
			active[id] = true
			u.DisplayName, u.AvatarURL = name.String, avatar.String
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for id := range byID {
		if strings.HasSuffix(id, ":"+serverName) && !active[id] {
			delete(byID, id)
		}
	}
	return nil
}
