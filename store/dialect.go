package store

import (
	"errors"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// What differs between the two dialects is kept here: how a DSN names
// one, how a writer serialises with the others, how a broken unique
// index reads, and what orders rows that share a creation time.

// IsPostgres reports whether dsn is a PostgreSQL URL (postgres:// or
// postgresql://) rather than a SQLite path.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// redact hides the password of a PostgreSQL URL for messages and logs.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(a PostgreSQL URL that does not parse)"
	}
	return u.Redacted()
}

// Redacted is dsn fit for a log line: a PostgreSQL URL without its
// password, a SQLite path as it is.
func Redacted(dsn string) string {
	if IsPostgres(dsn) {
		return redact(dsn)
	}
	return dsn
}

// advisoryLockClass is the first key of the PostgreSQL advisory locks that
// writeTx takes, so that they cannot meet another program's on a shared
// server ("meet" in ASCII).
const advisoryLockClass = 0x6d656574

// writeTx runs fn in a transaction that no other writeTx with the same key
// interleaves with, so that what fn reads (the last seq of a room) is still
// the latest when it writes. The unique (room_id, seq) index is the
// backstop.
//
// SQLite: BEGIN IMMEDIATE takes the database's write lock from the first
// statement (the key is not needed). A plain (deferred) transaction would
// read MAX(seq) under a shared lock and then fail with SQLITE_BUSY_SNAPSHOT
// when another writer committed in between, whichever room it wrote to;
// with BEGIN IMMEDIATE concurrent writers queue on the busy timeout
// instead.
//
// PostgreSQL: a transaction-scoped advisory lock on the key (a room id):
// writers of one room queue, other rooms' go on. Under READ COMMITTED each
// statement after the lock sees what the previous holder committed.
func (s *Store) writeTx(key string, fn func(tx *gorm.DB) error) error {
	if s.postgres {
		return s.db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?, hashtext(?))", advisoryLockClass, key).Error; err != nil {
				return err
			}
			return fn(tx)
		})
	}
	return s.db.Connection(func(conn *gorm.DB) (err error) {
		// gorm would otherwise wrap each statement in its own BEGIN, which
		// SQLite refuses inside our transaction.
		conn = conn.Session(&gorm.Session{SkipDefaultTransaction: true})
		if err := conn.Exec("BEGIN IMMEDIATE").Error; err != nil {
			return err
		}
		done := false
		defer func() {
			// Also on panic: the connection goes back to the pool and must
			// not carry an open transaction with it.
			if !done {
				if rbErr := conn.Exec("ROLLBACK").Error; rbErr != nil && err == nil {
					err = rbErr
				}
			}
		}()
		if err := fn(conn); err != nil {
			return err
		}
		if err := conn.Exec("COMMIT").Error; err != nil {
			return err
		}
		done = true
		return nil
	})
}

// isUniqueViolation reports whether err is the unique index on column of
// table (gorm's name for it: idx_<table>_<column>) refusing a row: SQLSTATE
// 23505 on that constraint from PostgreSQL, "UNIQUE constraint failed:
// table.column" from SQLite.
func isUniqueViolation(err error, table, column string) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505" && pgErr.ConstraintName == "idx_"+table+"_"+column
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed: "+table+"."+column)
}

// insertionOrder is the column that breaks ties between rows created at
// the same instant: SQLite's rowid, which counts insertions. PostgreSQL has
// no such column (ctid moves with updates), so there the primary key breaks
// them: deterministic, but not the order of insertion. Its timestamps keep
// microseconds, so rows created one after another rarely tie.
func (s *Store) insertionOrder() string {
	if s.postgres {
		return "id"
	}
	return "rowid"
}

// newestFirst orders rows by creation time, newest first.
func (s *Store) newestFirst() string {
	return "created_at DESC, " + s.insertionOrder() + " DESC"
}
