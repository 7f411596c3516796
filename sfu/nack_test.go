package sfu

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

func replayingAPI() *webrtc.API {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.DisableSRTPReplayProtection(true)
	m := &webrtc.MediaEngine{}
	_ = m.RegisterDefaultCodecs()
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(m))
}

// joinClientWith is joinClient with a client API of the test's choosing.
func joinClientWith(t *testing.T, room *Room, id string, api *webrtc.API) *testClient {
	t.Helper()
	c := &testClient{t: t, api: api, in: make(chan []byte, 256),
		received: map[string][]uint32{}, tracks: map[string]string{}, ended: map[string]bool{}}
	var err error
	if c.sub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	c.sub.OnICECandidate(func(cand *webrtc.ICECandidate) { c.trickle(protocol.PCSubscribe, cand) })
	if c.peer, err = room.Join(id, func(b []byte) { c.in <- b }); err != nil {
		t.Fatal(err)
	}
	go c.pump()
	t.Cleanup(func() {
		c.peer.Close()
		_ = c.sub.Close()
	})
	return c
}

// TestNACKIsAnsweredFromTheTrackCache checks that a subscriber's NACK gets
// the lost packet again, with the sequence number that subscriber knows it
// by, from the publisher's track cache; and that NACKs and PLIs are
// counted.
func TestNACKIsAnsweredFromTheTrackCache(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("nack")
	pub := joinClient(t, room, "alice", false)
	// The subscriber got the packet it NACKs (loopback loses nothing), so
	// its SRTP replay protection would drop the copy: this one has none.
	sub := joinClientWith(t, room, "bob", replayingAPI())

	type arrival struct {
		seq     uint16
		counter uint32
	}
	var (
		mu       sync.Mutex
		ssrc     webrtc.SSRC
		arrivals []arrival
	)
	// Replace the test client's reader: this test needs RTP sequence
	// numbers and the SSRC the SFU chose.
	sub.sub.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		mu.Lock()
		ssrc = track.SSRC()
		mu.Unlock()
		for {
			pkt, _, err := track.ReadRTP()
			if err != nil {
				return
			}
			if len(pkt.Payload) >= 8 {
				mu.Lock()
				arrivals = append(arrivals, arrival{pkt.SequenceNumber, binary.BigEndian.Uint32(pkt.Payload[4:])})
				mu.Unlock()
			}
		}
	})
	video := newSender(t, true, "cam")
	pub.publish(map[string]*webrtc.TrackLocalStaticRTP{"camera": video.track})
	n := uint32(0)
	waitUntil(t, 20*time.Second, "video at the subscriber", func() bool {
		_ = video.send(n)
		n++
		mu.Lock()
		defer mu.Unlock()
		return len(arrivals) >= 5
	})

	mu.Lock()
	lost := arrivals[2]
	media := ssrc
	mu.Unlock()
	if err := sub.sub.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{
		MediaSSRC: uint32(media),
		Nacks:     rtcp.NackPairsFromSequenceNumbers([]uint16{lost.seq}),
	}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the NACKed packet again", func() bool {
		mu.Lock()
		defer mu.Unlock()
		seen := 0
		for _, a := range arrivals {
			if a.seq == lost.seq {
				if a.counter != lost.counter {
					t.Fatalf("seq %d came back carrying %d, want %d", a.seq, a.counter, lost.counter)
				}
				seen++
			}
		}
		return seen == 2
	})
	waitUntil(t, 5*time.Second, "the NACK counters", func() bool {
		st := s.Totals()
		return st.NACKs == 1 && st.Resent == 1
	})

	// A keyframe request is counted and passed on to the publisher.
	before := s.Totals().Keyframes
	time.Sleep(keyframeInterval)
	if err := sub.sub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(media)}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the PLI counters", func() bool {
		st := s.Totals()
		return st.PLIs == 1 && st.Keyframes > before
	})
}
