package storage

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Numeric ids used inside the server. A NID is 0 when absent.
type (
	RoomNID     int64
	EventNID    int64
	TypeNID     int64
	StateKeyNID int64
	SnapshotNID int64
	BlockNID    int64
)

// Room is a room the server knows.
type Room struct {
	NID      RoomNID
	ID       string
	Version  string
	Snapshot SnapshotNID // current state; 0 before the create event
}

// InsertRoom records a new room. Returns ErrExists if the id is known.
func (tx *Tx) InsertRoom(ctx context.Context, roomID, version string) (RoomNID, error) {
	var nid RoomNID
	err := tx.tx.QueryRowContext(ctx,
		"INSERT INTO rooms (room_id, room_version, created_ts) VALUES ($1, $2, $3) RETURNING room_nid",
		roomID, version, millis(tx.Now)).Scan(&nid)
	if tx.dialect.isUniqueViolation(err) {
		return 0, ErrExists
	}
	if err != nil {
		return 0, fmt.Errorf("insert room %s: %w", roomID, err)
	}
	return nid, nil
}

const selectRoom = "SELECT room_nid, room_id, room_version, snapshot_nid FROM rooms"

// Room returns a room by id, or ErrNotFound.
func (db *DB) Room(ctx context.Context, roomID string) (Room, error) {
	return scanRoom(db.read.QueryRowContext(ctx, selectRoom+" WHERE room_id = $1", roomID))
}

// RoomByNID returns a room by NID, or ErrNotFound.
func (db *DB) RoomByNID(ctx context.Context, nid RoomNID) (Room, error) {
	return scanRoom(db.read.QueryRowContext(ctx, selectRoom+" WHERE room_nid = $1", nid))
}

// Room is DB.Room inside the transaction.
func (tx *Tx) Room(ctx context.Context, roomID string) (Room, error) {
	return scanRoom(tx.tx.QueryRowContext(ctx, selectRoom+" WHERE room_id = $1", roomID))
}

func scanRoom(row interface{ Scan(...any) error }) (Room, error) {
	var r Room
	if err := row.Scan(&r.NID, &r.ID, &r.Version, &r.Snapshot); err != nil {
		return Room{}, notFound(err)
	}
	return r, nil
}

// SetRoomSnapshot records the room's new current state snapshot.
func (tx *Tx) SetRoomSnapshot(ctx context.Context, room RoomNID, snapshot SnapshotNID) error {
	res, err := tx.tx.ExecContext(ctx, "UPDATE rooms SET snapshot_nid = $2 WHERE room_nid = $1", room, snapshot)
	if err != nil {
		return fmt.Errorf("set snapshot of room %d: %w", room, err)
	}
	return oneRow(res)
}

// ForwardExtremities returns the room's forward extremities: the events
// that no other event of the room references yet.
func (tx *Tx) ForwardExtremities(ctx context.Context, room RoomNID) ([]EventNID, error) {
	return forwardExtremities(ctx, tx.tx, room)
}

// ForwardExtremities is Tx.ForwardExtremities on the read pool.
func (db *DB) ForwardExtremities(ctx context.Context, room RoomNID) ([]EventNID, error) {
	return forwardExtremities(ctx, db.read, room)
}

func forwardExtremities(ctx context.Context, q querier, room RoomNID) ([]EventNID, error) {
	rows, err := q.QueryContext(ctx,
		"SELECT event_nid FROM forward_extremities WHERE room_nid = $1 ORDER BY event_nid", room)
	if err != nil {
		return nil, fmt.Errorf("forward extremities of room %d: %w", room, err)
	}
	return scanColumn[EventNID](rows)
}

// SetForwardExtremities replaces the room's forward extremities.
func (tx *Tx) SetForwardExtremities(ctx context.Context, room RoomNID, events []EventNID) error {
	if _, err := tx.tx.ExecContext(ctx, "DELETE FROM forward_extremities WHERE room_nid = $1", room); err != nil {
		return fmt.Errorf("clear forward extremities: %w", err)
	}
	for _, e := range events {
		if _, err := tx.tx.ExecContext(ctx,
			"INSERT INTO forward_extremities (room_nid, event_nid) VALUES ($1, $2)", room, e); err != nil {
			return fmt.Errorf("insert forward extremity: %w", err)
		}
	}
	return nil
}

// scanColumn reads the single column of rows and closes them.
func scanColumn[T any](rows interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close() error
}) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		var n T
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// nameCache maps event types or state keys to their NIDs and back. Rows
// are never deleted or changed, so entries never go stale; only committed
// values are cached.
type nameCache[N ~int64] struct {
	mu     sync.RWMutex
	byName map[string]N
	byNID  map[N]string
}

func newNameCache[N ~int64]() *nameCache[N] {
	return &nameCache[N]{byName: map[string]N{}, byNID: map[N]string{}}
}

func (c *nameCache[N]) add(name string, nid N) {
	c.mu.Lock()
	c.byName[name], c.byNID[nid] = nid, name
	c.mu.Unlock()
}

// TypeNIDs returns the NIDs of event types, creating those that are new (in
// a transaction of their own; call it before WithTx).
func (db *DB) TypeNIDs(ctx context.Context, types []string) (map[string]TypeNID, error) {
	return nids(ctx, db, db.types, "event_types", "type_nid", "type", types)
}

// StateKeyNIDs returns the NIDs of state keys, creating those that are new
// (in a transaction of their own; call it before WithTx).
func (db *DB) StateKeyNIDs(ctx context.Context, keys []string) (map[string]StateKeyNID, error) {
	return nids(ctx, db, db.stateKeys, "state_keys", "state_key_nid", "state_key", keys)
}

// TypeName returns the event type of a NID, or ErrNotFound.
func (db *DB) TypeName(ctx context.Context, nid TypeNID) (string, error) {
	return nameOf(ctx, db, db.types, "event_types", "type_nid", "type", nid)
}

// StateKeyName returns the state key of a NID, or ErrNotFound.
func (db *DB) StateKeyName(ctx context.Context, nid StateKeyNID) (string, error) {
	return nameOf(ctx, db, db.stateKeys, "state_keys", "state_key_nid", "state_key", nid)
}

// nids looks names up in the cache, then the table, then inserts the
// missing ones. table and columns are constants of the callers.
func nids[N ~int64](ctx context.Context, db *DB, cache *nameCache[N], table, nidCol, nameCol string, names []string) (map[string]N, error) {
	out := make(map[string]N, len(names))
	var missing []string
	cache.mu.RLock()
	for _, name := range names {
		if nid, ok := cache.byName[name]; ok {
			out[name] = nid
		} else {
			missing = append(missing, name)
		}
	}
	cache.mu.RUnlock()
	if len(missing) == 0 {
		return out, nil
	}
	// A fixed order keeps concurrent inserts of overlapping names from
	// deadlocking each other under PostgreSQL.
	slices.Sort(missing)
	found := map[string]N{}
	err := db.WithTx(ctx, func(ctx context.Context, tx *Tx) error {
		for _, name := range missing {
			if _, done := found[name]; done {
				continue
			}
			if _, err := tx.tx.ExecContext(ctx, "INSERT INTO "+table+" ("+nameCol+") VALUES ($1) ON CONFLICT DO NOTHING", name); err != nil {
				return fmt.Errorf("insert into %s: %w", table, err)
			}
			var nid N
			if err := tx.tx.QueryRowContext(ctx, "SELECT "+nidCol+" FROM "+table+" WHERE "+nameCol+" = $1", name).Scan(&nid); err != nil {
				return fmt.Errorf("select from %s: %w", table, err)
			}
			found[name] = nid
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for name, nid := range found {
		cache.add(name, nid)
		out[name] = nid
	}
	return out, nil
}

func nameOf[N ~int64](ctx context.Context, db *DB, cache *nameCache[N], table, nidCol, nameCol string, nid N) (string, error) {
	cache.mu.RLock()
	name, ok := cache.byNID[nid]
	cache.mu.RUnlock()
	if ok {
		return name, nil
	}
	err := db.read.QueryRowContext(ctx, "SELECT "+nameCol+" FROM "+table+" WHERE "+nidCol+" = $1", nid).Scan(&name)
	if err != nil {
		return "", notFound(err)
	}
	cache.add(name, nid)
	return name, nil
}

// LookupTypeNID returns the NID of an event type without creating it; ok
// is false if no event of the type was ever stored.
func (db *DB) LookupTypeNID(ctx context.Context, typ string) (TypeNID, bool, error) {
	return lookupNID(ctx, db, db.types, "event_types", "type_nid", "type", typ)
}

// LookupStateKeyNID returns the NID of a state key without creating it.
func (db *DB) LookupStateKeyNID(ctx context.Context, key string) (StateKeyNID, bool, error) {
	return lookupNID(ctx, db, db.stateKeys, "state_keys", "state_key_nid", "state_key", key)
}

func lookupNID[N ~int64](ctx context.Context, db *DB, cache *nameCache[N], table, nidCol, nameCol, name string) (N, bool, error) {
	cache.mu.RLock()
	nid, ok := cache.byName[name]
	cache.mu.RUnlock()
	if ok {
		return nid, true, nil
	}
	err := db.read.QueryRowContext(ctx, "SELECT "+nidCol+" FROM "+table+" WHERE "+nameCol+" = $1", name).Scan(&nid)
	if err = notFound(err); err == ErrNotFound {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	cache.add(name, nid)
	return nid, true, nil
}
