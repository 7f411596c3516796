package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"meet/protocol"
)

// server is the app under test, reached over its public API only.
type server struct {
	base *url.URL
	http *http.Client
}

func newServer(raw string) (*server, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-url %q: want http://host:port or https://host:port", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &server{base: u, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// identity is what GET /api/me hands out: the server makes identities, the
// tool only keeps their tokens.
type identity struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Token string `json:"token"`
}

func (s *server) do(ctx context.Context, method, path, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base.String()+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// newIdentity asks the server for a fresh anonymous identity.
func (s *server) newIdentity(ctx context.Context) (identity, error) {
	var id identity
	err := s.do(ctx, http.MethodGet, "/api/me", "", nil, &id)
	if err == nil && id.Token == "" {
		err = fmt.Errorf("GET /api/me: no token in the answer")
	}
	return id, err
}

// createRoom creates a room owned by owner; a classroom room lets only
// its stage members publish.
// newOwnedRoom creates a room owned by a new identity through the
// first node and, with -server-pid, samples the servers before anyone
// joins.
func newOwnedRoom(ctx context.Context, cl *cluster, name string, classroom bool) (identity, protocol.Room, procSample, error) {
	var before procSample
	srv := cl.servers[0]
	owner, err := srv.newIdentity(ctx)
	if err != nil {
		return identity{}, protocol.Room{}, before, err
	}
	room, err := srv.createRoom(ctx, owner, name, classroom)
	if err == nil {
		before, err = cl.procTotal()
	}
	return owner, room, before, err
}

func (s *server) createRoom(ctx context.Context, owner identity, name string, classroom bool) (protocol.Room, error) {
	var room protocol.Room
	err := s.do(ctx, http.MethodPost, "/api/rooms", owner.Token, map[string]any{"name": name, "classroom": classroom}, &room)
	return room, err
}

// handlers receive what a session's socket carries. Each is called from
// the session's one reader goroutine, in arrival order; nil ones skip.
type handlers struct {
	sfu   func(protocol.SFU)
	mode  func(protocol.Mode)
	chat  func(m protocol.ChatMessage, at time.Time)
	error func(protocol.Error)
}

// welcome is what the tool reads of a welcome. It lists the class so far,
// which a simulated viewer never looks at; decoding it into a
// protocol.Welcome made 300 joins at once cost the tool a tenth of its CPU.
type welcome struct {
	Self protocol.Participant `json:"self"`
	Mode string               `json:"mode"`
}

// session is one participant's WebSocket, speaking the app's protocol.
type session struct {
	conn     *websocket.Conn
	upgraded time.Time // when the WebSocket handshake was done
	welcome  welcome
	wmu      sync.Mutex
	done     chan struct{}
}

// join opens /ws for roomID with the identity's token and reads the
// welcome. What comes after waits on the socket until serve.
func (s *server) join(ctx context.Context, id identity, roomID string, spectator bool) (*session, error) {
	q := url.Values{"room": {roomID}, "token": {id.Token}}
	if spectator {
		q.Set("spectator", "1")
	}
	ws := *s.base
	ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[s.base.Scheme]
	ws.Path += "/ws"
	ws.RawQuery = q.Encode()
	dialer := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	conn, _, err := dialer.DialContext(ctx, ws.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("join room %s: %w", roomID, err)
	}
	ss := &session{conn: conn, upgraded: time.Now(), done: make(chan struct{})}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("join room %s: waiting for welcome: %w", roomID, err)
		}
		switch messageType(data) {
		case protocol.TypeError:
			var e protocol.Error
			_ = json.Unmarshal(data, &e)
			conn.Close()
			return nil, fmt.Errorf("join room %s refused: %s: %s", roomID, e.Code, e.Message)
		case protocol.TypeWelcome:
			if err := json.Unmarshal(data, &ss.welcome); err != nil {
				conn.Close()
				return nil, fmt.Errorf("join room %s: bad welcome: %w", roomID, err)
			}
			_ = conn.SetReadDeadline(time.Time{})
			return ss, nil
		}
	}
}

// serve hands h every message after the welcome, until the socket closes.
// It starts once the caller is ready for them: a handler may answer on
// the session.
func (ss *session) serve(h handlers) {
	go ss.pump(h)
}

func (ss *session) pump(h handlers) {
	defer close(ss.done)
	for {
		_, data, err := ss.conn.ReadMessage()
		if err != nil {
			return
		}
		at := time.Now()
		switch messageType(data) {
		case protocol.TypeSFU:
			var m protocol.SFU
			if h.sfu != nil && json.Unmarshal(data, &m) == nil {
				h.sfu(m)
			}
		case protocol.TypeMode:
			var m protocol.Mode
			if h.mode != nil && json.Unmarshal(data, &m) == nil {
				h.mode(m)
			}
		case protocol.TypeChatMessage:
			var m protocol.ChatMessage
			if h.chat != nil && json.Unmarshal(data, &m) == nil {
				h.chat(m, at)
			}
		case protocol.TypeError:
			var m protocol.Error
			if h.error != nil && json.Unmarshal(data, &m) == nil {
				h.error(m)
			}
		}
	}
}

// typePrefix starts every message the server encodes: Type is each
// message struct's first field.
var typePrefix = []byte(`{"type":"`)

// messageType reads a message's type. Decoding a whole message only to
// learn that it is a roster update nobody here reads cost the tool a
// tenth of its CPU while 300 joined at once (each joiner's welcome and
// each batched announcement list the class), so the type is read from the
// message's start, and only a message laid out otherwise is decoded.
func messageType(data []byte) string {
	if rest, ok := bytes.CutPrefix(data, typePrefix); ok {
		if end := bytes.IndexByte(rest, '"'); end >= 0 && bytes.IndexByte(rest[:end], '\\') < 0 {
			return string(rest[:end])
		}
	}
	var env protocol.Envelope
	if json.Unmarshal(data, &env) != nil {
		return ""
	}
	return env.Type
}

// send writes one message; the socket takes one writer at a time.
func (ss *session) send(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	_ = ss.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return ss.conn.WriteMessage(websocket.TextMessage, data)
}

// close says goodbye and waits briefly for the server to close the socket.
func (ss *session) close() {
	_ = ss.send(protocol.Leave{Type: protocol.TypeLeave})
	select {
	case <-ss.done:
	case <-time.After(2 * time.Second):
	}
	ss.conn.Close()
}
