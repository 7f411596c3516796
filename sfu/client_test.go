package sfu

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

// testClient plays a browser against the SFU: a publish connection it
// offers and a subscribe connection the SFU offers, signalled in-process.
type testClient struct {
	t    *testing.T
	peer *Peer
	api  *webrtc.API
	pub  *webrtc.PeerConnection
	sub  *webrtc.PeerConnection
	in   chan []byte

	mu       sync.Mutex
	received map[string][]uint32 // "publisher|source" → payload counters, in arrival order
	tracks   map[string]string   // subscribe mid → "publisher|source"
	ended    map[string]bool
	noRead   bool // a subscriber that never reads its tracks
}

func clientAPI() *webrtc.API {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	m := &webrtc.MediaEngine{}
	_ = m.RegisterDefaultCodecs()
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(m))
}

func newTestSFU(t *testing.T) *SFU {
	t.Helper()
	s, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func joinClient(t *testing.T, room *Room, id string, noRead bool) *testClient {
	t.Helper()
	c := &testClient{t: t, api: clientAPI(), in: make(chan []byte, 256),
		received: map[string][]uint32{}, tracks: map[string]string{}, ended: map[string]bool{}, noRead: noRead}
	var err error
	c.sub, err = c.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c.sub.OnTrack(c.onTrack)
	c.sub.OnICECandidate(func(cand *webrtc.ICECandidate) { c.trickle(protocol.PCSubscribe, cand) })
	c.peer, err = room.Join(id, func(b []byte) {
		select {
		case c.in <- b:
		default:
			t.Errorf("client %s signaling queue full", id)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	go c.pump()
	t.Cleanup(func() {
		c.peer.Close()
		_ = c.sub.Close()
		if c.pub != nil {
			_ = c.pub.Close()
		}
	})
	return c
}

func (c *testClient) trickle(pc string, cand *webrtc.ICECandidate) {
	if cand == nil {
		return
	}
	init := cand.ToJSON()
	err := c.peer.HandleSignal(&protocol.SFU{PC: pc, Kind: protocol.KindCandidate,
		Candidate: &protocol.Candidate{Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex}})
	if err != nil && err != ErrPeerClosed {
		c.t.Errorf("candidate: %v", err)
	}
}

// pump handles what the SFU sends this client.
func (c *testClient) pump() {
	for data := range c.in {
		var m protocol.SFU
		_ = json.Unmarshal(data, &m)
		pc := c.sub
		if m.PC == protocol.PCPublish {
			pc = c.pub
		}
		switch m.Kind {
		case protocol.KindOffer:
			c.mu.Lock()
			for mid, what := range m.Tracks {
				c.tracks[mid] = what
			}
			c.mu.Unlock()
			if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
				c.t.Errorf("subscribe offer: %v", err)
				return
			}
			answer, _ := pc.CreateAnswer(nil)
			_ = pc.SetLocalDescription(answer)
			// An answer that crosses the end of the test (the SFU closing
			// its peers) finds the connection closed: that is no failure.
			if err := c.peer.HandleSignal(&protocol.SFU{PC: protocol.PCSubscribe, Kind: protocol.KindAnswer, SDP: answer.SDP}); err != nil && !c.peer.closed.Load() {
				c.t.Errorf("answer: %v", err)
			}
		case protocol.KindAnswer:
			if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
				c.t.Errorf("publish answer: %v", err)
			}
		case protocol.KindCandidate:
			if m.Candidate != nil {
				_ = pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex})
			}
		}
	}
}

func (c *testClient) onTrack(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	var key string
	for _, tr := range c.sub.GetTransceivers() {
		if tr.Receiver() == recv {
			c.mu.Lock()
			key = c.tracks[tr.Mid()]
			c.mu.Unlock()
		}
	}
	if c.noRead {
		return
	}
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			c.mu.Lock()
			c.ended[key] = true
			c.mu.Unlock()
			return
		}
		if len(pkt.Payload) >= 8 {
			c.mu.Lock()
			c.received[key] = append(c.received[key], binary.BigEndian.Uint32(pkt.Payload[4:]))
			c.mu.Unlock()
		}
	}
}

// publish adds local tracks, labelled with their sources, and offers them.
func (c *testClient) publish(tracks map[string]*webrtc.TrackLocalStaticRTP) {
	c.t.Helper()
	if c.pub == nil {
		var err error
		c.pub, err = c.api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			c.t.Fatal(err)
		}
		c.pub.OnICECandidate(func(cand *webrtc.ICECandidate) { c.trickle(protocol.PCPublish, cand) })
	}
	for _, tr := range tracks {
		if _, err := c.pub.AddTrack(tr); err != nil {
			c.t.Fatal(err)
		}
	}
	offer, err := c.pub.CreateOffer(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.pub.SetLocalDescription(offer); err != nil {
		c.t.Fatal(err)
	}
	labels := map[string]string{}
	for _, tr := range c.pub.GetTransceivers() {
		for source, local := range tracks {
			if tr.Sender() != nil && tr.Sender().Track() == local {
				labels[tr.Mid()] = source
			}
		}
	}
	if err := c.peer.HandleSignal(&protocol.SFU{PC: protocol.PCPublish, Kind: protocol.KindOffer, SDP: offer.SDP, Tracks: labels}); err != nil {
		c.t.Fatal(err)
	}
}

// got returns a copy of what arrived for key.
func (c *testClient) got(key string) []uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]uint32(nil), c.received[key]...)
}

// sender writes numbered packets on a track. Video packets are all marked
// as VP8 keyframes so a subscriber can start anywhere.
type sender struct {
	track *webrtc.TrackLocalStaticRTP
	video bool
	seq   uint16
	ts    uint32
}

func newSender(t *testing.T, video bool, id string) *sender {
	mime := webrtc.MimeTypeOpus
	if video {
		mime = webrtc.MimeTypeVP8
	}
	tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: mime}, id, "stream-"+id)
	if err != nil {
		t.Fatal(err)
	}
	return &sender{track: tr, video: video}
}

// send writes one packet carrying counter n.
func (s *sender) send(n uint32) error {
	payload := make([]byte, 200)
	if s.video {
		payload[0] = 0x10 // VP8 descriptor: start of partition 0
		payload[1] = 0x00 // VP8 header: key frame (P bit clear)
	}
	binary.BigEndian.PutUint32(payload[4:], n)
	s.seq++
	s.ts += 3000
	return s.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: s.seq, Timestamp: s.ts}, Payload: payload})
}

// waitUntil polls cond for up to d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
