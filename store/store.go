// Package store owns the schema and every query of the meeting app. It knows
// nothing of HTTP or WebRTC: app calls it with plain values.
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// Store wraps the gorm handle. It is safe for concurrent use.
type Store struct {
	db *gorm.DB
}

// Open opens (or creates) the SQLite database at path, turns on WAL and a
// busy timeout, and migrates the schema. The parent directory is created.
func Open(path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("store: create data directory: %w", err)
		}
	}
	// The pragmas go in the DSN so that every pooled connection gets them,
	// not only the first one.
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=5000&_foreign_keys=on&_synchronous=NORMAL"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{
		Logger:  logger.Default.LogMode(logger.Silent),
		NowFunc: func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := db.AutoMigrate(&Room{}, &Attendance{}, &ChatMessage{}, &StageMember{}, &Member{}, &APIKey{}, &Invite{}, &Recording{}); err != nil {
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
	return &Store{db: db}, nil
}

// Close releases the database handle.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// JournalMode reports SQLite's journal mode, so tests can check that WAL is on.
func (s *Store) JournalMode() (string, error) {
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
