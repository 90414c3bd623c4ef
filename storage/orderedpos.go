package storage

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Under PostgreSQL, positions of the streams /sync reads come from
// sequences (migrations 0021 and 0022), not from the streams rows: every
// send locked the events row until its commit, so that sends to different
// rooms, which share nothing else, committed one at a time (and receipts,
// to-device messages and the rest likewise). With a sequence, transactions
// may commit in another order than they took their positions. Readers
// must still never see a position before every lower one is settled, or a
// /sync that read up to 11 would skip 10 committed just after. A stream's
// orderedPositions keeps the frontier: every position up to it is
// committed or abandoned. Only the frontier is published, and a
// transaction that took positions returns (and runs its commit hooks,
// which wake readers) once the frontiers cover them. Under SQLite the one
// writer commits in position order anyway.

// orderedStreams are the streams whose positions /sync reads.
var orderedStreams = []string{EventsStream, "receipts", "to_device", "account_data", "device_lists", "presence"}

// Another process on the same database (the admin commands beside the
// serving one) takes positions from the same sequences, and the frontier
// of the serving process does not know them. Each stream has an advisory
// lock, per schema, held until the transaction ends from before a position
// is taken: the serving process holds it shared, any other process
// exclusively. A position another process takes is therefore above every
// position the serving process took so far, and the serving process takes
// none until that transaction ended: the frontier never passes it while it
// is in flight.

// orderedPositions is one stream's frontier.
type orderedPositions struct {
	db     *DB
	stream string
	// takeShared and takeExclusive take a position with the stream's lock
	// held shared (the serving process) or exclusively (any other).
	takeShared, takeExclusive string

	mu       sync.Mutex
	inflight map[int64]bool // taken by transactions not yet ended
	// taking holds, for each position being asked of the sequence, the
	// highest position at the time of asking: the position will be above
	// it, and the frontier stays at or below it until it is known.
	taking   []int64
	highest  int64 // the highest position taken
	frontier int64
	moved    chan struct{} // closed when the frontier moves
}

func newOrderedPositions(db *DB, stream string, start int64) *orderedPositions {
	take := func(lock string) string {
		return "SELECT nextval('" + sequence(stream) + "') FROM (SELECT " + lock + "(" + lockKey(stream) + ")) AS held"
	}
	return &orderedPositions{db: db, stream: stream, takeShared: take("pg_advisory_xact_lock_shared"),
		takeExclusive: take("pg_advisory_xact_lock"), inflight: map[int64]bool{}, highest: start, frontier: start,
		moved: make(chan struct{})}
}

// sequence names a stream's sequence (stream is one of orderedStreams).
func sequence(stream string) string { return stream + "_stream_pos" }

// lockKey is the SQL of a stream's advisory lock key.
func lockKey(stream string) string {
	return "hashtext('ganglion stream ' || current_schema() || ' " + stream + "')"
}

// next takes the next position from the sequence inside tx, and holds
// the frontier below it until the transaction ends.
func (ep *orderedPositions) next(ctx context.Context, tx *Tx) (int64, error) {
	ep.mu.Lock()
	floor := ep.highest
	ep.taking = append(ep.taking, floor)
	ep.mu.Unlock()
	take := ep.takeExclusive
	if ep.db.claim != nil { // the serving process
		take = ep.takeShared
	}
	var pos int64
	err := tx.tx.QueryRowContext(ctx, take).Scan(&pos)
	ep.mu.Lock()
	defer ep.mu.Unlock()
	i := slices.Index(ep.taking, floor)
	ep.taking = slices.Delete(ep.taking, i, i+1)
	if err != nil {
		ep.advance()
		return 0, fmt.Errorf("next %s position: %w", ep.stream, err)
	}
	ep.inflight[pos] = true
	ep.highest = max(ep.highest, pos)
	tx.taken = append(tx.taken, takenPos{ep, pos})
	return pos, nil
}

// takenPos is a position a transaction took from an ordered stream.
type takenPos struct {
	stream *orderedPositions
	pos    int64
}

// end settles a position, committed or not, and publishes the frontier if
// it moved.
func (ep *orderedPositions) end(pos int64) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	delete(ep.inflight, pos)
	ep.advance()
}

// advance moves the frontier as far as the positions in flight or being
// taken allow, and publishes it. ep.mu is held.
func (ep *orderedPositions) advance() {
	frontier := ep.highest
	for pos := range ep.inflight {
		frontier = min(frontier, pos-1)
	}
	for _, floor := range ep.taking {
		frontier = min(frontier, floor)
	}
	if frontier > ep.frontier {
		ep.frontier = frontier
		ep.db.publishStreamPosition(ep.stream, frontier)
		close(ep.moved)
		ep.moved = make(chan struct{})
	}
}

// wait returns once the frontier covers pos.
func (ep *orderedPositions) wait(pos int64) {
	for {
		ep.mu.Lock()
		frontier, moved := ep.frontier, ep.moved
		ep.mu.Unlock()
		if frontier >= pos {
			return
		}
		<-moved
	}
}

// loadOrderedPositions reads the sequences' positions and sets up their
// frontiers. It takes each stream's lock exclusively for the read: every
// transaction that took a position before has ended, so every position up
// to a sequence's last is settled.
func (db *DB) loadOrderedPositions(ctx context.Context) error {
	last := make([]int64, len(orderedStreams))
	err := db.WithTx(ctx, func(ctx context.Context, tx *Tx) error {
		for i, stream := range orderedStreams {
			if _, err := tx.tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock("+lockKey(stream)+")"); err != nil {
				return fmt.Errorf("lock %s: %w", stream, err)
			}
			var called bool
			if err := tx.tx.QueryRowContext(ctx, "SELECT last_value, is_called FROM "+sequence(stream)).
				Scan(&last[i], &called); err != nil {
				return fmt.Errorf("read %s position: %w", stream, err)
			}
			if !called {
				last[i]--
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	db.ordered = map[string]*orderedPositions{}
	for i, stream := range orderedStreams {
		db.publishStreamPosition(stream, last[i])
		db.ordered[stream] = newOrderedPositions(db, stream, last[i])
	}
	return nil
}
