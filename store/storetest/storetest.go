// Package storetest gives tests a fresh, empty store database in each
// dialect the store speaks: a SQLite file in the test's temporary
// directory, and a PostgreSQL database of its own on the throwaway cluster
// that MEET_TEST_POSTGRES names (an admin DSN: it must be allowed to
// create databases). scripts/test.sh starts such a cluster. Without it
// the PostgreSQL runs skip, or fail when CI is set.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// EnvPostgres names the environment variable that holds the admin DSN of
// the test cluster, e.g. postgres://meet@127.0.0.1:25432/meet?sslmode=disable.
const EnvPostgres = "MEET_TEST_POSTGRES"

// Dialect is one kind of database a test runs against.
type Dialect struct {
	// Name is "sqlite" or "postgres", the name of the subtest.
	Name string
	// NewDSN returns the DSN of a fresh, empty database for tb, removed
	// when tb ends. Opening it twice reaches the same database.
	NewDSN func(tb testing.TB) string
}

// Dialects lists every dialect: SQLite, then PostgreSQL.
func Dialects() []Dialect {
	return []Dialect{{Name: "sqlite", NewDSN: SQLiteDSN}, {Name: "postgres", NewDSN: PostgresDSN}}
}

// Each runs body once per dialect, as subtests named after them.
func Each(t *testing.T, body func(t *testing.T, d Dialect)) {
	t.Helper()
	for _, d := range Dialects() {
		t.Run(d.Name, func(t *testing.T) { body(t, d) })
	}
}

// SQLiteDSN is the path of a new SQLite file in tb's temporary directory.
func SQLiteDSN(tb testing.TB) string {
	return filepath.Join(tb.TempDir(), "meet.db")
}

// PostgresDSN creates a database of its own for tb on the cluster of
// MEET_TEST_POSTGRES and returns its URL; the database is dropped when tb
// ends. Without MEET_TEST_POSTGRES, tb skips, or fails when CI is set: a
// CI run that cannot test PostgreSQL must not pass as if it had.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		const msg = EnvPostgres + " is empty: no PostgreSQL cluster to test against (scripts/test.sh starts one)"
		if os.Getenv("CI") != "" {
			tb.Fatal("CI is set, so this cannot be skipped: " + msg)
		}
		tb.Skip(msg)
	}
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("%s: %v", EnvPostgres, err)
	}
	raw := make([]byte, 8)
	rand.Read(raw)
	name := "t_" + hex.EncodeToString(raw)
	exec(tb, admin, "CREATE DATABASE "+name)
	tb.Cleanup(func() { exec(tb, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u.Path = "/" + name
	return u.String()
}

// exec runs one statement through the admin DSN, on a connection of its
// own (CREATE and DROP DATABASE refuse to run in a transaction).
func exec(tb testing.TB, dsn, stmt string) {
	tb.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatalf("%s: %v", EnvPostgres, err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		tb.Fatalf("%s: %v", stmt, err)
	}
}
