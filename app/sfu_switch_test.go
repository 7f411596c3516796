package app

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
	"meet/sfu/codec"
	"meet/sfu/sfuclient"
)

// sfuClient is a participant with Pion SFU connections (sfuclient) over
// the real /ws: it answers subscribe offers, publishes on request, and
// records the modes and errors the server sends.
type sfuClient struct {
	t   *testing.T
	c   *client
	sfu *sfuclient.Client

	wmu sync.Mutex // one writer on the socket

	mu         sync.Mutex
	modes      []protocol.Mode
	modeAt     []time.Time // when each of modes arrived
	errors     []protocol.Error
	recordings []protocol.Recording
}

// sfuTestAPI is the client API every SFU test client shares.
var sfuTestAPI = sync.OnceValues(func() (*webrtc.API, error) {
	return sfuclient.NewAPI(sfuclient.Options{LoopbackOnly: true})
})

func newSFUClient(t *testing.T, u *user, roomID string) *sfuClient {
	t.Helper()
	c := u.dial(roomID, url.Values{})
	sc := &sfuClient{t: t, c: c}
	sc.modes = append(sc.modes, protocol.Mode{Mode: c.wel.Mode, Epoch: c.wel.Epoch})
	sc.modeAt = append(sc.modeAt, time.Now())
	api, err := sfuTestAPI()
	if err != nil {
		t.Fatal(err)
	}
	sc.sfu, err = sfuclient.New(sfuclient.Config{API: api, Send: func(m protocol.SFU) error {
		sc.write(m)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sc.sfu.Close)
	go sc.pump()
	return sc
}

func (sc *sfuClient) write(v any) {
	data, _ := json.Marshal(v)
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	_ = sc.c.conn.WriteMessage(1, data)
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
			sc.modeAt = append(sc.modeAt, time.Now())
			sc.mu.Unlock()
		case protocol.TypeRecording:
			var r protocol.Recording
			_ = json.Unmarshal(data, &r)
			sc.mu.Lock()
			sc.recordings = append(sc.recordings, r)
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
			// A candidate that cannot be applied is no failure (ICE has
			// others), nor is a message for a connection the test closed.
			if err := sc.sfu.Handle(m); err != nil && m.Kind != protocol.KindCandidate && !errors.Is(err, sfuclient.ErrClosed) {
				sc.t.Errorf("%s %s: %v", m.PC, m.Kind, err)
			}
		}
	}
}

// publishAudio publishes a microphone track to the SFU on a fresh publish
// connection, as a page publishing afresh does.
func (sc *sfuClient) publishAudio() *webrtc.TrackLocalStaticRTP {
	sc.t.Helper()
	sc.sfu.ClosePublisher()
	track, err := webrtc.NewTrackLocalStaticRTP(codec.Opus(), "audio", "mic")
	if err != nil {
		sc.t.Fatal(err)
	}
	if err := sc.sfu.Publish(map[string]webrtc.TrackLocal{protocol.SourceMicrophone: track}); err != nil {
		sc.t.Fatal(err)
	}
	return track
}

// replaceSubscriber does what a page does when it closes its SFU
// connections and later opens new ones: the old subscribe connection is
// gone, and a new one waits for the server's next offer.
func (sc *sfuClient) replaceSubscriber() {
	sc.t.Helper()
	if err := sc.sfu.RenewSubscriber(); err != nil {
		sc.t.Fatal(err)
	}
}

func (sc *sfuClient) lastMode() protocol.Mode {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.modes[len(sc.modes)-1]
}

// modeSince is when the first mode message to mode arrived after from.
func (sc *sfuClient) modeSince(from time.Time, mode string) (time.Time, bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for i, m := range sc.modes {
		if m.Mode == mode && sc.modeAt[i].After(from) {
			return sc.modeAt[i], true
		}
	}
	return time.Time{}, false
}

func (sc *sfuClient) count(key string) int {
	return sc.sfu.Received(key)
}

// audioSeq numbers every test packet, across calls: SRTP replay
// protection drops a sequence number it has seen.
var audioSeq uint32

// sendAudio sends n packets, paced, and returns the RTP sequence number of
// the last.
func sendAudio(track *webrtc.TrackLocalStaticRTP, n int) uint16 {
	payload := make([]byte, 100)
	var last uint16
	for i := 0; i < n; i++ {
		seq := atomic.AddUint32(&audioSeq, 1)
		binary.BigEndian.PutUint32(payload, seq)
		last = uint16(seq)
		_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: last, Timestamp: seq * 960}, Payload: payload})
		time.Sleep(2 * time.Millisecond)
	}
	return last
}

// TestRoomSwitchesToSFUAndBack drives the whole switch through the real
// signaling: the join past -mesh-max turns the room to sfu with a newer
// epoch, media flows through the SFU, and once the room shrinks it returns
// to mesh after the delay, with a newer epoch again.
func TestRoomSwitchesToSFUAndBack(t *testing.T) {
	const backToMesh = 300 * time.Millisecond
	a := newTestAppWith(t, Config{MeshMax: 2, BackToMeshDelay: backToMesh, SFUGrace: time.Second})
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
			t.Fatalf("SFU media did not arrive: bob %d carol %d; errors alice %v bob %v; pub state %s; bob's subscriber %s",
				bob.count(key), carol.count(key), alice.errors, bob.errors, alice.sfu.Publisher().ConnectionState(), bob.sfu.Subscriber().ConnectionState())
		}
		sendAudio(track, 10)
	}

	// Carol leaves: the room is small again and returns to mesh after the
	// delay, never before it. The server cannot start that delay before
	// the socket closes, so the mode may not arrive sooner after it.
	left := time.Now()
	carol.c.conn.Close()
	waitFor(t, func() bool {
		return alice.lastMode().Mode == protocol.ModeMesh && bob.lastMode().Mode == protocol.ModeMesh
	})
	for _, c := range []*sfuClient{alice, bob} {
		at, ok := c.modeSince(left, protocol.ModeMesh)
		if waited := at.Sub(left); !ok || waited < backToMesh {
			t.Fatalf("the room left the SFU %s after the leave, before the back-to-mesh delay of %s", waited, backToMesh)
		}
	}
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
	const backToMesh = 200 * time.Millisecond
	a := newTestAppWith(t, Config{MeshMax: -1, BackToMeshDelay: backToMesh})
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
	// A small room would leave the SFU one delay after the viewer's join.
	// For several delays from then, every round of media still reaches the
	// viewer through the SFU, and no mode message comes.
	viewer.mu.Lock()
	joined := viewer.modeAt[0]
	viewer.mu.Unlock()
	for time.Since(joined) < 5*backToMesh {
		before := viewer.count(key)
		sendAudio(track, 20)
		waitFor(t, func() bool { return viewer.count(key) > before })
	}
	for _, c := range []*sfuClient{presenter, viewer} {
		c.mu.Lock()
		modes, errs := c.modes, c.errors
		c.mu.Unlock()
		if len(modes) != 1 {
			t.Fatalf("the room changed mode: %+v", modes)
		}
		if len(errs) > 0 {
			t.Fatalf("errors: %v", errs)
		}
	}
}
