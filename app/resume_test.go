package app

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"meet/protocol"
)

// pumped reads a client's socket on a goroutine, so that a test can wait
// for quiet without a read deadline (which breaks a gorilla connection).
type pumped struct {
	t    *testing.T
	c    *client
	msgs chan []byte
	end  chan error
}

func pump(c *client) *pumped {
	p := &pumped{t: c.t, c: c, msgs: make(chan []byte, 1024), end: make(chan error, 1)}
	go func() {
		_ = c.conn.SetReadDeadline(time.Time{})
		for {
			_, data, err := c.conn.ReadMessage()
			if err != nil {
				p.end <- err
				return
			}
			p.msgs <- data
		}
	}()
	return p
}

func typeOf(data []byte) string {
	var env protocol.Envelope
	_ = json.Unmarshal(data, &env)
	return env.Type
}

// drain returns the types of the messages that arrive until the socket
// has been quiet for a moment.
func (p *pumped) drain() []string {
	var types []string
	for {
		select {
		case data := <-p.msgs:
			types = append(types, typeOf(data))
		case <-time.After(300 * time.Millisecond):
			return types
		}
	}
}

// await skips messages until one of type typ, and decodes it into out.
func (p *pumped) await(typ string, out any) {
	p.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case data := <-p.msgs:
			if typeOf(data) == typ {
				// A fresh value each time: fields the message omits must
				// not keep what an earlier message said.
				reflect.ValueOf(out).Elem().SetZero()
				if err := json.Unmarshal(data, out); err != nil {
					p.t.Fatal(err)
				}
				return
			}
		case err := <-p.end:
			p.t.Fatalf("waiting for %s: %v", typ, err)
		case <-deadline:
			p.t.Fatalf("no %s", typ)
		}
	}
}

func resumeQuery(id string, seen int) url.Values {
	return url.Values{"resume": {id}, "seen": {strconv.Itoa(seen)}}
}

// resumeRoom is a room with Alice (the owner) and Bob, and Bob's count of
// the messages he has received.
func resumeRoom(t *testing.T, grace time.Duration) (a *testApp, roomID string, alice, bob *pumped, bobUser *user, seen int) {
	t.Helper()
	a = newTestAppWith(t, Config{ReconnectGrace: grace})
	owner := a.newUser()
	roomID = owner.createRoom("resume").ID
	alice = pump(owner.dial(roomID, nil))
	bobUser = a.newUser()
	bob = pump(bobUser.dial(roomID, nil))
	n := len(bob.drain())
	alice.drain()
	return a, roomID, alice, bob, bobUser, 1 + n // the welcome, then the rest
}

// TestResumeReplaysWhatWasMissed drops Bob's socket: Alice sees him
// reconnecting, not gone; what the server sent him meanwhile (a relayed offer, a
// rename) comes after "resumed", in order; and Alice sees him back.
func TestResumeReplaysWhatWasMissed(t *testing.T) {
	_, roomID, alice, bob, bobUser, seen := resumeRoom(t, 5*time.Second)
	bobID := bob.c.self.ID
	_ = bob.c.conn.Close() // no close frame: a dropped connection

	var upd protocol.ParticipantUpdated
	alice.await(protocol.TypeParticipantUpdated, &upd)
	if upd.Participant.ID != bobID || upd.Participant.Connection != protocol.ConnectionReconnecting {
		t.Fatalf("while Bob is away Alice sees %+v", upd.Participant)
	}
	// The server handles one socket's messages in order: once the echo of
	// the rename sent last is back, the offer sent before it went through.
	alice.c.send(protocol.Signal{Type: protocol.TypeSignal, To: bobID, Kind: protocol.KindOffer, SDP: "v=0\r\n"})
	alice.c.send(protocol.Rename{Type: protocol.TypeRename, Name: "Alice B"})
	alice.await(protocol.TypeParticipantUpdated, &upd)
	if upd.Participant.Name != "Alice B" {
		t.Fatalf("rename echo = %+v", upd.Participant)
	}

	back := bobUser.dialRaw(roomID, resumeQuery(bobID, seen))
	var types []string
	for len(types) < 3 {
		typ, data, err := back.next()
		if err != nil {
			t.Fatalf("after %v: %v", types, err)
		}
		if len(types) == 0 {
			var r protocol.Resumed
			_ = json.Unmarshal(data, &r)
			if typ != protocol.TypeResumed || r.Self.ID != bobID || r.Self.Connection != "" {
				t.Fatalf("first message on the new socket: %s", data)
			}
		}
		types = append(types, typ)
	}
	want := []string{protocol.TypeResumed, protocol.TypeSignal, protocol.TypeParticipantUpdated}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("after the resume Bob got %v, want %v", types, want)
		}
	}

	alice.await(protocol.TypeParticipantUpdated, &upd)
	if upd.Participant.ID != bobID || upd.Participant.Connection != "" {
		t.Fatalf("Bob back: Alice sees %+v", upd.Participant)
	}
	seenByAlice := alice.drain()
	for _, typ := range seenByAlice {
		if typ == protocol.TypeParticipantLeft || typ == protocol.TypeParticipantJoined {
			t.Fatalf("a resume looked like a leave and a join to Alice: %v", seenByAlice)
		}
	}
	// The resumed socket is a working one.
	back.send(protocol.Rename{Type: protocol.TypeRename, Name: "Bob again"})
	alice.await(protocol.TypeParticipantUpdated, &upd)
	if upd.Participant.ID != bobID || upd.Participant.Name != "Bob again" {
		t.Fatalf("rename after resume: %+v", upd.Participant)
	}
}

// TestResumeReplacesASocketNotYetSeenToDrop covers a network blink the
// server has not noticed: the new socket takes over and the old one is
// closed with its own code.
func TestResumeReplacesASocketNotYetSeenToDrop(t *testing.T) {
	_, roomID, alice, bob, bobUser, seen := resumeRoom(t, 5*time.Second)
	back := bobUser.dialRaw(roomID, resumeQuery(bob.c.self.ID, seen))
	var r protocol.Resumed
	back.readInto(protocol.TypeResumed, &r)
	if r.Self.ID != bob.c.self.ID {
		t.Fatalf("resumed as %s, want %s", r.Self.ID, bob.c.self.ID)
	}
	select {
	case err := <-bob.end:
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != protocol.CloseReplaced {
			t.Fatalf("old socket ended with %v, want close %d", err, protocol.CloseReplaced)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the replaced socket stays open")
	}
	for _, typ := range alice.drain() {
		if typ == protocol.TypeParticipantLeft {
			t.Fatal("Alice saw Bob leave")
		}
	}
}

// TestResumeRefusals: another identity, or a count the server cannot
// replay from, never gets someone's stream.
func TestResumeRefusals(t *testing.T) {
	a, roomID, alice, bob, bobUser, _ := resumeRoom(t, 5*time.Second)
	bobID := bob.c.self.ID
	_ = bob.c.conn.Close()
	var upd protocol.ParticipantUpdated
	alice.await(protocol.TypeParticipantUpdated, &upd)

	// Carol cannot take Bob's place: she joins as herself.
	carol := a.newUser().dialRaw(roomID, resumeQuery(bobID, 1))
	var w protocol.Welcome
	carol.readInto(protocol.TypeWelcome, &w)
	if w.Self.ID == bobID {
		t.Fatal("another identity resumed Bob's participant")
	}

	// A count beyond what was sent: Bob starts over with a welcome, under
	// his own id, and nobody sees him leave.
	back := bobUser.dialRaw(roomID, resumeQuery(bobID, 1_000_000))
	typ, data, err := back.next()
	if err != nil || typ != protocol.TypeWelcome {
		t.Fatalf("resume from an impossible count: %s %v", data, err)
	}
	_ = json.Unmarshal(data, &w)
	if w.Self.ID != bobID || len(w.Participants) != 2 {
		t.Fatalf("fresh welcome: self %s, others %+v", w.Self.ID, w.Participants)
	}
	types := alice.drain()
	for _, typ := range types {
		if typ == protocol.TypeParticipantLeft {
			t.Fatalf("Alice saw Bob leave: %v", types)
		}
	}
}

// TestGraceRunsOut: a participant that does not come back in time leaves,
// and a late resume is an ordinary join.
func TestGraceRunsOut(t *testing.T) {
	_, roomID, alice, bob, bobUser, seen := resumeRoom(t, 300*time.Millisecond)
	bobID := bob.c.self.ID
	_ = bob.c.conn.Close()
	var left protocol.ParticipantLeft
	alice.await(protocol.TypeParticipantLeft, &left)
	if left.ID != bobID || left.Reason != "disconnected" {
		t.Fatalf("left = %+v", left)
	}
	late := bobUser.dialRaw(roomID, resumeQuery(bobID, seen))
	var w protocol.Welcome
	late.readInto(protocol.TypeWelcome, &w)
	if w.Self.ID == bobID {
		t.Fatal("a participant resumed after its grace ran out")
	}
}
