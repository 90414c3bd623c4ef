package storage

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// RoomAlias is a local room alias. RoomID is "" while the alias is reserved
// for a room being created.
type RoomAlias struct {
	Alias   string
	RoomID  string
	Creator string // the user id that created the alias
}

// InsertRoomAlias records a local alias of a room; roomID "" reserves the
// alias for a room that is being created (BindRoomAlias completes it).
// Returns ErrExists if the alias is taken or reserved.
func (tx *Tx) InsertRoomAlias(ctx context.Context, alias, roomID, creator string) error {
	_, err := tx.tx.ExecContext(ctx,
		"INSERT INTO room_aliases (alias, room_id, creator, created_ts) VALUES ($1, $2, $3, $4)",
		alias, roomID, creator, millis(tx.Now))
	if tx.dialect.isUniqueViolation(err) {
		return ErrExists
	}
	if err != nil {
		return fmt.Errorf("insert room alias %s: %w", alias, err)
	}
	return nil
}

// BindRoomAlias points a reserved alias at its room. Returns ErrNotFound if
// the alias is not reserved.
func (tx *Tx) BindRoomAlias(ctx context.Context, alias, roomID string) error {
	res, err := tx.tx.ExecContext(ctx,
		"UPDATE room_aliases SET room_id = $2 WHERE alias = $1 AND room_id = ''", alias, roomID)
	if err != nil {
		return fmt.Errorf("bind room alias %s: %w", alias, err)
	}
	return oneRow(res)
}

// DeleteRoomAlias removes an alias or a reservation. Returns ErrNotFound if
// there is neither.
func (tx *Tx) DeleteRoomAlias(ctx context.Context, alias string) error {
	res, err := tx.tx.ExecContext(ctx, "DELETE FROM room_aliases WHERE alias = $1", alias)
	if err != nil {
		return fmt.Errorf("delete room alias %s: %w", alias, err)
	}
	return oneRow(res)
}

// RoomAlias returns an alias or a reservation (RoomID ""), or ErrNotFound.
func (db *DB) RoomAlias(ctx context.Context, alias string) (RoomAlias, error) {
	a := RoomAlias{Alias: alias}
	err := db.read.QueryRowContext(ctx, "SELECT room_id, creator FROM room_aliases WHERE alias = $1", alias).
		Scan(&a.RoomID, &a.Creator)
	return a, notFound(err)
}

// RoomAliases returns the local aliases of a room in byte order.
func (db *DB) RoomAliases(ctx context.Context, roomID string) ([]string, error) {
	if roomID == "" {
		return nil, nil // reservations belong to no room
	}
	rows, err := db.read.QueryContext(ctx, "SELECT alias FROM room_aliases WHERE room_id = $1", roomID)
	if err != nil {
		return nil, fmt.Errorf("aliases of room %s: %w", roomID, err)
	}
	out, err := scanColumn[string](rows)
	slices.Sort(out)
	return out, err
}

// SetRoomPublished adds a room to the published room directory or removes
// it. Either is a no-op if the room is already there or not.
func (tx *Tx) SetRoomPublished(ctx context.Context, roomID string, published bool) error {
	var err error
	if published {
		_, err = tx.tx.ExecContext(ctx, `INSERT INTO published_rooms (room_id, published_ts) VALUES ($1, $2)
			ON CONFLICT (room_id) DO NOTHING`, roomID, millis(tx.Now))
	} else {
		_, err = tx.tx.ExecContext(ctx, "DELETE FROM published_rooms WHERE room_id = $1", roomID)
	}
	if err != nil {
		return fmt.Errorf("set room %s published %v: %w", roomID, published, err)
	}
	return nil
}

// RoomPublished reports whether a room is in the published room directory.
func (db *DB) RoomPublished(ctx context.Context, roomID string) (bool, error) {
	var n int
	err := db.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM published_rooms WHERE room_id = $1", roomID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("is room %s published: %w", roomID, err)
	}
	return n > 0, nil
}

// PublishedRoom is a room of the published room directory.
type PublishedRoom struct {
	RoomID        string
	JoinedMembers int64
}

// PublishedRooms lists the rooms of the published room directory that the
// server knows, the rooms with the most joined members first, then by room id
// in byte order.
func (db *DB) PublishedRooms(ctx context.Context) ([]PublishedRoom, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT p.room_id, COUNT(m.user_id) FROM published_rooms p
		JOIN rooms r ON r.room_id = p.room_id
		LEFT JOIN memberships m ON m.room_nid = r.room_nid AND m.membership = 'join'
		GROUP BY p.room_id`)
	if err != nil {
		return nil, fmt.Errorf("list published rooms: %w", err)
	}
	defer rows.Close()
	var out []PublishedRoom
	for rows.Next() {
		var p PublishedRoom
		if err := rows.Scan(&p.RoomID, &p.JoinedMembers); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	// Sorted here, not by SQL: byte order, whatever the database collation.
	slices.SortFunc(out, func(a, b PublishedRoom) int {
		return cmp.Or(cmp.Compare(b.JoinedMembers, a.JoinedMembers), strings.Compare(a.RoomID, b.RoomID))
	})
	return out, rows.Err()
}

// roomStateBatch bounds the rooms of one RoomsStateJSON query, well below
// the parameter limits of both engines.
const roomStateBatch = 500

// RoomsStateJSON returns, for each of the rooms, the JSON of its current
// state events of the types with the empty state key, by room id and type.
// Rooms and types without such events are left out.
func (db *DB) RoomsStateJSON(ctx context.Context, roomIDs, types []string) (map[string]map[string]json.RawMessage, error) {
	out := map[string]map[string]json.RawMessage{}
	key, ok, err := db.LookupStateKeyNID(ctx, "")
	if err != nil || !ok {
		return out, err
	}
	typeNames := map[TypeNID]string{}
	for _, t := range types {
		nid, ok, err := db.LookupTypeNID(ctx, t)
		if err != nil {
			return nil, err
		}
		if ok {
			typeNames[nid] = t
		}
	}
	if len(typeNames) == 0 {
		return out, nil
	}
	for batch := range slices.Chunk(roomIDs, roomStateBatch) {
		if err := db.roomsStateJSON(ctx, batch, key, typeNames, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (db *DB) roomsStateJSON(ctx context.Context, roomIDs []string, key StateKeyNID, typeNames map[TypeNID]string,
	out map[string]map[string]json.RawMessage) error {
	args := make([]any, 0, len(roomIDs)+1+len(typeNames))
	for _, id := range roomIDs {
		args = append(args, id)
	}
	args = append(args, key)
	keyArg := "$" + strconv.Itoa(len(args))
	typeArgs := make([]string, 0, len(typeNames))
	for nid := range typeNames {
		args = append(args, nid)
		typeArgs = append(typeArgs, "$"+strconv.Itoa(len(args)))
	}
	rows, err := db.read.QueryContext(ctx, `SELECT r.room_id, cs.type_nid, e.json FROM rooms r
		JOIN current_state cs ON cs.room_nid = r.room_nid
		JOIN events e ON e.event_nid = cs.event_nid
		WHERE r.room_id IN (`+placeholders(len(roomIDs))+`) AND cs.state_key_nid = `+keyArg+`
			AND cs.type_nid IN (`+strings.Join(typeArgs, ", ")+`)`, args...)
	if err != nil {
		return fmt.Errorf("state of %d rooms: %w", len(roomIDs), err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			roomID, data string
			typ          TypeNID
		)
		if err := rows.Scan(&roomID, &typ, &data); err != nil {
			return err
		}
		if out[roomID] == nil {
			out[roomID] = map[string]json.RawMessage{}
		}
		out[roomID][typeNames[typ]] = json.RawMessage(data)
	}
	return rows.Err()
}

// MoveRoomAliases points every local alias of a room at another room (a
// room upgrade).
func (tx *Tx) MoveRoomAliases(ctx context.Context, fromRoom, toRoom string) error {
	_, err := tx.tx.ExecContext(ctx, "UPDATE room_aliases SET room_id = $2 WHERE room_id = $1", fromRoom, toRoom)
	return err
}
