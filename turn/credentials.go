package turn

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultCredentialTTL is how long an issued credential stays valid when
// Credentials.TTL is zero. Every Refresh, CreatePermission and ChannelBind is
// authenticated again with the same credential, so a relay dies when its
// credential expires: the TTL must outlast the longest call, and the Allowed
// check (not the TTL) is what cuts off someone who left.
const DefaultCredentialTTL = 12 * time.Hour

// Errors returned when a TURN username or password is refused.
var (
	ErrMalformedCredential = errors.New("turn: malformed credential username")
	ErrExpiredCredential   = errors.New("turn: expired credential")
	ErrBadCredential       = errors.New("turn: credential signature mismatch")
)

// Credentials issues and checks ephemeral TURN credentials in the TURN REST
// scheme (draft-uberti-behave-turn-rest, coturn's use-auth-secret):
//
//	username = "<unix expiry>:<user id>"
//	password = base64(HMAC-SHA1(secret, username))
//
// Because the scheme is shared, an external coturn configured with the same
// secret accepts the credentials this type issues.
type Credentials struct {
	// Secret is the shared HMAC key. It must not be empty.
	Secret []byte
	// TTL is the validity of an issued credential; 0 means DefaultCredentialTTL.
	TTL time.Duration
	// Now is the clock; nil means time.Now. Tests set it to issue
	// credentials that are already expired.
	Now func() time.Time
}

// Issue returns a credential for userID that expires TTL from now. The
// expiry is carried in the username with second precision, which is what
// the returned time reports.
func (c Credentials) Issue(userID string) (username, password string, expires time.Time) {
	expiry := c.now().Add(c.ttl()).Unix()
	username = strconv.FormatInt(expiry, 10) + ":" + userID

	return username, c.password(username), time.Unix(expiry, 0)
}

// check validates a username and password pair and returns the user id it
// was issued for. The TURN server itself never sees the password (STUN only
// carries an HMAC keyed by it), so the server uses longTermKey instead; check
// is the same rule for callers that do hold the password.
func (c Credentials) check(username, password string) (userID string, err error) {
	userID, err = c.parse(username)
	if err != nil {
		return "", err
	}
	if !hmac.Equal([]byte(password), []byte(c.password(username))) {
		return "", ErrBadCredential
	}

	return userID, nil
}

// longTermKey validates the username's format and expiry and returns the
// RFC 8489 long-term key, MD5(username ":" realm ":" password), that the
// client's MESSAGE-INTEGRITY must verify against. A wrong password shows up
// as a failed integrity check in pion, not here.
func (c Credentials) longTermKey(username, realm string) (userID string, key []byte, err error) {
	userID, err = c.parse(username)
	if err != nil {
		return "", nil, err
	}
	// MD5 and SHA-1 are not choices here: RFC 8489 section 9.2.2 and the TURN
	// REST scheme define the key and the password with them.
	sum := md5.Sum([]byte(username + ":" + realm + ":" + c.password(username)))

	return userID, sum[:], nil
}

// parse splits "<unix expiry>:<user id>" at the first colon, so a user id
// may itself contain colons, and refuses an expired or malformed username.
func (c Credentials) parse(username string) (userID string, err error) {
	expiryText, userID, found := strings.Cut(username, ":")
	if !found || userID == "" {
		return "", fmt.Errorf("%w: want <unix expiry>:<user id>", ErrMalformedCredential)
	}
	expiry, err := strconv.ParseInt(expiryText, 10, 64)
	if err != nil || expiry <= 0 {
		return "", fmt.Errorf("%w: expiry %q is not a unix time", ErrMalformedCredential, expiryText)
	}
	// Like coturn, a credential is still good during its expiry second.
	if c.now().Unix() > expiry {
		return "", fmt.Errorf("%w: expired at %s", ErrExpiredCredential, time.Unix(expiry, 0).UTC())
	}

	return userID, nil
}

func (c Credentials) password(username string) string {
	mac := hmac.New(sha1.New, c.Secret)
	mac.Write([]byte(username))

	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func (c Credentials) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}

	return c.Now()
}

func (c Credentials) ttl() time.Duration {
	if c.TTL <= 0 {
		return DefaultCredentialTTL
	}

	return c.TTL
}
