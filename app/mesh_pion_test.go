package app

import (
	"encoding/binary"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
	"meet/sfu/codec"
)

// pionPeer is a Pion PeerConnection signalled through the app's /ws relay,
// as a browser in a mesh room would be.
type pionPeer struct {
	c      *client
	pc     *webrtc.PeerConnection
	remote string
	mu     sync.Mutex // serializes writes to the socket
}

func (p *pionPeer) sendSignal(s protocol.Signal) {
	s.Type, s.To = protocol.TypeSignal, p.remote
	data, _ := json.Marshal(s)
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.c.conn.WriteMessage(1, data)
}

// pump applies relayed signals to the PeerConnection until the socket
// closes. An offer is answered.
func (p *pionPeer) pump(t *testing.T) {
	for {
		typ, data, err := p.c.next()
		if err != nil {
			return
		}
		if typ != protocol.TypeSignal {
			continue
		}
		var s protocol.Signal
		_ = json.Unmarshal(data, &s)
		switch s.Kind {
		case protocol.KindOffer, protocol.KindAnswer:
			sdpType := webrtc.SDPTypeOffer
			if s.Kind == protocol.KindAnswer {
				sdpType = webrtc.SDPTypeAnswer
			}
			if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: sdpType, SDP: s.SDP}); err != nil {
				t.Errorf("set remote %s: %v", s.Kind, err)
				return
			}
			if s.Kind == protocol.KindOffer {
				answer, err := p.pc.CreateAnswer(nil)
				if err != nil {
					t.Errorf("create answer: %v", err)
					return
				}
				_ = p.pc.SetLocalDescription(answer)
				p.sendSignal(protocol.Signal{Kind: protocol.KindAnswer, SDP: answer.SDP})
			}
		case protocol.KindCandidate:
			if s.Candidate == nil {
				continue
			}
			_ = p.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: s.Candidate.Candidate, SDPMid: s.Candidate.SDPMid, SDPMLineIndex: s.Candidate.SDPMLineIndex})
		}
	}
}

func newPionPeer(t *testing.T, c *client, remote string) *pionPeer {
	// The API of the SFU test clients serves a mesh peer as well: a
	// browser's codecs, loopback only.
	api, err := sfuTestAPI()
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	p := &pionPeer{c: c, pc: pc, remote: remote}
	// Trickle ICE, as the browsers do.
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			p.sendSignal(protocol.Signal{Kind: protocol.KindCandidate})
			return
		}
		init := cand.ToJSON()
		p.sendSignal(protocol.Signal{Kind: protocol.KindCandidate, Candidate: &protocol.Candidate{
			Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex,
		}})
	})
	return p
}

// TestMeshRelayCarriesRealWebRTC connects two Pion peers through the real
// /ws relay: offer, answer and trickled candidates go through the server,
// then RTP flows peer to peer. Every packet sent must arrive, in order.
func TestMeshRelayCarriesRealWebRTC(t *testing.T) {
	a := newTestApp(t)
	alice, bob := a.newUser(), a.newUser()
	room := alice.createRoom("p2p")
	ca := alice.dial(room.ID, nil)
	cb := bob.dial(room.ID, nil)

	pa := newPionPeer(t, ca, cb.self.ID)
	pb := newPionPeer(t, cb, ca.self.ID)

	track, err := webrtc.NewTrackLocalStaticRTP(codec.VP8(), "video", "alice-camera")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pa.pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}

	const packets = 200
	received := make(chan uint32, packets)
	pb.pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			pkt, _, err := remote.ReadRTP()
			if err != nil {
				return
			}
			if len(pkt.Payload) >= 4 {
				received <- binary.BigEndian.Uint32(pkt.Payload)
			}
		}
	})
	connected := make(chan struct{})
	var once sync.Once
	pa.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})

	go pa.pump(t)
	go pb.pump(t)

	offer, err := pa.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pa.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	pa.sendSignal(protocol.Signal{Kind: protocol.KindOffer, SDP: offer.SDP})

	select {
	case <-connected:
	case <-time.After(15 * time.Second):
		t.Fatal("peers did not connect through the relay within 15s")
	}

	// Pace the packets like a camera: loopback drops nothing at this rate.
	payload := make([]byte, 1000)
	for i := uint32(0); i < packets; i++ {
		binary.BigEndian.PutUint32(payload, i)
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(i), Timestamp: i * 3000, SSRC: 1234}, Payload: payload}
		if err := track.WriteRTP(pkt); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}

	next := uint32(0)
	timeout := time.After(10 * time.Second)
	for next < packets {
		select {
		case got := <-received:
			if got != next {
				t.Fatalf("packet %d arrived when %d was expected", got, next)
			}
			next++
		case <-timeout:
			t.Fatalf("only %d of %d packets arrived", next, packets)
		}
	}
}
