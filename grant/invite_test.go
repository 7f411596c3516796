package grant

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func goodInvite() Invite {
	return Invite{ID: "iv_aaaabbbbccccdddd", RoomID: testRoom, Role: RoleViewer, ExpiresAt: testNow.Add(time.Hour)}
}

func signedInvite(t testing.TB, inv Invite) string {
	t.Helper()
	raw, err := SignInvite(testSecret, inv)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// inviteClaimsMap is a valid invite's payload, for tokens built by hand.
func inviteClaimsMap() jwt.MapClaims {
	return jwt.MapClaims{
		"jti": "iv_aaaabbbbccccdddd", "room": testRoom, "role": RoleParticipant, "use": "invite",
		"exp": testNow.Add(time.Hour).Unix(), "iat": testNow.Unix(),
	}
}

func derivedKey(t testing.TB) []byte {
	t.Helper()
	key, err := inviteKey(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestVerifyInvite(t *testing.T) {
	key := derivedKey(t)
	_, priv := testKey()
	without := func(claim string) jwt.MapClaims {
		c := inviteClaimsMap()
		delete(c, claim)
		return c
	}
	with := func(claim string, v any) jwt.MapClaims {
		c := inviteClaimsMap()
		c[claim] = v
		return c
	}
	joinToken, err := SignToken(testKID, priv, Claims{UserID: "u1", Name: "Ana", RoomID: testRoom, ExpiresAt: testNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name string
		raw  string
		room string
		want error // nil: valid
	}{
		{"good", signedInvite(t, goodInvite()), testRoom, nil},
		{"good by hand", signRaw(t, jwt.SigningMethodHS256, key, nil, inviteClaimsMap()), testRoom, nil},
		{"expired", signedInvite(t, Invite{ID: "iv_x", RoomID: testRoom, Role: RoleViewer, ExpiresAt: testNow.Add(-time.Second)}), testRoom, ErrExpired},
		{"expires now", signedInvite(t, Invite{ID: "iv_x", RoomID: testRoom, Role: RoleViewer, ExpiresAt: testNow}), testRoom, ErrExpired},
		{"wrong room", signedInvite(t, goodInvite()), otherRoom, ErrInvalid},
		{"tampered room", tamper(t, signedInvite(t, goodInvite()), func(c map[string]any) { c["room"] = otherRoom }), otherRoom, ErrInvalid},
		{"tampered role", tamper(t, signedInvite(t, goodInvite()), func(c map[string]any) { c["role"] = RolePresenter }), testRoom, ErrInvalid},
		{"tampered expiry", tamper(t, signedInvite(t, Invite{ID: "iv_x", RoomID: testRoom, Role: RoleViewer, ExpiresAt: testNow.Add(-time.Hour)}),
			func(c map[string]any) { c["exp"] = testNow.Add(time.Hour).Unix() }), testRoom, ErrInvalid},
		{"wrong secret", signRaw(t, jwt.SigningMethodHS256, []byte("another secret, also 32 bytes long"), nil, inviteClaimsMap()), testRoom, ErrInvalid},
		// The identity cookies are MACs under the secret itself: an invite
		// under it must not verify, which is what the derived key is for.
		{"signed with the underived secret", signRaw(t, jwt.SigningMethodHS256, testSecret, nil, inviteClaimsMap()), testRoom, ErrInvalid},
		{"alg none", signRaw(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, inviteClaimsMap()), testRoom, ErrInvalid},
		{"HS512 with the right key", signRaw(t, jwt.SigningMethodHS512, key, nil, inviteClaimsMap()), testRoom, ErrInvalid},
		{"EdDSA", signRaw(t, jwt.SigningMethodEdDSA, priv, nil, inviteClaimsMap()), testRoom, ErrInvalid},
		{"join token as invite", joinToken, testRoom, ErrInvalid},
		{"no use", signRaw(t, jwt.SigningMethodHS256, key, nil, without("use")), testRoom, ErrInvalid},
		{"another use", signRaw(t, jwt.SigningMethodHS256, key, nil, with("use", "session")), testRoom, ErrInvalid},
		{"moderator", signRaw(t, jwt.SigningMethodHS256, key, nil, with("role", RoleModerator)), testRoom, ErrInvalid},
		{"owner", signRaw(t, jwt.SigningMethodHS256, key, nil, with("role", "owner")), testRoom, ErrInvalid},
		{"no role", signRaw(t, jwt.SigningMethodHS256, key, nil, without("role")), testRoom, ErrInvalid},
		{"role of the wrong type", signRaw(t, jwt.SigningMethodHS256, key, nil, with("role", 3)), testRoom, ErrInvalid},
		{"no exp", signRaw(t, jwt.SigningMethodHS256, key, nil, without("exp")), testRoom, ErrInvalid},
		{"exp a string", signRaw(t, jwt.SigningMethodHS256, key, nil, with("exp", "tomorrow")), testRoom, ErrInvalid},
		{"no jti", signRaw(t, jwt.SigningMethodHS256, key, nil, without("jti")), testRoom, ErrInvalid},
		{"jti too long", signRaw(t, jwt.SigningMethodHS256, key, nil, with("jti", strings.Repeat("i", 25))), testRoom, ErrInvalid},
		{"not yet valid", signRaw(t, jwt.SigningMethodHS256, key, nil, with("nbf", testNow.Add(time.Minute).Unix())), testRoom, ErrInvalid},
		{"empty", "", testRoom, ErrInvalid},
		{"garbage", "not.a.jwt", testRoom, ErrInvalid},
		{"two parts", "eyJhbGciOiJIUzI1NiJ9.e30", testRoom, ErrInvalid},
		{"huge", strings.Repeat("a", 5000) + "." + strings.Repeat("b", 5000) + ".c", testRoom, ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := VerifyInvite(testSecret, tt.raw, tt.room, testNow)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v, want a valid invite", err)
				}
				if inv.RoomID != testRoom || inv.ID != "iv_aaaabbbbccccdddd" || !ValidInviteRole(inv.Role) {
					t.Fatalf("invite = %+v", inv)
				}
				if !inv.ExpiresAt.Equal(testNow.Add(time.Hour)) {
					t.Fatalf("expires at %s, want %s", inv.ExpiresAt, testNow.Add(time.Hour))
				}
				return
			}
			if got := oneSentinel(t, err); got != tt.want {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if inv != (Invite{}) {
				t.Fatalf("a refused invite came back with %+v", inv)
			}
		})
	}
}

func TestVerifyInviteSaysWhy(t *testing.T) {
	_, err := VerifyInvite(testSecret, signedInvite(t, goodInvite()), otherRoom, testNow)
	if err == nil || !strings.Contains(err.Error(), "another room") {
		t.Fatalf("err = %v, want it to name the room", err)
	}
}

func TestSignInviteRefuses(t *testing.T) {
	good := goodInvite()
	for _, tt := range []struct {
		name   string
		secret []byte
		edit   func(*Invite)
	}{
		{"short secret", []byte("short"), func(*Invite) {}},
		{"no id", testSecret, func(i *Invite) { i.ID = "" }},
		{"long id", testSecret, func(i *Invite) { i.ID = strings.Repeat("i", 25) }},
		{"no room", testSecret, func(i *Invite) { i.RoomID = "" }},
		{"moderator", testSecret, func(i *Invite) { i.Role = RoleModerator }},
		{"no role", testSecret, func(i *Invite) { i.Role = "" }},
		{"no expiry", testSecret, func(i *Invite) { i.ExpiresAt = time.Time{} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv := good
			tt.edit(&inv)
			if raw, err := SignInvite(tt.secret, inv); err == nil {
				t.Fatalf("signed %+v as %s", inv, raw)
			}
		})
	}
	if _, err := VerifyInvite([]byte("short"), signedInvite(t, good), testRoom, testNow); err == nil {
		t.Fatal("verified with a short secret")
	}
}

func TestInviteRoundTripKeepsEveryRole(t *testing.T) {
	for _, role := range []string{RolePresenter, RoleParticipant, RoleViewer} {
		inv := goodInvite()
		inv.Role = role
		got, err := VerifyInvite(testSecret, signedInvite(t, inv), testRoom, testNow)
		if err != nil || got != inv {
			t.Fatalf("%s: got %+v, %v; want %+v", role, got, err, inv)
		}
	}
}

func TestInviteTTL(t *testing.T) {
	for _, tt := range []struct {
		seconds int
		want    time.Duration
		ok      bool
	}{
		{0, DefaultInviteTTL, true},
		{1, time.Second, true},
		{3600, time.Hour, true},
		{30 * 24 * 3600, MaxInviteTTL, true},
		{30*24*3600 + 1, 0, false},
		{-1, 0, false},
		{1 << 40, 0, false},
	} {
		got, err := InviteTTL(tt.seconds)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("InviteTTL(%d) = %s, %v; want %s, ok %v", tt.seconds, got, err, tt.want, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "ttl") {
			t.Errorf("InviteTTL(%d): error %q does not name the ttl", tt.seconds, err)
		}
	}
	if DefaultInviteTTL != 72*time.Hour || MaxInviteTTL != 30*24*time.Hour {
		t.Fatal("the documented lifetimes changed")
	}
}

func TestNewInviteID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewInviteID()
		if len(id) > maxInviteIDBytes || !strings.HasPrefix(id, "iv_") || strings.Trim(id[3:], base32Alphabet) != "" {
			t.Fatalf("NewInviteID() = %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate %q", id)
		}
		seen[id] = true
	}
}

func TestValidRoles(t *testing.T) {
	for role, want := range map[string][2]bool{
		RolePresenter: {true, true}, RoleParticipant: {true, true}, RoleViewer: {true, true},
		RoleModerator: {false, true}, "owner": {false, false}, "": {false, false}, "Viewer": {false, false},
	} {
		if got := [2]bool{ValidInviteRole(role), ValidTokenRole(role)}; got != want {
			t.Errorf("%q: invite, token = %v, want %v", role, got, want)
		}
	}
}

func FuzzVerifyInvite(f *testing.F) {
	good, err := SignInvite(testSecret, goodInvite())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, testRoom)
	f.Add(good, otherRoom)
	f.Add(good[:len(good)-3], testRoom)
	f.Add(strings.Replace(good, ".", "..", 1), testRoom)
	f.Add("", "")
	f.Add("a.b.c", testRoom)
	f.Add("eyJhbGciOiJub25lIn0.e30.", testRoom)
	f.Add(`eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.`, testRoom)
	f.Fuzz(func(t *testing.T, raw, room string) {
		inv, err := VerifyInvite(testSecret, raw, room, testNow)
		if err != nil {
			oneSentinel(t, err)
			return
		}
		if inv.RoomID != room || !ValidInviteRole(inv.Role) || inv.ID == "" || !inv.ExpiresAt.After(testNow) {
			t.Fatalf("accepted %q as %+v", raw, inv)
		}
	})
}
