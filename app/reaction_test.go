package app

import (
	"encoding/json"
	"net/url"
	"testing"

	"meet/app/room"
	"meet/protocol"
)

// The reaction limit is the room's (room.ReactionBurst); the tests here
// check it from a client's side.
const reactionBurst = room.ReactionBurst

// readReaction reads messages until a reaction arrives, and returns it.
func (c *client) readReaction() protocol.Reaction {
	c.t.Helper()
	var m protocol.Reaction
	c.readInto(protocol.TypeReaction, &m)
	return m
}

// typesUntil reads messages until one of type typ that ok accepts arrives,
// and returns the types of every message read before it. It is how a test
// shows that something did not arrive: whatever would have come was
// queued before the marker.
func (c *client) typesUntil(typ string, ok func(data []byte) bool) []string {
	c.t.Helper()
	var before []string
	for {
		got, data, err := c.next()
		if err != nil {
			c.t.Fatalf("waiting for a matching %s: %v", typ, err)
		}
		if got == typ && ok(data) {
			return before
		}
		before = append(before, got)
	}
}

// reactionFrom accepts a reaction of participant id.
func reactionFrom(id string) func([]byte) bool {
	return func(data []byte) bool {
		var m protocol.Reaction
		return json.Unmarshal(data, &m) == nil && m.From == id
	}
}

// TestReactionsReachEveryone: a reaction goes to everyone in the room, the
// sender included, stamped with the sender's id whatever the client wrote
// in from; a spectator may react; nothing is stored as chat.
func TestReactionsReachEveryone(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("reactions")
	oc := owner.dial(room.ID, url.Values{"name": {"Owner"}})
	bob := a.newUser().dial(room.ID, url.Values{"name": {"Bob"}})
	carol := a.newUser().dial(room.ID, url.Values{"name": {"Carol"}, "spectator": {"1"}})
	everyone := []*client{oc, bob, carol}

	bob.send(`{"type":"reaction","emoji":"👍","from":"` + oc.self.ID + `"}`)
	for _, c := range everyone {
		if m := c.readReaction(); m.From != bob.self.ID || m.Emoji != "👍" {
			t.Fatalf("%s got %+v, want 👍 from bob %s", c.self.Name, m, bob.self.ID)
		}
	}
	// The spectator reacts too, with an emoji that has a variation
	// selector.
	carol.send(protocol.Reaction{Type: protocol.TypeReaction, Emoji: "❤️"})
	for _, c := range everyone {
		if m := c.readReaction(); m.From != carol.self.ID || m.Emoji != "❤️" {
			t.Fatalf("%s got %+v", c.self.Name, m)
		}
	}

	// Not stored: no chat message, and a newcomer hears of none.
	var page struct {
		Messages []json.RawMessage `json:"messages"`
	}
	if status := owner.do("GET", "/api/rooms/"+room.ID+"/messages", "", &page); status != 200 || len(page.Messages) != 0 {
		t.Fatalf("chat history after reactions = %d %s", status, page.Messages)
	}
	late := a.newUser().dial(room.ID, nil)
	var hist protocol.ChatHistory
	late.readInto(protocol.TypeChatHistory, &hist)
	if len(hist.Messages) != 0 {
		t.Fatalf("a newcomer's chat history = %+v", hist.Messages)
	}
	// The newcomer's first reaction is one sent after it joined.
	oc.send(protocol.Reaction{Type: protocol.TypeReaction, Emoji: "🎉"})
	if m := late.readReaction(); m.From != oc.self.ID || m.Emoji != "🎉" {
		t.Fatalf("newcomer got %+v", m)
	}
}

// TestReactionRefusals: anything but one of the fixed emoji is refused
// with invalid_message (ref reaction), reaches nobody, and costs nothing
// of the sender's rate limit.
func TestReactionRefusals(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("reactions")
	oc := owner.dial(room.ID, nil)
	bob := a.newUser().dial(room.ID, nil)

	for _, tt := range []struct {
		frame, code string
	}{
		{`{"type":"reaction","emoji":"💩"}`, protocol.CodeInvalidMessage},
		{`{"type":"reaction","emoji":""}`, protocol.CodeInvalidMessage},
		{`{"type":"reaction"}`, protocol.CodeInvalidMessage},
		{`{"type":"reaction","emoji":"👍👍"}`, protocol.CodeInvalidMessage},
		{`{"type":"reaction","emoji":"❤"}`, protocol.CodeInvalidMessage}, // no variation selector
		{`{"type":"reaction","emoji":"<img src=x>"}`, protocol.CodeInvalidMessage},
		{`{"type":"reaction","emoji":"` + "\u202e" + `👍"}`, protocol.CodeInvalidMessage},
		{`{"type":"reaction","emoji":7}`, protocol.CodeInvalidJSON},
		{`{"type":"reaction","emoji":["👍"]}`, protocol.CodeInvalidJSON},
	} {
		bob.send(tt.frame)
		if e := bob.readError(); e.Code != tt.code || e.Ref != protocol.TypeReaction || e.Message == "" {
			t.Fatalf("%s: error = %+v, want %s with ref reaction", tt.frame, e, tt.code)
		}
	}
	// None reached the owner: the first reaction the owner sees is the
	// valid one sent after them all. And none used up Bob's burst.
	for range reactionBurst {
		bob.send(protocol.Reaction{Type: protocol.TypeReaction, Emoji: "😮"})
	}
	for i := range reactionBurst {
		if m := oc.readReaction(); m.Emoji != "😮" || m.From != bob.self.ID {
			t.Fatalf("owner's reaction %d = %+v", i, m)
		}
		if m := bob.readReaction(); m.Emoji != "😮" {
			t.Fatalf("bob's echo %d = %+v", i, m)
		}
	}
}

// TestReactionRateLimit: past its burst a participant's reactions are
// refused with rate_limited and reach nobody; others keep their own
// allowance.
func TestReactionRateLimit(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("reactions")
	oc := owner.dial(room.ID, nil)
	bob := a.newUser().dial(room.ID, nil)

	const sent = reactionBurst + 4
	for range sent {
		bob.send(protocol.Reaction{Type: protocol.TypeReaction, Emoji: "👏"})
	}
	// Bob gets one answer per reaction, in order: his echo or an error.
	accepted, refused := 0, 0
	for accepted+refused < sent {
		typ, data, err := bob.next()
		if err != nil {
			t.Fatalf("after %d answers: %v", accepted+refused, err)
		}
		switch typ {
		case protocol.TypeReaction:
			accepted++
		case protocol.TypeError:
			var e protocol.Error
			_ = json.Unmarshal(data, &e)
			if e.Code != protocol.CodeRateLimited || e.Ref != protocol.TypeReaction || e.Message == "" {
				t.Fatalf("refusal = %+v", e)
			}
			refused++
		}
	}
	// Sending takes microseconds; a token comes back every half second,
	// so at most one more than the burst can pass on a stalled machine.
	if accepted < reactionBurst || accepted > reactionBurst+1 || refused == 0 {
		t.Fatalf("accepted %d and refused %d of %d, want the burst of %d through and the rest refused", accepted, refused, sent, reactionBurst)
	}
	// The owner got exactly the accepted ones: after them, the next
	// reaction is the owner's own.
	for range accepted {
		if m := oc.readReaction(); m.From != bob.self.ID {
			t.Fatalf("owner got %+v", m)
		}
	}
	oc.send(protocol.Reaction{Type: protocol.TypeReaction, Emoji: "🎉"})
	if before := oc.typesUntil(protocol.TypeReaction, reactionFrom(oc.self.ID)); len(before) != 0 {
		t.Fatalf("before the owner's own reaction came %v: a refused reaction was relayed", before)
	}
}
