// Package search keeps the full-text index that POST /search reads. The
// Indexer follows the events stream from storage and records in storage how
// far it got, in the same transaction as the index rows it wrote: a crash
// loses nothing, and a restart carries on from there. Roomserver outputs
// only wake it.
package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/internal/logctx"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
)

// batchSize bounds the events read and indexed in one transaction.
const batchSize = 500

// Retry delays after a failed catch-up.
const (
	minRetry = time.Second
	maxRetry = time.Minute
)

// Deps are the indexer's collaborators.
type Deps struct {
	DB  *storage.DB
	Log logrus.FieldLogger
}

// Indexer writes the searchable text of new events to the full-text index
// and removes redacted events from it.
type Indexer struct {
	db    *storage.DB
	log   logrus.FieldLogger
	wake  chan struct{}
	batch int // events per transaction
	// catchUp is held by the one catch-up running at a time.
	catchUp sync.Mutex

	mu       sync.Mutex
	indexed  int64         // the position indexed, as last seen by this process
	progress chan struct{} // closed and replaced whenever indexed grows
}

// New returns an indexer; it does nothing until Run or CatchUp.
func New(deps Deps) (*Indexer, error) {
	if deps.DB == nil || deps.Log == nil {
		return nil, errors.New("search: DB and Log are required")
	}
	return &Indexer{
		db: deps.DB, log: deps.Log, wake: make(chan struct{}, 1), batch: batchSize, progress: make(chan struct{}),
	}, nil
}

// OnOutput wakes the indexer's loop; it never blocks. The event itself is
// read from storage by the loop.
func (ix *Indexer) OnOutput(_ context.Context, _ roomserver.Output) {
	select {
	case ix.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// Run indexes everything committed so far, then every new event as
// outputs announce them, until ctx ends. A failed catch-up is logged and
// retried with backoff.
func (ix *Indexer) Run(ctx context.Context) error {
	retry := time.NewTimer(0)
	defer retry.Stop()
	delay := minRetry
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ix.wake:
		case <-retry.C:
		}
		if _, err := ix.CatchUp(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			ix.log.WithError(err).WithField("retry_in", delay.String()).Error("search indexer: catch up")
			retry.Reset(delay)
			delay = min(2*delay, maxRetry)
			continue
		}
		delay = minRetry
	}
}

// CatchUp indexes every event committed before it was called and returns
// the stream position the index now holds.
func (ix *Indexer) CatchUp(ctx context.Context) (int64, error) {
	ix.catchUp.Lock()
	defer ix.catchUp.Unlock()
	pos, err := ix.db.StreamPos(ctx, storage.SearchStream)
	if err != nil {
		return 0, fmt.Errorf("read search position: %w", err)
	}
	upto, err := ix.db.StreamPos(ctx, "events")
	if err != nil {
		return 0, fmt.Errorf("read events position: %w", err)
	}
	for pos < upto {
		events, err := ix.db.EventsInStream(ctx, pos, upto, ix.batch)
		if err != nil {
			return pos, fmt.Errorf("read events after %d: %w", pos, err)
		}
		next := upto
		if len(events) == ix.batch {
			next = events[len(events)-1].StreamPos
		}
		if err := ix.index(ctx, events, next); err != nil {
			return pos, err
		}
		pos = next
		ix.advance(pos)
	}
	ix.advance(pos)
	return pos, nil
}

// index writes the documents of a batch of events and the position they
// bring the index to in one transaction.
func (ix *Indexer) index(ctx context.Context, events []storage.Event, pos int64) error {
	err := ix.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		for _, e := range events {
			if err := ix.indexOne(ctx, tx, e); err != nil {
				return err
			}
		}
		return tx.SetSearchPos(ctx, pos)
	})
	if err != nil {
		return fmt.Errorf("index events up to %d: %w", pos, err)
	}
	return nil
}

// indexOne indexes a message, name or topic, and unindexes the target of
// a redaction. Events stored redacted have no text left to index.
func (ix *Indexer) indexOne(ctx context.Context, tx *storage.Tx, e storage.Event) error {
	typ, err := ix.db.TypeName(ctx, e.Type)
	if err != nil {
		return fmt.Errorf("type of event %s: %w", e.ID, err)
	}
	var ev struct {
		Content json.RawMessage `json:"content"`
		Redacts string          `json:"redacts"` // up to room version 10
	}
	if err := json.Unmarshal(e.JSON, &ev); err != nil {
		// A bug elsewhere; skipping the event keeps the index moving.
		ix.log.WithError(err).WithField(logctx.FieldEventID, e.ID).Error("search indexer: stored event is not JSON")
		return nil
	}
	if typ == "m.room.redaction" {
		var c struct {
			Redacts string `json:"redacts"` // from room version 11
		}
		_ = json.Unmarshal(ev.Content, &c)
		if c.Redacts != "" {
			ev.Redacts = c.Redacts
		}
		if ev.Redacts == "" {
			return nil
		}
		return tx.UnindexRedacted(ctx, ev.Redacts)
	}
	text := Text(typ, ev.Content)
	if text == "" || e.RedactedBy != "" {
		return nil
	}
	return tx.InsertSearchDoc(ctx, storage.SearchDoc{
		Event: e.NID, Room: e.Room, Sender: e.Sender, Type: typ, StreamPos: e.StreamPos, OriginTS: e.OriginTS, Text: text,
	})
}

// advance records that the index holds every event up to pos and wakes
// WaitFor callers.
func (ix *Indexer) advance(pos int64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if pos > ix.indexed {
		ix.indexed = pos
		close(ix.progress)
		ix.progress = make(chan struct{})
	}
}

// WaitFor waits until the index holds every event up to stream position
// pos (as Run indexes them), or ctx ends.
func (ix *Indexer) WaitFor(ctx context.Context, pos int64) error {
	for {
		ix.mu.Lock()
		indexed, progress := ix.indexed, ix.progress
		ix.mu.Unlock()
		if indexed >= pos {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-progress:
		}
	}
}
