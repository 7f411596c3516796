package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"meet/grant"
	"meet/protocol"
	"meet/store"
)

// The fuzz targets drive the real Gin handler in-process, one server per
// fuzzing process, with the abuse limits off so that every input reaches
// the handler it is meant for. Run one for a minute with
//
//	go test -run='^$' -fuzz=FuzzCreateRoom -fuzztime=60s ./app/
//
// Without -fuzz they run their seeds (and testdata/fuzz) as normal tests.

// logRecorder keeps every log record, so tests can check the level at
// which bad input is logged: debug, never warn or error.
type logRecorder struct {
	mu      sync.Mutex
	records []logRecord
}

type logRecord struct {
	level slog.Level
	text  string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, logRecord{level: r.Level, text: b.String()})
	l.mu.Unlock()
	return nil
}

// take returns the records so far and forgets them.
func (l *logRecorder) take() []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.records
	l.records = nil
	return out
}

// noLimits turns every abuse limit off.
func noLimits(cfg Config) Config {
	cfg.MaxParticipants, cfg.MaxRooms, cfg.RoomsPerMinute, cfg.JoinsPerMinute = -1, -1, -1, -1
	return cfg
}

// newRecordedServer starts a server whose log is kept in the returned
// recorder; it works for tests and fuzz targets alike.
func newRecordedServer(tb testing.TB, cfg Config) (*Server, *logRecorder) {
	tb.Helper()
	logs := &logRecorder{}
	return newServerLoggingTo(tb, cfg, logs), logs
}

// newServerLoggingTo starts a server on a fresh database that logs to h.
func newServerLoggingTo(tb testing.TB, cfg Config, h slog.Handler) *Server {
	tb.Helper()
	db, err := store.Open(filepath.Join(tb.TempDir(), "meet.db"))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Store = db
	cfg.Secret = []byte("0123456789abcdef0123456789abcdef")
	if cfg.ReconnectGrace == 0 {
		cfg.ReconnectGrace = -1 // as in newTestAppWith: a closed socket is gone
	}
	cfg.Logger = slog.New(h)
	srv, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = srv.ws.Close()
		_ = srv.sfu.Close()
		db.Close()
	})
	return srv
}

// serveOnce runs one request through the whole router.
func serveOnce(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// checkAPIAnswer fails on a 5xx, and on a 4xx that is not exactly the
// error envelope {"error":{"code","message"}} with both filled in.
func checkAPIAnswer(t *testing.T, rec *httptest.ResponseRecorder, what string) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s: status %d: %s", what, rec.Code, rec.Body.Bytes())
	}
	if rec.Code < 400 {
		return
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: %d with Content-Type %q: %q", what, rec.Code, ct, rec.Body.Bytes())
	}
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	var body errorBody
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("%s: %d body %q is not the error envelope: %v", what, rec.Code, rec.Body.Bytes(), err)
	}
	if body.Error.Code == "" || body.Error.Message == "" || !utf8.ValidString(body.Error.Message) {
		t.Fatalf("%s: %d error envelope incomplete: %q", what, rec.Code, rec.Body.Bytes())
	}
}

// checkNoWarnings fails if handling the input logged at warn or error.
func checkNoWarnings(t *testing.T, logs *logRecorder, what string) {
	t.Helper()
	for _, r := range logs.take() {
		if r.level >= slog.LevelWarn {
			t.Fatalf("%s was logged at %s: %s", what, r.level, r.text)
		}
	}
}

func FuzzCreateRoom(f *testing.F) {
	srv, logs := newRecordedServer(f, noLimits(Config{}))
	h := srv.Handler()
	for _, seed := range []string{
		`{"name":"Física 101"}`, `{"name":"  数学课  "}`, `{"name":""}`, `{"name":"a\u0000b"}`,
		`{"name":"\u202eevil"}`, `{"name":5}`, `{"name":null}`, `{}`, `[]`, `null`, ``, `{"name":"x"} {}`,
		`{"name":"x","name":"y"}`, `{"name":"` + strings.Repeat("é", 101) + `"}`, `{"name":"\xff"}`,
		`{"name":"ok","classroom":"yes"}`, `{"name":"ok","allowStage":true}`, `{"name`,
		`{"name":"ok","visibility":"unlisted"}`, `{"name":"ok","visibility":"UNLISTED"}`, `{"name":"ok","visibility":5}`,
		`{"name":"ok","visibility":null}`, `{"name":"ok","passcode":"tulip-42"}`, `{"name":"ok","passcode":"abc"}`,
		`{"name":"ok","passcode":"` + strings.Repeat("ü", 40) + `"}`, `{"name":"ok","passcode":"a\u0000bcd"}`,
		`{"name":"ok","passcode":["x"]}`, `{"name":"ok","visibility":"unlisted","passcode":"  spaced out  "}`,
		`{"name":"ok","hostStart":true}`, `{"name":"ok","hostStart":"yes"}`, `{"name":"ok","hostStart":null}`,
	} {
		f.Add([]byte(seed), "application/json")
	}
	f.Add([]byte(`name=x`), "application/x-www-form-urlencoded")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		req := httptest.NewRequest("POST", "/api/rooms", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := serveOnce(h, req)
		checkAPIAnswer(t, rec, "POST /api/rooms")
		if rec.Code == http.StatusCreated {
			var room protocol.Room
			if err := json.Unmarshal(rec.Body.Bytes(), &room); err != nil {
				t.Fatalf("created room %q: %v", rec.Body.Bytes(), err)
			}
			// The stored name is a clean one, whatever was sent.
			if clean, err := cleanRoomName(room.Name); err != nil || clean != room.Name || !store.ValidRoomID(room.ID) {
				t.Fatalf("created room %+v from %q", room, body)
			}
		}
		checkNoWarnings(t, logs, "a room creation")
	})
}

// roomPlaceholder in a fuzzed path stands for a room that exists.
const roomPlaceholder = "{room}"

func FuzzRoomPath(f *testing.F) {
	srv, logs := newRecordedServer(f, noLimits(Config{}))
	h := srv.Handler()
	owner := newIdentity(time.Now())
	room, err := srv.store.CreateRoom("fuzz", owner.ID, owner.Name)
	if err != nil {
		f.Fatal(err)
	}
	methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
	for i, seed := range []string{
		roomPlaceholder, roomPlaceholder + "/participants", roomPlaceholder + "/messages", roomPlaceholder + "/end",
		"zzzzzzzzzz", "../../etc/passwd", "%2e%2e", "", "/", "a/b/c", "\x00", "\xff\xfe", strings.Repeat("a", 5000),
		"ROOMROOMRO", roomPlaceholder + "/", roomPlaceholder + "//end", "{room}/messages/../end",
		roomPlaceholder + "/attendance", roomPlaceholder + "/attendance?format=csv", roomPlaceholder + "/passcode",
		"zzzzzzzzzz/attendance", roomPlaceholder + "/attendance/../end",
		roomPlaceholder + "/bans", roomPlaceholder + "/bans/u_nobody", roomPlaceholder + "/bans/%00",
		roomPlaceholder + "/invites", roomPlaceholder + "/invites/iv_nosuchinvite", roomPlaceholder + "/invites/" + strings.Repeat("x", 300),
	} {
		f.Add(seed, uint8(i))
	}
	f.Fuzz(func(t *testing.T, rest string, method uint8) {
		path := "/api/rooms/" + strings.ReplaceAll(rest, roomPlaceholder, room.ID)
		req := httptest.NewRequest("GET", "/", nil)
		req.Method = methods[int(method)%len(methods)]
		// Set the path as the router sees it, bypassing URL parsing, so
		// any bytes reach it.
		req.URL.Path, req.URL.RawPath = path, ""
		req.RequestURI = path
		// Only the owner could end the room; this identity is anyone.
		rec := serveOnce(h, req)
		checkAPIAnswer(t, rec, req.Method+" "+path)
		if ended, err := srv.store.Room(room.ID); err != nil || ended.Status == store.StatusEnded {
			t.Fatalf("%s %q changed the room: %+v %v", req.Method, path, ended, err)
		}
		checkNoWarnings(t, logs, req.Method+" "+path)
	})
}

func FuzzMessagesQuery(f *testing.F) {
	srv, logs := newRecordedServer(f, noLimits(Config{}))
	h := srv.Handler()
	owner := newIdentity(time.Now())
	room, err := srv.store.CreateRoom("fuzz", owner.ID, owner.Name)
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := srv.store.AppendMessage(&store.ChatMessage{RoomID: room.ID, SenderID: "p_x", UserID: owner.ID, SenderName: "x", Text: "hi", CreatedAt: time.Now()}); err != nil {
			f.Fatal(err)
		}
	}
	for _, seed := range []string{
		"", "after=0", "after=1&limit=1", "limit=500", "limit=501", "limit=0", "after=-1", "after=9223372036854775807",
		"after=9223372036854775808", "limit=1e3", "after=0x10", "after=%00", "after=1&after=2", "limit=", "after",
		"limit=-0", "after=+1", "limit=%ff%fe", ";;;", "after=1;limit=2",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		req := httptest.NewRequest("GET", "/api/rooms/"+room.ID+"/messages", nil)
		req.URL.RawQuery = rawQuery
		rec := serveOnce(h, req)
		checkAPIAnswer(t, rec, "GET messages?"+rawQuery)
		if rec.Code == http.StatusOK {
			var page struct {
				Messages []protocol.ChatMessage `json:"messages"`
				HasMore  *bool                  `json:"hasMore"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || page.HasMore == nil || len(page.Messages) > 3 {
				t.Fatalf("messages?%s = %q (%v)", rawQuery, rec.Body.Bytes(), err)
			}
		}
		checkNoWarnings(t, logs, "messages?"+rawQuery)
	})
}

func FuzzDisplayName(f *testing.F) {
	srv, logs := newRecordedServer(f, noLimits(Config{}))
	h := srv.Handler()
	for _, seed := range []string{
		"Ana", "  Profa. Ana  ", "", " ", "\t\n", "a\x00b", "a\x7fb", "\u200eA", "\u2066x\u2069", "👩‍👩‍👧",
		strings.Repeat("n", 10000), strings.Repeat("é", 50), strings.Repeat("é", 51), "\xff", "a\u0085b", "\ufeffBOM",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		name, err := cleanDisplayName(raw)
		if err == nil {
			n := utf8.RuneCountInString(name)
			if !utf8.ValidString(name) || n < 1 || n > maxDisplayNameChars || name != strings.TrimSpace(name) {
				t.Fatalf("cleanDisplayName(%q) = %q", raw, name)
			}
			for _, r := range name {
				if unicode.IsControl(r) || isBidiControl(r) {
					t.Fatalf("cleanDisplayName(%q) kept U+%04X", raw, r)
				}
			}
			if again, err := cleanDisplayName(name); err != nil || again != name {
				t.Fatalf("cleaning %q again gave %q, %v", name, again, err)
			}
		} else {
			var apiErr *Error
			if !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeInvalidName || apiErr.Status != http.StatusBadRequest {
				t.Fatalf("cleanDisplayName(%q) error %v", raw, err)
			}
		}
		// The API agrees with the function. The body is built by hand so
		// that invalid UTF-8 reaches the server as it is.
		body := append(append([]byte(`{"name":"`), jsonEscapeKeepingBytes(raw)...), `"}`...)
		req := httptest.NewRequest("PUT", "/api/me", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := serveOnce(h, req)
		checkAPIAnswer(t, rec, "PUT /api/me")
		var me meResponse
		switch {
		case rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &me) == nil:
			// encoding/json turns invalid UTF-8 into U+FFFD on the way in.
			if want, _ := cleanDisplayName(strings.ToValidUTF8(raw, "\uFFFD")); me.Name != want {
				t.Fatalf("PUT /api/me %q = %q, want %q", raw, me.Name, want)
			}
		case rec.Code == http.StatusBadRequest:
			if _, err := cleanDisplayName(strings.ToValidUTF8(raw, "\uFFFD")); err == nil {
				t.Fatalf("PUT /api/me refused %q: %s", raw, rec.Body.Bytes())
			}
		default:
			t.Fatalf("PUT /api/me %q = %d %s", raw, rec.Code, rec.Body.Bytes())
		}
		checkNoWarnings(t, logs, "a display name")
	})
}

// jsonEscapeKeepingBytes escapes quotes, backslashes and control bytes for
// a JSON string and leaves every other byte alone, invalid UTF-8 included.
func jsonEscapeKeepingBytes(s string) []byte {
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return b.Bytes()
}

func FuzzIdentityToken(f *testing.F) {
	srv, logs := newRecordedServer(f, noLimits(Config{}))
	h := srv.Handler()
	known := Identity{ID: "u_known", Name: "Ana", IssuedAt: time.Now().Unix()}
	valid := srv.tokens.sign(known)
	expired := srv.tokens.sign(Identity{ID: "u_old", Name: "Old", IssuedAt: time.Now().Add(-2 * tokenLifetime).Unix()})
	other := tokenSigner{secret: []byte("another secret, another server!!")}.sign(known)
	for _, seed := range []string{
		valid, expired, other, "", ".", "a.b", valid + "x", valid[:len(valid)-1], strings.Replace(valid, ".", "..", 1),
		"e30.", "bnVsbA." + strings.Split(valid, ".")[1], strings.Repeat("A", 3000) + "." + "B", "\x00.\x00",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		id, err := srv.tokens.verify(token, time.Now())
		if err == nil {
			// Only this server's secret makes a token valid, so the signed
			// part is one it wrote: the known identity's (a corpus entry
			// may carry one signed in an earlier run, at another time).
			body, _, _ := strings.Cut(token, ".")
			wantBody, _, _ := strings.Cut(srv.tokens.sign(id), ".")
			if body != wantBody || id.ID != known.ID || id.Name != known.Name {
				t.Fatalf("accepted a token this server did not sign: %q → %+v", token, id)
			}
		}
		req := httptest.NewRequest("GET", "/api/me", nil)
		req.Header["Authorization"] = []string{"Bearer " + token}
		rec := serveOnce(h, req)
		checkAPIAnswer(t, rec, "GET /api/me")
		// A good token is the known identity; a bad one is refused with
		// 401, never replaced in silence; no token at all is a new guest.
		var me meResponse
		switch {
		case err != nil && token != "":
			if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), protocol.CodeUnauthorized) {
				t.Fatalf("GET /api/me with bad token %q = %d %s, want 401 unauthorized", token, rec.Code, rec.Body.Bytes())
			}
		case rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &me) != nil:
			t.Fatalf("GET /api/me with token %q = %d %s", token, rec.Code, rec.Body.Bytes())
		case (err == nil) != (me.ID == known.ID):
			t.Fatalf("token %q (verify err %v) gave identity %s", token, err, me.ID)
		}
		checkNoWarnings(t, logs, "an identity token")
	})
}

// socketFuzzScene is one room in SFU mode (three participants, -mesh-max
// 2): the fuzzed frames come from a participant who is not the owner; the
// owner and a third participant only watch.
type socketFuzzScene struct {
	srv      *Server
	logs     *logRecorder
	wsURL    string
	room     *store.Room
	sender   Identity
	conn     *websocket.Conn
	watchers []*socketWatcher

	mu    sync.Mutex
	conns []*websocket.Conn // every socket dialled, closed at the end
}

// socketWatcher reads a watching participant's socket until it closes.
type socketWatcher struct {
	mu     sync.Mutex
	closed error
	ended  bool
}

func (w *socketWatcher) state() (error, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed, w.ended
}

func newSocketFuzzScene(f *testing.F) *socketFuzzScene {
	srv, logs := newRecordedServer(f, noLimits(Config{MeshMax: 2}))
	hs := httptest.NewServer(srv.Handler())
	f.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
	})
	owner, sender, third := newIdentity(time.Now()), newIdentity(time.Now()), newIdentity(time.Now())
	room, err := srv.store.CreateRoom("fuzz", owner.ID, owner.Name)
	if err != nil {
		f.Fatal(err)
	}
	sc := &socketFuzzScene{srv: srv, logs: logs, wsURL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws", room: room, sender: sender}
	f.Cleanup(func() {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		for _, c := range sc.conns {
			c.Close()
		}
	})
	for _, id := range []Identity{owner, third} {
		conn := sc.dial(f, id)
		w := &socketWatcher{}
		sc.watchers = append(sc.watchers, w)
		go func() {
			_ = conn.SetReadDeadline(time.Time{}) // dial set one for the welcome
			for {
				_, data, err := conn.ReadMessage()
				if err != nil {
					w.mu.Lock()
					w.closed = err
					w.mu.Unlock()
					return
				}
				if bytes.Contains(data, []byte(`"type":"room-ended"`)) {
					w.mu.Lock()
					w.ended = true
					w.mu.Unlock()
				}
			}
		}()
	}
	logs.take()
	return sc
}

// dial joins the room as id and reads the welcome.
func (sc *socketFuzzScene) dial(tb testing.TB, id Identity) *websocket.Conn {
	tb.Helper()
	q := url.Values{"room": {sc.room.ID}, "token": {sc.srv.tokens.sign(id)}}
	conn, _, err := websocket.DefaultDialer.Dial(sc.wsURL+"?"+q.Encode(), nil)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	sc.mu.Lock()
	sc.conns = append(sc.conns, conn)
	sc.mu.Unlock()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, data, err := conn.ReadMessage(); err != nil || !bytes.Contains(data, []byte(`"type":"welcome"`)) {
		tb.Fatalf("no welcome: %q %v", data, err)
	}
	return conn
}

// FuzzSocketFrame sends one client frame through the real /ws of a room
// that uses the SFU, then a probe. Whatever the frame, the server answers
// the probe (the socket and its handler survived), never reports an
// internal error, logs nothing above debug, and the other participants'
// sockets stay open in a room that has not ended.
func FuzzSocketFrame(f *testing.F) {
	sc := newSocketFuzzScene(f)
	offer := pionOffer(f)
	for _, seed := range []string{
		`{"type":"signal","to":"p_x","kind":"offer","sdp":"v=0"}`,
		`{"type":"signal","to":"p_x","kind":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"media","source":"camera","action":"published","streamId":"s"}`,
		`{"type":"media","source":"screen","action":"paused"}`,
		`{"type":"rename","name":"Ana"}`,
		`{"type":"chat-send","text":"hi","clientId":"c1"}`,
		`{"type":"chat-sync","after":0}`,
		`{"type":"sfu","pc":"publish","kind":"offer","sdp":` + jsonQuote(offer) + `,"tracks":{"0":"microphone"}}`,
		`{"type":"sfu","pc":"publish","kind":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}}`,
		`{"type":"sfu","pc":"subscribe","kind":"answer","sdp":"v=0\r\n"}`,
		`{"type":"sfu-close","epoch":1}`,
		`{"type":"stage-set","on":true}`, `{"type":"hand","raised":true}`, `{"type":"end-room"}`,
		`{"type":"remove","id":"p_x"}`, `{"type":"mute-request","id":"p_x"}`, `{"type":"owner-set","id":"p_x"}`,
		`{"type":"room-settings","classroom":true}`, `{"type":"hand-answer","id":"p_x","accept":true}`,
		`{"type":"mute-all"}`, `{"type":"mute-all","source":"camera"}`, `{"type":"lower-hands"}`,
		`{"type":"lobby-admit","id":"p_x"}`, `{"type":"lobby-deny","id":"p_x"}`, `{"type":"lobby-admit-all"}`,
		`{"type":"room-settings","lobby":true}`, `{"type":"room-settings","locked":true}`,
		`{"type":"reaction","emoji":"👍"}`, `{"type":"reaction","emoji":"nope"}`,
		`{"type":"audio-level","level":0.42}`, `{"type":"audio-level","level":"x"}`,
		`{"type":"leave"}`, `{}`, `[]`, `nul`, "\xff",
		`{"type":"passcode","passcode":"tulip-42"}`, `{"type":"passcode"}`, `{"type":"passcode","passcode":5}`,
		`{"type":"passcode","passcode":"` + strings.Repeat("x", 200) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if sc.conn == nil {
			sc.conn = sc.dial(t, sc.sender)
		}
		conn := sc.conn
		_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := conn.WriteMessage(websocket.TextMessage, frame); err != nil {
			t.Fatalf("write: %v", err)
		}
		_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"probe"}`))
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				// Only a leave, or a frame the socket will not read,
				// closes the sender's own socket.
				var ce *websocket.CloseError
				if !errors.As(err, &ce) || (ce.Code != protocol.CloseLeft && ce.Code != websocket.CloseMessageTooBig) {
					t.Fatalf("socket closed after %q: %v", frame, err)
				}
				sc.conn = nil
				break
			}
			var e protocol.Error
			if json.Unmarshal(data, &e) != nil || e.Type != protocol.TypeError {
				continue
			}
			if e.Code == "" || e.Message == "" || e.Code == protocol.CodeInternal {
				t.Fatalf("frame %q answered with %+v", frame, e)
			}
			if e.Code == protocol.CodeUnknownType && strings.Contains(e.Message, `"probe"`) {
				break
			}
		}
		checkNoWarnings(t, sc.logs, "a socket frame")
		for i, w := range sc.watchers {
			if closed, ended := w.state(); closed != nil || ended {
				t.Fatalf("after %q watcher %d: closed %v, room ended %v", frame, i, closed, ended)
			}
		}
	})
}

// pionOffer is a real publish offer with one audio track.
func pionOffer(tb testing.TB) string {
	tb.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		tb.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		tb.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return offer.SDP
}

// jsonQuote is s as a JSON string.
func jsonQuote(s string) string {
	data, _ := json.Marshal(s)
	return string(data)
}

// FuzzInviteRequest: whatever the owner sends to make an invite link, the
// answer is a 201 with a link of an allowed role, or a clean 4xx, and
// nothing is stored for a refusal.
func FuzzInviteRequest(f *testing.F) {
	srv, logs := newRecordedServer(f, noLimits(Config{}))
	h := srv.Handler()
	owner := newIdentity(time.Now())
	room, err := srv.store.CreateRoom("fuzz", owner.ID, owner.Name)
	if err != nil {
		f.Fatal(err)
	}
	token := srv.tokens.sign(owner)
	for _, seed := range []string{
		`{"role":"presenter","ttl":3600}`, `{"role":"viewer"}`, `{}`, `{"role":"owner"}`, `{"role":"moderator"}`,
		`{"role":"viewer","ttl":-1}`, `{"role":"viewer","ttl":2592001}`, `{"role":"viewer","ttl":1.5}`,
		`{"role":"viewer","ttl":"3600"}`, `{"role":null}`, `[]`, ``, `{"role":"viewer"} {}`, `{"role":"\u0000"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		before, err := srv.store.Invites(room.ID)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("POST", "/api/rooms/"+room.ID+"/invites", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		rec := serveOnce(h, req)
		checkAPIAnswer(t, rec, "POST invites")
		after, err := srv.store.Invites(room.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case rec.Code == http.StatusCreated:
			if len(after) != len(before)+1 || !grant.ValidInviteRole(after[0].Role) {
				t.Fatalf("created from %q: %+v", body, after)
			}
		case len(after) != len(before):
			t.Fatalf("a refusal (%d) from %q stored an invite", rec.Code, body)
		}
		checkNoWarnings(t, logs, "an invite request")
	})
}
