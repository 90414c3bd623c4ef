package storage

import (
	"context"
	"database/sql"
)

// dialect is everything that differs between SQLite and PostgreSQL beyond
// the DDL in migrations/. Keep it small: a difference that can be designed
// out of the queries does not belong here.
type dialect interface {
	name() string
	// isUniqueViolation reports whether err is a unique or primary key
	// constraint violation.
	isUniqueViolation(err error) bool
	// lockMigrations serialises schema migrations across processes.
	lockMigrations(ctx context.Context, tx *sql.Tx) error
	// textSearch matches search_docs rows (as d) against full-text terms
	// given as the placeholder param (see searchdialect.go).
	textSearch(terms SearchTerms, param string) textMatch
}
