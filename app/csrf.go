package app

import (
	"meet/protocol"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// Cross-site request forgery. A page on any site can make the browser send
// a "simple" POST (text/plain, form encoding) to this server with the
// visitor's cookie attached, and no CORS preflight asks first. SameSite=Lax
// on the cookie stops most of it, but not a sibling subdomain (same site),
// old browsers, or a future relaxing of the cookie. So every state-changing
// API request authenticated by the cookie must come from a page of ours,
// and JSON routes take only JSON bodies, which a cross-site page cannot send
// without a preflight that we never grant.

// changesState reports whether method may change something on the server.
func changesState(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// bearerAuthenticated reports whether the request names its identity in the
// Authorization header. A browser page can set that header on a cross-site
// request only after a preflight, and it would need the token first, so
// such a request is not riding on a cookie the browser attached.
func bearerAuthenticated(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// requestOrigin is the origin of the page that sent r: its Origin header,
// or without one the scheme and host of its Referer. Empty when neither is
// there, as with curl and server-to-server calls.
func requestOrigin(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" {
		return o
	}
	ref := r.Header.Get("Referer")
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil || u.Scheme == "" || u.Host == "" {
		// Present but unreadable: treat it as a foreign page, never as
		// "no page at all".
		return "null"
	}
	return u.Scheme + "://" + u.Host
}

var errCrossSite = newError(http.StatusForbidden, protocol.CodeBadOrigin,
	"This request came from a page of another site. Use the meeting app's own pages, or add that site to -allowed-origins.")

var errNotJSON = newError(http.StatusUnsupportedMediaType, protocol.CodeUnsupportedMediaType,
	"Send the request body as JSON, with Content-Type: application/json.")

// checkRequestOrigin refuses a state-changing API request that the browser
// sent, with its cookie, from a page of another origin. Requests with no
// page behind them (no Origin, no Referer) and bearer-token requests pass.
func (s *Server) checkRequestOrigin(c *gin.Context) {
	r := c.Request
	if !changesState(r.Method) || bearerAuthenticated(r) {
		c.Next()
		return
	}
	origin := requestOrigin(r)
	if origin != "" && !s.origins.allowsOrigin(origin, r.Host) {
		s.abortWithError(c, errCrossSite)
		return
	}
	c.Next()
}

// requireJSONBody refuses a state-changing request whose body is declared,
// or sent, as anything but JSON. A request with no body and no
// Content-Type (POST /api/rooms/:id/end from curl) passes.
func (s *Server) requireJSONBody(c *gin.Context) {
	r := c.Request
	if !changesState(r.Method) {
		c.Next()
		return
	}
	ct := r.Header.Get("Content-Type")
	hasBody := r.ContentLength != 0
	if ct == "" && !hasBody {
		c.Next()
		return
	}
	mediaType, _, err := mime.ParseMediaType(ct)
	if err != nil || mediaType != "application/json" {
		s.abortWithError(c, errNotJSON)
		return
	}
	c.Next()
}
