package app

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"meet/protocol"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// Identity is an anonymous user: an id that owns rooms and a display name.
// It travels as a token signed by the server, so no account table is needed.
type Identity struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	IssuedAt int64  `json:"iat"`
}

const (
	tokenCookie = "meet_token"
	// tokenCookieSecure is the cookie's name over TLS (tokenCookieName).
	tokenCookieSecure = "__Host-meet_token"
	tokenHeader       = "X-Meet-Token"
	tokenLifetime     = 365 * 24 * time.Hour
	identityKey       = "meet.identity"
)

var errBadToken = errors.New("identity token is invalid")

// tokenSigner signs and verifies identity tokens with HMAC-SHA256.
type tokenSigner struct {
	secret []byte
}

// sign encodes the identity as base64url(JSON) "." base64url(HMAC).
func (ts tokenSigner) sign(id Identity) string {
	payload, _ := json.Marshal(id) // a struct of strings and an int cannot fail
	body := base64.RawURLEncoding.EncodeToString(payload)
	return body + "." + base64.RawURLEncoding.EncodeToString(ts.mac(body))
}

func (ts tokenSigner) mac(body string) []byte {
	h := hmac.New(sha256.New, ts.secret)
	h.Write([]byte(body))
	return h.Sum(nil)
}

// verify returns the identity in token, or errBadToken for anything that is
// not a well-formed, correctly signed, unexpired token of this server.
func (ts tokenSigner) verify(token string, now time.Time) (Identity, error) {
	body, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > 2048 {
		return Identity{}, errBadToken
	}
	gotMAC, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(gotMAC, ts.mac(body)) {
		return Identity{}, errBadToken
	}
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return Identity{}, errBadToken
	}
	var id Identity
	if err := json.Unmarshal(payload, &id); err != nil || id.ID == "" {
		return Identity{}, errBadToken
	}
	if now.Sub(time.Unix(id.IssuedAt, 0)) > tokenLifetime {
		return Identity{}, errBadToken
	}
	return id, nil
}

// newIdentity makes a fresh anonymous identity with a friendly guest name.
func newIdentity(now time.Time) Identity {
	return Identity{ID: randomID("u_", 10), Name: guestName(), IssuedAt: now.Unix()}
}

// randomID returns prefix followed by n random bytes in lower-case base32.
func randomID(prefix string, n int) string {
	raw := make([]byte, n)
	if _, err := rand.Read(raw); err != nil {
		panic(fmt.Sprintf("app: crypto/rand failed: %v", err))
	}
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
}

func guestName() string {
	n, err := rand.Int(rand.Reader, big.NewInt(9000))
	if err != nil {
		panic(fmt.Sprintf("app: crypto/rand failed: %v", err))
	}
	return fmt.Sprintf("Guest %d", 1000+n.Int64())
}

// tokenCookieName is the identity cookie's name for r. Over TLS it carries
// the __Host- prefix, which makes the browser insist that the cookie is
// Secure, host-only and for the whole path: no sibling subdomain and no
// plain-HTTP page can plant or shadow it.
func tokenCookieName(r *http.Request) string {
	if r.TLS != nil {
		return tokenCookieSecure
	}
	return tokenCookie
}

// tokenFrom finds the token a request carries: the Authorization header
// first (API clients), then the cookie (browsers), then ?token= (WebSocket
// clients that can set neither). fromCookie tells which it was.
func tokenFrom(r *http.Request) (token string, fromCookie bool) {
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "Bearer ") {
		return strings.TrimPrefix(auth, "Bearer "), false
	}
	if c, err := r.Cookie(tokenCookieName(r)); err == nil && c.Value != "" {
		return c.Value, true
	}
	// A join token (grant, invites.go) in ?token= is no identity: the
	// request gets the cookie's identity, or a new one.
	if token := r.URL.Query().Get("token"); !isJoinToken(token) {
		return token, false
	}
	return "", false
}

var errInvalidToken = newError(http.StatusUnauthorized, protocol.CodeUnauthorized,
	"Your identity token is not valid here (it may come from another server, or have expired). Continue as a new guest, or sign in with a valid token.")

// withIdentity makes sure every request has an identity: a valid token is
// used as it is, and a request without one is given a new identity, sent
// back as a cookie and in the X-Meet-Token header. A token that fails
// verification is refused (401 unauthorized), for reads and changes alike:
// quietly handing out a new identity in its place would lose the rooms the
// caller owns without a word. DELETE /api/me (forgetMe) clears a bad
// cookie, so the page can start over as a new guest when the person says
// so.
func (s *Server) withIdentity(c *gin.Context) {
	now := time.Now()
	token, _ := tokenFrom(c.Request)
	id, err := s.tokens.verify(token, now)
	switch {
	case err == nil:
	case token != "":
		s.abortWithError(c, errInvalidToken)
		return
	default:
		id = newIdentity(now)
		s.issueToken(c, id)
	}
	c.Set(identityKey, id)
	c.Next()
}

// forgetMe clears the identity cookie, good or bad: the next request starts
// as a new guest. Rooms owned by the old identity stay its own.
func (s *Server) forgetMe(c *gin.Context) {
	s.clearToken(c)
	c.Status(http.StatusNoContent)
}

// identityCookie is the cookie that carries value for the request's scheme;
// maxAge < 0 deletes it.
func identityCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     tokenCookieName(r),
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   r.TLS != nil,
	}
}

// issueToken hands the identity's token to the client.
func (s *Server) issueToken(c *gin.Context, id Identity) string {
	token := s.tokens.sign(id)
	c.Header(tokenHeader, token)
	http.SetCookie(c.Writer, identityCookie(c.Request, token, int(tokenLifetime/time.Second)))
	return token
}

// clearToken tells the browser to forget its identity cookie.
func (s *Server) clearToken(c *gin.Context) {
	http.SetCookie(c.Writer, identityCookie(c.Request, "", -1))
}

func identityOf(c *gin.Context) Identity {
	return c.MustGet(identityKey).(Identity)
}
