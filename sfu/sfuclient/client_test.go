package sfuclient

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"meet/protocol"
	"meet/sfu/codec"
)

// sent is a Send that keeps what the client sends, in order.
type sent struct {
	mu   sync.Mutex
	msgs []protocol.SFU
}

func (s *sent) send(m protocol.SFU) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	return nil
}

func (s *sent) all() []protocol.SFU {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]protocol.SFU(nil), s.msgs...)
}

// offers returns the publish offers sent so far.
func (s *sent) offers() []protocol.SFU {
	var out []protocol.SFU
	for _, m := range s.all() {
		if m.PC == protocol.PCPublish && m.Kind == protocol.KindOffer {
			out = append(out, m)
		}
	}
	return out
}

func newTestClient(t *testing.T) (*Client, *sent, *webrtc.API) {
	t.Helper()
	api, err := NewAPI(Options{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	out := &sent{}
	c, err := New(Config{API: api, Send: out.send})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, out, api
}

func newTrack(t *testing.T, video bool, id string) webrtc.TrackLocal {
	t.Helper()
	capability := codec.Opus()
	if video {
		capability = codec.VP8()
	}
	tr, err := webrtc.NewTrackLocalStaticRTP(capability, id, "stream")
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// publishAnswerer plays the server's publish side with a Pion connection
// of its own.
type publishAnswerer struct {
	t  *testing.T
	pc *webrtc.PeerConnection
}

func newPublishAnswerer(t *testing.T, api *webrtc.API) *publishAnswerer {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return &publishAnswerer{t: t, pc: pc}
}

func (a *publishAnswerer) answer(offer protocol.SFU) protocol.SFU {
	a.t.Helper()
	if err := a.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer.SDP}); err != nil {
		a.t.Fatal(err)
	}
	answer, err := a.pc.CreateAnswer(nil)
	if err != nil {
		a.t.Fatal(err)
	}
	if err := a.pc.SetLocalDescription(answer); err != nil {
		a.t.Fatal(err)
	}
	return protocol.SFU{Type: protocol.TypeSFU, PC: protocol.PCPublish, Kind: protocol.KindAnswer, SDP: answer.SDP}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCandidatesFollowTheirDescription: a candidate Pion finds before its
// connection's first description has gone out waits for it; later ones
// go at once.
func TestCandidatesFollowTheirDescription(t *testing.T) {
	c, out, _ := newTestClient(t)
	box := &outbox{pc: protocol.PCPublish}
	found := c.trickle(box)
	found(&webrtc.ICECandidate{Foundation: "1", Priority: 1, Address: "127.0.0.1", Protocol: webrtc.ICEProtocolUDP, Port: 9, Typ: webrtc.ICECandidateTypeHost})
	if msgs := out.all(); len(msgs) != 0 {
		t.Fatalf("sent before the offer: %+v", msgs)
	}
	if err := c.sendDescription(box, protocol.SFU{Kind: protocol.KindOffer, SDP: "v=0"}); err != nil {
		t.Fatal(err)
	}
	found(&webrtc.ICECandidate{Foundation: "2", Priority: 1, Address: "127.0.0.1", Protocol: webrtc.ICEProtocolUDP, Port: 10, Typ: webrtc.ICECandidateTypeHost})
	found(nil) // the end of candidates is not sent
	msgs := out.all()
	if len(msgs) != 3 || msgs[0].Kind != protocol.KindOffer || msgs[0].Type != protocol.TypeSFU || msgs[0].PC != protocol.PCPublish {
		t.Fatalf("sent %+v, want the offer and two candidates", msgs)
	}
	for i, port := range []string{" 9 ", " 10 "} {
		m := msgs[i+1]
		if m.Kind != protocol.KindCandidate || m.PC != protocol.PCPublish || m.Candidate == nil || !strings.Contains(m.Candidate.Candidate, port) {
			t.Fatalf("message %d is %+v, want the candidate on port%s", i+1, m, port)
		}
	}
	// With real gathering, too, the offer goes first.
	if err := c.Publish(map[string]webrtc.TrackLocal{protocol.SourceMicrophone: newTrack(t, false, "mic")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a publish candidate", func() bool { return len(out.all()) > 4 })
	if m := out.all()[3]; m.Kind != protocol.KindOffer {
		t.Fatalf("Publish sent %+v first", m)
	}
}

// TestPublishWhileAnOfferIsOut: tracks added while an offer waits for its
// answer go in one next offer, made when the answer comes, and every offer
// names the source of each of its mids.
func TestPublishWhileAnOfferIsOut(t *testing.T) {
	c, out, api := newTestClient(t)
	server := newPublishAnswerer(t, api)
	if err := c.Publish(map[string]webrtc.TrackLocal{protocol.SourceMicrophone: newTrack(t, false, "mic")}); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(map[string]webrtc.TrackLocal{
		protocol.SourceCamera: newTrack(t, true, "cam"),
		protocol.SourceScreen: newTrack(t, true, "screen"),
	}); err != nil {
		t.Fatal(err)
	}
	offers := out.offers()
	if len(offers) != 1 {
		t.Fatalf("%d offers before the first answer, want 1", len(offers))
	}
	if got := offers[0].Tracks; len(got) != 1 || got["0"] != protocol.SourceMicrophone {
		t.Fatalf("first offer names %v", got)
	}
	if err := c.Handle(server.answer(offers[0])); err != nil {
		t.Fatal(err)
	}
	offers = out.offers()
	if len(offers) != 2 {
		t.Fatalf("%d offers after the answer, want 2", len(offers))
	}
	// Sources in order: camera, then screen.
	want := map[string]string{"0": protocol.SourceMicrophone, "1": protocol.SourceCamera, "2": protocol.SourceScreen}
	if got := offers[1].Tracks; len(got) != len(want) || got["0"] != want["0"] || got["1"] != want["1"] || got["2"] != want["2"] {
		t.Fatalf("second offer names %v, want %v", got, want)
	}
	second := server.answer(offers[1])
	if err := c.Handle(second); err != nil {
		t.Fatal(err)
	}
	if err := c.Handle(second); !errors.Is(err, ErrNoPublish) {
		t.Fatalf("an answer with no offer out: %v, want ErrNoPublish", err)
	}
}

// TestHandleRefusesWhatDoesNotFit: messages the server never sends, or that
// come at the wrong time, are errors; after Close every message is
// ErrClosed.
func TestHandleRefusesWhatDoesNotFit(t *testing.T) {
	c, _, _ := newTestClient(t)
	for _, tt := range []struct {
		name string
		msg  protocol.SFU
		want error
	}{
		{"publish answer before any offer", protocol.SFU{PC: protocol.PCPublish, Kind: protocol.KindAnswer, SDP: "v=0"}, ErrNoPublish},
		{"publish candidate before any offer", protocol.SFU{PC: protocol.PCPublish, Kind: protocol.KindCandidate, Candidate: &protocol.Candidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host"}}, ErrNoPublish},
		{"an offer on publish", protocol.SFU{PC: protocol.PCPublish, Kind: protocol.KindOffer, SDP: "v=0"}, nil},
		{"an answer on subscribe", protocol.SFU{PC: protocol.PCSubscribe, Kind: protocol.KindAnswer, SDP: "v=0"}, nil},
		{"a subscribe offer that is no SDP", protocol.SFU{PC: protocol.PCSubscribe, Kind: protocol.KindOffer, SDP: "garbage"}, nil},
	} {
		err := c.Handle(tt.msg)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || errors.Is(err, ErrClosed) {
			t.Errorf("%s: %v, want an error (%v)", tt.name, err, tt.want)
		}
	}
	// A subscribe candidate before the server's offer is dropped, as a
	// browser does.
	if err := c.Handle(protocol.SFU{PC: protocol.PCSubscribe, Kind: protocol.KindCandidate, Candidate: &protocol.Candidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host"}}); err != nil {
		t.Errorf("an early subscribe candidate: %v", err)
	}
	c.Close()
	if err := c.Handle(protocol.SFU{PC: protocol.PCSubscribe, Kind: protocol.KindOffer, SDP: "v=0"}); !errors.Is(err, ErrClosed) {
		t.Errorf("an offer after Close: %v, want ErrClosed", err)
	}
	if err := c.Publish(map[string]webrtc.TrackLocal{protocol.SourceMicrophone: newTrack(t, false, "mic")}); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
}
