package storage_test

import (
	"database/sql"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// TestSchema_Dialects checks that the two migration trees describe one
// schema: the same migration files, and after migrating the same tables
// with the same columns and the same named indexes.
func TestSchema_Dialects(t *testing.T) {
	t.Run("SameMigrationFiles", func(t *testing.T) {
		lite, pg := migrationFiles(t, "sqlite"), migrationFiles(t, "postgres")
		if !slices.Equal(lite, pg) {
			t.Errorf("migration files: got sqlite %q and postgres %q, want the same names", lite, pg)
		}
		if len(lite) != storage.SchemaVersion() {
			t.Errorf("migration files: got %d, want SchemaVersion() = %d", len(lite), storage.SchemaVersion())
		}
	})
	t.Run("SameColumns", func(t *testing.T) {
		if os.Getenv(storagetest.EnvPostgres) == "" {
			t.Skipf("%s is not set", storagetest.EnvPostgres)
		}
		lite := sqliteColumns(t, storage.ReadPool(openSQLite(t)))
		pg := postgresColumns(t, storage.ReadPool(storagetest.Open(t, storagetest.URL(t, "postgres"))))
		if len(lite) == 0 {
			t.Fatal("sqlite schema: got no tables, want some")
		}
		tables := slices.Concat(slices.Collect(maps.Keys(lite)), slices.Collect(maps.Keys(pg)))
		slices.Sort(tables)
		for _, table := range slices.Compact(tables) {
			got, want := pg[table], lite[table]
			switch {
			case want == nil:
				t.Errorf("table %s: only in postgres", table)
			case got == nil:
				t.Errorf("table %s: only in sqlite", table)
			case !slices.Equal(sorted(got), sorted(want)):
				t.Errorf("table %s columns: got postgres %q, want sqlite's %q", table, got, want)
			}
		}
	})
	t.Run("SameIndexes", func(t *testing.T) {
		if os.Getenv(storagetest.EnvPostgres) == "" {
			t.Skipf("%s is not set", storagetest.EnvPostgres)
		}
		// Indexes created by name; the implicit ones behind primary keys
		// and UNIQUE constraints are named differently per engine, and
		// full-text indexes are GIN indexes here, FTS tables (left out of
		// SameColumns) in SQLite.
		lite := queryStrings(t, storage.ReadPool(openSQLite(t)),
			"SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
		pg := queryStrings(t, storage.ReadPool(storagetest.Open(t, storagetest.URL(t, "postgres"))),
			`SELECT i.relname FROM pg_index x
				JOIN pg_class i ON i.oid = x.indexrelid
				JOIN pg_namespace n ON n.oid = i.relnamespace
				JOIN pg_am a ON a.oid = i.relam
			WHERE n.nspname = current_schema() AND a.amname <> 'gin'
				AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
			ORDER BY i.relname`)
		if !slices.Equal(lite, pg) {
			t.Errorf("indexes: got postgres %q, want sqlite's %q", pg, lite)
		}
	})
}

// migrationFiles lists the .sql files of migrations/dialect.
func migrationFiles(t *testing.T, dialect string) []string {
	t.Helper()
	entries, err := os.ReadDir("migrations/" + dialect)
	if err != nil {
		t.Fatalf("read migrations/%s: %v", dialect, err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	return names
}

// sqliteColumns maps each table to its column names.
func sqliteColumns(t *testing.T, q *sql.DB) map[string][]string {
	t.Helper()
	return tableColumns(t, q, `SELECT m.name, p.name
		FROM sqlite_master m JOIN pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
			AND m.name NOT IN (SELECT name FROM pragma_table_list WHERE type IN ('virtual', 'shadow'))
		ORDER BY m.name, p.cid`)
}

// postgresColumns maps each table of the connection's schema to its column
// names.
func postgresColumns(t *testing.T, q *sql.DB) map[string][]string {
	t.Helper()
	return tableColumns(t, q, `SELECT table_name, column_name
		FROM information_schema.columns WHERE table_schema = current_schema()
		ORDER BY table_name, ordinal_position`)
}

func tableColumns(t *testing.T, q *sql.DB, query string) map[string][]string {
	t.Helper()
	rows, err := q.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatalf("list columns: %v", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			t.Fatalf("list columns: %v", err)
		}
		out[table] = append(out[table], column)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("list columns: %v", err)
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
