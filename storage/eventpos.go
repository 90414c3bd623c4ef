package storage

import (
	"context"
	"fmt"
	"sync"
)

// Under PostgreSQL, positions of the events stream come from a sequence
// (migration 0021), not from the streams row: every send locked that row
// until its commit, so that sends to different rooms, which share nothing
// else, committed one at a time. With a sequence, transactions may commit
// in another order than they took their positions. Readers must still
// never see a position before every lower one is settled, or a /sync that
// read up to 11 would skip 10 committed just after. eventPositions keeps
// the frontier: every position up to it is committed or abandoned. Only
// the frontier is published, and a transaction that took positions returns
// (and runs its commit hooks, which wake readers) once the frontier covers
// them. Under SQLite the one writer commits in position order anyway.
type eventPositions struct {
	db       *DB
	mu       sync.Mutex
	inflight map[int64]bool // taken by transactions not yet ended
	highest  int64          // the highest position taken
	frontier int64
	moved    chan struct{} // closed when the frontier moves
}

func newEventPositions(db *DB, start int64) *eventPositions {
	return &eventPositions{db: db, inflight: map[int64]bool{}, highest: start, frontier: start, moved: make(chan struct{})}
}

// next takes the next position from the sequence inside tx, and holds
// the frontier below it until the transaction ends.
func (ep *eventPositions) next(ctx context.Context, tx *Tx) (int64, error) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	var pos int64
	if err := tx.tx.QueryRowContext(ctx, "SELECT nextval('events_stream_pos')").Scan(&pos); err != nil {
		return 0, fmt.Errorf("next events position: %w", err)
	}
	ep.inflight[pos] = true
	ep.highest = max(ep.highest, pos)
	tx.eventPositions = append(tx.eventPositions, pos)
	return pos, nil
}

// end settles a transaction's positions, committed or not, and publishes
// the frontier if it moved.
func (ep *eventPositions) end(positions []int64) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	for _, pos := range positions {
		delete(ep.inflight, pos)
	}
	frontier := ep.highest
	for pos := range ep.inflight {
		frontier = min(frontier, pos-1)
	}
	if frontier > ep.frontier {
		ep.frontier = frontier
		ep.db.publishStreamPosition(EventsStream, frontier)
		close(ep.moved)
		ep.moved = make(chan struct{})
	}
}

// wait returns once the frontier covers pos.
func (ep *eventPositions) wait(pos int64) {
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

// loadEventsPosition reads the sequence's position: at start no other
// transaction of this database is in flight (Claim), so every position up
// to it is settled.
func (db *DB) loadEventsPosition(ctx context.Context) (int64, error) {
	var (
		last   int64
		called bool
	)
	if err := db.read.QueryRowContext(ctx, "SELECT last_value, is_called FROM events_stream_pos").
		Scan(&last, &called); err != nil {
		return 0, fmt.Errorf("read events position: %w", err)
	}
	if !called {
		last--
	}
	return last, nil
}
