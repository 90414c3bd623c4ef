package storage

import (
	"context"
	"fmt"
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

// orderedPositions is one stream's frontier.
type orderedPositions struct {
	db       *DB
	stream   string
	mu       sync.Mutex
	inflight map[int64]bool // taken by transactions not yet ended
	highest  int64          // the highest position taken
	frontier int64
	moved    chan struct{} // closed when the frontier moves
}

func newOrderedPositions(db *DB, stream string, start int64) *orderedPositions {
	return &orderedPositions{db: db, stream: stream, inflight: map[int64]bool{}, highest: start, frontier: start,
		moved: make(chan struct{})}
}

// sequence names a stream's sequence (stream is one of orderedStreams).
func sequence(stream string) string { return stream + "_stream_pos" }

// next takes the next position from the sequence inside tx, and holds
// the frontier below it until the transaction ends.
func (ep *orderedPositions) next(ctx context.Context, tx *Tx) (int64, error) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	var pos int64
	if err := tx.tx.QueryRowContext(ctx, "SELECT nextval('"+sequence(ep.stream)+"')").Scan(&pos); err != nil {
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
	frontier := ep.highest
	for pos := range ep.inflight {
		frontier = min(frontier, pos-1)
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
// frontiers: at start no other transaction of this database is in flight
// (Claim), so every position up to a sequence's last is settled.
func (db *DB) loadOrderedPositions(ctx context.Context) error {
	db.ordered = map[string]*orderedPositions{}
	for _, stream := range orderedStreams {
		var (
			last   int64
			called bool
		)
		if err := db.read.QueryRowContext(ctx, "SELECT last_value, is_called FROM "+sequence(stream)).
			Scan(&last, &called); err != nil {
			return fmt.Errorf("read %s position: %w", stream, err)
		}
		if !called {
			last--
		}
		db.publishStreamPosition(stream, last)
		db.ordered[stream] = newOrderedPositions(db, stream, last)
	}
	return nil
}
