package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"meet/store"
	"meet/store/storetest"
)

// TestSecretIsSharedThroughTheDatabase: the identity secret lives in the
// database. A node from before keeps its secret.key's (the table is seeded
// from it), and another node on the same database, with no file of its
// own, gets that same secret; -secret wins over both.
func TestSecretIsSharedThroughTheDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		dsn := d.NewDSN(t)
		db1, err := store.Open(dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db1.Close()
		// The first node has an older secret.key in its data directory.
		dir1 := t.TempDir()
		old := []byte("0123456789abcdef0123456789abcdef-old")
		if err := os.WriteFile(filepath.Join(dir1, "secret.key"), append(old, '\n'), 0o600); err != nil {
			t.Fatal(err)
		}
		node1 := &config{dbPath: dsn, dataDirFlag: dir1}
		s1, err := node1.sharedSecret(db1)
		if err != nil || !bytes.Equal(s1, old) {
			t.Fatalf("node 1: %q, %v; want its old secret.key", s1, err)
		}
		// The second has none: it reads the database's.
		db2, err := store.Open(dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db2.Close()
		dir2 := t.TempDir()
		node2 := &config{dbPath: dsn, dataDirFlag: dir2}
		s2, err := node2.sharedSecret(db2)
		if err != nil || !bytes.Equal(s2, old) {
			t.Fatalf("node 2: %q, %v; want node 1's", s2, err)
		}
		if _, err := os.Stat(filepath.Join(dir2, "secret.key")); !os.IsNotExist(err) {
			t.Fatalf("node 2 wrote a secret.key of its own: %v", err)
		}
		given := &config{dbPath: dsn, dataDirFlag: dir2, secret: "a given secret of at least 32 characters"}
		if s, err := given.sharedSecret(db2); err != nil || string(s) != given.secret {
			t.Fatalf("-secret: %q, %v", s, err)
		}
	})
}

// TestSecretOfANewSQLiteNode: a new SQLite node makes a secret, keeps it
// in the database and in secret.key, and has it again on the next start.
func TestSecretOfANewSQLiteNode(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "meet.db")
	db, err := store.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := &config{dbPath: dsn}
	s1, err := cfg.sharedSecret(db)
	if err != nil || len(s1) < 32 {
		t.Fatalf("%q, %v", s1, err)
	}
	kept, err := os.ReadFile(filepath.Join(dir, "secret.key"))
	if err != nil || string(bytes.TrimSpace(kept)) != string(s1) {
		t.Fatalf("secret.key = %q, %v", kept, err)
	}
	s2, err := cfg.sharedSecret(db)
	if err != nil || !bytes.Equal(s1, s2) {
		t.Fatalf("the secret changed: %q, %v", s2, err)
	}
}
