package sfu

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

// connectPipe joins a pipe from origin's room to edge's room of the same
// id, with the signaling of both ends carried between them in-process as
// the app carries it between two nodes. It returns the origin's subscriber
// and the edge's pipe.
func connectPipe(t *testing.T, origin, edge *Room) (*Peer, *Pipe) {
	t.Helper()
	toEdge, toOrigin := make(chan []byte, 256), make(chan []byte, 256)
	queue := func(q chan []byte) func([]byte) {
		return func(b []byte) {
			select {
			case q <- b:
			default:
				t.Errorf("pipe signaling queue full")
			}
		}
	}
	sub, err := origin.Join(PipePeerID("edge"), queue(toEdge))
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := edge.JoinPipe("origin", queue(toOrigin))
	if err != nil {
		t.Fatal(err)
	}
	relay := func(in chan []byte, handle func(*protocol.SFU) error) {
		for data := range in {
			var m protocol.SFU
			if err := json.Unmarshal(data, &m); err != nil {
				t.Errorf("pipe message %q: %v", data, err)
				return
			}
			if m.Type != protocol.TypeSFU {
				continue // the origin's last-N list is for browsers
			}
			if err := handle(&m); err != nil && m.Kind != protocol.KindCandidate {
				t.Errorf("pipe %s %s: %v", m.PC, m.Kind, err)
			}
		}
	}
	go relay(toEdge, pipe.HandleSignal)
	go relay(toOrigin, sub.HandleSignal)
	t.Cleanup(func() {
		sub.Close()
		pipe.Close()
	})
	return sub, pipe
}

// TestPipeFansOutAnotherNodesTracks checks a cascade: a publisher on the
// origin node, three viewers on an edge node. The edge receives each track
// once over the pipe, the origin forwards each once to it, and every
// viewer on the edge gets the publisher's camera and sound under the
// publisher's own id. A track the publisher stops leaves the edge too,
// and closing the pipe unpublishes them all there.
func TestPipeFansOutAnotherNodesTracks(t *testing.T) {
	originSFU, edgeSFU := newTestSFU(t), newTestSFU(t)
	origin, _ := originSFU.Room("class")
	edge, _ := edgeSFU.Room("class")
	alice := joinClient(t, origin, "alice")
	cam, mic := newSender(t, true, "cam"), newSender(t, false, "mic")
	alice.publish(map[string]*webrtc.TrackLocalStaticRTP{"camera": cam.track, "microphone": mic.track})

	_, pipe := connectPipe(t, origin, edge)
	viewers := []*testClient{joinClient(t, edge, "v1"), joinClient(t, edge, "v2"), joinClient(t, edge, "v3")}

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := uint32(1); ; n++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			_ = cam.send(n)
			_ = mic.send(n)
		}
	}()
	defer func() { close(stop); <-done }()

	for _, v := range viewers {
		waitUntil(t, 20*time.Second, "a viewer on the edge to get Alice's camera and sound", func() bool {
			return len(v.got("alice|camera")) >= 20 && len(v.got("alice|microphone")) >= 20
		})
	}
	if got := edgeSFU.PipedTracks(); got != 2 {
		t.Errorf("the edge received %d tracks over the pipe, want Alice's 2 once each", got)
	}
	origin.mu.Lock()
	for _, up := range origin.tracks {
		if n := len(*up.downs.Load()); n != 1 {
			t.Errorf("the origin forwards Alice's %s %d times, want once (to the pipe)", up.source, n)
		}
	}
	origin.mu.Unlock()

	// Alice stops her microphone: the origin's offer to the pipe drops it,
	// and so does the edge.
	alice.peer.Unpublish("microphone")
	waitUntil(t, 10*time.Second, "Alice's microphone to leave the edge's room", func() bool {
		edge.mu.Lock()
		defer edge.mu.Unlock()
		return len(edge.tracks) == 1 && edge.tracks[0].source == "camera"
	})

	pipe.Close()
	waitUntil(t, 10*time.Second, "the piped tracks to leave the edge's room", func() bool {
		edge.mu.Lock()
		defer edge.mu.Unlock()
		return len(edge.tracks) == 0
	})
}

// TestPipeKeepsAParticipantsOwnTracks checks that a participant served
// by an edge while it publishes on the origin is not sent its own tracks
// back over the pipe.
func TestPipeKeepsAParticipantsOwnTracks(t *testing.T) {
	originSFU, edgeSFU := newTestSFU(t), newTestSFU(t)
	origin, _ := originSFU.Room("class")
	edge, _ := edgeSFU.Room("class")
	alice := joinClient(t, origin, "alice")
	cam := newSender(t, true, "cam")
	alice.publish(map[string]*webrtc.TrackLocalStaticRTP{"camera": cam.track})
	connectPipe(t, origin, edge)
	self := joinClient(t, edge, "alice")
	other := joinClient(t, edge, "bob")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for n := uint32(1); ; n++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			_ = cam.send(n)
		}
	}()
	waitUntil(t, 20*time.Second, "Bob on the edge to get Alice's camera", func() bool { return len(other.got("alice|camera")) >= 20 })
	if n := self.peer.Offers(); n != 0 {
		t.Errorf("Alice's own peer on the edge was offered tracks %d times", n)
	}
}
