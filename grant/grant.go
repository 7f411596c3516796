// Package grant issues and checks what lets a bearer into a room without the
// usual checks (lobby, passcode): signed, expiring invite links that the
// server makes itself, and join tokens that another application's backend
// mints with an API key, the way LiveKit access tokens work.
//
// Both are compact JWTs, but they never stand in for each other: an invite
// is HS256 under a key derived from the server's secret and says
// "use":"invite"; a join token is EdDSA under an API key whose private half
// only its owner holds. Each verifier accepts exactly one algorithm.
//
// The package knows no database: revocation of invites is the caller's
// check, and the public halves of API keys come through a KeyLookup.
package grant

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Roles a grant can carry. Presenter, participant and viewer may come with
// an invite; a join token may also make its bearer a moderator, since only
// the holder of an API key, a trusted backend, can mint one.
const (
	// RolePresenter may go on the stage by themselves in a classroom.
	RolePresenter = "presenter"
	// RoleParticipant is an ordinary participant.
	RoleParticipant = "participant"
	// RoleViewer joins receive-only, as a spectator.
	RoleViewer = "viewer"
	// RoleModerator is a co-host.
	RoleModerator = "moderator"
)

// ValidInviteRole reports whether an invite link may carry role.
func ValidInviteRole(role string) bool {
	switch role {
	case RolePresenter, RoleParticipant, RoleViewer:
		return true
	}
	return false
}

// ValidTokenRole reports whether a join token may carry role. The empty
// role is not valid here; VerifyToken reads a token without one as
// RoleParticipant.
func ValidTokenRole(role string) bool {
	return role == RoleModerator || ValidInviteRole(role)
}

// Errors of VerifyInvite and VerifyToken. Each error they return matches
// exactly one of them with errors.Is, and says more in its text.
var (
	// ErrExpired: a well-formed, correctly signed grant past its expiry.
	ErrExpired = errors.New("grant: expired")
	// ErrInvalid: anything else wrong with the grant (malformed, bad
	// signature, another room, another use, a bad claim).
	ErrInvalid = errors.New("grant: invalid")
	// ErrUnknownKey: a join token signed with an API key the server does
	// not know, or no longer accepts.
	ErrUnknownKey = errors.New("grant: unknown API key")
)

// maxRawBytes bounds what is parsed at all: real grants are a few hundred
// bytes, and a query string could carry megabytes of base64 to decode.
const maxRawBytes = 4096

// parserOptions are the options both verifiers share: one algorithm, a
// required expiry, and the caller's clock so that tests are deterministic.
func parserOptions(alg string, now time.Time, leeway time.Duration) []jwt.ParserOption {
	return []jwt.ParserOption{
		jwt.WithValidMethods([]string{alg}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithLeeway(leeway),
		jwt.WithStrictDecoding(),
	}
}

// classify maps a jwt parse error to this package's errors. Expiry is
// only reported when nothing else is wrong with the token: the library
// checks signatures before claims, so an expired token reaching here was
// correctly signed.
func classify(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired) && errors.Is(err, jwt.ErrTokenInvalidClaims):
		return fmt.Errorf("%w: %v", ErrExpired, err)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return fmt.Errorf("%w: the token has no expiry (exp)", ErrInvalid)
	default:
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
}

// base32Alphabet is RFC 4648's base32 in lower case: ids stay readable, and
// safe in URLs and terminals.
const base32Alphabet = "abcdefghijklmnopqrstuvwxyz234567"

// randomBase32 returns n random characters of base32Alphabet; 256 is a
// multiple of 32, so each is uniform.
func randomBase32(n int) string {
	raw := make([]byte, n)
	rand.Read(raw) // never fails (crypto/rand)
	for i, b := range raw {
		raw[i] = base32Alphabet[b%32]
	}
	return string(raw)
}
