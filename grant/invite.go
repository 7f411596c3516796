package grant

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Lifetimes of an invite link.
const (
	// DefaultInviteTTL is an invite's lifetime when its maker names none.
	DefaultInviteTTL = 72 * time.Hour
	// MaxInviteTTL bounds it: an invite skips the lobby and the passcode,
	// so a forgotten one should not stay good for ever.
	MaxInviteTTL = 30 * 24 * time.Hour
)

// MinSecretBytes is the shortest server secret SignInvite and VerifyInvite
// accept, the same floor as the identity tokens'.
const MinSecretBytes = 32

// useInvite is the "use" claim of every invite, so that a token signed
// with the invite key can never be replayed as anything else.
const useInvite = "invite"

// inviteKeyLabel derives the invite key from the server's secret. The
// identity cookies are HMACs under the secret itself; deriving a key of
// their own keeps an invite's MAC from ever being a valid identity MAC
// (or the reverse), whatever the two formats come to look like.
const inviteKeyLabel = "meet invite v1"

// maxInviteIDBytes matches the store's column for invite ids.
const maxInviteIDBytes = 24

// Invite is what an invite link grants: joining room RoomID as Role, until
// ExpiresAt. ID names it, so that it can be listed and revoked.
type Invite struct {
	ID        string
	RoomID    string
	Role      string
	ExpiresAt time.Time
}

// inviteClaims is an invite on the wire: jti, exp and iat, plus ours.
type inviteClaims struct {
	Room string `json:"room"`
	Role string `json:"role"`
	Use  string `json:"use"`
	jwt.RegisteredClaims
}

// NewInviteID returns a fresh random invite id, "iv_" and 16 characters of
// lowercase base32 (80 bits): unique without asking the database.
func NewInviteID() string {
	return "iv_" + randomBase32(16)
}

// InviteTTL maps the API's "ttl" in seconds to an invite's lifetime: 0 is
// DefaultInviteTTL; a negative ttl or one past MaxInviteTTL is an error
// fit to show to the caller.
func InviteTTL(seconds int) (time.Duration, error) {
	switch {
	case seconds == 0:
		return DefaultInviteTTL, nil
	case seconds < 0:
		return 0, fmt.Errorf("ttl must be a number of seconds, or 0 for the default (%d, 3 days); got %d", int(DefaultInviteTTL/time.Second), seconds)
	case seconds > int(MaxInviteTTL/time.Second):
		return 0, fmt.Errorf("ttl must be at most %d seconds (30 days); got %d", int(MaxInviteTTL/time.Second), seconds)
	}
	return time.Duration(seconds) * time.Second, nil
}

// SignInvite returns inv as a compact JWT (HS256) under a key derived from
// the server's secret. Expiry is kept to the second.
func SignInvite(secret []byte, inv Invite) (string, error) {
	key, err := inviteKey(secret)
	if err != nil {
		return "", err
	}
	switch {
	case inv.ID == "" || len(inv.ID) > maxInviteIDBytes:
		return "", fmt.Errorf("grant: invite id %q must be 1 to %d bytes", inv.ID, maxInviteIDBytes)
	case inv.RoomID == "":
		return "", errors.New("grant: an invite needs a room")
	case !ValidInviteRole(inv.Role):
		return "", fmt.Errorf("grant: %q is not an invite role", inv.Role)
	case inv.ExpiresAt.IsZero():
		return "", errors.New("grant: an invite needs an expiry")
	}
	claims := inviteClaims{
		Room: inv.RoomID,
		Role: inv.Role,
		Use:  useInvite,
		RegisteredClaims: jwt.RegisteredClaims{
			ID:        inv.ID,
			ExpiresAt: jwt.NewNumericDate(inv.ExpiresAt),
			IssuedAt:  jwt.NewNumericDate(time.Now()),
		},
	}
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("grant: sign invite: %w", err)
	}
	return raw, nil
}

// VerifyInvite checks raw as an invite to roomID at time now: HS256 only,
// the signature, the use, the room, the role and the expiry. It returns an
// error matching ErrExpired or ErrInvalid; whether the invite was revoked
// is the caller's to check, by its ID.
func VerifyInvite(secret []byte, raw, roomID string, now time.Time) (Invite, error) {
	key, err := inviteKey(secret)
	if err != nil {
		return Invite{}, err
	}
	if len(raw) > maxRawBytes {
		return Invite{}, fmt.Errorf("%w: the invite is longer than %d bytes", ErrInvalid, maxRawBytes)
	}
	var claims inviteClaims
	parser := jwt.NewParser(parserOptions(jwt.SigningMethodHS256.Alg(), now, 0)...)
	_, err = parser.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return key, nil })
	if err != nil {
		return Invite{}, classify(err)
	}
	switch {
	case claims.Use != useInvite:
		return Invite{}, fmt.Errorf("%w: the token is not an invite", ErrInvalid)
	case claims.Room != roomID:
		return Invite{}, fmt.Errorf("%w: the invite is for another room", ErrInvalid)
	case !ValidInviteRole(claims.Role):
		return Invite{}, fmt.Errorf("%w: %q is not an invite role", ErrInvalid, claims.Role)
	case claims.ID == "" || len(claims.ID) > maxInviteIDBytes:
		return Invite{}, fmt.Errorf("%w: the invite has no valid id (jti)", ErrInvalid)
	}
	return Invite{
		ID:        claims.ID,
		RoomID:    claims.Room,
		Role:      claims.Role,
		ExpiresAt: claims.ExpiresAt.UTC(),
	}, nil
}

// inviteKey is HMAC-SHA256(secret, inviteKeyLabel).
func inviteKey(secret []byte) ([]byte, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("grant: the server secret is %d bytes, want at least %d", len(secret), MinSecretBytes)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(inviteKeyLabel))
	return mac.Sum(nil), nil
}
