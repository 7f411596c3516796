package chat

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"meet/protocol"
)

// memStore is a Store in memory with the same contract as the database:
// per-room seqs from 1, client ids recognised per room and user. It
// outlives a Service, which is what a restart test needs.
type memStore struct {
	mu    sync.Mutex
	rooms map[string][]Message
	fail  error // returned by the next Append, then cleared
}

func newMemStore() *memStore { return &memStore{rooms: map[string][]Message{}} }

func (st *memStore) Append(msg Message) (Message, bool, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.fail; err != nil {
		st.fail = nil
		return Message{}, false, err
	}
	msgs := st.rooms[msg.RoomID]
	if msg.ClientID != "" {
		for _, m := range msgs {
			if m.UserID == msg.UserID && m.ClientID == msg.ClientID {
				return m, false, nil
			}
		}
	}
	msg.Seq = int64(len(msgs) + 1)
	st.rooms[msg.RoomID] = append(msgs, msg)
	return msg, true, nil
}

func (st *memStore) After(roomID string, after int64, limit int) ([]Message, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []Message
	for _, m := range st.rooms[roomID] {
		if m.Seq > after && len(out) < limit {
			out = append(out, m)
		}
	}
	return out, nil
}

func (st *memStore) Recent(roomID string, limit int) ([]Message, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	msgs := st.rooms[roomID]
	if len(msgs) > limit {
		msgs = msgs[len(msgs)-limit:]
	}
	return append([]Message(nil), msgs...), nil
}

func (st *memStore) count(roomID string) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.rooms[roomID])
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// recorder is a Member that keeps every frame it is sent.
type recorder struct {
	mu     sync.Mutex
	frames [][]byte
}

func (r *recorder) Send(frame []byte) {
	r.mu.Lock()
	r.frames = append(r.frames, frame)
	r.mu.Unlock()
}

func (r *recorder) all() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.frames...)
}

// messages decodes the chat-message frames received, in order.
func (r *recorder) messages(t *testing.T) []protocol.ChatMessage {
	t.Helper()
	var out []protocol.ChatMessage
	for _, f := range r.all() {
		var env protocol.Envelope
		if err := json.Unmarshal(f, &env); err != nil {
			t.Fatalf("frame is not JSON: %s", f)
		}
		if env.Type == protocol.TypeChatMessage {
			var m protocol.ChatMessage
			if err := json.Unmarshal(f, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
	}
	return out
}

// histories decodes the chat-history frames received, in order.
func (r *recorder) histories(t *testing.T) []protocol.ChatHistory {
	t.Helper()
	var out []protocol.ChatHistory
	for _, f := range r.all() {
		var env protocol.Envelope
		_ = json.Unmarshal(f, &env)
		if env.Type == protocol.TypeChatHistory {
			var h protocol.ChatHistory
			if err := json.Unmarshal(f, &h); err != nil {
				t.Fatal(err)
			}
			out = append(out, h)
		}
	}
	return out
}

func seqsOf(msgs []protocol.ChatMessage) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

func newService(t testing.TB, st Store, cfg Config) *Service {
	t.Helper()
	cfg.Store = st
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustJoin(t testing.TB, s *Service, roomID, id string) *recorder {
	t.Helper()
	r := &recorder{}
	if err := s.Join(roomID, id, r); err != nil {
		t.Fatalf("join %s: %v", id, err)
	}
	return r
}

func send(s *Service, roomID, from, text, clientID string) error {
	return s.Send(roomID, Sender{ID: from, UserID: "u_" + from, Name: "Name " + from},
		&protocol.ChatSend{Type: protocol.TypeChatSend, Text: text, ClientID: clientID})
}

func mustSend(t testing.TB, s *Service, roomID, from, text string) {
	t.Helper()
	if err := send(s, roomID, from, text, ""); err != nil {
		t.Fatalf("send %q from %s: %v", text, from, err)
	}
}

func decodeCode(err error) string {
	var de *protocol.DecodeError
	if errors.As(err, &de) {
		return de.Code
	}
	return ""
}
