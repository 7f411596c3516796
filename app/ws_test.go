package app

import (
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"meet/protocol"
)

func TestWelcomeAndPresence(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("Class")

	c1 := owner.dial(room.ID, url.Values{"name": {"Ana"}})
	if c1.self.Role != protocol.RoleOwner || c1.self.Name != "Ana" || c1.self.ID == "" || c1.self.UserID != owner.id {
		t.Fatalf("owner self = %+v", c1.self)
	}
	if len(c1.wel.Participants) != 0 || c1.wel.Mode != protocol.ModeMesh || c1.wel.Epoch == 0 || c1.wel.Room.ID != room.ID {
		t.Fatalf("welcome = %+v", c1.wel)
	}

	bob := a.newUser()
	c2 := bob.dial(room.ID, url.Values{"name": {"Bob"}})
	if c2.self.Role != protocol.RoleParticipant {
		t.Fatalf("bob role = %s", c2.self.Role)
	}
	if len(c2.wel.Participants) != 1 || c2.wel.Participants[0].ID != c1.self.ID {
		t.Fatalf("bob's welcome lists %+v", c2.wel.Participants)
	}
	var joined protocol.ParticipantJoined
	c1.readInto(protocol.TypeParticipantJoined, &joined)
	if joined.Participant.ID != c2.self.ID || joined.Participant.Name != "Bob" {
		t.Fatalf("joined = %+v", joined)
	}

	// A spectator gets its role, and the owner in a second tab is a second
	// participant who is still the owner.
	carol := a.newUser()
	c3 := carol.dial(room.ID, url.Values{"name": {"Carol"}, "spectator": {"1"}})
	if c3.self.Role != protocol.RoleSpectator {
		t.Fatalf("spectator role = %s", c3.self.Role)
	}
	c4 := owner.dial(room.ID, url.Values{"name": {"Ana (phone)"}})
	if c4.self.Role != protocol.RoleOwner || c4.self.ID == c1.self.ID {
		t.Fatalf("second tab = %+v", c4.self)
	}
	if len(c4.wel.Participants) != 3 {
		t.Fatalf("4th joiner sees %d others", len(c4.wel.Participants))
	}

	// The room list and participants API follow.
	var got protocol.Room
	bob.do("GET", "/api/rooms/"+room.ID, "", &got)
	if got.Online != 4 || got.Status != "live" {
		t.Fatalf("room after joins = %+v", got)
	}
	var parts struct{ Participants []protocol.Participant }
	bob.do("GET", "/api/rooms/"+room.ID+"/participants", "", &parts)
	if len(parts.Participants) != 4 || parts.Participants[0].Name != "Ana" {
		t.Fatalf("participants = %+v", parts.Participants)
	}

	// Media state reaches the others, and later joiners see it.
	c2.send(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceCamera, Action: protocol.ActionPublished, StreamID: "s-cam"})
	c2.send(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceCamera, Action: protocol.ActionPaused})
	var media protocol.Media
	c1.readInto(protocol.TypeMedia, &media)
	if media.From != c2.self.ID || media.Action != protocol.ActionPublished || media.StreamID != "s-cam" {
		t.Fatalf("media = %+v", media)
	}
	c1.readInto(protocol.TypeMedia, &media)
	if media.Action != protocol.ActionPaused {
		t.Fatalf("media = %+v", media)
	}
	dave := a.newUser()
	c5 := dave.dial(room.ID, nil)
	for _, p := range c5.wel.Participants {
		if p.ID == c2.self.ID && (p.Media[protocol.SourceCamera] != protocol.TrackPaused || p.Streams[protocol.SourceCamera] != "s-cam") {
			t.Fatalf("late joiner sees bob as %+v", p)
		}
	}

	// A rename is broadcast to everyone, the renamer included.
	c2.send(protocol.Rename{Type: protocol.TypeRename, Name: "Robert"})
	var upd protocol.ParticipantUpdated
	c1.readInto(protocol.TypeParticipantUpdated, &upd)
	if upd.Participant.ID != c2.self.ID || upd.Participant.Name != "Robert" {
		t.Fatalf("update = %+v", upd)
	}
	c2.readInto(protocol.TypeParticipantUpdated, &upd)

	// A leave and a dropped socket both reach the others, with the reason.
	c2.send(protocol.Leave{Type: protocol.TypeLeave})
	var left protocol.ParticipantLeft
	c1.readInto(protocol.TypeParticipantLeft, &left)
	if left.ID != c2.self.ID || left.Reason != "left" {
		t.Fatalf("left = %+v", left)
	}
	c3.conn.Close()
	c1.readInto(protocol.TypeParticipantLeft, &left)
	if left.ID != c3.self.ID || left.Reason != "disconnected" {
		t.Fatalf("dropped = %+v", left)
	}
	waitFor(t, func() bool { bob.do("GET", "/api/rooms/"+room.ID, "", &got); return got.Online == 3 })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRelayRules(t *testing.T) {
	a := newTestApp(t)
	u1, u2, u3 := a.newUser(), a.newUser(), a.newUser()
	roomA := u1.createRoom("A")
	roomB := u3.createRoom("B")
	c1 := u1.dial(roomA.ID, nil)
	c2 := u2.dial(roomA.ID, nil)
	c3 := u3.dial(roomB.ID, nil)

	// A forged from is overwritten with the sender's real id.
	c1.send(map[string]any{"type": "signal", "from": c3.self.ID, "to": c2.self.ID, "kind": "offer", "sdp": "v=0 fake"})
	var sig protocol.Signal
	c2.readInto(protocol.TypeSignal, &sig)
	if sig.From != c1.self.ID || sig.SDP != "v=0 fake" || sig.Kind != protocol.KindOffer {
		t.Fatalf("relayed = %+v", sig)
	}

	// Candidates pass through with their fields.
	c2.send(`{"type":"signal","to":"` + c1.self.ID + `","kind":"candidate","candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}`)
	c1.readInto(protocol.TypeSignal, &sig)
	if sig.From != c2.self.ID || sig.Candidate == nil || !strings.Contains(sig.Candidate.Candidate, "127.0.0.1") || *sig.Candidate.SDPMid != "0" {
		t.Fatalf("candidate = %+v", sig)
	}

	// A target in another room is refused, and nothing reaches it.
	c1.send(protocol.Signal{Type: protocol.TypeSignal, To: c3.self.ID, Kind: protocol.KindOffer, SDP: "v=0"})
	var e protocol.Error
	c1.readInto(protocol.TypeError, &e)
	if e.Code != protocol.CodeUnknownPeer || e.Ref != protocol.TypeSignal {
		t.Fatalf("cross-room error = %+v", e)
	}
	// Signalling oneself is refused too.
	c1.send(protocol.Signal{Type: protocol.TypeSignal, To: c1.self.ID, Kind: protocol.KindOffer, SDP: "v=0"})
	c1.readInto(protocol.TypeError, &e)
	if e.Code != protocol.CodeBadRequest {
		t.Fatalf("self signal error = %+v", e)
	}

	// Bad frames get an error and the connection stays up.
	for _, bad := range []string{`not json`, `{"type":"warp"}`, `{"type":"signal","to":5}`, `{"type":"media","source":"x","action":"published"}`} {
		c1.send(bad)
		c1.readInto(protocol.TypeError, &e)
		if e.Code == "" || e.Message == "" {
			t.Fatalf("error for %s = %+v", bad, e)
		}
	}
	c1.send(protocol.Signal{Type: protocol.TypeSignal, To: c2.self.ID, Kind: protocol.KindAnswer, SDP: "v=0 still here"})
	c2.readInto(protocol.TypeSignal, &sig)
	if sig.SDP != "v=0 still here" {
		t.Fatalf("after bad frames = %+v", sig)
	}
	c3.expectNothing(protocol.TypeSignal, 300*time.Millisecond)
}

func TestSpectatorCannotPublish(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("r")
	c1 := owner.dial(room.ID, nil)
	spec := a.newUser().dial(room.ID, url.Values{"spectator": {"1"}})
	spec.send(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceCamera, Action: protocol.ActionPublished})
	var e protocol.Error
	spec.readInto(protocol.TypeError, &e)
	if e.Code != protocol.CodeForbidden {
		t.Fatalf("error = %+v", e)
	}
	c1.expectNothing(protocol.TypeMedia, 200*time.Millisecond)
}

func TestJoinRefusals(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("r")
	for _, tt := range []struct {
		name, room string
		query      url.Values
		code       string
	}{
		{"unknown room", "zzzzzzzzzz", nil, protocol.CodeNotFound},
		{"garbage room", "../x", nil, protocol.CodeNotFound},
		{"bad name", room.ID, url.Values{"name": {strings.Repeat("n", 10000)}}, protocol.CodeInvalidName},
		{"control name", room.ID, url.Values{"name": {"a\x00b"}}, protocol.CodeInvalidName},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := owner.dialRaw(tt.room, tt.query)
			var e protocol.Error
			c.readInto(protocol.TypeError, &e)
			if e.Code != tt.code {
				t.Fatalf("error = %+v, want %s", e, tt.code)
			}
			if _, _, err := c.next(); err == nil {
				t.Fatal("socket stayed open after a refused join")
			}
		})
	}
	var got protocol.Room
	owner.do("GET", "/api/rooms/"+room.ID, "", &got)
	if got.Online != 0 || got.Status != "open" {
		t.Fatalf("refused joins changed the room: %+v", got)
	}
}

func TestEndRoomDisconnectsEveryone(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("r")
	c1 := owner.dial(room.ID, nil)
	c2 := a.newUser().dial(room.ID, nil)
	if status := owner.do("POST", "/api/rooms/"+room.ID+"/end", "", nil); status != 200 {
		t.Fatalf("end = %d", status)
	}
	for _, c := range []*client{c1, c2} {
		var ended protocol.RoomEnded
		c.readInto(protocol.TypeRoomEnded, &ended)
		if ended.Room.Status != "ended" {
			t.Fatalf("room-ended = %+v", ended)
		}
		if _, _, err := c.next(); err == nil {
			t.Fatal("socket still open after the room ended")
		}
	}
	// Joining an ended room is refused with a clear code.
	c3 := owner.dialRaw(room.ID, nil)
	var e protocol.Error
	c3.readInto(protocol.TypeError, &e)
	if e.Code != protocol.CodeRoomEnded {
		t.Fatalf("join ended room = %+v", e)
	}
	rows, _ := a.store.AttendanceOf(room.ID)
	for _, r := range rows {
		if r.LeftAt == nil {
			t.Fatalf("attendance row still open: %+v", r)
		}
	}
}

// TestConcurrentFirstJoins joins many participants to a room nobody is in
// yet, all at once: they must all end up in one live room, each knowing
// every other one.
func TestConcurrentFirstJoins(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	for round := 0; round < 5; round++ {
		room := owner.createRoom("race")
		const n = 8
		users := make([]*user, n)
		for i := range users {
			users[i] = a.newUser()
		}
		clients := make([]*client, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range clients {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				clients[i] = users[i].dialRaw(room.ID, nil)
			}(i)
		}
		close(start)
		wg.Wait()
		// Each participant learns of the others through its welcome or a
		// later participant-joined or participants-joined (the room is on
		// the SFU past four, where joins that come together are announced
		// together): together they must name all n-1.
		for i, c := range clients {
			known := map[string]bool{}
			var self string
			for len(known) < n-1 {
				typ, data, err := c.next()
				if err != nil {
					t.Fatalf("round %d client %d knows %d of %d: %v", round, i, len(known), n-1, err)
				}
				switch typ {
				case protocol.TypeWelcome:
					var w protocol.Welcome
					_ = json.Unmarshal(data, &w)
					self = w.Self.ID
					for _, p := range w.Participants {
						known[p.ID] = true
					}
				case protocol.TypeParticipantJoined:
					var j protocol.ParticipantJoined
					_ = json.Unmarshal(data, &j)
					known[j.Participant.ID] = true
				case protocol.TypeParticipantsJoined:
					// A batch goes to the whole room: it may name me.
					var j protocol.ParticipantsJoined
					_ = json.Unmarshal(data, &j)
					for _, p := range j.Participants {
						if p.ID != self {
							known[p.ID] = true
						}
					}
				}
			}
			if known[self] {
				t.Fatalf("client %d was told about itself", i)
			}
		}
		var got protocol.Room
		owner.do("GET", "/api/rooms/"+room.ID, "", &got)
		if got.Online != n {
			t.Fatalf("round %d: online = %d, want %d", round, got.Online, n)
		}
	}
}
