package app

import (
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
	"github.com/olahol/melody"

	"meet/protocol"
)

// contentSecurityPolicy allows only the app's own scripts, styles and
// connections. No inline script and no inline style: the frontend sets
// styles through classes and the CSSOM, which the policy permits. The
// socket is same-origin too ('self' covers ws: and wss: of the page's host).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; " +
	"object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// permissionsPolicy lets the app's own pages, and nobody embedding them,
// use the camera, microphone and screen capture.
const permissionsPolicy = "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), usb=()"

// securityHeaders goes on every response: the CSP forbids inline script,
// framing is refused twice (frame-ancestors for current browsers,
// X-Frame-Options for old ones), MIME sniffing is off and other sites are
// told only our origin, never a room link.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Permissions-Policy", permissionsPolicy)
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.Next()
}

// originPolicy decides which pages may open the WebSocket. A browser sends
// Origin with every WebSocket handshake and lets any page open a socket to
// any host, cookies included; without this check another site could join
// meetings in its visitors' names.
type originPolicy struct {
	// allowed holds the extra origins, as scheme://host[:port] in lower
	// case. "*" allows every origin.
	allowed map[string]bool
	any     bool
}

// newOriginPolicy parses the -allowed-origins list. Same-origin requests
// are always allowed; the list adds others.
func newOriginPolicy(origins []string) (originPolicy, error) {
	p := originPolicy{allowed: map[string]bool{}}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		switch {
		case o == "":
			continue
		case o == "*":
			p.any = true
			continue
		}
		norm, ok := normalizeOrigin(o)
		if !ok {
			return originPolicy{}, fmt.Errorf("allowed origin %q is not of the form http(s)://host[:port]", o)
		}
		p.allowed[norm] = true
	}
	return p, nil
}

// normalizeOrigin turns "HTTPS://Example.org:443" into "https://example.org"
// so that a list entry and a browser's header compare equal.
func normalizeOrigin(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	return u.Scheme + "://" + withoutDefaultPort(strings.ToLower(u.Host), u.Scheme), true
}

// allows reports whether a WebSocket handshake may proceed. A request
// without Origin does not come from a browser page (a native client, the
// load tool, curl): no other site can be abusing a visitor's cookies
// through it, so it is allowed like any API call.
func (p originPolicy) allows(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	return origin == "" || p.allowsOrigin(origin, r.Host)
}

// allowsOrigin reports whether a page of origin may act on this server,
// reached by the browser at host: the same origin, or one on the list.
func (p originPolicy) allowsOrigin(origin, host string) bool {
	if p.any {
		return true
	}
	norm, ok := normalizeOrigin(origin)
	if !ok {
		return false
	}
	if p.allowed[norm] {
		return true
	}
	// Same origin: the page was served by this host. The Host header is
	// what the browser connected to, so it is what the page's origin names.
	u, _ := url.Parse(norm)
	return strings.EqualFold(u.Host, withoutDefaultPort(host, u.Scheme))
}

// withoutDefaultPort drops ":80" from an http host and ":443" from an https
// one, which browsers leave out of Origin.
func withoutDefaultPort(host, scheme string) string {
	switch {
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		return strings.TrimSuffix(host, ":80")
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		return strings.TrimSuffix(host, ":443")
	}
	return host
}

var errBadOrigin = newError(http.StatusForbidden, protocol.CodeBadOrigin,
	"This page's origin may not open the meeting socket. Open the meeting from the server's own address, or add the origin to -allowed-origins.")

// onBinaryMessage answers a binary frame, which the protocol does not use:
// melody would otherwise drop it in silence.
func (s *Server) onBinaryMessage(ss *melody.Session, _ []byte) {
	if p := participantOf(ss); p != nil && !p.Waiting() {
		sendError(p, protocol.CodeInvalidJSON, "Messages are JSON text frames; binary frames are not part of the protocol.", "")
	}
}

// recoverMessage, deferred by the message handler, turns a panic there (a
// bug, whatever the input) into an error log and a closed socket. Without
// it the panic would unwind through melody past its clean-up, leaving a
// participant in its room with no socket.
func (s *Server) recoverMessage(ss *melody.Session) {
	v := recover()
	if v == nil {
		return
	}
	s.log.Error("panic handling a message", "panic", v, "stack", string(debug.Stack()))
	if p := participantOf(ss); p != nil {
		sendError(p, protocol.CodeInternal, "The server failed on your last message; reconnecting.", "")
		p.Close(protocol.CloseInternal, "internal error")
		return
	}
	_ = ss.CloseWithMsg(websocket.FormatCloseMessage(protocol.CloseInternal, "internal error"))
}
