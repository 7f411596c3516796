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
	tokenCookie   = "meet_token"
	tokenHeader   = "X-Meet-Token"
	tokenLifetime = 365 * 24 * time.Hour
	identityKey   = "meet.identity"
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

// tokenFrom finds the token a request carries: the Authorization header
// first (API clients), then the cookie (browsers), then ?token= (WebSocket
// clients that can set neither).
func tokenFrom(r *http.Request) string {
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "Bearer ") {
		return strings.TrimPrefix(auth, "Bearer ")
	}
	if c, err := r.Cookie(tokenCookie); err == nil && c.Value != "" {
		return c.Value
	}
	return r.URL.Query().Get("token")
}

// withIdentity makes sure every request has an identity: a valid token is
// used as it is, and a request without one is given a new identity, sent
// back as a cookie and in the X-Meet-Token header.
func (s *Server) withIdentity(c *gin.Context) {
	now := time.Now()
	id, err := s.tokens.verify(tokenFrom(c.Request), now)
	if err != nil {
		id = newIdentity(now)
		s.issueToken(c, id)
	}
	c.Set(identityKey, id)
	c.Next()
}

// issueToken hands the identity's token to the client.
func (s *Server) issueToken(c *gin.Context, id Identity) string {
	token := s.tokens.sign(id)
	c.Header(tokenHeader, token)
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     tokenCookie,
		Value:    token,
		Path:     "/",
		MaxAge:   int(tokenLifetime / time.Second),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   c.Request.TLS != nil,
	})
	return token
}

func identityOf(c *gin.Context) Identity {
	return c.MustGet(identityKey).(Identity)
}
