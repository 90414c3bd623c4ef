package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// SQLite has one write connection. Handing it from one transaction to the
// next costs a wake-up of the waiting goroutine and a BEGIN and COMMIT
// each, and under load the connection sat idle between transactions while
// a hundred writers queued for it. A group committer owns the connection
// instead: it runs the transactions queued for it one after another inside
// a single database transaction, each in a savepoint of its own, and
// commits them together. A transaction whose function fails is rolled
// back to its savepoint and fails alone; if the commit fails, every
// transaction of the group fails. Nobody is told of success before the
// commit.

// maxGroup bounds the transactions committed together, so that the first
// of a group does not wait on an unbounded tail.
const maxGroup = 64

// writeReq is one WithTx call waiting for the group committer.
type writeReq struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *Tx) error
	tx   *Tx
	err  error
	pnc  any // what fn panicked with, re-raised in the caller
	done chan struct{}
}

// groupCommitter runs SQLite's write transactions (see above).
type groupCommitter struct {
	db    *DB
	queue chan *writeReq

	closeOnce sync.Once
	stop      chan struct{}
	stopped   chan struct{}
}

func newGroupCommitter(db *DB) *groupCommitter {
	g := &groupCommitter{db: db, queue: make(chan *writeReq), stop: make(chan struct{}), stopped: make(chan struct{})}
	go g.run()
	return g
}

// errClosed: the database was closed while a transaction waited.
var errClosed = errors.New("storage: database closed")

// do runs fn in the next group and returns once that group committed or
// fn failed.
func (g *groupCommitter) do(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case g.queue <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.stop:
		return errClosed
	}
	<-req.done
	if req.pnc != nil {
		panic(req.pnc)
	}
	return req.err
}

func (g *groupCommitter) close() {
	g.closeOnce.Do(func() { close(g.stop) })
	<-g.stopped
}

func (g *groupCommitter) run() {
	defer close(g.stopped)
	for {
		var first *writeReq
		select {
		case first = <-g.queue:
		case <-g.stop:
			return
		}
		g.commitGroup(first)
	}
}

// commitGroup runs first and whatever else is queued meanwhile, up to
// maxGroup, in one transaction.
func (g *groupCommitter) commitGroup(first *writeReq) {
	var ran []*writeReq // those whose fn succeeded, waiting for the commit
	finish := func(reqs []*writeReq, err error) {
		for _, r := range reqs {
			r.err = err
			close(r.done)
		}
	}
	sqlTx, err := g.db.write.BeginTx(context.Background(), nil)
	if err != nil {
		finish([]*writeReq{first}, fmt.Errorf("begin: %w", err))
		return
	}
	next := first
	for n := 0; next != nil; n++ {
		if next.ctx.Err() != nil { // its caller gave up before it started
			finish([]*writeReq{next}, next.ctx.Err())
		} else if err := g.runOne(sqlTx, next); err != nil {
			if !isFnError(err) { // the transaction itself broke: nothing of it stays
				_ = sqlTx.Rollback()
				finish(append(ran, next), err)
				return
			}
			finish([]*writeReq{next}, unwrapFnError(err))
		} else {
			ran = append(ran, next)
		}
		next = nil
		if n+1 < maxGroup {
			select {
			case next = <-g.queue:
			default:
			}
		}
	}
	if len(ran) == 0 {
		_ = sqlTx.Rollback()
		return
	}
	if err := sqlTx.Commit(); err != nil {
		finish(ran, fmt.Errorf("commit: %w", err))
		return
	}
	for _, r := range ran {
		for _, hook := range r.tx.committed {
			hook()
		}
	}
	finish(ran, nil)
}

// fnError marks an error of a transaction's own function, rolled back to
// its savepoint, as opposed to one that broke the whole transaction.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

func isFnError(err error) bool {
	var fe fnError
	return errors.As(err, &fe)
}

func unwrapFnError(err error) error {
	var fe fnError
	if errors.As(err, &fe) {
		return fe.err
	}
	return err
}

// runOne runs one request's function in a savepoint. A failing function
// is rolled back to the savepoint and its error returned as an fnError; a
// savepoint statement that fails breaks the transaction (SQLite rolls a
// whole transaction back on some errors, such as a full disk).
func (g *groupCommitter) runOne(sqlTx *sql.Tx, r *writeReq) error {
	if _, err := sqlTx.Exec("SAVEPOINT one"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	r.tx = &Tx{db: g.db, tx: sqlTx, dialect: g.db.dialect, Now: g.db.clock()}
	// The function runs to its end even if its caller's context ends now:
	// an interrupted statement could roll back the group's transaction.
	ctx := context.WithValue(context.WithoutCancel(r.ctx), inTxKey{}, true)
	fnErr := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				r.pnc = p
				err = fmt.Errorf("panic in transaction: %v", p)
			}
		}()
		return r.fn(ctx, r.tx)
	}()
	if fnErr != nil {
		if _, err := sqlTx.Exec("ROLLBACK TO one"); err != nil {
			return errors.Join(fnErr, fmt.Errorf("rollback to savepoint: %w", err))
		}
		if _, err := sqlTx.Exec("RELEASE one"); err != nil {
			return errors.Join(fnErr, fmt.Errorf("release savepoint: %w", err))
		}
		return fnError{fnErr}
	}
	if _, err := sqlTx.Exec("RELEASE one"); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}
