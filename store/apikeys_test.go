package store

import (
	"bytes"
	"errors"
	"testing"

	"meet/store/storetest"
)

func TestAPIKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, path := mustOpen(t, d)
		pub := bytes.Repeat([]byte{1}, 32)
		if err := s.CreateAPIKey("ak_aaaaaaaaaaaa", "shop", pub); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAPIKey("ak_bbbbbbbbbbbb", "school", bytes.Repeat([]byte{2}, 32)); err != nil {
			t.Fatal(err)
		}

		got, err := s.APIKeyPublic("ak_aaaaaaaaaaaa")
		if err != nil || !bytes.Equal(got, pub) {
			t.Fatalf("APIKeyPublic = %x, %v; want %x", got, err, pub)
		}
		for _, id := range []string{"", "ak_cccccccccccc", "shop"} {
			if _, err := s.APIKeyPublic(id); !errors.Is(err, ErrNotFound) {
				t.Errorf("APIKeyPublic(%q) err = %v, want ErrNotFound", id, err)
			}
		}

		err = s.CreateAPIKey("ak_cccccccccccc", "shop", pub)
		if !errors.Is(err, ErrNameTaken) {
			t.Fatalf("a second key named shop: err = %v, want ErrNameTaken", err)
		}
		if err.Error() != `store: API key name "shop": name taken` {
			t.Errorf("the error says %q", err)
		}

		keys, err := s.APIKeys()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 2 || keys[0].Name != "shop" || keys[1].Name != "school" || keys[0].CreatedAt.IsZero() || keys[0].RevokedAt != nil {
			t.Fatalf("APIKeys = %+v", keys)
		}

		// By name, then by id; again is a no-op that keeps the first time.
		if err := s.RevokeAPIKey("shop"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.APIKeyPublic("ak_aaaaaaaaaaaa"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a revoked key: err = %v, want ErrNotFound", err)
		}
		keys, _ = s.APIKeys()
		first := keys[0].RevokedAt
		if first == nil || keys[1].RevokedAt != nil {
			t.Fatalf("after revoking shop: %+v", keys)
		}
		if err := s.RevokeAPIKey("ak_aaaaaaaaaaaa"); err != nil {
			t.Fatal(err)
		}
		keys, _ = s.APIKeys()
		if !keys[0].RevokedAt.Equal(*first) {
			t.Fatalf("revoking again moved the time from %s to %s", first, keys[0].RevokedAt)
		}
		if err := s.RevokeAPIKey("nobody"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoke unknown: err = %v", err)
		}
		// A revoked key keeps its name.
		if err := s.CreateAPIKey("ak_dddddddddddd", "shop", pub); !errors.Is(err, ErrNameTaken) {
			t.Fatalf("reusing a revoked key's name: err = %v", err)
		}

		// Everything survives a reopen.
		s.Close()
		again, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close()
		if got, err := again.APIKeyPublic("ak_bbbbbbbbbbbb"); err != nil || !bytes.Equal(got, bytes.Repeat([]byte{2}, 32)) {
			t.Fatalf("after reopening: %x, %v", got, err)
		}
		if _, err := again.APIKeyPublic("ak_aaaaaaaaaaaa"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after reopening, the revoked key: err = %v", err)
		}
	})
}

// An id that is another key's name revokes the key with that id.
func TestRevokeAPIKeyPrefersTheID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		if err := s.CreateAPIKey("ak_aaaaaaaaaaaa", "first", []byte{1}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAPIKey("ak_bbbbbbbbbbbb", "ak_aaaaaaaaaaaa", []byte{2}); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeAPIKey("ak_aaaaaaaaaaaa"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.APIKeyPublic("ak_aaaaaaaaaaaa"); !errors.Is(err, ErrNotFound) {
			t.Fatal("the key with that id is still in use")
		}
		if _, err := s.APIKeyPublic("ak_bbbbbbbbbbbb"); err != nil {
			t.Fatalf("the key with that name was revoked: %v", err)
		}
	})
}
