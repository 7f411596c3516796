package main

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"flag"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"meet/grant"
	"meet/store"
)

// apikey runs `meet apikey args...` and returns what it printed.
func apikey(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := runAPIKey(args, envOf(env), &out, io.Discard)
	return out.String(), err
}

// storeLookup is the key lookup the server makes of its store.
func storeLookup(db *store.Store) grant.KeyLookup {
	return func(kid string) (ed25519.PublicKey, error) {
		pub, err := db.APIKeyPublic(kid)
		return ed25519.PublicKey(pub), err
	}
}

func TestAPIKeyCommand(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "data", "meet.db")

	out, err := apikey(t, nil, "create", "-db", dbPath, "Shop backend")
	if err != nil {
		t.Fatal(err)
	}
	id := regexp.MustCompile(`(?m)^  id: +(ak_[a-z2-7]{12})$`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`(?m)^  secret: +(sk_[A-Za-z0-9_-]{43})$`).FindStringSubmatch(out)
	if id == nil || secret == nil || !strings.Contains(out, "cannot be shown again") {
		t.Fatalf("create printed:\n%s", out)
	}
	priv, err := grant.ParseSecret(secret[1])
	if err != nil {
		t.Fatal(err)
	}

	db, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored, err := db.APIKeyPublic(id[1])
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(stored)) {
		t.Fatal("the stored public key is not the secret's")
	}
	if keys, _ := db.APIKeys(); len(keys) != 1 || strings.Contains(keys[0].PublicKey, secret[1][3:]) {
		t.Fatalf("stored %+v", keys)
	}

	// A token signed with the printed secret gets in through the store.
	now := time.Now()
	token, err := grant.SignToken(id[1], priv, grant.Claims{UserID: "u-1", Name: "Ana", RoomID: "abcdefghjk", ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := grant.VerifyToken(token, "abcdefghjk", storeLookup(db), now)
	if err != nil || claims.UserID != "u-1" || claims.Role != grant.RoleParticipant {
		t.Fatalf("VerifyToken = %+v, %v", claims, err)
	}

	// The database through MEET_DB, flags and words in any order.
	env := map[string]string{"MEET_DB": dbPath}
	out, err = apikey(t, env, "list")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^` + id[1] + ` +Shop backend +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC +-$`).MatchString(out) {
		t.Fatalf("list printed:\n%s", out)
	}

	_, err = apikey(t, env, "create", "Shop backend")
	if err == nil || !strings.Contains(err.Error(), `named "Shop backend" exists already`) {
		t.Fatalf("a duplicate name: err = %v", err)
	}
	if keys, _ := db.APIKeys(); len(keys) != 1 {
		t.Fatalf("the duplicate was stored: %+v", keys)
	}

	out, err = apikey(t, nil, "revoke", "Shop backend", "-db", dbPath)
	if err != nil || !strings.Contains(out, "Revoked") {
		t.Fatalf("revoke = %q, %v", out, err)
	}
	_, err = grant.VerifyToken(token, "abcdefghjk", storeLookup(db), now)
	if !errors.Is(err, grant.ErrUnknownKey) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after revoking: err = %v, want ErrUnknownKey", err)
	}
	out, _ = apikey(t, env, "list")
	if strings.Contains(out, " -\n") || !strings.Contains(out, "Shop backend") {
		t.Fatalf("list after revoking:\n%s", out)
	}
	// Revoking again, by id, is fine; an unknown key is not.
	if _, err := apikey(t, env, "revoke", id[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := apikey(t, env, "revoke", "nobody"); err == nil || !strings.Contains(err.Error(), "no API key") {
		t.Fatalf("revoke unknown: %v", err)
	}
}

func TestAPIKeyCommandRefuses(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "meet.db")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "create NAME"},
		{[]string{"make", "x"}, "unknown command"},
		{[]string{"create"}, "one argument"},
		{[]string{"create", "a", "b"}, "one argument"},
		{[]string{"list", "x"}, "no argument"},
		{[]string{"revoke"}, "one argument"},
		{[]string{"create", " "}, "empty"},
		{[]string{"create", "ak_lookalike"}, "ak_"},
		{[]string{"create", "bell\a"}, "control"},
		{[]string{"create", strings.Repeat("n", 101)}, "longer"},
		{[]string{"-nope", "list"}, "nope"},
	} {
		_, err := apikey(t, map[string]string{"MEET_DB": dbPath}, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("apikey %q: err = %v, want it to say %q", tt.args, err, tt.want)
		}
	}
	// Listing or revoking where there is no database creates none.
	missing := filepath.Join(t.TempDir(), "nothing", "meet.db")
	for _, args := range [][]string{{"list"}, {"revoke", "x"}} {
		if _, err := apikey(t, nil, append(args, "-db", missing)...); err == nil || !strings.Contains(err.Error(), "no database") {
			t.Errorf("apikey %q on no database: err = %v", args, err)
		}
	}
	if _, err := apikey(t, nil, "-h"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err = %v, want flag.ErrHelp", err)
	}
	out, err := apikey(t, nil, "list", "-db", dbPath)
	if err == nil {
		t.Fatalf("listed a database no create made: %q", out)
	}
}
