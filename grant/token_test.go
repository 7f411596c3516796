package grant

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenClaimsMap is a valid join token's payload, for tokens built by hand.
func tokenClaimsMap() jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "user-42", "name": "Ana", "room": testRoom, "role": RolePresenter,
		"exp": testNow.Add(10 * time.Minute).Unix(),
	}
}

func TestVerifyToken(t *testing.T) {
	pub, priv := testKey()
	otherPriv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	kid := map[string]any{"kid": testKID}
	with := func(claim string, v any) jwt.MapClaims {
		c := tokenClaimsMap()
		c[claim] = v
		return c
	}
	without := func(claim string) jwt.MapClaims {
		c := tokenClaimsMap()
		delete(c, claim)
		return c
	}
	good := signRaw(t, jwt.SigningMethodEdDSA, priv, kid, tokenClaimsMap())
	invite, err := SignInvite(testSecret, goodInvite())
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name   string
		raw    string
		room   string
		want   error  // nil: valid
		role   string // the role a valid token gives
		lookup bool   // whether the key lookup may be asked
	}{
		{"good", good, testRoom, nil, RolePresenter, true},
		{"no role is participant", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, without("role")), testRoom, nil, RoleParticipant, true},
		{"moderator", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, with("role", RoleModerator)), testRoom, nil, RoleModerator, true},
		{"viewer", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, with("role", RoleViewer)), testRoom, nil, RoleViewer, true},
		{"nbf in the past", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, with("nbf", testNow.Add(-time.Minute).Unix())), testRoom, nil, RolePresenter, true},
		{"iat", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, with("iat", testNow.Add(-time.Minute).Unix())), testRoom, nil, RolePresenter, true},
		{"nbf within the clock skew", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, with("nbf", testNow.Add(10*time.Second).Unix())), testRoom, nil, RolePresenter, true},
		{"exp just within 24 h", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, with("exp", testNow.Add(MaxTokenTTL).Unix())), testRoom, nil, RolePresenter, true},
		{"name with spaces around", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, with("name", "  Ana  ")), testRoom, nil, RolePresenter, true},

		{"expired", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, with("exp", testNow.Add(-time.Minute).Unix())), testRoom, ErrExpired, "", true},
		{"not yet valid", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, with("nbf", testNow.Add(time.Minute).Unix())), testRoom, ErrInvalid, "", true},
		{"wrong room", good, otherRoom, ErrInvalid, "", true},
		{"no room", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, without("room")), testRoom, ErrInvalid, "", true},
		{"tampered role", tamper(t, good, func(c map[string]any) { c["role"] = RoleModerator }), testRoom, ErrInvalid, "", true},
		{"tampered room", tamper(t, good, func(c map[string]any) { c["room"] = otherRoom }), otherRoom, ErrInvalid, "", true},
		{"tampered kid", strings.Replace(good, good[:strings.IndexByte(good, '.')],
			signRaw(t, jwt.SigningMethodEdDSA, priv, map[string]any{"kid": "ak_zzzzzzzzzzzz"}, tokenClaimsMap())[:strings.IndexByte(good, '.')], 1), testRoom, ErrUnknownKey, "", true},
		{"wrong key", signRaw(t, jwt.SigningMethodEdDSA, otherPriv, kid, tokenClaimsMap()), testRoom, ErrInvalid, "", true},
		{"alg none", signRaw(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, tokenClaimsMap()), testRoom, ErrInvalid, "", false},
		// The classic confusion: HMAC "signed" with the public key, which
		// a verifier that trusts the header's alg would check with it.
		{"HS256 with the public key", signRaw(t, jwt.SigningMethodHS256, []byte(pub), kid, tokenClaimsMap()), testRoom, ErrInvalid, "", false},
		{"HS256 with the public key as text", signRaw(t, jwt.SigningMethodHS256, []byte(string(pub)), kid, tokenClaimsMap()), testRoom, ErrInvalid, "", false},
		{"invite as join token", invite, testRoom, ErrInvalid, "", false},
		{"no exp", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, without("exp")), testRoom, ErrInvalid, "", true},
		{"exp too far", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, with("exp", testNow.Add(MaxTokenTTL+time.Hour).Unix())), testRoom, ErrInvalid, "", true},
		{"exp a string", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, with("exp", "soon")), testRoom, ErrInvalid, "", false},
		{"unknown kid", signRaw(t, jwt.SigningMethodEdDSA, priv, map[string]any{"kid": "ak_zzzzzzzzzzzz"}, tokenClaimsMap()), testRoom, ErrUnknownKey, "", true},
		{"kid of another shape", signRaw(t, jwt.SigningMethodEdDSA, priv, map[string]any{"kid": "../../etc/passwd"}, tokenClaimsMap()), testRoom, ErrUnknownKey, "", false},
		{"kid a number", signRaw(t, jwt.SigningMethodEdDSA, priv, map[string]any{"kid": 7}, tokenClaimsMap()), testRoom, ErrInvalid, "", false},
		{"no kid", signRaw(t, jwt.SigningMethodEdDSA, priv, nil, tokenClaimsMap()), testRoom, ErrInvalid, "", false},
		{"owner role", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, with("role", "owner")), testRoom, ErrInvalid, "", true},
		{"no sub", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, without("sub")), testRoom, ErrInvalid, "", true},
		{"sub with a space", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, with("sub", "user 42")), testRoom, ErrInvalid, "", true},
		{"sub with a control character", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, with("sub", "user\x0042")), testRoom, ErrInvalid, "", true},
		{"sub too long", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, with("sub", strings.Repeat("u", 65))), testRoom, ErrInvalid, "", true},
		{"no name", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, without("name")), testRoom, ErrInvalid, "", true},
		{"blank name", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, with("name", " \t ")), testRoom, ErrInvalid, "", true},
		{"name too long", signRaw(t, jwt.SigningMethodEdDSA, priv, kid, with("name", strings.Repeat("名", 65))), testRoom, ErrInvalid, "", true},
		{"empty", "", testRoom, ErrInvalid, "", false},
		{"garbage", "a.b.c", testRoom, ErrInvalid, "", false},
		{"huge", strings.Repeat("a", 5000) + ".b.c", testRoom, ErrInvalid, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			c, err := VerifyToken(tt.raw, tt.room, lookupOf(map[string]ed25519.PublicKey{testKID: pub}, &calls), testNow)
			if calls > 0 && !tt.lookup {
				t.Errorf("the key lookup was asked about a token it should never see")
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v, want a valid token", err)
				}
				if c.UserID != "user-42" || c.Name != "Ana" || c.RoomID != testRoom || c.Role != tt.role || c.ExpiresAt.IsZero() {
					t.Fatalf("claims = %+v", c)
				}
				return
			}
			if got := oneSentinel(t, err); got != tt.want {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if c != (Claims{}) {
				t.Fatalf("a refused token came back with %+v", c)
			}
		})
	}
}

func TestVerifyTokenSaysWhy(t *testing.T) {
	pub, priv := testKey()
	keys := lookupOf(map[string]ed25519.PublicKey{testKID: pub}, nil)
	raw := signRaw(t, jwt.SigningMethodEdDSA, priv, map[string]any{"kid": testKID}, tokenClaimsMap())
	if _, err := VerifyToken(raw, otherRoom, keys, testNow); err == nil || !strings.Contains(err.Error(), "the token is for another room") {
		t.Errorf("wrong room: %v", err)
	}
	far := tokenClaimsMap()
	far["exp"] = testNow.Add(48 * time.Hour).Unix()
	raw = signRaw(t, jwt.SigningMethodEdDSA, priv, map[string]any{"kid": testKID}, far)
	if _, err := VerifyToken(raw, testRoom, keys, testNow); err == nil || !strings.Contains(err.Error(), "24h") {
		t.Errorf("exp too far: %v", err)
	}
	noExp := tokenClaimsMap()
	delete(noExp, "exp")
	raw = signRaw(t, jwt.SigningMethodEdDSA, priv, map[string]any{"kid": testKID}, noExp)
	if _, err := VerifyToken(raw, testRoom, keys, testNow); err == nil || !strings.Contains(err.Error(), "exp") {
		t.Errorf("no exp: %v", err)
	}
}

// A revoked key is one the lookup refuses: the token is then ErrUnknownKey,
// and the lookup's own error still shows through.
func TestVerifyTokenRevokedKey(t *testing.T) {
	_, priv := testKey()
	raw, err := SignToken(testKID, priv, Claims{UserID: "u1", Name: "Ana", RoomID: testRoom, ExpiresAt: testNow.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	revoked := lookupOf(nil, nil)
	_, err = VerifyToken(raw, testRoom, revoked, testNow)
	if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, errNoSuchKey) {
		t.Fatalf("err = %v, want ErrUnknownKey wrapping the lookup's error", err)
	}
	oneSentinel(t, err)
	if _, err := VerifyToken(raw, testRoom, nil, testNow); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("nil lookup: err = %v", err)
	}
	short := func(string) (ed25519.PublicKey, error) { return ed25519.PublicKey("short"), nil }
	if _, err := VerifyToken(raw, testRoom, short, testNow); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("a stored key of the wrong size: err = %v", err)
	}
}

func TestSignTokenRoundTrip(t *testing.T) {
	pub, priv := testKey()
	keys := lookupOf(map[string]ed25519.PublicKey{testKID: pub}, nil)
	want := Claims{UserID: "ext|42", Name: "Zoë", RoomID: testRoom, Role: RoleModerator, ExpiresAt: testNow.Add(time.Hour)}
	raw, err := SignToken(testKID, priv, want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyToken(raw, testRoom, keys, testNow)
	if err != nil || got != want {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
	// Ed25519 is deterministic: the same claims, the same token.
	again, _ := SignToken(testKID, priv, want)
	if again != raw {
		t.Fatal("signing the same claims twice gave two tokens")
	}
}

func TestSignTokenRefuses(t *testing.T) {
	_, priv := testKey()
	good := Claims{UserID: "u1", Name: "Ana", RoomID: testRoom, ExpiresAt: testNow.Add(time.Hour)}
	for _, tt := range []struct {
		name string
		kid  string
		priv ed25519.PrivateKey
		edit func(*Claims)
	}{
		{"bad kid", "key-1", priv, func(*Claims) {}},
		{"no private key", testKID, nil, func(*Claims) {}},
		{"no expiry", testKID, priv, func(c *Claims) { c.ExpiresAt = time.Time{} }},
		{"no user", testKID, priv, func(c *Claims) { c.UserID = "" }},
		{"no name", testKID, priv, func(c *Claims) { c.Name = " " }},
		{"no room", testKID, priv, func(c *Claims) { c.RoomID = "" }},
		{"bad role", testKID, priv, func(c *Claims) { c.Role = "owner" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			if raw, err := SignToken(tt.kid, tt.priv, c); err == nil {
				t.Fatalf("signed %+v as %s", c, raw)
			}
		})
	}
}

func TestNewAPIKey(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, pub, secret, err := NewAPIKey()
		if err != nil {
			t.Fatal(err)
		}
		if !validKeyID(id) || seen[id] {
			t.Fatalf("id %q is malformed or repeated", id)
		}
		seen[id] = true
		if !strings.HasPrefix(secret, "sk_") || len(secret) != 3+43 {
			t.Fatalf("secret %q", secret)
		}
		priv, err := ParseSecret(secret)
		if err != nil {
			t.Fatal(err)
		}
		if !pub.Equal(priv.Public()) {
			t.Fatal("the secret is not the private half of the public key")
		}
	}
}

func TestParseSecretRefuses(t *testing.T) {
	_, _, secret, err := NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSecret("  " + secret + "\n"); err != nil {
		t.Fatalf("a pasted secret with spaces around: %v", err)
	}
	for _, bad := range []string{"", "sk_", secret[3:], "pk_" + secret[3:], secret[:len(secret)-1], secret + "AA", "sk_!!!!", strings.Replace(secret, "sk_", "sk_=", 1)} {
		if _, err := ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q) accepted it", bad)
		}
	}
}

func TestValidKeyID(t *testing.T) {
	for kid, want := range map[string]bool{
		testKID: true, "ak_234567abcdef": true,
		"": false, "ak_": false, "ak_abcdefghijk": false, "ak_abcdefghijkmn": false,
		"ak_ABCDEFGHIJKM": false, "ak_abcdefghijk1": false, "sk_abcdefghijkm": false,
	} {
		if validKeyID(kid) != want {
			t.Errorf("validKeyID(%q) = %v", kid, !want)
		}
	}
}

func FuzzVerifyToken(f *testing.F) {
	pub, priv := testKey()
	good, err := SignToken(testKID, priv, Claims{UserID: "u1", Name: "Ana", RoomID: testRoom, Role: RoleViewer, ExpiresAt: testNow.Add(time.Hour)})
	if err != nil {
		f.Fatal(err)
	}
	invite, err := SignInvite(testSecret, goodInvite())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, testRoom)
	f.Add(good, otherRoom)
	f.Add(good[:len(good)-2], testRoom)
	f.Add(invite, testRoom)
	f.Add(signRaw(f, jwt.SigningMethodHS256, []byte(pub), map[string]any{"kid": testKID}, tokenClaimsMap()), testRoom)
	f.Add(signRaw(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": testKID}, tokenClaimsMap()), testRoom)
	f.Add("", "")
	f.Add("..", testRoom)
	f.Add(`eyJhbGciOiJFZERTQSIsImtpZCI6WzFdfQ.e30.`, testRoom)
	keys := lookupOf(map[string]ed25519.PublicKey{testKID: pub}, nil)
	f.Fuzz(func(t *testing.T, raw, room string) {
		c, err := VerifyToken(raw, room, keys, testNow)
		if err != nil {
			oneSentinel(t, err)
			return
		}
		if c.RoomID != room || !ValidTokenRole(c.Role) || !validUserID(c.UserID) || !validName(c.Name) ||
			!c.ExpiresAt.After(testNow.Add(-clockSkew)) || c.ExpiresAt.After(testNow.Add(MaxTokenTTL+clockSkew)) {
			t.Fatalf("accepted %q as %+v", raw, c)
		}
	})
}
