package storage_test

import (
	"context"
	"database/sql"
	"slices"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// openSQLite opens a fresh SQLite database whatever dialects the run has.
func openSQLite(t *testing.T) *storage.DB {
	t.Helper()
	return storagetest.Open(t, storagetest.URL(t, "sqlite"))
}

// queryStrings runs a query and returns its first column as strings.
func queryStrings(t *testing.T, q *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := q.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("scan %q: %v", query, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	return out
}

// TestSQLite_JSONEach proves the driver's SQLite has the JSON functions that
// queries may use.
func TestSQLite_JSONEach(t *testing.T) {
	db := openSQLite(t)
	t.Run("OK", func(t *testing.T) {
		got := queryStrings(t, storage.ReadPool(db), "SELECT value FROM json_each('[1,2,3]')")
		if want := []string{"1", "2", "3"}; !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("OKWithArgument", func(t *testing.T) {
		got := queryStrings(t, storage.ReadPool(db),
			"SELECT value FROM json_each($1) ORDER BY value", `["m.login.dummy","m.login.password"]`)
		if want := []string{"m.login.dummy", "m.login.password"}; !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func TestSQLite_Placeholders(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"None", "SELECT 1", "SELECT 1"},
		{"InOrder", "SELECT $1, $2", "SELECT ?1, ?2"},
		{"OutOfOrder", "UPDATE t SET a = $2 WHERE b = $1", "UPDATE t SET a = ?2 WHERE b = ?1"},
		{"Repeated", "VALUES ($1, $4, $4, $10)", "VALUES (?1, ?4, ?4, ?10)"},
		{"StringLiteral", "SELECT '$1', $1", "SELECT '$1', ?1"},
		{"EscapedQuote", "SELECT 'it''s $1', $2", "SELECT 'it''s $1', ?2"},
		{"QuotedIdentifier", `SELECT "a$1" FROM t WHERE x = $1`, `SELECT "a$1" FROM t WHERE x = ?1`},
		{"LineComment", "SELECT $1 -- it's $2\nFROM t WHERE y = $2", "SELECT ?1 -- it's $2\nFROM t WHERE y = ?2"},
		{"BlockComment", "SELECT /* $1 don't */ $1", "SELECT /* $1 don't */ ?1"},
		{"IdentifierDollar", "SELECT a$1 FROM t", "SELECT a$1 FROM t"},
		{"DollarAlone", "SELECT '$' || $1 || $", "SELECT '$' || ?1 || $"},
		{"Unterminated", "SELECT 'abc $1", "SELECT 'abc $1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := storage.SQLitePlaceholders(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDB_Placeholders checks that one query text binds the same way under
// every dialect, whatever order its $N appear in.
func TestDB_Placeholders(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		for _, tc := range []struct {
			name  string
			query string
			args  []any
			want  string
		}{
			{"OKInOrder", "SELECT CAST($1 AS TEXT) || CAST($2 AS TEXT)", []any{"a", "b"}, "ab"},
			{"OKOutOfOrder", "SELECT CAST($2 AS TEXT) || CAST($1 AS TEXT)", []any{"a", "b"}, "ba"},
			{"OKRepeated", "SELECT CAST($2 AS TEXT) || CAST($1 AS TEXT) || CAST($2 AS TEXT)", []any{"a", "b"}, "bab"},
			{"OKLiteral", "SELECT '$1' || CAST($1 AS TEXT)", []any{"x"}, "$1x"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var got string
				if err := storage.ReadPool(db).QueryRowContext(t.Context(), tc.query, tc.args...).Scan(&got); err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				if got != tc.want {
					t.Errorf("got %q, want %q", got, tc.want)
				}
			})
		}
		t.Run("OKInTx", func(t *testing.T) {
			// An UPDATE whose $2 comes first, as in SetPasswordHash.
			mustAccount(t, db, "alice")
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.SetPasswordHash(ctx, "alice", "changed")
			})
			got, err := db.Account(t.Context(), "alice")
			if err != nil || got.PasswordHash != "changed" {
				t.Fatalf("got %q, %v, want changed, nil", got.PasswordHash, err)
			}
		})
	})
}
