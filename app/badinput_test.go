package app

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"meet/protocol"
)

// newRecordedTestApp is newTestAppWith whose log is kept for inspection.
func newRecordedTestApp(t *testing.T, cfg Config) (*testApp, *logRecorder) {
	t.Helper()
	srv, logs := newRecordedServer(t, cfg)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
	})
	return &testApp{t: t, srv: srv, http: hs, store: srv.store}, logs
}

// badInputScene is where bad input is sent: the sender and a witness (the
// owner) share room A; a bystander is alone in room B.
type badInputScene struct {
	a                          *testApp
	logs                       *logRecorder
	owner, other               *user
	roomA, roomB               protocol.Room
	sender, witness, bystander *client
}

func newBadInputScene(t *testing.T, cfg Config) *badInputScene {
	t.Helper()
	a, logs := newRecordedTestApp(t, cfg)
	sc := &badInputScene{a: a, logs: logs, owner: a.newUser(), other: a.newUser()}
	sc.roomA = sc.owner.createRoom("A")
	sc.roomB = sc.other.createRoom("B")
	sc.witness = sc.owner.dial(sc.roomA.ID, url.Values{"name": {"Witness"}})
	sc.sender = sc.other.dial(sc.roomA.ID, url.Values{"name": {"Sender"}})
	sc.bystander = sc.other.dial(sc.roomB.ID, url.Values{"name": {"Bystander"}})
	var joined protocol.ParticipantJoined
	sc.witness.readInto(protocol.TypeParticipantJoined, &joined)
	for _, c := range []*client{sc.sender, sc.bystander} { // the witness's came before the join
		var history protocol.ChatHistory
		c.readInto(protocol.TypeChatHistory, &history)
	}
	logs.take()
	return sc
}

// probe asks the server something that always fails, and returns every
// error the sender got before the probe's own answer: the socket is alive
// and has handled everything sent before.
func (sc *badInputScene) probe(t *testing.T) []protocol.Error {
	t.Helper()
	sc.sender.send(`{"type":"probe"}`)
	var before []protocol.Error
	for {
		typ, data, err := sc.sender.next()
		if err != nil {
			t.Fatalf("socket died: %v", err)
		}
		if typ != protocol.TypeError {
			continue
		}
		var e protocol.Error
		_ = json.Unmarshal(data, &e)
		if e.Code == protocol.CodeUnknownType && strings.Contains(e.Message, `"probe"`) {
			return before
		}
		before = append(before, e)
	}
}

// quiet checks that c gets nothing in a short while but what allowed lists.
func quiet(t *testing.T, c *client, who string, allowed ...string) {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				t.Fatalf("%s's socket closed: %v", who, err)
			}
			return // the deadline passed
		}
		var env protocol.Envelope
		_ = json.Unmarshal(data, &env)
		ok := false
		for _, a := range allowed {
			ok = ok || env.Type == a
		}
		if !ok {
			t.Fatalf("%s got %s", who, data)
		}
	}
}

func TestBadInputOverTheSocket(t *testing.T) {
	sc := newBadInputScene(t, Config{})
	witnessID, bystanderID := sc.witness.self.ID, sc.bystander.self.ID
	big := strings.Repeat("x", 100<<10)
	for _, tt := range []struct {
		name      string
		frame     string
		code, ref string // the sender's error; none when empty
		check     func(t *testing.T)
	}{
		{name: "malformed JSON", frame: `{"type":"signal",`, code: protocol.CodeInvalidJSON},
		{name: "not JSON", frame: `hello`, code: protocol.CodeInvalidJSON},
		{name: "JSON but not an object", frame: `[1,2,3]`, code: protocol.CodeInvalidJSON},
		{name: "no type", frame: `{"to":"x"}`, code: protocol.CodeInvalidMessage},
		{name: "unknown type", frame: `{"type":"launch-missiles"}`, code: protocol.CodeUnknownType},
		{name: "type of the wrong type", frame: `{"type":["signal"]}`, code: protocol.CodeInvalidJSON},
		{name: "to of the wrong type", frame: `{"type":"signal","to":5,"kind":"offer","sdp":"v=0"}`, code: protocol.CodeInvalidJSON, ref: protocol.TypeSignal},
		{name: "source of the wrong type", frame: `{"type":"media","source":["camera"],"action":"published"}`, code: protocol.CodeInvalidJSON, ref: protocol.TypeMedia},
		{name: "name of the wrong type", frame: `{"type":"rename","name":{"first":"Ana"}}`, code: protocol.CodeInvalidJSON, ref: protocol.TypeRename},
		{name: "chat text of the wrong type", frame: `{"type":"chat-send","text":5,"clientId":"c1"}`, code: protocol.CodeInvalidJSON, ref: protocol.TypeChatSend},
		{name: "stage flag of the wrong type", frame: `{"type":"stage-set","on":"yes"}`, code: protocol.CodeInvalidJSON, ref: protocol.TypeStageSet},
		{name: "frame over 64 KiB", frame: `{"type":"chat-send","clientId":"c2","text":"` + big + `"}`, code: protocol.CodeInvalidMessage, ref: protocol.TypeChatSend},
		{name: "SDP garbage for a mesh peer", frame: `{"type":"signal","to":"` + witnessID + `","kind":"offer","sdp":"garbage"}`, code: protocol.CodeInvalidMessage, ref: protocol.TypeSignal},
		{name: "SFU message in a mesh room", frame: `{"type":"sfu","pc":"publish","kind":"offer","sdp":"v=0\r\nx"}`, code: protocol.CodeNotSFU, ref: protocol.TypeSFU},
		{name: "candidate for an unknown peer", frame: `{"type":"signal","to":"p_nobody","kind":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}}`, code: protocol.CodeUnknownPeer, ref: protocol.TypeSignal},
		{name: "signal to another room", frame: `{"type":"signal","to":"` + bystanderID + `","kind":"offer","sdp":"v=0"}`, code: protocol.CodeUnknownPeer, ref: protocol.TypeSignal},
		{name: "stage request for another room", frame: `{"type":"stage-set","id":"` + bystanderID + `","on":true}`, code: "", ref: protocol.TypeStageSet},
		{name: "10,000-character name", frame: `{"type":"rename","name":"` + strings.Repeat("n", 10000) + `"}`, code: protocol.CodeInvalidName, ref: protocol.TypeRename},
		{name: "control character in a name", frame: `{"type":"rename","name":"a\u0007b"}`, code: protocol.CodeInvalidName, ref: protocol.TypeRename},
		{name: "line break in a name", frame: `{"type":"rename","name":"Ana\nOwner"}`, code: protocol.CodeInvalidName, ref: protocol.TypeRename},
		{name: "bidi override in a name", frame: `{"type":"rename","name":"\u202eAna"}`, code: protocol.CodeInvalidName, ref: protocol.TypeRename},
		{name: "invalid UTF-8 in a name", frame: "{\"type\":\"rename\",\"name\":\"\xff\xfe\"}", code: protocol.CodeInvalidName, ref: protocol.TypeRename},
		{name: "empty name", frame: `{"type":"rename","name":"   "}`, code: protocol.CodeInvalidName, ref: protocol.TypeRename},
		{name: "non-owner puts someone on stage", frame: `{"type":"stage-set","id":"` + witnessID + `","on":true}`, code: protocol.CodeForbidden, ref: protocol.TypeStageSet},
		{name: "non-owner removes the owner", frame: `{"type":"remove","id":"` + witnessID + `"}`, code: protocol.CodeForbidden, ref: protocol.TypeRemove},
		{name: "non-owner mutes someone", frame: `{"type":"mute-request","id":"` + witnessID + `"}`, code: protocol.CodeForbidden, ref: protocol.TypeMuteRequest},
		{name: "non-owner takes the room", frame: `{"type":"owner-set","id":"` + witnessID + `"}`, code: protocol.CodeForbidden, ref: protocol.TypeOwnerSet},
		{name: "non-owner changes settings", frame: `{"type":"room-settings","classroom":true}`, code: protocol.CodeForbidden, ref: protocol.TypeRoomSettings},
		{name: "non-owner answers a hand", frame: `{"type":"hand-answer","id":"` + witnessID + `","accept":true}`, code: protocol.CodeForbidden, ref: protocol.TypeHandAnswer},
		{name: "non-owner ends the room", frame: `{"type":"end-room"}`, code: protocol.CodeForbidden, ref: protocol.TypeEndRoom},
		{
			name:  "forged sender on a signal",
			frame: `{"type":"signal","from":"` + bystanderID + `","to":"` + witnessID + `","kind":"offer","sdp":"v=0"}`,
			check: func(t *testing.T) {
				var got protocol.Signal
				sc.witness.readInto(protocol.TypeSignal, &got)
				if got.From != sc.sender.self.ID {
					t.Fatalf("relayed with from %q, want the sender %q", got.From, sc.sender.self.ID)
				}
			},
		},
		{
			name:  "forged sender on media",
			frame: `{"type":"media","from":"` + witnessID + `","source":"camera","action":"published","streamId":"s1"}`,
			check: func(t *testing.T) {
				var got protocol.Media
				sc.witness.readInto(protocol.TypeMedia, &got)
				if got.From != sc.sender.self.ID {
					t.Fatalf("media announced from %q, want the sender %q", got.From, sc.sender.self.ID)
				}
			},
		},
		{
			name:  "chat addressed to another room",
			frame: `{"type":"chat-send","room":"` + sc.roomB.ID + `","roomId":"` + sc.roomB.ID + `","from":"` + bystanderID + `","text":"hi","clientId":"c3"}`,
			check: func(t *testing.T) {
				var got protocol.ChatMessage
				sc.witness.readInto(protocol.TypeChatMessage, &got)
				if got.From != sc.sender.self.ID || got.Text != "hi" {
					t.Fatalf("chat-message = %+v", got)
				}
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc.sender.send(tt.frame)
			errs := sc.probe(t)
			switch {
			case tt.code == "" && tt.ref != "":
				// Refused one way or another, as long as it is refused.
				if len(errs) != 1 || errs[0].Message == "" || errs[0].Ref != tt.ref {
					t.Fatalf("errors = %+v, want one with ref %s", errs, tt.ref)
				}
			case tt.code == "":
				if len(errs) != 0 {
					t.Fatalf("unexpected errors %+v", errs)
				}
			case len(errs) != 1 || errs[0].Code != tt.code || errs[0].Ref != tt.ref || errs[0].Message == "":
				t.Fatalf("errors = %+v, want one %s with ref %q", errs, tt.code, tt.ref)
			}
			if tt.check != nil {
				tt.check(t)
			}
			for _, e := range errs {
				if e.Code == protocol.CodeInternal {
					t.Fatalf("bad input caused an internal error: %+v", e)
				}
			}
			recs := sc.logs.take()
			for _, r := range recs {
				if r.level >= slog.LevelInfo {
					t.Fatalf("logged at %s: %s", r.level, r.text)
				}
			}
			if tt.code != "" && len(recs) == 0 {
				t.Fatal("the refusal was not logged at debug level")
			}
		})
	}

	// Nobody else noticed anything, and the rooms are as they were.
	quiet(t, sc.witness, "the witness", protocol.TypeChatMessage)
	quiet(t, sc.bystander, "the bystander in another room")
	for _, tt := range []struct {
		room   protocol.Room
		online int
	}{{sc.roomA, 2}, {sc.roomB, 1}} {
		var got protocol.Room
		sc.owner.do("GET", "/api/rooms/"+tt.room.ID, "", &got)
		if got.Online != tt.online || got.Status != "live" || got.Owner.ID != tt.room.Owner.ID {
			t.Fatalf("room %s after bad input = %+v", tt.room.Name, got)
		}
	}
	var parts struct{ Participants []protocol.Participant }
	sc.owner.do("GET", "/api/rooms/"+sc.roomA.ID+"/participants", "", &parts)
	for _, p := range parts.Participants {
		if p.ID == sc.sender.self.ID && p.Name != "Sender" {
			t.Fatalf("a refused rename changed the name to %q", p.Name)
		}
	}
}

func TestBinaryFrameIsRefused(t *testing.T) {
	sc := newBadInputScene(t, Config{})
	if err := sc.sender.conn.WriteMessage(websocket.BinaryMessage, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	errs := sc.probe(t)
	if len(errs) != 1 || errs[0].Code != protocol.CodeInvalidJSON || errs[0].Message == "" {
		t.Fatalf("errors = %+v", errs)
	}
	quiet(t, sc.witness, "the witness")
}

// TestHugeFrameClosesOnlyThatSocket sends more than the socket reads: the
// sender is disconnected with 1009, and nobody else is affected.
func TestHugeFrameClosesOnlyThatSocket(t *testing.T) {
	sc := newBadInputScene(t, Config{})
	huge := `{"type":"chat-send","clientId":"c","text":"` + strings.Repeat("x", socketReadLimit) + `"}`
	_ = sc.sender.conn.WriteMessage(websocket.TextMessage, []byte(huge))
	var closeErr *websocket.CloseError
	for {
		_, _, err := sc.sender.next()
		if err != nil {
			if !errors.As(err, &closeErr) || closeErr.Code != websocket.CloseMessageTooBig {
				t.Fatalf("after a huge frame: %v, want close 1009", err)
			}
			break
		}
	}
	if recs := sc.logs.take(); len(recs) > 0 {
		for _, r := range recs {
			if r.level >= slog.LevelWarn {
				t.Fatalf("logged at %s: %s", r.level, r.text)
			}
		}
	}
	// The room goes on for the witness, and the other room never knew.
	sc.witness.send(protocol.ChatSend{Type: protocol.TypeChatSend, Text: "still here", ClientID: "w1"})
	var echo protocol.ChatMessage
	sc.witness.readInto(protocol.TypeChatMessage, &echo)
	quiet(t, sc.bystander, "the bystander in another room")
	// The same identity can join again at once.
	sc.other.dial(sc.roomA.ID, nil)
}

// TestBadInputOnTheSFUPath sends broken negotiation to the SFU: each is
// refused with a clear error, and the room keeps its SFU peers.
func TestBadInputOnTheSFUPath(t *testing.T) {
	sc := newBadInputScene(t, Config{MeshMax: 1})
	// A real offer from a local Pion peer, to get a publish connection.
	offer := pionOffer(t)
	frame := func(m protocol.SFU) string {
		m.Type = protocol.TypeSFU
		data, _ := json.Marshal(m)
		return string(data)
	}
	tracks := map[string]string{}
	for i := 0; i < 20; i++ {
		tracks[string(rune('a'+i))] = protocol.SourceCamera
	}
	for _, tt := range []struct {
		name, frame string
		code        string
	}{
		{"SDP garbage as a publish offer", frame(protocol.SFU{PC: protocol.PCPublish, Kind: protocol.KindOffer, SDP: "v=0\r\nthis is not an offer\r\n"}), protocol.CodeBadRequest},
		{"SDP that is not an SDP", frame(protocol.SFU{PC: protocol.PCPublish, Kind: protocol.KindOffer, SDP: "garbage"}), protocol.CodeInvalidMessage},
		{"an offer on subscribe", frame(protocol.SFU{PC: protocol.PCSubscribe, Kind: protocol.KindOffer, SDP: offer}), protocol.CodeInvalidMessage},
		{"an answer nobody asked for", frame(protocol.SFU{PC: protocol.PCSubscribe, Kind: protocol.KindAnswer, SDP: "v=0\r\n"}), protocol.CodeBadRequest},
		{"too many tracks", frame(protocol.SFU{PC: protocol.PCPublish, Kind: protocol.KindOffer, SDP: offer, Tracks: tracks}), protocol.CodeInvalidMessage},
		{"a good offer", frame(protocol.SFU{PC: protocol.PCPublish, Kind: protocol.KindOffer, SDP: offer, Tracks: map[string]string{"0": protocol.SourceMicrophone}}), ""},
		{"candidate garbage", frame(protocol.SFU{PC: protocol.PCPublish, Kind: protocol.KindCandidate, Candidate: &protocol.Candidate{Candidate: "candidate:garbage"}}), protocol.CodeBadRequest},
		{"candidate for an unknown connection", `{"type":"sfu","pc":"screen","kind":"candidate","candidate":null}`, protocol.CodeInvalidMessage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc.sender.send(tt.frame)
			errs := sc.probe(t)
			if tt.code == "" {
				if len(errs) != 0 {
					t.Fatalf("unexpected errors %+v", errs)
				}
			} else if len(errs) != 1 || errs[0].Code != tt.code || errs[0].Ref != protocol.TypeSFU || errs[0].Message == "" {
				t.Fatalf("errors = %+v, want one %s", errs, tt.code)
			}
			for _, r := range sc.logs.take() {
				if r.level >= slog.LevelInfo {
					t.Fatalf("logged at %s: %s", r.level, r.text)
				}
			}
		})
	}
	r, err := sc.a.srv.sfu.Room(sc.roomA.ID)
	if err != nil || r.Stats().Peers != 2 {
		t.Fatalf("SFU room after bad input: %+v %v", r.Stats(), err)
	}
	quiet(t, sc.bystander, "the bystander in another room")
}

// TestBadJoinParameters sends broken query parameters with the join:
// each is refused with an error that names the problem, or ignored where a
// fresh join is the sensible answer, and nothing is logged above debug.
func TestBadJoinParameters(t *testing.T) {
	a, logs := newRecordedTestApp(t, Config{})
	u := a.newUser()
	room := u.createRoom("r")
	for _, tt := range []struct {
		name  string
		room  string
		query url.Values
		code  string // refused with this; joined when empty
	}{
		{"no room", "", nil, protocol.CodeNotFound},
		{"room id with a path", "../../api/rooms", nil, protocol.CodeNotFound},
		{"room id of 10,000 characters", strings.Repeat("r", 10000), nil, protocol.CodeNotFound},
		{"name of 10,000 characters", room.ID, url.Values{"name": {strings.Repeat("n", 10000)}}, protocol.CodeInvalidName},
		{"name with a bidi override", room.ID, url.Values{"name": {"\u202eAna"}}, protocol.CodeInvalidName},
		{"name with a NUL", room.ID, url.Values{"name": {"a\x00b"}}, protocol.CodeInvalidName},
		{"resume of a participant that never was", room.ID, url.Values{"resume": {"p_nobody"}, "seen": {"3"}}, ""},
		{"resume with a count that is not one", room.ID, url.Values{"resume": {"p_nobody"}, "seen": {"-1e9"}}, ""},
		{"spectator flag that is neither", room.ID, url.Values{"spectator": {"perhaps"}}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := u.dialRaw(tt.room, tt.query)
			typ, data, err := c.next()
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if tt.code == "" {
				var w protocol.Welcome
				_ = json.Unmarshal(data, &w)
				if typ != protocol.TypeWelcome || w.Self.Role != protocol.RoleOwner {
					t.Fatalf("got %s, want a fresh welcome", data)
				}
				c.conn.Close()
			} else {
				var e protocol.Error
				_ = json.Unmarshal(data, &e)
				if typ != protocol.TypeError || e.Code != tt.code || e.Ref != "join" || e.Message == "" {
					t.Fatalf("got %s, want error %s", data, tt.code)
				}
				if _, _, err := c.next(); err == nil {
					t.Fatal("the socket stayed open after a refused join")
				}
			}
			for _, r := range logs.take() {
				if r.level >= slog.LevelWarn {
					t.Fatalf("logged at %s: %s", r.level, r.text)
				}
			}
		})
	}
}
