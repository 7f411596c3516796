package app

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"meet/protocol"
	"meet/store"
)

// testApp is a running server on a fresh database.
type testApp struct {
	t     *testing.T
	srv   *Server
	http  *httptest.Server
	store *store.Store
}

func newTestApp(t *testing.T) *testApp {
	t.Helper()
	return newTestAppWith(t, Config{})
}

// newTestAppWith starts a server with cfg, filling in the store, secret,
// logger and a free UDP port.
func newTestAppWith(t *testing.T, cfg Config) *testApp {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "meet.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store = db
	cfg.Secret = []byte("0123456789abcdef0123456789abcdef")
	if cfg.ReconnectGrace == 0 {
		// Most tests close a socket to mean "gone"; resume_test.go sets
		// a grace of its own.
		cfg.ReconnectGrace = -1
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// bcrypt's cheapest cost: a passcode test need not be slow to be right.
	srv.passcodeCost = bcrypt.MinCost
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.CloseClientConnections()
		_ = srv.ws.Close()
		_ = srv.sfu.Close()
		srv.turn.close()
		hs.Close()
		db.Close()
	})
	return &testApp{t: t, srv: srv, http: hs, store: db}
}

// user is one API client with its own identity.
type user struct {
	app   *testApp
	token string
	id    string
}

// newUser gets a fresh identity from GET /api/me.
func (a *testApp) newUser() *user {
	a.t.Helper()
	u := &user{app: a}
	var me meResponse
	if status := u.do("GET", "/api/me", "", &me); status != http.StatusOK {
		a.t.Fatalf("GET /api/me = %d", status)
	}
	u.token, u.id = me.Token, me.ID
	return u
}

// do sends a request with the user's token and decodes the JSON answer
// into out (when not nil). It returns the status.
func (u *user) do(method, path, body string, out any) int {
	u.app.t.Helper()
	status, data := u.raw(method, path, "application/json", []byte(body))
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			u.app.t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return status
}

func (u *user) raw(method, path, contentType string, body []byte) (int, []byte) {
	u.app.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u.app.http.URL+path, rd)
	if err != nil {
		u.app.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if u.token != "" {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		u.app.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func (u *user) createRoom(name string) protocol.Room {
	u.app.t.Helper()
	var room protocol.Room
	body, _ := json.Marshal(map[string]string{"name": name})
	if status := u.do("POST", "/api/rooms", string(body), &room); status != http.StatusCreated {
		u.app.t.Fatalf("create room %q = %d", name, status)
	}
	return room
}

// client is one WebSocket participant.
type client struct {
	t    *testing.T
	conn *websocket.Conn
	self protocol.Participant
	wel  protocol.Welcome
}

// dial opens a WebSocket for u in roomID and reads the welcome. query adds
// URL parameters such as name and spectator.
func (u *user) dial(roomID string, query url.Values) *client {
	u.app.t.Helper()
	c := u.dialRaw(roomID, query)
	var w protocol.Welcome
	c.readInto(protocol.TypeWelcome, &w)
	c.wel, c.self = w, w.Self
	return c
}

func (u *user) dialRaw(roomID string, query url.Values) *client {
	u.app.t.Helper()
	if query == nil {
		query = url.Values{}
	}
	query.Set("room", roomID)
	query.Set("token", u.token)
	wsURL := "ws" + strings.TrimPrefix(u.app.http.URL, "http") + "/ws?" + query.Encode()
	conn, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		u.app.t.Fatalf("dial: %v", err)
	}
	c := &client{t: u.app.t, conn: conn}
	u.app.t.Cleanup(func() { conn.Close() })
	return c
}

// send writes a raw JSON frame.
func (c *client) send(v any) {
	c.t.Helper()
	var data []byte
	switch m := v.(type) {
	case string:
		data = []byte(m)
	default:
		data, _ = json.Marshal(v)
	}
	if err := c.conn.WriteMessage(websocket.TextMessage, data); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next reads one message with a deadline.
func (c *client) next() (string, []byte, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := c.conn.ReadMessage()
	if err != nil {
		return "", nil, err
	}
	var env protocol.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		c.t.Fatalf("server sent invalid JSON %q", data)
	}
	return env.Type, data, nil
}

// readInto skips messages until one of type typ arrives and decodes it.
func (c *client) readInto(typ string, out any) {
	c.t.Helper()
	for {
		got, data, err := c.next()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", typ, err)
		}
		if got == typ {
			if err := json.Unmarshal(data, out); err != nil {
				c.t.Fatal(err)
			}
			return
		}
	}
}

// expectNothing checks that no message of type typ arrives within d.
func (c *client) expectNothing(typ string, d time.Duration) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return // the deadline passed
		}
		var env protocol.Envelope
		_ = json.Unmarshal(data, &env)
		if env.Type == typ {
			c.t.Fatalf("unexpected %s: %s", typ, data)
		}
	}
}
