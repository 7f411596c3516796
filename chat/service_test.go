package chat

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"meet/protocol"
)

func TestSendStampsStoresAndFansOutToTheRoom(t *testing.T) {
	st, clk := newMemStore(), newClock()
	s := newService(t, st, Config{Now: clk.Now})
	a, b, c := mustJoin(t, s, "room1", "p_a"), mustJoin(t, s, "room1", "p_b"), mustJoin(t, s, "room1", "p_c")
	other := mustJoin(t, s, "room2", "p_d")

	if err := send(s, "room1", "p_a", "  hello, class  ", "c-1"); err != nil {
		t.Fatal(err)
	}
	want := protocol.ChatMessage{
		Type: protocol.TypeChatMessage, Seq: 1, From: "p_a", FromName: "Name p_a", UserID: "u_p_a",
		Text: "hello, class", Time: "2026-03-01T09:30:00.123Z", ClientID: "c-1",
	}
	for name, r := range map[string]*recorder{"sender": a, "b": b, "c": c} {
		got := r.messages(t)
		if len(got) != 1 || got[0] != want {
			t.Fatalf("%s got %+v, want %+v", name, got, want)
		}
	}
	// Encoded once: every member was handed the very same bytes.
	fa, fb, fc := a.all(), b.all(), c.all()
	last := func(f [][]byte) *byte { return &f[len(f)-1][0] }
	if last(fa) != last(fb) || last(fb) != last(fc) {
		t.Fatal("the broadcast was encoded once per member")
	}
	if n := len(other.messages(t)); n != 0 {
		t.Fatalf("a member of another room got %d messages", n)
	}
	// Stored before it was sent, with the server's stamps.
	stored, _ := st.After("room1", 0, 10)
	if len(stored) != 1 || stored[0].SenderID != "p_a" || stored[0].Text != "hello, class" || !stored[0].Time.Equal(clk.Now().Truncate(time.Millisecond)) {
		t.Fatalf("stored %+v", stored)
	}
}

func TestSendRefusals(t *testing.T) {
	st := newMemStore()
	s := newService(t, st, Config{})
	a := mustJoin(t, s, "room1", "p_a")
	mustJoin(t, s, "room2", "p_x")
	for _, tt := range []struct {
		name, room, from, text string
		code                   string
		err                    error
	}{
		{"empty", "room1", "p_a", "", protocol.CodeChatEmpty, nil},
		{"blank", "room1", "p_a", " \n\t ", protocol.CodeChatEmpty, nil},
		{"too long", "room1", "p_a", strings.Repeat("ç", protocol.MaxChatChars+1), protocol.CodeChatTooLong, nil},
		{"control character", "room1", "p_a", "bell\a", protocol.CodeInvalidMessage, nil},
		{"not joined", "room1", "p_stranger", "hi", "", ErrNotMember},
		{"member of another room", "room1", "p_x", "hi", "", ErrNotMember},
		{"room nobody is in", "room9", "p_a", "hi", "", ErrNotMember},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := send(s, tt.room, tt.from, tt.text, "")
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.code != "" && decodeCode(err) != tt.code {
				t.Fatalf("err = %v, want code %s", err, tt.code)
			}
		})
	}
	if n := st.count("room1"); n != 0 {
		t.Fatalf("refused messages were stored: %d", n)
	}
	if n := len(a.messages(t)); n != 0 {
		t.Fatalf("refused messages were broadcast: %d", n)
	}
	// The limit is in characters: 2000 four-byte emoji pass.
	mustSend(t, s, "room1", "p_a", strings.Repeat("😀", protocol.MaxChatChars))
}

func TestRateLimit(t *testing.T) {
	st, clk := newMemStore(), newClock()
	s := newService(t, st, Config{Now: clk.Now})
	a := mustJoin(t, s, "room1", "p_a")
	mustJoin(t, s, "room1", "p_b")

	for i := 0; i < DefaultBurst; i++ {
		mustSend(t, s, "room1", "p_a", fmt.Sprint("burst ", i))
	}
	err := send(s, "room1", "p_a", "one too many", "")
	var rl *RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("11th message: err = %v, want a rate limit", err)
	}
	if rl.RetryAfter != 500*time.Millisecond {
		t.Fatalf("retry after %v, want 500ms", rl.RetryAfter)
	}
	if msg := rl.Message(); !strings.Contains(msg, "Try again in 0.5 s") || !strings.Contains(msg, "10 in a row, then 2 per second") {
		t.Fatalf("message for people = %q", msg)
	}
	// Someone else in the room is not held back by a noisy neighbour.
	mustSend(t, s, "room1", "p_b", "my turn")

	clk.advance(499 * time.Millisecond)
	if err := send(s, "room1", "p_a", "too early", ""); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("before the refill: %v", err)
	}
	clk.advance(time.Millisecond)
	mustSend(t, s, "room1", "p_a", "refilled")
	// Steady state: two a second.
	for i := 0; i < 6; i++ {
		clk.advance(500 * time.Millisecond)
		mustSend(t, s, "room1", "p_a", fmt.Sprint("steady ", i))
	}
	if err := send(s, "room1", "p_a", "burst again", ""); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("no burst left after a steady stream: %v", err)
	}
	// A refused message is neither stored nor broadcast, and the sender
	// stays a member who can send later.
	if got, want := len(a.messages(t)), DefaultBurst+1+1+6; got != want {
		t.Fatalf("sender saw %d messages, want %d", got, want)
	}
	clk.advance(time.Minute)
	for i := 0; i < DefaultBurst; i++ {
		mustSend(t, s, "room1", "p_a", "full burst after a pause")
	}
}

func TestStoreFailureIsReportedAndNotSent(t *testing.T) {
	st := newMemStore()
	s := newService(t, st, Config{Burst: 1, Rate: 0.001})
	a := mustJoin(t, s, "room1", "p_a")
	st.fail = errors.New("disk full")
	err := send(s, "room1", "p_a", "lost?", "c-1")
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v, want the store's error", err)
	}
	if n := len(a.messages(t)); n != 0 {
		t.Fatalf("an unstored message was broadcast")
	}
	// The failed attempt did not use up the sender's only token: the
	// resend goes through.
	if err := send(s, "room1", "p_a", "lost?", "c-1"); err != nil {
		t.Fatalf("resend after a store failure: %v", err)
	}
}

// TestResendIsAcknowledgedOnce: a client that lost its socket before the
// echo arrived sends the same clientId again from its new connection.
func TestResendIsAcknowledgedOnce(t *testing.T) {
	st := newMemStore()
	s := newService(t, st, Config{Burst: 2, Rate: 0.001})
	mustJoin(t, s, "room1", "p_old")
	b := mustJoin(t, s, "room1", "p_b")
	alice := Sender{ID: "p_old", UserID: "u_alice", Name: "Alice"}
	if err := s.Send("room1", alice, &protocol.ChatSend{Text: "did this arrive?", ClientID: "c-42"}); err != nil {
		t.Fatal(err)
	}
	s.Leave("room1", "p_old")

	fresh := mustJoin(t, s, "room1", "p_new")
	alice.ID = "p_new"
	for i := 0; i < 3; i++ { // more resends than the burst allows: they are free
		if err := s.Send("room1", alice, &protocol.ChatSend{Text: "did this arrive?", ClientID: "c-42"}); err != nil {
			t.Fatalf("resend %d: %v", i, err)
		}
	}
	acks := fresh.messages(t)
	if len(acks) != 3 || acks[0].Seq != 1 || acks[0].ClientID != "c-42" || acks[0].From != "p_old" {
		t.Fatalf("acks = %+v", acks)
	}
	if n := len(b.messages(t)); n != 1 {
		t.Fatalf("the others saw the message %d times, want once", n)
	}
	if n := st.count("room1"); n != 1 {
		t.Fatalf("stored %d times", n)
	}
}

// TestMarkupIsText: the server neither escapes nor strips markup; it is
// text, and rendering it as text is the frontend's job.
func TestMarkupIsText(t *testing.T) {
	st := newMemStore()
	s := newService(t, st, Config{})
	b := mustJoin(t, s, "room1", "p_b")
	mustJoin(t, s, "room1", "p_a")
	texts := []string{
		`<img src=x onerror=alert(1)>`,
		`<script>alert("hi")</script> & &amp; &lt;`,
		"emoji 👩🏽‍💻 and ünïcödé and 数学",
	}
	for _, text := range texts {
		mustSend(t, s, "room1", "p_a", text)
	}
	got := b.messages(t)
	late := mustJoin(t, s, "room1", "p_late").histories(t)[0].Messages
	stored, _ := st.After("room1", 0, 10)
	for i, text := range texts {
		if got[i].Text != text || late[i].Text != text || stored[i].Text != text {
			t.Fatalf("%q came out as live %q, history %q, stored %q", text, got[i].Text, late[i].Text, stored[i].Text)
		}
	}
}

func TestJoinGetsRecentHistory(t *testing.T) {
	st := newMemStore()
	s := newService(t, st, Config{HistoryLimit: 3})

	first := mustJoin(t, s, "room1", "p_a").histories(t)
	if len(first) != 1 || first[0].Messages == nil || len(first[0].Messages) != 0 || first[0].HasMore {
		t.Fatalf("empty room's history = %+v", first)
	}
	for i := 1; i <= 3; i++ {
		mustSend(t, s, "room1", "p_a", fmt.Sprint("m", i))
	}
	h := mustJoin(t, s, "room1", "p_b").histories(t)[0]
	if fmt.Sprint(seqsOf(h.Messages)) != "[1 2 3]" || h.HasMore {
		t.Fatalf("history of 3 = %v hasMore %v", seqsOf(h.Messages), h.HasMore)
	}
	mustSend(t, s, "room1", "p_a", "m4")
	mustSend(t, s, "room1", "p_a", "m5")
	h = mustJoin(t, s, "room1", "p_c").histories(t)[0]
	if fmt.Sprint(seqsOf(h.Messages)) != "[3 4 5]" || !h.HasMore || h.Messages[2].Text != "m5" {
		t.Fatalf("last 3 of 5 = %v hasMore %v", seqsOf(h.Messages), h.HasMore)
	}
}

func TestSyncPages(t *testing.T) {
	st := newMemStore()
	s := newService(t, st, Config{SyncLimit: 2})
	a := mustJoin(t, s, "room1", "p_a")
	for i := 1; i <= 5; i++ {
		mustSend(t, s, "room1", "p_a", fmt.Sprint("m", i))
	}
	for _, tt := range []struct {
		after int64
		want  string
		more  bool
	}{
		{0, "[1 2]", true},
		{2, "[3 4]", true},
		{3, "[4 5]", false},
		{4, "[5]", false},
		{5, "[]", false},
		{50, "[]", false},
	} {
		if err := s.Sync("room1", "p_a", tt.after); err != nil {
			t.Fatal(err)
		}
		hs := a.histories(t)
		h := hs[len(hs)-1]
		if got := fmt.Sprint(seqsOf(h.Messages)); got != tt.want || h.HasMore != tt.more {
			t.Fatalf("sync after %d = %s more %v, want %s more %v", tt.after, got, h.HasMore, tt.want, tt.more)
		}
	}
	if err := s.Sync("room1", "p_stranger", 0); !errors.Is(err, ErrNotMember) {
		t.Fatalf("sync by a stranger: %v", err)
	}
	if err := s.Sync("room2", "p_a", 0); !errors.Is(err, ErrNotMember) {
		t.Fatalf("sync of another room: %v", err)
	}
}

// TestRestartContinues: a new Service over the same store (as after a
// process restart) serves the history and continues the numbering.
func TestRestartContinues(t *testing.T) {
	st := newMemStore()
	before := newService(t, st, Config{})
	mustJoin(t, before, "room1", "p_a")
	for i := 1; i <= 3; i++ {
		mustSend(t, before, "room1", "p_a", fmt.Sprint("before ", i))
	}

	after := newService(t, st, Config{})
	a := mustJoin(t, after, "room1", "p_a2")
	if h := a.histories(t)[0]; fmt.Sprint(seqsOf(h.Messages)) != "[1 2 3]" {
		t.Fatalf("history after restart = %v", seqsOf(h.Messages))
	}
	mustSend(t, after, "room1", "p_a2", "after")
	if got := a.messages(t); len(got) != 1 || got[0].Seq != 4 {
		t.Fatalf("first message after restart = %+v, want seq 4", got)
	}
	if err := after.Sync("room1", "p_a2", 2); err != nil {
		t.Fatal(err)
	}
	hs := a.histories(t)
	if got := fmt.Sprint(seqsOf(hs[len(hs)-1].Messages)); got != "[3 4]" {
		t.Fatalf("resync after restart = %s", got)
	}
}

func TestLeaveForgetsEmptyRooms(t *testing.T) {
	s := newService(t, newMemStore(), Config{})
	mustJoin(t, s, "room1", "p_a")
	mustJoin(t, s, "room1", "p_b")
	s.Leave("room1", "p_a")
	s.Leave("room1", "p_a") // twice is harmless
	s.Leave("room7", "p_a") // so is a room one was never in
	if err := send(s, "room1", "p_a", "ghost", ""); !errors.Is(err, ErrNotMember) {
		t.Fatalf("a member who left could send: %v", err)
	}
	s.Leave("room1", "p_b")
	s.mu.Lock()
	n := len(s.rooms)
	s.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d rooms kept after everyone left", n)
	}
	// The room comes back with the next joiner.
	mustJoin(t, s, "room1", "p_c")
	mustSend(t, s, "room1", "p_c", "back")
}
