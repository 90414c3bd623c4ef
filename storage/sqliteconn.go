package storage

import (
	"context"
	"database/sql/driver"
	"strings"

	"github.com/mattn/go-sqlite3"
)

// SQLite reads "$1" as a parameter *named* "$1", and numbers named
// parameters by their first appearance in the statement: in
// "UPDATE t SET a = $2 WHERE b = $1" the first argument would be bound to a.
// Queries here are written once, with PostgreSQL's $N, so SQLite connections
// rewrite $N to ?N, SQLite's explicitly numbered form, before preparing.

// sqliteConnector opens SQLite connections that take PostgreSQL-style
// placeholders.
type sqliteConnector struct {
	dsn    string
	driver *sqlite3.SQLiteDriver
}

func (c sqliteConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.driver.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &sqliteConn{conn.(*sqlite3.SQLiteConn)}, nil
}

func (c sqliteConnector) Driver() driver.Driver { return c.driver }

// sqliteConn is a SQLite connection whose every statement goes through
// sqlitePlaceholders. The remaining methods (BeginTx, Ping, Close) are the
// driver's own.
type sqliteConn struct {
	*sqlite3.SQLiteConn
}

func (c *sqliteConn) Prepare(query string) (driver.Stmt, error) {
	return c.SQLiteConn.Prepare(sqlitePlaceholders(query))
}

func (c *sqliteConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.SQLiteConn.PrepareContext(ctx, sqlitePlaceholders(query))
}

func (c *sqliteConn) Exec(query string, args []driver.Value) (driver.Result, error) {
	return c.SQLiteConn.Exec(sqlitePlaceholders(query), args)
}

func (c *sqliteConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.SQLiteConn.ExecContext(ctx, sqlitePlaceholders(query), args)
}

func (c *sqliteConn) Query(query string, args []driver.Value) (driver.Rows, error) {
	return c.SQLiteConn.Query(sqlitePlaceholders(query), args)
}

func (c *sqliteConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.SQLiteConn.QueryContext(ctx, sqlitePlaceholders(query), args)
}

// sqlitePlaceholders rewrites the placeholders $N of query to ?N, leaving
// string literals, quoted identifiers and comments alone.
func sqlitePlaceholders(query string) string {
	if !strings.Contains(query, "$") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query))
	for i := 0; i < len(query); {
		n := sqlSkip(query[i:])
		if n > 0 {
			b.WriteString(query[i : i+n])
			i += n
			continue
		}
		c := query[i]
		if c == '$' && i+1 < len(query) && isDigit(query[i+1]) && (i == 0 || !isIdentByte(query[i-1])) {
			c = '?'
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

// sqlSkip returns the length of the literal, quoted identifier or comment
// that s starts with, or 0. An unterminated one runs to the end of s.
func sqlSkip(s string) int {
	var (
		start int
		end   string
	)
	switch {
	case s[0] == '\'' || s[0] == '"':
		start, end = 1, s[:1]
	case strings.HasPrefix(s, "--"):
		start, end = 2, "\n"
	case strings.HasPrefix(s, "/*"):
		start, end = 2, "*/"
	default:
		return 0
	}
	j := strings.Index(s[start:], end)
	if j < 0 {
		return len(s)
	}
	return start + j + len(end)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentByte(c byte) bool {
	return c == '_' || isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= 0x80
}
