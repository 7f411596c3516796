package app

import (
	"encoding/json"
	"io"
	"meet/protocol"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"meet/store"
)

// browserRequest is what a browser sends: the identity as a cookie, and the
// Origin and Referer of the page that made the request (empty: none).
type browserRequest struct {
	method, path, contentType, body string
	cookie                          string // the meet_token cookie's value
	bearer                          string // an Authorization: Bearer token instead
	origin, referer                 string
}

// send makes the request against a's server and returns the status, the
// error code of a refusal and the response.
func (br browserRequest) send(t *testing.T, a *testApp) (int, string, *http.Response) {
	t.Helper()
	req, err := http.NewRequest(br.method, a.http.URL+br.path, strings.NewReader(br.body))
	if err != nil {
		t.Fatal(err)
	}
	if br.contentType != "" {
		req.Header.Set("Content-Type", br.contentType)
	}
	if br.cookie != "" {
		req.AddCookie(&http.Cookie{Name: tokenCookie, Value: br.cookie})
	}
	if br.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+br.bearer)
	}
	if br.origin != "" {
		req.Header.Set("Origin", br.origin)
	}
	if br.referer != "" {
		req.Header.Set("Referer", br.referer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e apiError
	_ = json.Unmarshal(data, &e)
	return resp.StatusCode, e.Error.Code, resp
}

// stateChangingRoutes are every REST route that changes something, each
// with a body that would succeed, for the owner of room.
func stateChangingRoutes(room string) []browserRequest {
	return []browserRequest{
		{method: "POST", path: "/api/rooms", body: `{"name":"Planted by evil.example"}`},
		{method: "PUT", path: "/api/me", body: `{"name":"Renamed by evil.example"}`},
		{method: "PATCH", path: "/api/rooms/" + room, body: `{"classroom":true}`},
		{method: "POST", path: "/api/rooms/" + room + "/end", body: ``},
	}
}

// TestCrossSiteRequestsAreRefused: a page on another site sends a "simple"
// request (text/plain, no preflight) with the victim's cookie to every
// state-changing route. Each is refused with 403 bad_origin and changes
// nothing: no room is created, the name, settings and room stay.
func TestCrossSiteRequestsAreRefused(t *testing.T) {
	a := newTestApp(t)
	victim := a.newUser()
	room := victim.createRoom("Physics")
	page := "https://evil.example/attack.html"
	for _, route := range stateChangingRoutes(room.ID) {
		for _, how := range []struct {
			name            string
			origin, referer string
		}{
			{"Origin", "https://evil.example", ""},
			{"Referer only", "", page},
			{"sibling subdomain", "http://evil." + strings.TrimPrefix(a.http.URL, "http://"), ""},
			{"opaque origin", "null", ""},
			{"unreadable Referer", "", "::not a url::"},
		} {
			for _, ctype := range []string{"text/plain", "application/json"} {
				r := route
				r.cookie, r.contentType, r.origin, r.referer = victim.token, ctype, how.origin, how.referer
				status, code, resp := r.send(t, a)
				if status != http.StatusForbidden || code != protocol.CodeBadOrigin {
					t.Errorf("%s %s (%s, %s) = %d %q, want 403 bad_origin", r.method, r.path, how.name, ctype, status, code)
				}
				if resp.Header.Get(tokenHeader) != "" {
					t.Errorf("%s %s (%s): a refused request was given an identity", r.method, r.path, how.name)
				}
			}
		}
	}
	var me meResponse
	victim.do("GET", "/api/me", "", &me)
	stored, err := a.store.Room(room.ID)
	rooms, _ := a.store.Rooms(100)
	switch {
	case err != nil || stored.Status != store.StatusOpen || stored.Classroom:
		t.Fatalf("the room changed: %+v, %v", stored, err)
	case me.Name == "Renamed by evil.example":
		t.Fatal("the victim was renamed")
	case len(rooms) != 1:
		t.Fatalf("%d rooms, want only the victim's", len(rooms))
	}
}

// TestRequestsThatPassTheOriginCheck: the app's own pages (same origin, by
// Origin or Referer), origins on -allowed-origins, bearer-token clients from
// anywhere and clients that name no page (curl) all get through.
func TestRequestsThatPassTheOriginCheck(t *testing.T) {
	a := newTestAppWith(t, Config{AllowedOrigins: []string{"https://school.example"}})
	self := a.http.URL
	for _, tt := range []struct {
		name string
		edit func(r *browserRequest, token string)
	}{
		{"same-origin page (cookie, Origin)", func(r *browserRequest, tok string) { r.cookie, r.origin = tok, self }},
		{"same-origin page (cookie, Referer only)", func(r *browserRequest, tok string) { r.cookie, r.referer = tok, self+"/r/x" }},
		{"listed origin (cookie)", func(r *browserRequest, tok string) { r.cookie, r.origin = tok, "https://school.example" }},
		{"bearer token from a foreign origin", func(r *browserRequest, tok string) { r.bearer, r.origin = tok, "https://evil.example" }},
		{"no page at all (curl, cookie)", func(r *browserRequest, tok string) { r.cookie = tok }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := a.newUser()
			room := u.createRoom("Allowed")
			for _, r := range stateChangingRoutes(room.ID) {
				r.contentType = "application/json"
				tt.edit(&r, u.token)
				status, code, _ := r.send(t, a)
				if status >= 300 {
					t.Errorf("%s %s = %d %q, want success", r.method, r.path, status, code)
				}
			}
		})
	}
}

// TestJSONRoutesTakeOnlyJSON: a body sent as anything but JSON is refused
// with 415 before it is read, even from curl with a valid token.
func TestJSONRoutesTakeOnlyJSON(t *testing.T) {
	a := newTestApp(t)
	u := a.newUser()
	room := u.createRoom("Chemistry")
	for _, r := range stateChangingRoutes(room.ID) {
		for _, ctype := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp", "json", ";;"} {
			r := r
			r.bearer, r.contentType = u.token, ctype
			if r.body == "" {
				r.body = "{}"
			}
			status, code, _ := r.send(t, a)
			if status != http.StatusUnsupportedMediaType || code != protocol.CodeUnsupportedMediaType {
				t.Errorf("%s %s as %q = %d %q, want 415 unsupported_media_type", r.method, r.path, ctype, status, code)
			}
		}
	}
	// A body with no Content-Type is not JSON either.
	status, code, _ := browserRequest{method: "POST", path: "/api/rooms", body: `{"name":"x"}`, bearer: u.token}.send(t, a)
	if status != http.StatusUnsupportedMediaType || code != protocol.CodeUnsupportedMediaType {
		t.Errorf("untyped body = %d %q", status, code)
	}
	// JSON with a charset parameter is JSON.
	status, _, _ = browserRequest{method: "PUT", path: "/api/me", contentType: "application/json; charset=utf-8", body: `{"name":"Ana"}`, bearer: u.token}.send(t, a)
	if status != http.StatusOK {
		t.Errorf("application/json; charset=utf-8 = %d", status)
	}
	if stored, _ := a.store.Room(room.ID); stored.Status != store.StatusOpen || stored.Classroom {
		t.Fatalf("a refused request changed the room: %+v", stored)
	}
}

// TestBadCookieIsClearedNotReused: a cookie this server did not sign never
// acts, and is never silently replaced: reads and changes alike are
// refused with 401 unauthorized, so no room is owned by, and none is lost
// to, an identity the caller never meant to have. DELETE /api/me (the
// page's "continue as a new guest") clears it; the next request starts
// afresh.
func TestBadCookieIsClearedNotReused(t *testing.T) {
	a := newTestApp(t)
	forged := tokenSigner{secret: []byte("another secret, another server!!")}.sign(newIdentity(time.Now()))
	status, code, _ := browserRequest{method: "POST", path: "/api/rooms", contentType: "application/json",
		body: `{"name":"Orphan"}`, cookie: forged, origin: a.http.URL}.send(t, a)
	if status != http.StatusUnauthorized || code != protocol.CodeUnauthorized {
		t.Fatalf("POST with a forged cookie = %d %q, want 401 unauthorized", status, code)
	}
	if rooms, _ := a.store.Rooms(10); len(rooms) != 0 {
		t.Fatalf("a room was created with a forged cookie: %+v", rooms)
	}

	status, code, resp := browserRequest{method: "GET", path: "/api/me", cookie: forged}.send(t, a)
	if status != http.StatusUnauthorized || code != protocol.CodeUnauthorized || cookieNamed(resp, tokenCookie) != nil {
		t.Fatalf("GET with a forged cookie = %d %q (cookie %+v), want 401 unauthorized and no new identity", status, code, cookieNamed(resp, tokenCookie))
	}

	status, _, resp = browserRequest{method: "DELETE", path: "/api/me", cookie: forged, origin: a.http.URL}.send(t, a)
	cleared := cookieNamed(resp, tokenCookie)
	if status != http.StatusNoContent || cleared == nil || cleared.Value != "" || cleared.MaxAge >= 0 {
		t.Fatalf("DELETE /api/me = %d, cookie %+v: want 204 and the cookie cleared", status, cleared)
	}
	status, _, resp = browserRequest{method: "GET", path: "/api/me"}.send(t, a)
	fresh := cookieNamed(resp, tokenCookie)
	if status != http.StatusOK || fresh == nil || fresh.Value == "" {
		t.Fatalf("GET without a cookie = %d, cookie %+v: want a new identity", status, fresh)
	}
	if _, err := a.srv.tokens.verify(fresh.Value, time.Now()); err != nil {
		t.Fatalf("the new cookie does not verify: %v", err)
	}
}

// TestCookieOverTLS: over HTTPS the identity cookie is Secure and carries
// the __Host- prefix, and it is the one read back.
func TestCookieOverTLS(t *testing.T) {
	a := newTestApp(t)
	tlsServer := httptest.NewTLSServer(a.srv.Handler())
	defer tlsServer.Close()
	client := tlsServer.Client()
	resp, err := client.Get(tlsServer.URL + "/api/me")
	if err != nil {
		t.Fatal(err)
	}
	var me meResponse
	_ = json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	c := cookieNamed(resp, tokenCookieSecure)
	if c == nil || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" || c.Value != me.Token {
		t.Fatalf("cookie over TLS = %+v, want __Host-meet_token, Secure, HttpOnly, Path=/", c)
	}
	if cookieNamed(resp, tokenCookie) != nil {
		t.Fatal("the plain-HTTP cookie name was set over TLS")
	}
	req, _ := http.NewRequest("GET", tlsServer.URL+"/api/me", nil)
	req.AddCookie(c)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var again meResponse
	_ = json.NewDecoder(resp.Body).Decode(&again)
	resp.Body.Close()
	if again.ID != me.ID {
		t.Fatalf("the __Host- cookie was not read back: %s, want %s", again.ID, me.ID)
	}
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}
