package storage

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// SQLite copies its write-ahead log back into the database file at
// checkpoints, run by the connection whose commit takes the log past 1,000
// pages: under load that is the group committer, many times a second, and
// every queued writer waited for the copy. A checkpointer with a
// connection of its own copies the log shortly after commits instead
// (PASSIVE checkpoints never wait for a reader or block the writer). The
// writer keeps its automatic checkpoint: only the writer can start the log
// over, which it does after a checkpoint of its own finds nothing left to
// copy but the last few commits.

// checkpointPause is the least time between two checkpoints.
const checkpointPause = 50 * time.Millisecond

type checkpointer struct {
	conn    *sql.DB // one connection, not query-only
	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

func newCheckpointer(conn *sql.DB) *checkpointer {
	conn.SetMaxOpenConns(1)
	c := &checkpointer{conn: conn, wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	go c.run()
	return c
}

// committed tells the checkpointer that the log grew.
func (c *checkpointer) committed() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer close(c.stopped)
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		// A failed checkpoint is retried after the next commit; the
		// writer's own automatic checkpoint bounds the log meanwhile.
		_, _ = c.conn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		pause.Reset(checkpointPause)
		select {
		case <-c.stop:
			return
		case <-pause.C:
		}
	}
}

func (c *checkpointer) close() error {
	c.once.Do(func() { close(c.stop) })
	<-c.stopped
	return c.conn.Close()
}
