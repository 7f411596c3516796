package app

import (
	"encoding/binary"
	"encoding/json"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

// sfuClient is a Pion participant that speaks the app's SFU protocol over
// the real /ws: it answers subscribe offers and publishes on request.
type sfuClient struct {
	t   *testing.T
	c   *client
	api *webrtc.API
	sub *webrtc.PeerConnection
	pub *webrtc.PeerConnection

	wmu sync.Mutex // one writer on the socket

	mu       sync.Mutex
	modes    []protocol.Mode
	tracks   map[string]string // subscribe mid → "participant|source"
	received map[string]int    // "participant|source" → packets
	errors   []protocol.Error
}

func newSFUClient(t *testing.T, u *user, roomID string) *sfuClient {
	t.Helper()
	c := u.dial(roomID, url.Values{})
	sc := &sfuClient{t: t, c: c, api: loopbackAPI(), tracks: map[string]string{}, received: map[string]int{}}
	sc.modes = append(sc.modes, protocol.Mode{Mode: c.wel.Mode, Epoch: c.wel.Epoch})
	sc.sub = sc.newSubscriber()
	t.Cleanup(func() {
		_ = sc.subscriber().Close()
		if sc.pub != nil {
			_ = sc.pub.Close()
		}
	})
	go sc.pump()
	return sc
}

// newSubscriber makes the PeerConnection that answers the server's
// subscribe offers and counts the packets of each track it receives.
func (sc *sfuClient) newSubscriber() *webrtc.PeerConnection {
	sub, err := sc.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		sc.t.Fatal(err)
	}
	sub.OnICECandidate(func(cand *webrtc.ICECandidate) { sc.trickle(protocol.PCSubscribe, cand) })
	sub.OnTrack(func(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		var key string
		for _, tr := range sub.GetTransceivers() {
			if tr.Receiver() == recv {
				sc.mu.Lock()
				key = sc.tracks[tr.Mid()]
				sc.mu.Unlock()
			}
		}
		for {
			if _, _, err := track.ReadRTP(); err != nil {
				return
			}
			sc.mu.Lock()
			sc.received[key]++
			sc.mu.Unlock()
		}
	})
	return sub
}

func (sc *sfuClient) subscriber() *webrtc.PeerConnection {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.sub
}

// replaceSubscriber does what a page does when it closes its SFU
// connections and later opens new ones: the old subscribe connection is
// gone, and a new one waits for the server's next offer.
func (sc *sfuClient) replaceSubscriber() {
	old := sc.subscriber()
	_ = old.Close()
	sub := sc.newSubscriber()
	sc.mu.Lock()
	sc.sub = sub
	sc.tracks = map[string]string{}
	sc.received = map[string]int{}
	sc.mu.Unlock()
}

func (sc *sfuClient) write(v any) {
	data, _ := json.Marshal(v)
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	_ = sc.c.conn.WriteMessage(1, data)
}

func (sc *sfuClient) trickle(pc string, cand *webrtc.ICECandidate) {
	msg := protocol.SFU{Type: protocol.TypeSFU, PC: pc, Kind: protocol.KindCandidate}
	if cand != nil {
		init := cand.ToJSON()
		msg.Candidate = &protocol.Candidate{Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex}
	}
	sc.write(msg)
}

func (sc *sfuClient) pump() {
	for {
		_ = sc.c.conn.SetReadDeadline(time.Now().Add(time.Minute))
		_, data, err := sc.c.conn.ReadMessage()
		if err != nil {
			return
		}
		var env protocol.Envelope
		_ = json.Unmarshal(data, &env)
		switch env.Type {
		case protocol.TypeMode:
			var m protocol.Mode
			_ = json.Unmarshal(data, &m)
			sc.mu.Lock()
			sc.modes = append(sc.modes, m)
			sc.mu.Unlock()
		case protocol.TypeError:
			var e protocol.Error
			_ = json.Unmarshal(data, &e)
			sc.mu.Lock()
			sc.errors = append(sc.errors, e)
			sc.mu.Unlock()
		case protocol.TypeSFU:
			var m protocol.SFU
			_ = json.Unmarshal(data, &m)
			sc.onSFU(m)
		}
	}
}

func (sc *sfuClient) onSFU(m protocol.SFU) {
	pc := sc.subscriber()
	if m.PC == protocol.PCPublish {
		pc = sc.pub
	}
	switch m.Kind {
	case protocol.KindOffer:
		sc.mu.Lock()
		for mid, what := range m.Tracks {
			sc.tracks[mid] = what
		}
		sc.mu.Unlock()
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
			if pc.ConnectionState() != webrtc.PeerConnectionStateClosed {
				sc.t.Errorf("subscribe offer: %v", err)
			}
			return
		}
		answer, _ := pc.CreateAnswer(nil)
		_ = pc.SetLocalDescription(answer)
		sc.write(protocol.SFU{Type: protocol.TypeSFU, PC: protocol.PCSubscribe, Kind: protocol.KindAnswer, SDP: answer.SDP})
	case protocol.KindAnswer:
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
			sc.t.Errorf("publish answer: %v", err)
		}
	case protocol.KindCandidate:
		if m.Candidate != nil {
			_ = pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex})
		}
	}
}

// publishAudio publishes a microphone track to the SFU.
func (sc *sfuClient) publishAudio() *webrtc.TrackLocalStaticRTP {
	sc.t.Helper()
	if sc.pub != nil {
		_ = sc.pub.Close() // a page publishing afresh drops its old connection
	}
	var err error
	sc.pub, err = sc.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		sc.t.Fatal(err)
	}
	sc.pub.OnICECandidate(func(cand *webrtc.ICECandidate) { sc.trickle(protocol.PCPublish, cand) })
	track, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "mic")
	if _, err := sc.pub.AddTrack(track); err != nil {
		sc.t.Fatal(err)
	}
	offer, _ := sc.pub.CreateOffer(nil)
	_ = sc.pub.SetLocalDescription(offer)
	mid := sc.pub.GetTransceivers()[0].Mid()
	sc.write(protocol.SFU{Type: protocol.TypeSFU, PC: protocol.PCPublish, Kind: protocol.KindOffer, SDP: offer.SDP, Tracks: map[string]string{mid: protocol.SourceMicrophone}})
	return track
}

func (sc *sfuClient) lastMode() protocol.Mode {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.modes[len(sc.modes)-1]
}

func (sc *sfuClient) count(key string) int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.received[key]
}

// audioSeq numbers every test packet, across calls: SRTP replay
// protection drops a sequence number it has seen.
var audioSeq uint32

func sendAudio(track *webrtc.TrackLocalStaticRTP, n int) {
	payload := make([]byte, 100)
	for i := 0; i < n; i++ {
		seq := atomic.AddUint32(&audioSeq, 1)
		binary.BigEndian.PutUint32(payload, seq)
		_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(seq), Timestamp: seq * 960}, Payload: payload})
		time.Sleep(2 * time.Millisecond)
	}
}

// TestRoomSwitchesToSFUAndBack drives the whole switch through the real
// signaling: the join past -mesh-max turns the room to sfu with a newer
// epoch, media flows through the SFU, and once the room shrinks it returns
// to mesh after the delay, with a newer epoch again.
func TestRoomSwitchesToSFUAndBack(t *testing.T) {
	a := newTestAppWith(t, Config{MeshMax: 2, BackToMeshDelay: 300 * time.Millisecond, SFUGrace: time.Second})
	owner := a.newUser()
	room := owner.createRoom("switch")
	alice := newSFUClient(t, owner, room.ID)
	bob := newSFUClient(t, a.newUser(), room.ID)
	if alice.lastMode().Mode != protocol.ModeMesh || bob.lastMode().Mode != protocol.ModeMesh {
		t.Fatal("a room of two is not mesh")
	}
	carol := newSFUClient(t, a.newUser(), room.ID)
	if carol.lastMode().Mode != protocol.ModeSFU {
		t.Fatalf("the third joiner's welcome says %s", carol.lastMode().Mode)
	}
	first := carol.lastMode().Epoch
	for _, c := range []*sfuClient{alice, bob} {
		waitFor(t, func() bool { return c.lastMode().Mode == protocol.ModeSFU })
		if c.lastMode().Epoch != first {
			t.Fatalf("mode epoch %d, want %d", c.lastMode().Epoch, first)
		}
	}
	var got protocol.Room
	owner.do("GET", "/api/rooms/"+room.ID, "", &got)
	if got.Mode != protocol.ModeSFU || got.Online != 3 {
		t.Fatalf("room = %+v", got)
	}

	track := alice.publishAudio()
	key := alice.c.self.ID + "|" + protocol.SourceMicrophone
	deadline := time.Now().Add(15 * time.Second)
	for bob.count(key) == 0 || carol.count(key) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("SFU media did not arrive: bob %d carol %d; errors alice %v bob %v; pub state %s; bob tracks %v",
				bob.count(key), carol.count(key), alice.errors, bob.errors, alice.pub.ConnectionState(), bob.tracks)
		}
		sendAudio(track, 10)
	}

	// Carol leaves: the room is small again and returns to mesh after the
	// delay, never before it.
	carol.c.conn.Close()
	time.Sleep(100 * time.Millisecond)
	if alice.lastMode().Mode != protocol.ModeSFU {
		t.Fatal("the room left the SFU before the back-to-mesh delay")
	}
	waitFor(t, func() bool {
		return alice.lastMode().Mode == protocol.ModeMesh && bob.lastMode().Mode == protocol.ModeMesh
	})
	if alice.lastMode().Epoch <= first {
		t.Fatalf("back-to-mesh epoch %d is not newer than %d", alice.lastMode().Epoch, first)
	}
	// Make before break: the SFU still carries media until the client
	// closes it.
	before := bob.count(key)
	sendAudio(track, 20)
	waitFor(t, func() bool { return bob.count(key) > before })
	alice.write(protocol.SFUClose{Type: protocol.TypeSFUClose})
	bob.write(protocol.SFUClose{Type: protocol.TypeSFUClose})
	waitFor(t, func() bool {
		r, err := a.srv.sfu.Room(room.ID)
		return err == nil && r.Stats().Peers == 0
	})
}

// TestSFUMessagesInMeshRoomAreRefused checks the error for SFU signaling in
// a mesh room.
func TestSFUMessagesInMeshRoomAreRefused(t *testing.T) {
	a := newTestApp(t)
	u := a.newUser()
	room := u.createRoom("mesh")
	c := u.dial(room.ID, nil)
	c.send(protocol.SFU{Type: protocol.TypeSFU, PC: protocol.PCPublish, Kind: protocol.KindOffer, SDP: "v=0"})
	var e protocol.Error
	c.readInto(protocol.TypeError, &e)
	if e.Code != protocol.CodeNotSFU {
		t.Fatalf("error = %+v", e)
	}
}

// TestSwitchBackToSFUStartsAfresh covers a room that returns to the SFU
// while a page's sfu-close from the mesh period is still on its way: the
// switch gives everyone fresh SFU connections, and the stale close (an
// older epoch) leaves them alone.
func TestSwitchBackToSFUStartsAfresh(t *testing.T) {
	a := newTestAppWith(t, Config{MeshMax: 2, BackToMeshDelay: 200 * time.Millisecond, SFUGrace: time.Minute})
	owner := a.newUser()
	room := owner.createRoom("bounce")
	alice := newSFUClient(t, owner, room.ID)
	bob := newSFUClient(t, a.newUser(), room.ID)
	carol := newSFUClient(t, a.newUser(), room.ID)
	waitFor(t, func() bool { return bob.lastMode().Mode == protocol.ModeSFU })
	key := alice.c.self.ID + "|" + protocol.SourceMicrophone
	receive := func(what string, track *webrtc.TrackLocalStaticRTP) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for bob.count(key) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no SFU media reached bob; errors %v", what, bob.errors)
			}
			sendAudio(track, 10)
		}
	}
	receive("first SFU period", alice.publishAudio())

	carol.c.conn.Close()
	waitFor(t, func() bool { return bob.lastMode().Mode == protocol.ModeMesh })
	meshEpoch := bob.lastMode().Epoch
	// Bob's page closes its SFU connections; before its sfu-close leaves,
	// someone joins and the room is SFU again.
	bob.replaceSubscriber()
	newSFUClient(t, a.newUser(), room.ID)
	waitFor(t, func() bool {
		return bob.lastMode().Mode == protocol.ModeSFU && alice.lastMode().Mode == protocol.ModeSFU
	})
	// Alice's page too starts afresh and publishes again.
	track := alice.publishAudio()
	receive("second SFU period", track)

	bob.write(protocol.SFUClose{Type: protocol.TypeSFUClose, Epoch: meshEpoch})
	before := bob.count(key)
	sendAudio(track, 20)
	waitFor(t, func() bool { return bob.count(key) > before })
	bob.mu.Lock()
	defer bob.mu.Unlock()
	for _, e := range bob.errors {
		t.Errorf("bob got an error: %+v", e)
	}
}

// TestAlwaysSFU: with a negative MeshMax (cmd/meet's -mesh-max 0) a room
// uses the SFU from its first participant. A presenter alone publishes at
// once (no not_sfu), and a viewer who arrives receives the media; a room
// of two never goes back to mesh.
func TestAlwaysSFU(t *testing.T) {
	a := newTestAppWith(t, Config{MeshMax: -1, BackToMeshDelay: 200 * time.Millisecond})
	owner := a.newUser()
	room := owner.createRoom("webinar")
	presenter := newSFUClient(t, owner, room.ID)
	if m := presenter.lastMode().Mode; m != protocol.ModeSFU {
		t.Fatalf("the first participant's welcome says %s, want sfu", m)
	}
	track := presenter.publishAudio()
	viewer := newSFUClient(t, a.newUser(), room.ID)
	if m := viewer.lastMode().Mode; m != protocol.ModeSFU {
		t.Fatalf("the viewer's welcome says %s, want sfu", m)
	}
	key := presenter.c.self.ID + "|" + protocol.SourceMicrophone
	deadline := time.Now().Add(15 * time.Second)
	for viewer.count(key) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the viewer got no media; presenter errors %v, viewer errors %v", presenter.errors, viewer.errors)
		}
		sendAudio(track, 10)
	}
	// Several back-to-mesh delays later the room is still on the SFU, and
	// media still flows.
	time.Sleep(5 * 200 * time.Millisecond)
	before := viewer.count(key)
	sendAudio(track, 20)
	waitFor(t, func() bool { return viewer.count(key) > before })
	for _, c := range []*sfuClient{presenter, viewer} {
		if m := c.lastMode(); m.Mode != protocol.ModeSFU {
			t.Fatalf("the room went to %s", m.Mode)
		}
		if len(c.errors) > 0 {
			t.Fatalf("errors: %v", c.errors)
		}
	}
}
