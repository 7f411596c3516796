package app

import (
	"encoding/json"
	"io"
	"meet/protocol"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	a := newTestApp(t)
	u := a.newUser()
	room := u.createRoom("r")
	for _, path := range []string{
		"/", "/r/" + room.ID, "/r/nosuchroom", "/static/js/room.js", "/static/css/app.css",
		"/api/me", "/api/rooms", "/api/nope", "/api/rooms/" + room.ID + "/messages?limit=x",
		"/healthz", "/readyz", "/metrics", "/ws", "/no/such/page",
	} {
		resp, err := http.Get(a.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		directives := map[string]string{}
		for _, d := range strings.Split(csp, ";") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
			directives[name] = value
		}
		switch {
		case directives["script-src"] != "'self'":
			t.Errorf("%s: script-src %q, want only 'self'", path, directives["script-src"])
		case strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval"):
			t.Errorf("%s: CSP allows inline code: %s", path, csp)
		case directives["frame-ancestors"] != "'none'":
			t.Errorf("%s: frame-ancestors %q", path, directives["frame-ancestors"])
		case directives["object-src"] != "'none'" || directives["base-uri"] != "'none'":
			t.Errorf("%s: CSP %s", path, csp)
		}
		for name, want := range map[string]string{
			"X-Content-Type-Options":     "nosniff",
			"X-Frame-Options":            "DENY",
			"Referrer-Policy":            "same-origin",
			"Cross-Origin-Opener-Policy": "same-origin",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", path, name, got, want)
			}
		}
		if pp := h.Get("Permissions-Policy"); !strings.Contains(pp, "camera=(self)") || !strings.Contains(pp, "microphone=(self)") {
			t.Errorf("%s: Permissions-Policy %q", path, pp)
		}
	}
}

func TestNormalizeOrigin(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"https://Example.ORG", "https://example.org", true},
		{"https://example.org:443", "https://example.org", true},
		{"http://example.org:80/", "http://example.org", true},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"https://[::1]:8443", "https://[::1]:8443", true},
		{"null", "", false},
		{"example.org", "", false},
		{"ftp://example.org", "", false},
		{"https://example.org/room", "", false},
		{"https://user@example.org", "", false},
		{"https://example.org?x=1", "", false},
	} {
		got, ok := normalizeOrigin(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("normalizeOrigin(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// dialWithOrigin opens /ws for u with an Origin header and returns the
// connection, or the refused handshake's status and error code.
func dialWithOrigin(t *testing.T, u *user, roomID, origin string) (*websocket.Conn, int, string) {
	t.Helper()
	q := url.Values{"room": {roomID}, "token": {u.token}}
	wsURL := "ws" + strings.TrimPrefix(u.app.http.URL, "http") + "/ws?" + q.Encode()
	header := http.Header{}
	if origin != "" {
		header.Set("Origin", origin)
	}
	conn, resp, err := websocket.DefaultDialer.Dial(wsURL, header)
	if err == nil {
		t.Cleanup(func() { conn.Close() })
		return conn, http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e apiError
	if jerr := json.Unmarshal(body, &e); jerr != nil {
		t.Fatalf("refused handshake body %q is not the error envelope", body)
	}
	return nil, resp.StatusCode, e.Error.Code
}

func TestWebSocketOriginCheck(t *testing.T) {
	same := newTestApp(t)
	listed := newTestAppWith(t, Config{AllowedOrigins: []string{"https://school.example", "http://localhost:3000"}})
	anyOrigin := newTestAppWith(t, Config{AllowedOrigins: []string{"*"}})
	for _, tt := range []struct {
		name   string
		app    *testApp
		origin string
		ok     bool
	}{
		{"no origin (not a browser)", same, "", true},
		{"same origin", same, same.http.URL, true},
		{"same origin, other case", same, strings.ToUpper(same.http.URL[:4]) + same.http.URL[4:], true},
		{"foreign page", same, "https://evil.example", false},
		{"same host, other port", same, "http://127.0.0.1:1", false},
		{"opaque origin", same, "null", false},
		{"listed origin", listed, "https://school.example", true},
		{"listed origin, default port", listed, "https://school.example:443", true},
		{"listed dev server", listed, "http://localhost:3000", true},
		{"unlisted origin", listed, "https://other.example", false},
		{"same origin with a list", listed, listed.http.URL, true},
		{"any origin", anyOrigin, "https://anything.example", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.app.newUser()
			room := u.createRoom("r")
			conn, status, code := dialWithOrigin(t, u, room.ID, tt.origin)
			if !tt.ok {
				if status != http.StatusForbidden || code != protocol.CodeBadOrigin {
					t.Fatalf("handshake from %q = %d %q, want 403 %s", tt.origin, status, code, protocol.CodeBadOrigin)
				}
				return
			}
			if conn == nil {
				t.Fatalf("handshake from %q refused: %d %s", tt.origin, status, code)
			}
			_, data, err := conn.ReadMessage()
			if err != nil || !strings.Contains(string(data), `"welcome"`) {
				t.Fatalf("first message %q, %v", data, err)
			}
		})
	}
}
