// Package store owns the schema and every query of the meeting app. It knows
// nothing of HTTP or WebRTC: app calls it with plain values. It speaks two
// dialects: an embedded SQLite file (the default) and PostgreSQL, picked by
// the DSN Open is given (dialect.go).
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// Store wraps the gorm handles. It is safe for concurrent use.
type Store struct {
	db *gorm.DB
	// read serves the queries that only read. On SQLite it is a pool of
	// its own: in WAL mode readers never wait for the one writer, so a
	// join's room lookup does not queue behind every attendance row and
	// chat message being written (the join storm in docs/BENCHMARKS.md).
	// On PostgreSQL it is db.
	read *gorm.DB
	// postgres is true for a PostgreSQL store, false for SQLite.
	postgres bool
	// dsn is a PostgreSQL store's URL: the event listener connects with
	// it (events.go).
	dsn string
	// bus hands a SQLite store's events to its listeners (events.go).
	bus eventBus
	// joins writes together the attendance rows of joins that come
	// together (joinbatch.go).
	joins joinBatcher
}

// models are the stored tables, in an order where none refers to a later
// one (there are no foreign keys today, but copies keep to it).
func models() []any {
	return []any{&Room{}, &Attendance{}, &ChatMessage{}, &StageMember{}, &Member{}, &APIKey{}, &Invite{}, &Recording{}, &Node{}, &Placement{}, &RoomPresence{}, &Secret{}}
}

// Open opens the store dsn names and migrates the schema: a postgres:// or
// postgresql:// URL is a PostgreSQL database (which must exist), anything
// else the path of a SQLite file, created with its directory if missing.
func Open(dsn string) (*Store, error) {
	if IsPostgres(dsn) {
		return openPostgres(dsn)
	}
	return openSQLite(dsn)
}

// gormConfig is the one configuration of every handle.
//   - No default transaction: every write here is one statement, which is
//     atomic on its own, and gorm's BEGIN and COMMIT around it tripled the
//     statements of a join's attendance row. Writes of several statements
//     say so (writeTx, Transaction).
//   - prepare caches each statement's compiled form per connection.
//     SQLite's driver otherwise parses and plans every query anew (a
//     twentieth of the server's CPU while a class joins at once). pgx
//     caches PostgreSQL's statements itself.
func gormConfig(prepare bool) *gorm.Config {
	return &gorm.Config{
		Logger:                 logger.Default.LogMode(logger.Silent),
		NowFunc:                func() time.Time { return time.Now().UTC() },
		SkipDefaultTransaction: true,
		PrepareStmt:            prepare,
	}
}

// openSQLite opens (or creates) the SQLite database at path, with WAL and
// a busy timeout.
func openSQLite(path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("store: create data directory: %w", err)
		}
	}
	// The pragmas go in the DSN so that every pooled connection gets them,
	// not only the first one.
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=5000&_foreign_keys=on&_synchronous=NORMAL"
	db, err := gorm.Open(sqlite.Open(dsn), gormConfig(true))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// Processes that open one file together migrate one after another
	// (writeTx: BEGIN IMMEDIATE), or both would create the same table.
	if err := (&Store{db: db}).writeTx("migrate", func(tx *gorm.DB) error { return tx.AutoMigrate(models()...) }); err != nil {
		closeDB(db)
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	// One connection: SQLite has one write lock, and a writer that loses
	// the race for it sleeps and polls (the busy timeout) while others keep
	// taking it, so under many small writes (a join, a leave, a chat
	// message each) an unlucky one starves past the timeout and fails
	// with "database is locked". Queued on one connection, every query
	// waits its turn in order instead; they each take well under a
	// millisecond. The churn test (app/churn_test.go) shows the difference.
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	sqlDB.SetMaxOpenConns(1)
	read, err := openSQLiteReader(dsn)
	if err != nil {
		closeDB(db)
		return nil, fmt.Errorf("store: open %s for reading: %w", path, err)
	}
	return &Store{db: db, read: read}, nil
}

// sqliteReaders bounds the reading connections of a SQLite store.
const sqliteReaders = 4

// openSQLiteReader opens the pool that serves a SQLite store's reads.
// Its connections refuse to write (_query_only), so a write sent there by
// mistake fails instead of racing the writer for the lock.
func openSQLiteReader(dsn string) (*gorm.DB, error) {
	read, err := gorm.Open(sqlite.Open(dsn+"&_query_only=1"), gormConfig(true))
	if err != nil {
		return nil, err
	}
	sqlDB, err := read.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(sqliteReaders)
	sqlDB.SetMaxIdleConns(sqliteReaders)
	return read, nil
}

// openPostgres connects to the PostgreSQL database url names. Its writers
// do not share one lock, so the pool keeps several connections.
func openPostgres(url string) (*Store, error) {
	db, err := gorm.Open(postgres.Open(url), gormConfig(false))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", redact(url), err)
	}
	// Nodes that start together migrate one after another (writeTx: an
	// advisory lock): two creating the same table at once collide in
	// PostgreSQL's catalog. DDL is transactional there, so the lock holds
	// for the whole migration.
	if err := (&Store{db: db, postgres: true}).writeTx("migrate", func(tx *gorm.DB) error { return tx.AutoMigrate(models()...) }); err != nil {
		closeDB(db)
		return nil, fmt.Errorf("store: migrate %s: %w", redact(url), err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	sqlDB.SetMaxOpenConns(postgresConns)
	sqlDB.SetMaxIdleConns(postgresConns)
	return &Store{db: db, read: db, postgres: true, dsn: url}, nil
}

// postgresConns bounds one process's connections to PostgreSQL.
const postgresConns = 16

func closeDB(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
}

// Close releases the database handles.
func (s *Store) Close() error {
	if s.read != s.db {
		closeDB(s.read)
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Dialect names the store's database: "sqlite" or "postgres".
func (s *Store) Dialect() string {
	if s.postgres {
		return "postgres"
	}
	return "sqlite"
}

// JournalMode reports SQLite's journal mode, so tests can check that WAL is
// on. PostgreSQL has none: there it is an error.
func (s *Store) JournalMode() (string, error) {
	if s.postgres {
		return "", errors.New("store: PostgreSQL has no journal mode")
	}
	var mode string
	err := s.db.Raw("PRAGMA journal_mode").Scan(&mode).Error
	return mode, err
}

// Ping checks that the database answers.
func (s *Store) Ping() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Ping()
}
