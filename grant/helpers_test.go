package grant

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Every test runs at this fixed time; nothing reads the wall clock.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	testRoom  = "abcdefghjk"
	otherRoom = "zyxwvutsrq"
	testKID   = "ak_abcdefghijkm"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// testKey is the API key of the tests, from a fixed seed.
func testKey() (ed25519.PublicKey, ed25519.PrivateKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

// lookupOf returns a KeyLookup that knows keys and counts its calls.
func lookupOf(keys map[string]ed25519.PublicKey, calls *int) KeyLookup {
	return func(kid string) (ed25519.PublicKey, error) {
		if calls != nil {
			*calls++
		}
		if pub, ok := keys[kid]; ok {
			return pub, nil
		}
		return nil, errNoSuchKey
	}
}

var errNoSuchKey = errors.New("no such key in the test store")

// signRaw signs claims with method and key, with extra header fields: the
// way a test builds tokens that SignToken and SignInvite refuse to make.
func signRaw(tb testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	tb.Helper()
	token := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		token.Header[k] = v
	}
	raw, err := token.SignedString(key)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return raw
}

// tamper rewrites the payload of raw with edit and keeps the signature.
func tamper(tb testing.TB, raw string, edit func(map[string]any)) string {
	tb.Helper()
	parts := strings.Split(raw, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		tb.Fatal(err)
	}
	edit(claims)
	payload, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

// oneSentinel fails unless err matches exactly one of the package's
// errors: a caller's errors.Is switch must never be ambiguous.
func oneSentinel(tb testing.TB, err error) error {
	tb.Helper()
	var matched []error
	for _, s := range []error{ErrExpired, ErrInvalid, ErrUnknownKey} {
		if errors.Is(err, s) {
			matched = append(matched, s)
		}
	}
	if len(matched) != 1 {
		tb.Fatalf("error %q matches %d of the package's errors, want exactly one", err, len(matched))
	}
	return matched[0]
}
