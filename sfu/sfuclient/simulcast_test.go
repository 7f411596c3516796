package sfuclient

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
	"meet/sfu/codec"
)

// simulcastServer plays the SFU's publish side with a Pion connection
// that receives simulcast: it answers the client's offers and notes, per
// RID, the packets that arrive and whether the last one carried the RID
// extension.
type simulcastServer struct {
	t      *testing.T
	pc     *webrtc.PeerConnection
	client *Client

	mu      sync.Mutex
	packets map[string]int  // rid → packets read
	tagged  map[string]bool // rid → the last packet carried the RID extension
	first   map[string]bool // rid → the first packet did
	remotes map[string]*webrtc.TrackRemote
}

func newSimulcastServer(t *testing.T, api *webrtc.API) *simulcastServer {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	s := &simulcastServer{t: t, pc: pc, packets: map[string]int{}, tagged: map[string]bool{}, first: map[string]bool{}, remotes: map[string]*webrtc.TrackRemote{}}
	pc.OnTrack(s.read)
	return s
}

// send is the client's Send: offers are answered at once, with every
// candidate of the answering side in the answer.
func (s *simulcastServer) send(m protocol.SFU) error {
	switch m.Kind {
	case protocol.KindOffer:
		if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
			return err
		}
		answer, err := s.pc.CreateAnswer(nil)
		if err != nil {
			return err
		}
		gathered := webrtc.GatheringCompletePromise(s.pc)
		if err := s.pc.SetLocalDescription(answer); err != nil {
			return err
		}
		<-gathered
		reply := protocol.SFU{Type: protocol.TypeSFU, PC: protocol.PCPublish, Kind: protocol.KindAnswer, SDP: s.pc.LocalDescription().SDP}
		go func() {
			if err := s.client.Handle(reply); err != nil && !errors.Is(err, ErrClosed) {
				s.t.Error(err)
			}
		}()
	case protocol.KindCandidate:
		c := m.Candidate
		return s.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex})
	}
	return nil
}

func (s *simulcastServer) read(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	var ridID uint8
	s.mu.Lock()
	s.remotes[track.RID()] = track
	s.mu.Unlock()
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			return
		}
		if ridID == 0 {
			ridID = s.extensionID(sdp.SDESRTPStreamIDURI)
		}
		s.mu.Lock()
		s.packets[track.RID()]++
		tagged := ridID != 0 && string(pkt.Header.GetExtension(ridID)) == track.RID()
		if s.packets[track.RID()] == 1 {
			s.first[track.RID()] = tagged
		}
		s.tagged[track.RID()] = tagged
		s.mu.Unlock()
	}
}

// extensionID is the id the answer gave a video header extension.
func (s *simulcastServer) extensionID(uri string) uint8 {
	for _, t := range s.pc.GetTransceivers() {
		if t.Receiver() == nil {
			continue
		}
		for _, ext := range t.Receiver().GetParameters().HeaderExtensions {
			if ext.URI == uri {
				return uint8(ext.ID)
			}
		}
	}
	return 0
}

func (s *simulcastServer) state(rid string) (packets int, tagged bool, remote *webrtc.TrackRemote) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.packets[rid], s.tagged[rid], s.remotes[rid]
}

// TestPublishSimulcast: a camera published as three layers reaches the
// other side as three tracks named by their RIDs, with the microphone in
// the same offer; a keyframe request for one layer names it; once the
// other side's receiver reports name a layer, its packets go without the
// RID extension.
func TestPublishSimulcast(t *testing.T) {
	api, err := NewAPI(Options{LoopbackOnly: true, Simulcast: true})
	if err != nil {
		t.Fatal(err)
	}
	server := newSimulcastServer(t, api)
	requests := make(chan string, 16)
	c, err := New(Config{API: api, Send: server.send, OnLayerKeyframeRequest: func(source, rid string) { requests <- source + "/" + rid }})
	if err != nil {
		t.Fatal(err)
	}
	server.client = c
	t.Cleanup(c.Close)
	camera, err := NewSimulcast(codec.VP8(), "camera", "stream", "q", "h", "f")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PublishSimulcast(map[string]webrtc.TrackLocal{protocol.SourceMicrophone: newTrack(t, false, "mic")}, map[string]*Simulcast{protocol.SourceCamera: camera}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		seq := uint16(0)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			seq++
			for _, l := range camera.Layers() {
				_ = l.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 900}, Payload: []byte{0x10, 0, 0, 0}})
			}
		}
	}()
	for _, rid := range []string{"q", "h", "f"} {
		waitFor(t, "packets of layer "+rid, func() bool { n, _, _ := server.state(rid); return n > 0 })
	}
	if n, _, _ := server.state(""); n != 0 {
		t.Errorf("%d packets on a track without a RID", n)
	}
	server.mu.Lock()
	for _, rid := range []string{"q", "h", "f"} {
		if !server.first[rid] {
			t.Errorf("the first packet of layer %s came without its RID extension", rid)
		}
	}
	server.mu.Unlock()
	_, _, h := server.state("h")
	if err := server.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(h.SSRC())}}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-requests:
		if got != "camera/h" {
			t.Errorf("keyframe request for %s, want camera/h", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no keyframe request for layer h")
	}
	// The answering side sends receiver reports about every second.
	for _, l := range camera.Layers() {
		waitFor(t, "a receiver report of layer "+l.RID(), l.Acked)
	}
	time.Sleep(100 * time.Millisecond)
	for _, rid := range []string{"q", "h", "f"} {
		if _, tagged, _ := server.state(rid); tagged {
			t.Errorf("layer %s still carries the RID extension after the receiver report", rid)
		}
	}
}

// TestPublishSimulcastNeedsTheExtensions: without Options.Simulcast the
// layers could not be told apart, and PublishSimulcast says so; bad
// layer sets are refused.
func TestPublishSimulcastNeedsTheExtensions(t *testing.T) {
	c, _, _ := newTestClient(t)
	camera, err := NewSimulcast(codec.VP8(), "camera", "stream", "q", "h", "f")
	if err != nil {
		t.Fatal(err)
	}
	err = c.PublishSimulcast(nil, map[string]*Simulcast{protocol.SourceCamera: camera})
	if err == nil || !strings.Contains(err.Error(), "Options.Simulcast") {
		t.Errorf("PublishSimulcast without the extensions: %v", err)
	}
	for _, rids := range [][]string{{"q"}, {"q", "q"}, {"q", ""}} {
		if _, err := NewSimulcast(codec.VP8(), "camera", "stream", rids...); err == nil {
			t.Errorf("NewSimulcast(%q) made layers", rids)
		}
	}
	err = c.PublishSimulcast(map[string]webrtc.TrackLocal{protocol.SourceCamera: newTrack(t, true, "cam")}, map[string]*Simulcast{protocol.SourceCamera: camera})
	if err == nil {
		t.Error("a source both plain and in simulcast was published")
	}
}
