package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"meet/chat"
	"meet/protocol"
	"meet/store"
)

// Tests of the chat glue. TestChatStoreAdapterSurvivesRestart needs only
// this file; the others need the wiring in server.go and ws.go (the route,
// join/leave and the dispatch).

type messagesBody struct {
	Messages []protocol.ChatMessage `json:"messages"`
	HasMore  bool                   `json:"hasMore"`
}

func pageSeqs(msgs []protocol.ChatMessage) string {
	seqs := make([]int64, len(msgs))
	for i, m := range msgs {
		seqs[i] = m.Seq
	}
	return fmt.Sprint(seqs)
}

// frames is a chat.Member that keeps what it is sent.
type frames struct {
	mu  sync.Mutex
	got []string
}

func (f *frames) Send(b []byte) {
	f.mu.Lock()
	f.got = append(f.got, string(b))
	f.mu.Unlock()
}

func (f *frames) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got[len(f.got)-1]
}

// TestChatStoreAdapterSurvivesRestart runs the chat service on the real
// SQLite store, closes everything and starts again on the same file: the
// history is served, numbering continues, and a resend that straddles the
// restart is recognised.
func TestChatStoreAdapterSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meet.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := chat.New(chat.Config{Store: chatStore{db: db}})
	if err != nil {
		t.Fatal(err)
	}
	ana := chat.Sender{ID: "p_1", UserID: "u_ana", Name: "Ana"}
	if err := svc.Join("roomaaaaaa", ana.ID, &frames{}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := svc.Send("roomaaaaaa", ana, &protocol.ChatSend{Text: fmt.Sprint("before ", i), ClientID: fmt.Sprint("c-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	db, err = store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, err = chat.New(chat.Config{Store: chatStore{db: db}})
	if err != nil {
		t.Fatal(err)
	}
	ana.ID = "p_2"
	f := &frames{}
	if err := svc.Join("roomaaaaaa", ana.ID, f); err != nil {
		t.Fatal(err)
	}
	if h := f.last(); !strings.Contains(h, `"seq":3`) || !strings.Contains(h, `"text":"before 1"`) || !strings.Contains(h, `"hasMore":false`) {
		t.Fatalf("history after restart = %s", h)
	}
	if err := svc.Send("roomaaaaaa", ana, &protocol.ChatSend{Text: "before 3", ClientID: "c-3"}); err != nil {
		t.Fatal(err)
	}
	if ack := f.last(); !strings.Contains(ack, `"seq":3`) || !strings.Contains(ack, `"from":"p_1"`) {
		t.Fatalf("resend across the restart was not recognised: %s", ack)
	}
	if err := svc.Send("roomaaaaaa", ana, &protocol.ChatSend{Text: "after"}); err != nil {
		t.Fatal(err)
	}
	if msg := f.last(); !strings.Contains(msg, `"seq":4`) || !strings.Contains(msg, `"from":"p_2"`) {
		t.Fatalf("first message after restart = %s", msg)
	}
}

func TestGetMessages(t *testing.T) {
	a := newTestApp(t)
	u := a.newUser()
	room := u.createRoom("History")

	var page messagesBody
	if status := u.do("GET", "/api/rooms/"+room.ID+"/messages", "", &page); status != http.StatusOK || page.Messages == nil || len(page.Messages) != 0 {
		t.Fatalf("empty room: %d %+v", status, page)
	}
	for i := 1; i <= 7; i++ {
		msg := store.ChatMessage{RoomID: room.ID, SenderID: "p_x", UserID: u.id, SenderName: "Ana", Text: fmt.Sprint("<b>m", i, "</b>")}
		if _, err := a.store.AppendMessage(&msg); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		query, want string
		more        bool
	}{
		{"", "[1 2 3 4 5 6 7]", false},
		{"?after=0", "[1 2 3 4 5 6 7]", false},
		{"?after=2&limit=3", "[3 4 5]", true},
		{"?after=5", "[6 7]", false},
		{"?after=4&limit=3", "[5 6 7]", false},
		{"?after=7", "[]", false},
		{"?after=1000", "[]", false},
		{"?limit=500", "[1 2 3 4 5 6 7]", false},
		{"?limit=1", "[1]", true},
	} {
		var page messagesBody
		if status := u.do("GET", "/api/rooms/"+room.ID+"/messages"+tt.query, "", &page); status != http.StatusOK {
			t.Fatalf("%s: status %d", tt.query, status)
		}
		if got := pageSeqs(page.Messages); got != tt.want || page.HasMore != tt.more {
			t.Fatalf("%s = %s more %v, want %s more %v", tt.query, got, page.HasMore, tt.want, tt.more)
		}
	}
	var full messagesBody
	u.do("GET", "/api/rooms/"+room.ID+"/messages?limit=1", "", &full)
	if m := full.Messages[0]; m.Text != "<b>m1</b>" || m.FromName != "Ana" || m.UserID != u.id || m.Time == "" {
		t.Fatalf("message = %+v", m)
	}

	for _, query := range []string{"?after=-1", "?after=x", "?after=", "?after=1.5", "?limit=0", "?limit=501", "?limit=ten", "?limit=-3"} {
		var e apiError
		if status := u.do("GET", "/api/rooms/"+room.ID+"/messages"+query, "", &e); status != http.StatusBadRequest || e.Error.Code != protocol.CodeBadRequest || e.Error.Message == "" {
			t.Fatalf("%s: %d %+v", query, status, e)
		}
	}
	for _, id := range []string{"zzzzzzzzzz", "nope"} {
		var e apiError
		if status := u.do("GET", "/api/rooms/"+id+"/messages", "", &e); status != http.StatusNotFound || e.Error.Code != protocol.CodeNotFound {
			t.Fatalf("unknown room %s: %d %+v", id, status, e)
		}
	}

	// An ended room's history stays readable.
	if status := u.do("POST", "/api/rooms/"+room.ID+"/end", "", nil); status != http.StatusOK {
		t.Fatalf("end = %d", status)
	}
	if status := u.do("GET", "/api/rooms/"+room.ID+"/messages", "", &page); status != http.StatusOK || len(page.Messages) != 7 {
		t.Fatalf("ended room: %d, %d messages", status, len(page.Messages))
	}
}

func TestChatOverWebSocket(t *testing.T) {
	clock := newChatClock()
	a := newTestAppWith(t, Config{Now: clock.now})
	owner := a.newUser()
	room := owner.createRoom("Chat")
	c1 := owner.dial(room.ID, url.Values{"name": {"Ana"}})
	var h protocol.ChatHistory
	c1.readInto(protocol.TypeChatHistory, &h)
	if h.Messages == nil || len(h.Messages) != 0 || h.HasMore {
		t.Fatalf("first joiner's history = %+v", h)
	}
	bob := a.newUser()
	c2 := bob.dial(room.ID, url.Values{"name": {"Bob"}})
	c2.readInto(protocol.TypeChatHistory, &h)

	// Markup and emoji go through as text; a forged sender is overwritten.
	const markup = `<img src=x onerror=alert(1)> 👩‍🏫 olá`
	c1.send(map[string]any{"type": "chat-send", "text": markup, "clientId": "c-1", "from": c2.self.ID, "fromName": "Bob", "userId": bob.id, "seq": 99})
	for _, c := range []*client{c1, c2} {
		var m protocol.ChatMessage
		c.readInto(protocol.TypeChatMessage, &m)
		if m.Seq != 1 || m.From != c1.self.ID || m.FromName != "Ana" || m.UserID != owner.id || m.Text != markup || m.ClientID != "c-1" {
			t.Fatalf("chat-message = %+v", m)
		}
		if want := clock.now().Format(protocol.ChatTimeLayout); m.Time != want {
			t.Fatalf("time %q, want %q: the chat's clock", m.Time, want)
		}
	}

	// A late joiner, a spectator, sees the history and can chat.
	spec := a.newUser().dial(room.ID, url.Values{"name": {"Carol"}, "spectator": {"1"}})
	spec.readInto(protocol.TypeChatHistory, &h)
	if len(h.Messages) != 1 || h.Messages[0].Text != markup {
		t.Fatalf("late joiner's history = %+v", h)
	}
	spec.send(protocol.ChatSend{Type: protocol.TypeChatSend, Text: "A question from the back"})
	var m protocol.ChatMessage
	c1.readInto(protocol.TypeChatMessage, &m)
	if m.Seq != 2 || m.From != spec.self.ID || m.FromName != "Carol" {
		t.Fatalf("spectator's message = %+v", m)
	}

	// Each limit has its error, and the sender stays connected.
	for _, tt := range []struct{ text, code string }{
		{"", protocol.CodeChatEmpty},
		{"   \n ", protocol.CodeChatEmpty},
		{strings.Repeat("x", protocol.MaxChatChars+1), protocol.CodeChatTooLong},
	} {
		c2.send(protocol.ChatSend{Type: protocol.TypeChatSend, Text: tt.text})
		var e protocol.Error
		c2.readInto(protocol.TypeError, &e)
		// Decoder refusals carry no ref today; chat-send is what they
		// should name once the decoder reports the type it refused.
		if e.Code != tt.code || (e.Ref != protocol.TypeChatSend && e.Ref != "") || e.Message == "" {
			t.Fatalf("error for %d chars = %+v, want %s", len(tt.text), e, tt.code)
		}
	}

	// A rename shows on the next message; resync returns what came after.
	c2.send(protocol.Rename{Type: protocol.TypeRename, Name: "Robert"})
	c2.send(protocol.ChatSend{Type: protocol.TypeChatSend, Text: "still here"})
	c1.readInto(protocol.TypeChatMessage, &m)
	if m.Seq != 3 || m.FromName != "Robert" {
		t.Fatalf("after rename = %+v", m)
	}
	c2.send(protocol.ChatSync{Type: protocol.TypeChatSync, After: 1})
	c2.readInto(protocol.TypeChatHistory, &h)
	if got := pageSeqs(h.Messages); got != "[2 3]" || h.HasMore {
		t.Fatalf("sync after 1 = %s more %v", got, h.HasMore)
	}
}

func TestChatRateLimitOverWebSocket(t *testing.T) {
	clock := newChatClock()
	a := newTestAppWith(t, Config{Now: clock.now})
	u := a.newUser()
	room := u.createRoom("Flood")
	c := u.dial(room.ID, nil)
	const sent = 15
	for i := 0; i < sent; i++ {
		c.send(protocol.ChatSend{Type: protocol.TypeChatSend, Text: fmt.Sprint("flood ", i), ClientID: fmt.Sprint("f-", i)})
	}
	// Every send gets exactly one answer, in order: its echo or an error.
	echoes, limited := 0, 0
	for echoes+limited < sent {
		typ, data, err := c.next()
		if err != nil {
			t.Fatalf("after %d echoes and %d errors: %v", echoes, limited, err)
		}
		switch typ {
		case protocol.TypeChatMessage:
			echoes++
		case protocol.TypeError:
			var e protocol.Error
			if err := json.Unmarshal(data, &e); err != nil {
				t.Fatal(err)
			}
			if e.Code != protocol.CodeRateLimited || e.Ref != protocol.TypeChatSend || !strings.Contains(e.Message, "Try again in 0.5 s") {
				t.Fatalf("error = %+v", e)
			}
			limited++
		}
	}
	// The clock stood still: exactly the burst went through.
	if echoes != chat.DefaultBurst || limited != sent-chat.DefaultBurst {
		t.Fatalf("%d echoes, %d rate limited: want the burst of %d through and the rest refused", echoes, limited, chat.DefaultBurst)
	}
	// One token comes back after 1/rate; the member may send again.
	clock.advance(time.Duration(float64(time.Second) / chat.DefaultRate))
	c.send(protocol.ChatSend{Type: protocol.TypeChatSend, Text: "after a pause"})
	var m protocol.ChatMessage
	c.readInto(protocol.TypeChatMessage, &m)
	if m.Text != "after a pause" || m.Seq != int64(echoes+1) {
		t.Fatalf("after the pause = %+v", m)
	}
}

// chatClock is the chat's clock in these tests: it stands still until the
// test moves it. The server reads it from its own goroutines, hence the lock.
type chatClock struct {
	mu sync.Mutex
	t  time.Time
}

func newChatClock() *chatClock {
	return &chatClock{t: time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)}
}

func (c *chatClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *chatClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestChatSurvivesServerRestart stops the whole server mid-conversation and
// starts a new one on the same database: nothing acknowledged is lost.
func TestChatSurvivesServerRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meet.db")
	a1, stop := newTestAppAt(t, path)
	u := a1.newUser()
	room := u.createRoom("Restart")
	c := u.dial(room.ID, nil)
	for i := 1; i <= 3; i++ {
		c.send(protocol.ChatSend{Type: protocol.TypeChatSend, Text: fmt.Sprint("before ", i), ClientID: fmt.Sprint("c-", i)})
		var ack protocol.ChatMessage
		c.readInto(protocol.TypeChatMessage, &ack)
		if ack.ClientID != fmt.Sprint("c-", i) {
			t.Fatalf("ack = %+v", ack)
		}
	}
	stop()

	a2, _ := newTestAppAt(t, path)
	u2 := &user{app: a2, token: u.token, id: u.id}
	c = u2.dial(room.ID, nil)
	var h protocol.ChatHistory
	c.readInto(protocol.TypeChatHistory, &h)
	if got := pageSeqs(h.Messages); got != "[1 2 3]" {
		t.Fatalf("history after restart = %s", got)
	}
	// The client never saw the echo of c-3 (say): it resends, and gets the
	// stored message back instead of a duplicate.
	c.send(protocol.ChatSend{Type: protocol.TypeChatSend, Text: "before 3", ClientID: "c-3"})
	var m protocol.ChatMessage
	c.readInto(protocol.TypeChatMessage, &m)
	if m.Seq != 3 {
		t.Fatalf("resend = %+v", m)
	}
	c.send(protocol.ChatSend{Type: protocol.TypeChatSend, Text: "after"})
	c.readInto(protocol.TypeChatMessage, &m)
	if m.Seq != 4 {
		t.Fatalf("first message after restart = %+v", m)
	}
	var page messagesBody
	u2.do("GET", "/api/rooms/"+room.ID+"/messages", "", &page)
	if got := pageSeqs(page.Messages); got != "[1 2 3 4]" {
		t.Fatalf("stored after restart = %s", got)
	}
}

// newTestAppAt is newTestApp on a given database file, with a stop function
// that shuts the server down as a SIGTERM would, so a second one can start
// on the same file.
func newTestAppAt(t *testing.T, path string) (*testApp, func()) {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Store:  db,
		Secret: []byte("0123456789abcdef0123456789abcdef"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			hs.CloseClientConnections()
			hs.Close()
			db.Close()
		})
	}
	t.Cleanup(stop)
	return &testApp{t: t, srv: srv, http: hs, store: db}, stop
}
