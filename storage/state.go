package storage

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
)

// StateEntry is one piece of room state: the event that holds (type, state
// key). In a list of changes, Event 0 removes the entry.
type StateEntry struct {
	Type  TypeNID
	Key   StateKeyNID
	Event EventNID
}

// A snapshot splits state into snapshotBuckets buckets by a hash of
// (type, state key). Each bucket is a block: the bucket's entries sorted by
// (type, key), stored once per distinct content. A change to one piece of
// state writes one new block (about size/snapshotBuckets entries) and one
// snapshot row of snapshotBuckets NIDs, however large the room's state.
const snapshotBuckets = 64

const entrySize = 24

func bucketOf(t TypeNID, k StateKeyNID) int {
	h := fnv.New32a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(t))
	binary.LittleEndian.PutUint64(b[8:], uint64(k))
	h.Write(b[:])
	return int(h.Sum32() % snapshotBuckets)
}

// StoreSnapshot returns the snapshot of base with changes applied, writing
// the blocks and the snapshot if they are new. base 0 is the empty state.
func (tx *Tx) StoreSnapshot(ctx context.Context, base SnapshotNID, changes []StateEntry) (SnapshotNID, error) {
	blocks := make([]BlockNID, snapshotBuckets)
	if base != 0 {
		var err error
		if blocks, err = snapshotBlocks(ctx, tx.tx, base); err != nil {
			return 0, err
		}
	}
	byBucket := map[int][]StateEntry{}
	for _, c := range changes {
		b := bucketOf(c.Type, c.Key)
		byBucket[b] = append(byBucket[b], c)
	}
	for b, cs := range byBucket {
		entries, err := tx.db.block(ctx, tx.tx, blocks[b], false)
		if err != nil {
			return 0, err
		}
		nid, err := tx.storeBlock(ctx, applyChanges(entries, cs))
		if err != nil {
			return 0, err
		}
		blocks[b] = nid
	}
	return tx.storeSnapshotBlocks(ctx, blocks)
}

// applyChanges returns a sorted copy of entries with the changes applied.
func applyChanges(entries, changes []StateEntry) []StateEntry {
	m := make(map[[2]int64]EventNID, len(entries)+len(changes))
	for _, e := range entries {
		m[[2]int64{int64(e.Type), int64(e.Key)}] = e.Event
	}
	for _, c := range changes {
		k := [2]int64{int64(c.Type), int64(c.Key)}
		if c.Event == 0 {
			delete(m, k)
		} else {
			m[k] = c.Event
		}
	}
	out := make([]StateEntry, 0, len(m))
	for k, e := range m {
		out = append(out, StateEntry{Type: TypeNID(k[0]), Key: StateKeyNID(k[1]), Event: e})
	}
	slices.SortFunc(out, compareEntries)
	return out
}

func compareEntries(a, b StateEntry) int {
	if a.Type != b.Type {
		return cmpInt(a.Type, b.Type)
	}
	return cmpInt(a.Key, b.Key)
}

func cmpInt[T ~int64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (tx *Tx) storeBlock(ctx context.Context, entries []StateEntry) (BlockNID, error) {
	if len(entries) == 0 {
		return 0, nil
	}
	data := make([]byte, len(entries)*entrySize)
	for i, e := range entries {
		binary.LittleEndian.PutUint64(data[i*entrySize:], uint64(e.Type))
		binary.LittleEndian.PutUint64(data[i*entrySize+8:], uint64(e.Key))
		binary.LittleEndian.PutUint64(data[i*entrySize+16:], uint64(e.Event))
	}
	nid, err := tx.insertDeduplicated(ctx, "state_blocks", "block_nid", "entries", data)
	return BlockNID(nid), err
}

func (tx *Tx) storeSnapshotBlocks(ctx context.Context, blocks []BlockNID) (SnapshotNID, error) {
	data := make([]byte, len(blocks)*8)
	empty := true
	for i, b := range blocks {
		binary.LittleEndian.PutUint64(data[i*8:], uint64(b))
		empty = empty && b == 0
	}
	if empty {
		return 0, nil
	}
	nid, err := tx.insertDeduplicated(ctx, "state_snapshots", "snapshot_nid", "blocks", data)
	return SnapshotNID(nid), err
}

// insertDeduplicated stores data in table under its SHA-256 unless a row
// with that hash exists, and returns the row's NID. table and columns are
// constants of the callers.
func (tx *Tx) insertDeduplicated(ctx context.Context, table, nidCol, dataCol string, data []byte) (int64, error) {
	sum := sha256.Sum256(data)
	var nid int64
	err := tx.tx.QueryRowContext(ctx, "SELECT "+nidCol+" FROM "+table+" WHERE hash = $1", sum[:]).Scan(&nid)
	if err == nil {
		return nid, nil
	}
	if err = notFound(err); err != ErrNotFound {
		return 0, fmt.Errorf("look up %s: %w", table, err)
	}
	err = tx.tx.QueryRowContext(ctx, "INSERT INTO "+table+" (hash, "+dataCol+") VALUES ($1, $2) RETURNING "+nidCol,
		sum[:], data).Scan(&nid)
	if err != nil {
		return 0, fmt.Errorf("insert into %s: %w", table, err)
	}
	return nid, nil
}

// Snapshot returns every entry of a snapshot, sorted by (type, key).
func (db *DB) Snapshot(ctx context.Context, nid SnapshotNID) ([]StateEntry, error) {
	if nid == 0 {
		return nil, nil
	}
	blocks, err := db.snapshotBlocksCached(ctx, nid)
	if err != nil {
		return nil, err
	}
	var out []StateEntry
	for _, b := range blocks {
		entries, err := db.block(ctx, db.read, b, true)
		if err != nil {
			return nil, err
		}
		out = append(out, entries...)
	}
	slices.SortFunc(out, compareEntries)
	return out, nil
}

// SnapshotEntry returns the event holding (type, key) in a snapshot, or 0.
func (db *DB) SnapshotEntry(ctx context.Context, nid SnapshotNID, t TypeNID, k StateKeyNID) (EventNID, error) {
	if nid == 0 {
		return 0, nil
	}
	blocks, err := db.snapshotBlocksCached(ctx, nid)
	if err != nil {
		return 0, err
	}
	entries, err := db.block(ctx, db.read, blocks[bucketOf(t, k)], true)
	if err != nil {
		return 0, err
	}
	i, found := slices.BinarySearchFunc(entries, StateEntry{Type: t, Key: k}, compareEntries)
	if !found {
		return 0, nil
	}
	return entries[i].Event, nil
}

// snapshotBlocksCached is snapshotBlocks through the cache, for committed
// snapshots only (see block).
func (db *DB) snapshotBlocksCached(ctx context.Context, nid SnapshotNID) ([]BlockNID, error) {
	if blocks, ok := db.snapshots.get(nid); ok {
		return blocks, nil
	}
	blocks, err := snapshotBlocks(ctx, db.read, nid)
	if err != nil {
		return nil, err
	}
	db.snapshots.put(nid, blocks)
	return blocks, nil
}

func snapshotBlocks(ctx context.Context, q querier, nid SnapshotNID) ([]BlockNID, error) {
	var data []byte
	err := q.QueryRowContext(ctx, "SELECT blocks FROM state_snapshots WHERE snapshot_nid = $1", nid).Scan(&data)
	if err != nil {
		return nil, fmt.Errorf("load snapshot %d: %w", nid, notFound(err))
	}
	if len(data) != snapshotBuckets*8 {
		return nil, fmt.Errorf("snapshot %d has %d bytes, want %d", nid, len(data), snapshotBuckets*8)
	}
	blocks := make([]BlockNID, snapshotBuckets)
	for i := range blocks {
		blocks[i] = BlockNID(binary.LittleEndian.Uint64(data[i*8:]))
	}
	return blocks, nil
}

// block returns a block's entries, from the cache when it can: blocks never
// change once written. Only committed blocks may enter the cache (cache
// false inside a transaction): under SQLite the NID of a rolled-back row is
// given out again.
func (db *DB) block(ctx context.Context, q querier, nid BlockNID, cache bool) ([]StateEntry, error) {
	if nid == 0 {
		return nil, nil
	}
	if entries, ok := db.blocks.get(nid); ok {
		return entries, nil
	}
	var data []byte
	if err := q.QueryRowContext(ctx, "SELECT entries FROM state_blocks WHERE block_nid = $1", nid).Scan(&data); err != nil {
		return nil, fmt.Errorf("load state block %d: %w", nid, notFound(err))
	}
	if len(data)%entrySize != 0 {
		return nil, fmt.Errorf("state block %d has %d bytes", nid, len(data))
	}
	entries := make([]StateEntry, len(data)/entrySize)
	for i := range entries {
		entries[i] = StateEntry{
			Type:  TypeNID(binary.LittleEndian.Uint64(data[i*entrySize:])),
			Key:   StateKeyNID(binary.LittleEndian.Uint64(data[i*entrySize+8:])),
			Event: EventNID(binary.LittleEndian.Uint64(data[i*entrySize+16:])),
		}
	}
	if cache {
		db.blocks.put(nid, entries)
	}
	return entries, nil
}

// blockCacheSize is how many blocks (and snapshots) stay in memory: at 64
// blocks a room, the state of a few hundred active rooms.
const blockCacheSize = 16384

// immutableCache keeps values that never change once written (blocks and
// snapshots). Eviction is random (map order): cheap, and good enough when
// entries never go stale.
type immutableCache[K comparable, V any] struct {
	mu      sync.RWMutex
	max     int
	entries map[K]V
}

func newImmutableCache[K comparable, V any](max int) *immutableCache[K, V] {
	return &immutableCache[K, V]{max: max, entries: make(map[K]V)}
}

func (c *immutableCache[K, V]) get(k K) (V, bool) {
	c.mu.RLock()
	v, ok := c.entries[k]
	c.mu.RUnlock()
	return v, ok
}

func (c *immutableCache[K, V]) put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for old := range c.entries {
			delete(c.entries, old)
			if len(c.entries) < c.max*9/10 {
				break
			}
		}
	}
	c.entries[k] = v
}
