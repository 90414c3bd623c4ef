package storage

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// readPool is the read side of the database with prepared statements kept
// for reuse: reads are the hot path of /sync, and preparing the same text
// on every call cost a fifth of its CPU. Queries whose text varies (IN
// lists of any length) stop being cached once maxCachedStmts texts are.
type readPool struct {
	*sql.DB
	stmts sync.Map // query text -> *sql.Stmt
	count atomic.Int32
}

const maxCachedStmts = 512

func (p *readPool) stmt(ctx context.Context, query string) (*sql.Stmt, bool) {
	if st, ok := p.stmts.Load(query); ok {
		return st.(*sql.Stmt), true
	}
	if p.count.Load() >= maxCachedStmts {
		return nil, false
	}
	st, err := p.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, false // the plain query reports the error
	}
	if prev, loaded := p.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), true
	}
	p.count.Add(1)
	return st, true
}

// QueryContext runs a query through its cached statement.
func (p *readPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st, ok := p.stmt(ctx, query); ok {
		return st.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a single-row query through its cached statement.
func (p *readPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st, ok := p.stmt(ctx, query); ok {
		return st.QueryRowContext(ctx, args...)
	}
	return p.DB.QueryRowContext(ctx, query, args...)
}

// Close closes the cached statements and the pool.
func (p *readPool) Close() error {
	p.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	return p.DB.Close()
}
