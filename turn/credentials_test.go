package turn

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"
)

// fixedClock returns a clock stopped at the given unix second.
func fixedClock(unix int64) func() time.Time {
	return func() time.Time { return time.Unix(unix, 0) }
}

func TestCredentialsRoundTrip(t *testing.T) {
	creds := Credentials{Secret: testSecret, TTL: time.Hour, Now: fixedClock(1_700_000_000)}
	for _, userID := range []string{"alice", "room:42:alice", "ünïcode id"} {
		username, password, expires := creds.Issue(userID)

		if want := "1700003600:" + userID; username != want {
			t.Errorf("username = %q, want %q", username, want)
		}
		if !expires.Equal(time.Unix(1_700_003_600, 0)) {
			t.Errorf("expires = %v, want now + TTL", expires)
		}
		got, err := creds.check(username, password)
		if err != nil || got != userID {
			t.Errorf("check(%q) = %q, %v; want %q", username, got, err, userID)
		}
	}
}

// TestCredentialsPasswordIsHMACSHA1 pins the wire format that coturn's
// use-auth-secret expects, computed here independently.
func TestCredentialsPasswordIsHMACSHA1(t *testing.T) {
	creds := Credentials{Secret: []byte("coturn-static-auth-secret"), TTL: 24 * time.Hour}
	username, password, _ := creds.Issue("participant-7")

	mac := hmac.New(sha1.New, []byte("coturn-static-auth-secret"))
	mac.Write([]byte(username))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); password != want {
		t.Fatalf("password = %q, want base64(HMAC-SHA1(secret, %q)) = %q", password, username, want)
	}
	expiry, userID, _ := strings.Cut(username, ":")
	if _, err := strconv.ParseInt(expiry, 10, 64); err != nil || userID != "participant-7" {
		t.Fatalf("username %q is not <unix expiry>:<user id>", username)
	}
}

// TestCredentialsAcceptPionsTURNRESTCredentials: pion's generator is another
// implementation of the same scheme, so each side must accept the other's.
func TestCredentialsAcceptPionsTURNRESTCredentials(t *testing.T) {
	username, password, err := pionturn.GenerateLongTermTURNRESTCredentials(string(testSecret), "bob", time.Hour)
	if err != nil {
		t.Fatalf("pion generator: %v", err)
	}
	if userID, err := (Credentials{Secret: testSecret}).check(username, password); err != nil || userID != "bob" {
		t.Fatalf("check(pion's %q) = %q, %v; want bob", username, userID, err)
	}
}

func TestCredentialsRefuseTampering(t *testing.T) {
	creds := Credentials{Secret: testSecret, TTL: time.Hour, Now: fixedClock(1_700_000_000)}
	username, password, _ := creds.Issue("alice")
	expiry, _, _ := strings.Cut(username, ":")
	laterExpiry := strconv.FormatInt(1_700_999_999, 10)

	tests := map[string][2]string{
		"other user id":    {expiry + ":mallory", password},
		"extended expiry":  {laterExpiry + ":alice", password},
		"altered password": {username, flipFirstChar(password)},
		"empty password":   {username, ""},
		"other secret":     {username, Credentials{Secret: []byte("other")}.password(username)},
	}
	for name, pair := range tests {
		if _, err := creds.check(pair[0], pair[1]); !errors.Is(err, ErrBadCredential) {
			t.Errorf("%s: check = %v, want ErrBadCredential", name, err)
		}
	}
}

func flipFirstChar(text string) string {
	if text[0] == 'A' {
		return "B" + text[1:]
	}

	return "A" + text[1:]
}

func TestCredentialsExpiry(t *testing.T) {
	issuer := Credentials{Secret: testSecret, TTL: time.Minute, Now: fixedClock(1_700_000_000)}
	username, password, expires := issuer.Issue("alice")

	atExpiry := Credentials{Secret: testSecret, Now: func() time.Time { return expires }}
	if _, err := atExpiry.check(username, password); err != nil {
		t.Fatalf("check during the expiry second = %v, want accepted", err)
	}
	justAfter := Credentials{Secret: testSecret, Now: func() time.Time { return expires.Add(time.Second) }}
	if _, err := justAfter.check(username, password); !errors.Is(err, ErrExpiredCredential) {
		t.Fatalf("check a second after expiry = %v, want ErrExpiredCredential", err)
	}
	if _, _, err := justAfter.longTermKey(username, "meet"); !errors.Is(err, ErrExpiredCredential) {
		t.Fatalf("longTermKey after expiry = %v, want ErrExpiredCredential", err)
	}
}

func TestCredentialsRefuseMalformedUsernames(t *testing.T) {
	creds := Credentials{Secret: testSecret, Now: fixedClock(1_700_000_000)}
	for _, username := range []string{"", "alice", "1800000000", "1800000000:", ":alice", "soon:alice", "-5:alice", "0:alice"} {
		if _, err := creds.check(username, creds.password(username)); !errors.Is(err, ErrMalformedCredential) {
			t.Errorf("check(%q) = %v, want ErrMalformedCredential", username, err)
		}
	}
}

// TestLongTermKeyMatchesPion: the key handed to pion must be the RFC 8489
// long-term key of the issued password, as pion's own helper computes it.
func TestLongTermKeyMatchesPion(t *testing.T) {
	creds := Credentials{Secret: testSecret}
	username, password, _ := creds.Issue("alice")
	userID, key, err := creds.longTermKey(username, "meet")
	if err != nil || userID != "alice" {
		t.Fatalf("longTermKey = %q, %v", userID, err)
	}
	if want := pionturn.GenerateAuthKey(username, "meet", password); !hmac.Equal(key, want) {
		t.Fatalf("key = %x, want %x", key, want)
	}
}
