package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"meet/protocol"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestIPLimiterBucket(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newIPLimiter(3, clock.now)
	for i := 0; i < 3; i++ {
		if ok, _ := l.allow("198.51.100.7"); !ok {
			t.Fatalf("request %d of a burst of 3 refused", i+1)
		}
	}
	ok, retry := l.allow("198.51.100.7")
	if ok {
		t.Fatal("a 4th request within the minute was allowed")
	}
	// 3 a minute is one token every 20 s.
	if retry <= 0 || retry > 20*time.Second {
		t.Fatalf("retry after %s, want (0, 20s]", retry)
	}
	if ok, _ := l.allow("198.51.100.8"); !ok {
		t.Fatal("another address shares the first one's bucket")
	}
	clock.advance(retry)
	if ok, _ := l.allow("198.51.100.7"); !ok {
		t.Fatal("still refused once the retry time passed")
	}

	// One IPv6 host usually owns its /64: addresses in it share a bucket,
	// another /64 does not.
	for i := 0; i < 3; i++ {
		if ok, _ := l.allow(fmt.Sprintf("2001:db8:1:2::%x", i+1)); !ok {
			t.Fatalf("IPv6 request %d refused", i+1)
		}
	}
	if ok, _ := l.allow("2001:db8:1:2:ffff::1"); ok {
		t.Fatal("a new address in the same /64 got a fresh bucket")
	}
	if ok, _ := l.allow("2001:db8:1:3::1"); !ok {
		t.Fatal("another /64 was limited")
	}
}

func TestIPLimiterForgetsIdleAddresses(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newIPLimiter(60, clock.now)
	for i := 0; i < 500; i++ {
		l.allow(fmt.Sprintf("10.0.%d.%d", i/250, i%250))
	}
	if got := l.tracked(); got != 500 {
		t.Fatalf("tracked %d addresses, want 500", got)
	}
	// A minute later every bucket is full again: remembering them would
	// change nothing, so they are dropped.
	clock.advance(l.idleAfter())
	l.allow("10.9.9.9")
	if got := l.tracked(); got != 1 {
		t.Fatalf("after the idle time %d addresses are tracked, want 1", got)
	}
}

func TestIPLimiterIsBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newIPLimiter(2, clock.now)
	for i := 0; i < maxTrackedClients+100; i++ {
		l.allow(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	if got := l.tracked(); got != maxTrackedClients {
		t.Fatalf("tracked %d addresses, want the cap %d", got, maxTrackedClients)
	}
	// The addresses beyond the cap share one bucket, which is empty by now.
	if ok, _ := l.allow("172.16.0.1"); ok {
		t.Fatal("an address beyond the cap escaped the shared bucket")
	}
}

func TestNoLimiterWhenOff(t *testing.T) {
	if l := newIPLimiter(0, nil); l != nil {
		t.Fatal("a limit of 0 built a limiter")
	}
	for _, tt := range []struct{ in, want int }{{0, 7}, {-1, 0}, {3, 3}} {
		if got := limitOrDefault(tt.in, 7); got != tt.want {
			t.Fatalf("limitOrDefault(%d, 7) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// postFrom creates a room as u, claiming to be forwarded for ip.
func postFrom(u *user, ip, name string) (int, http.Header, apiError) {
	u.app.t.Helper()
	req, _ := http.NewRequest("POST", u.app.http.URL+"/api/rooms", jsonBody(map[string]string{"name": name}))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+u.token)
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		u.app.t.Fatal(err)
	}
	defer resp.Body.Close()
	var e apiError
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, resp.Header, e
}

func TestRoomCreationIsLimitedPerAddress(t *testing.T) {
	a := newTestAppWith(t, Config{RoomsPerMinute: 3})
	u := a.newUser()
	for i := 0; i < 3; i++ {
		if status, _, _ := postFrom(u, "", "r"); status != http.StatusCreated {
			t.Fatalf("room %d = %d", i+1, status)
		}
	}
	status, header, e := postFrom(u, "", "r")
	if status != http.StatusTooManyRequests || e.Error.Code != protocol.CodeRateLimited || e.Error.Message == "" {
		t.Fatalf("4th room = %d %+v", status, e)
	}
	if secs, err := strconv.Atoi(header.Get("Retry-After")); err != nil || secs < 1 || secs > 20 {
		t.Fatalf("Retry-After = %q", header.Get("Retry-After"))
	}
	// Without a trusted proxy, X-Forwarded-For is the client's own claim
	// and changes nothing.
	if status, _, _ := postFrom(u, "203.0.113.9", "r"); status != http.StatusTooManyRequests {
		t.Fatalf("a forged X-Forwarded-For escaped the limit: %d", status)
	}
	// Other requests are not limited.
	if status := u.do("GET", "/api/rooms", "", nil); status != http.StatusOK {
		t.Fatalf("GET /api/rooms = %d", status)
	}
}

func TestTrustedProxyNamesTheClient(t *testing.T) {
	a := newTestAppWith(t, Config{RoomsPerMinute: 1, TrustedProxies: []string{"127.0.0.1", "::1"}})
	u := a.newUser()
	if status, _, _ := postFrom(u, "203.0.113.1", "r"); status != http.StatusCreated {
		t.Fatalf("first client = %d", status)
	}
	if status, _, _ := postFrom(u, "203.0.113.1", "r"); status != http.StatusTooManyRequests {
		t.Fatalf("first client again = %d", status)
	}
	if status, _, _ := postFrom(u, "203.0.113.2", "r"); status != http.StatusCreated {
		t.Fatalf("second client behind the proxy = %d", status)
	}
}

func TestNewRejectsBadProxyOrOrigin(t *testing.T) {
	for _, cfg := range []Config{
		{TrustedProxies: []string{"not-an-ip"}},
		{AllowedOrigins: []string{"ftp://example.org"}},
		{AllowedOrigins: []string{"https://example.org/path"}},
	} {
		db := newTestApp(t).store
		cfg.Store, cfg.Secret = db, []byte("0123456789abcdef0123456789abcdef")
		if srv, err := New(cfg); err == nil {
			_ = srv.sfu.Close()
			t.Fatalf("New accepted %+v", cfg)
		}
	}
}

// refusedJoin dials and returns the join error and the close code.
func refusedJoin(t *testing.T, u *user, roomID string) (protocol.Error, int) {
	t.Helper()
	c := u.dialRaw(roomID, nil)
	var e protocol.Error
	c.readInto(protocol.TypeError, &e)
	_, _, err := c.next()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("after a refused join: %v, want a close frame", err)
	}
	return e, ce.Code
}

func TestJoinsAreLimitedPerAddress(t *testing.T) {
	a := newTestAppWith(t, Config{JoinsPerMinute: 2})
	u := a.newUser()
	room := u.createRoom("r")
	u.dial(room.ID, nil)
	u.dial(room.ID, nil)
	e, code := refusedJoin(t, u, room.ID)
	if e.Code != protocol.CodeRateLimited || e.Ref != "join" || e.Message == "" || code != protocol.CloseRateLimited {
		t.Fatalf("3rd join = %+v, close %d", e, code)
	}
	var got protocol.Room
	u.do("GET", "/api/rooms/"+room.ID, "", &got)
	if got.Online != 2 {
		t.Fatalf("online = %d after a refused join, want 2", got.Online)
	}
}

func TestRoomFull(t *testing.T) {
	a := newTestAppWith(t, Config{MaxParticipants: 2})
	owner := a.newUser()
	room := owner.createRoom("small")
	first := owner.dial(room.ID, nil)
	a.newUser().dial(room.ID, url.Values{"spectator": {"1"}}) // spectators count
	var joined protocol.ParticipantJoined
	first.readInto(protocol.TypeParticipantJoined, &joined)
	e, code := refusedJoin(t, a.newUser(), room.ID)
	if e.Code != protocol.CodeRoomFull || e.Ref != "join" || code != protocol.CloseRoomFull {
		t.Fatalf("3rd join = %+v, close %d", e, code)
	}
	// The others saw nothing of the refused join.
	first.expectNothing(protocol.TypeParticipantJoined, 200*time.Millisecond)
	// A seat frees up when someone leaves.
	first.send(protocol.Leave{Type: protocol.TypeLeave})
	waitFor(t, func() bool {
		var got protocol.Room
		owner.do("GET", "/api/rooms/"+room.ID, "", &got)
		return got.Online == 1
	})
	a.newUser().dial(room.ID, nil)
}

func TestServerFull(t *testing.T) {
	a := newTestAppWith(t, Config{MaxRooms: 1})
	u := a.newUser()
	roomA, roomB := u.createRoom("A"), u.createRoom("B")
	inA := u.dial(roomA.ID, nil)
	inA2 := u.dial(roomA.ID, nil) // joining a live room is fine

	e, code := refusedJoin(t, u, roomB.ID)
	if e.Code != protocol.CodeServerFull || e.Ref != "join" || code != protocol.CloseServerFull {
		t.Fatalf("join of a 2nd live room = %+v, close %d", e, code)
	}
	var b protocol.Room
	u.do("GET", "/api/rooms/"+roomB.ID, "", &b)
	if b.Status != "open" {
		t.Fatalf("a refused join marked the room %s", b.Status)
	}
	status, header, apiErr := postFrom(u, "", "C")
	if status != http.StatusServiceUnavailable || apiErr.Error.Code != protocol.CodeServerFull || header.Get("Retry-After") == "" {
		t.Fatalf("create while full = %d %+v", status, apiErr)
	}

	// Once room A is empty, B can start.
	inA.conn.Close()
	inA2.conn.Close()
	waitFor(t, func() bool { return len(a.srv.hub.All()) == 0 })
	u.dial(roomB.ID, nil)
	if status, _, _ := postFrom(u, "", "C"); status != http.StatusServiceUnavailable {
		t.Fatalf("create while B is live = %d", status)
	}
}

func jsonBody(v any) *bytes.Reader {
	data, _ := json.Marshal(v)
	return bytes.NewReader(data)
}

func TestCloseCodeFor(t *testing.T) {
	for _, tt := range []struct {
		err  *Error
		want int
	}{
		{errRoomFull, protocol.CloseRoomFull},
		{errServerFull, protocol.CloseServerFull},
		{errRoomEnded, protocol.CloseRoomEnded},
		{rateLimited("joins", time.Second), protocol.CloseRateLimited},
		{newError(http.StatusInternalServerError, protocol.CodeInternal, "x"), protocol.CloseInternal},
		{errRoomNotFound, protocol.CloseRoomGone},
	} {
		if got := closeCodeFor(tt.err); got != tt.want {
			t.Errorf("closeCodeFor(%s) = %d, want %d", tt.err.Code, got, tt.want)
		}
	}
}
