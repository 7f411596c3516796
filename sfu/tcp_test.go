package sfu

import (
	"io"
	"log/slog"
	"testing"

	"github.com/pion/webrtc/v4"

	"meet/sfu/sfuclient"
)

// TestICEOverTCP covers clients whose network drops UDP: with ICE over TCP
// on, a publisher and a subscriber that can only make TCP connections
// reach the SFU on its TCP port, the media flows, and the pair in use is a
// TCP one.
func TestICEOverTCP(t *testing.T) {
	// A fixed UDP port (the test runs in its own network namespace): with
	// any free one, the TCP port may be another number.
	s, err := New(Config{UDPPort: 34801, ICETCP: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if s.TCPPort() != s.Port() {
		t.Fatalf("ICE-TCP listens on %d, want the UDP port's number %d", s.TCPPort(), s.Port())
	}
	api := mustAPI(sfuclient.Options{LoopbackOnly: true, TCPOnly: true})
	room, _ := s.Room("tcp")
	pub := joinClientWith(t, room, "alice", api, nil)
	sub := joinClientWith(t, room, "bob", api, nil)
	cam := newSender(t, true, "cam")
	pub.publish(map[string]*webrtc.TrackLocalStaticRTP{"camera": cam.track})
	warmUp(t, cam, "alice|camera", sub)

	for name, pc := range map[string]*webrtc.PeerConnection{"publish": pub.Publisher(), "subscribe": sub.Subscriber()} {
		pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
		if err != nil || pair == nil {
			t.Fatalf("%s: no selected candidate pair: %v", name, err)
		}
		if pair.Local.Protocol != webrtc.ICEProtocolTCP || pair.Remote.Protocol != webrtc.ICEProtocolTCP {
			t.Errorf("%s: the pair in use is %s -> %s, want TCP both ways", name, pair.Local, pair.Remote)
		}
		if pair.Remote.Port != uint16(s.TCPPort()) {
			t.Errorf("%s: the SFU's side of the pair is port %d, want its TCP port %d", name, pair.Remote.Port, s.TCPPort())
		}
	}
}

// TestICETCPOwnPort covers -tcp-port set apart from the UDP port.
func TestICETCPOwnPort(t *testing.T) {
	probe, err := New(Config{ICETCP: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	port := probe.TCPPort()
	_ = probe.Close()
	s, err := New(Config{ICETCP: true, TCPPort: port, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.TCPPort() != port {
		t.Fatalf("TCPPort() = %d, want %d", s.TCPPort(), port)
	}
	if _, err := New(Config{ICETCP: true, TCPPort: port}); err == nil {
		t.Fatal("a second SFU on a taken TCP port started")
	}
}
