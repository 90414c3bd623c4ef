package storage

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// SQLite copies its write-ahead log back into the database file at
// checkpoints. By default the connection whose commit takes the log past
// 1,000 pages runs one inside that commit: under load that was the group
// committer, many times a second, and every queued writer waited for the
// copy and its fsync. A checkpointer with a connection of its own runs
// them beside the writer instead, shortly after commits: PASSIVE
// checkpoints never wait for a reader or block the writer. The writer's
// automatic checkpoints stay as a backstop at a much larger log
// (writerAutoCheckpoint), should the checkpointer fall behind or fail.

const (
	// checkpointPause is the least time between two checkpoints.
	checkpointPause = 50 * time.Millisecond
	// writerAutoCheckpoint is the log size in pages (of 4 KiB) at which
	// the writer checkpoints by itself.
	writerAutoCheckpoint = 16384
)

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
		// A failed checkpoint is retried after the next commit; meanwhile
		// the writer's own automatic checkpoint bounds the log.
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
