package grant

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenTTL bounds how far ahead a join token's expiry may lie. A join
// token is minted for one visit, right before it; one that lasts for days
// is a standing key to the room if it leaks.
const MaxTokenTTL = 24 * time.Hour

// clockSkew is the leeway given to exp and nbf: a join token is minted on
// another machine, whose clock may be a little off from the server's.
const clockSkew = 30 * time.Second

// Limits of a join token's claims.
const (
	maxUserIDRunes = 64
	maxNameRunes   = 64
)

// Claims are what a join token says: identity UserID, shown as Name, may
// join room RoomID as Role until ExpiresAt.
type Claims struct {
	UserID    string
	Name      string
	RoomID    string
	Role      string
	ExpiresAt time.Time
}

// tokenClaims is a join token on the wire: sub, exp, and optionally nbf and
// iat, plus ours.
type tokenClaims struct {
	Name string `json:"name"`
	Room string `json:"room"`
	Role string `json:"role,omitempty"`
	jwt.RegisteredClaims
}

// KeyLookup returns the public half of API key kid. It returns an error for
// a key that is unknown or revoked (or when it cannot tell); VerifyToken
// wraps it in ErrUnknownKey, so the lookup's own error stays matchable too.
type KeyLookup func(kid string) (ed25519.PublicKey, error)

// VerifyToken checks raw as a join token for roomID at time now: EdDSA
// only, an API key that keys knows, the signature, a required expiry at
// most MaxTokenTTL ahead, nbf when present, and the claims. It returns an
// error matching ErrExpired, ErrInvalid or ErrUnknownKey. A token without a
// role is for RoleParticipant.
func VerifyToken(raw, roomID string, keys KeyLookup, now time.Time) (Claims, error) {
	if len(raw) > maxRawBytes {
		return Claims{}, fmt.Errorf("%w: the token is longer than %d bytes", ErrInvalid, maxRawBytes)
	}
	// The key function runs only once the token parsed and its alg is
	// EdDSA, so keys is never asked about a garbage token. Its error is
	// kept as it is: the library would bury it in its own.
	var keyErr error
	keyFunc := func(t *jwt.Token) (any, error) {
		pub, err := publicKey(t, keys)
		keyErr = err
		return pub, err
	}
	var tc tokenClaims
	parser := jwt.NewParser(parserOptions(jwt.SigningMethodEdDSA.Alg(), now, clockSkew)...)
	if _, err := parser.ParseWithClaims(raw, &tc, keyFunc); err != nil {
		if keyErr != nil {
			return Claims{}, keyErr
		}
		return Claims{}, classify(err)
	}
	c := Claims{
		UserID:    tc.Subject,
		Name:      strings.TrimSpace(tc.Name),
		RoomID:    tc.Room,
		Role:      tc.Role,
		ExpiresAt: tc.ExpiresAt.UTC(),
	}
	if c.Role == "" {
		c.Role = RoleParticipant
	}
	if err := c.check(); err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c.ExpiresAt.Sub(now) > MaxTokenTTL+clockSkew {
		return Claims{}, fmt.Errorf("%w: the token expires %s from now, more than the %s a join token may last",
			ErrInvalid, c.ExpiresAt.Sub(now).Round(time.Second), MaxTokenTTL)
	}
	if c.RoomID != roomID {
		return Claims{}, fmt.Errorf("%w: the token is for another room", ErrInvalid)
	}
	return c, nil
}

// publicKey finds the key that signed t: the one its kid names.
func publicKey(t *jwt.Token, keys KeyLookup) (ed25519.PublicKey, error) {
	if t.Method != jwt.SigningMethodEdDSA {
		// WithValidMethods already refused it; this keeps the rule here too.
		return nil, fmt.Errorf("%w: alg %v is not EdDSA", ErrInvalid, t.Header["alg"])
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, fmt.Errorf("%w: the token names no API key (kid)", ErrInvalid)
	}
	if !validKeyID(kid) {
		return nil, fmt.Errorf("%w: the kid is not an API key id of this server", ErrUnknownKey)
	}
	if keys == nil {
		return nil, fmt.Errorf("%w: no API keys", ErrUnknownKey)
	}
	pub, err := keys(kid)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnknownKey, kid, err)
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: %s: the stored public key is %d bytes, not %d", ErrUnknownKey, kid, len(pub), ed25519.PublicKeySize)
	}
	return pub, nil
}

// SignToken returns c as a join token signed with API key kid's private
// half. It is what another application's backend does (see the package
// example, which does it with the jwt library alone); the server itself
// never holds a private key.
func SignToken(kid string, priv ed25519.PrivateKey, c Claims) (string, error) {
	if !validKeyID(kid) {
		return "", fmt.Errorf("grant: %q is not an API key id", kid)
	}
	if len(priv) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("grant: the private key is %d bytes, not %d", len(priv), ed25519.PrivateKeySize)
	}
	if c.ExpiresAt.IsZero() {
		return "", errors.New("grant: a join token needs an expiry")
	}
	checked := c
	if checked.Role == "" {
		checked.Role = RoleParticipant // as VerifyToken reads it
	}
	if err := checked.check(); err != nil {
		return "", fmt.Errorf("grant: %w", err)
	}
	token := jwt.NewWithClaims(jwt.SigningMethodEdDSA, tokenClaims{
		Name: c.Name,
		Room: c.RoomID,
		Role: c.Role,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   c.UserID,
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
		},
	})
	token.Header["kid"] = kid
	raw, err := token.SignedString(priv)
	if err != nil {
		return "", fmt.Errorf("grant: sign token: %w", err)
	}
	return raw, nil
}

// check refuses claims a join token may not carry. The name is checked as
// given, trimmed: the app cleans it further, as it does every name.
func (c Claims) check() error {
	switch {
	case !validUserID(c.UserID):
		return fmt.Errorf("sub must be 1 to %d printable characters without spaces", maxUserIDRunes)
	case !validName(strings.TrimSpace(c.Name)):
		return fmt.Errorf("name must be 1 to %d characters", maxNameRunes)
	case c.RoomID == "":
		return errors.New("the token names no room")
	case !ValidTokenRole(c.Role):
		return fmt.Errorf("role %q is not one of %s, %s, %s or %s", c.Role, RolePresenter, RoleParticipant, RoleViewer, RoleModerator)
	}
	return nil
}

// validUserID: 1 to maxUserIDRunes printable characters, none a space.
func validUserID(s string) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxUserIDRunes {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

func validName(s string) bool {
	n := utf8.RuneCountInString(s)
	return n >= 1 && n <= maxNameRunes
}
