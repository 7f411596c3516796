package sfu

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

// A cascade serves a classroom larger than one node (issue 18): the node
// hosting the room, the origin, keeps its publishers, and another node, an
// edge, serves some of its viewers. The edge receives each of the room's
// tracks once, over one server-to-server connection (a pipe), and fans
// them out to its own subscribers, as mediasoup's pipeToRouter and Jitsi's
// Octo do.
//
// On the origin the pipe is an ordinary subscriber (Room.Join), named for
// the edge: it receives every track, with the keyframe budget and the
// congestion control of any other. On the edge it is a Pipe: a peer whose
// one connection answers the origin's subscribe offers, as a publish
// connection answers a client's offers, and whose tracks are published in
// the edge's room of the same id by one relay peer per origin publisher,
// under that publisher's id. The edge's subscribers see the stream ids and
// track names the origin's would, and their keyframe requests travel back
// over the pipe, where the origin budgets them like any subscriber's.

// Pipe is the edge's end of a cascade: another node's room, received over
// one connection and published in this node's room of the same id.
type Pipe struct {
	peer *Peer

	mu     sync.Mutex
	relays map[string]*Peer // by the origin publisher's id
	closed bool
}

// JoinPipe adds the edge's end of a pipe from the node named origin to
// this room. send delivers its signaling to the origin's subscriber (as
// that subscriber's client would answer); it must not block.
func (r *Room) JoinPipe(origin string, send func([]byte)) (*Pipe, error) {
	pipe := &Pipe{relays: map[string]*Peer{}}
	p, err := r.JoinPublisher(PipePeerID(origin), pipe.toOrigin(send))
	if err != nil {
		return nil, err
	}
	pipe.peer = p
	p.pipe = pipe
	return pipe, nil
}

// PipePeerID names a pipe's peer on either end, after the node on the
// other end: "node:<id>", which no participant id can be.
func PipePeerID(node string) string { return "node:" + node }

// HandleSignal applies one negotiation message from the origin's
// subscriber: its offers and candidates, for the pipe's connection.
func (pp *Pipe) HandleSignal(m *protocol.SFU) error {
	if m.PC != protocol.PCSubscribe {
		return nil // the origin's subscriber offers on nothing else
	}
	in := *m
	in.PC = protocol.PCPublish
	return pp.peer.HandleSignal(&in)
}

// toOrigin turns the pipe peer's signaling, that of a publish connection,
// into the answers and candidates the origin's subscriber expects.
func (pp *Pipe) toOrigin(send func([]byte)) func([]byte) {
	return func(data []byte) {
		var m protocol.SFU
		if json.Unmarshal(data, &m) != nil || m.Type != protocol.TypeSFU {
			return
		}
		m.PC = protocol.PCSubscribe
		if out, err := json.Marshal(m); err == nil {
			send(out)
		}
	}
}

// Done is closed once the pipe has closed.
func (pp *Pipe) Done() <-chan struct{} { return pp.peer.done }

// onTrack publishes one of the origin's tracks, named by the origin's
// offer as "publisherId|source", through that publisher's relay peer.
func (pp *Pipe) onTrack(name string, remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	cut := strings.LastIndexByte(name, '|')
	if cut <= 0 {
		pp.peer.log.Warn("piped track without a publisher", "track", name)
		return
	}
	relay := pp.relay(name[:cut])
	if relay == nil {
		return
	}
	pp.peer.room.sfu.pipedTracks.Add(1)
	relay.publishTrack(name[cut+1:], remote, receiver)
}

// relay is the peer publishing the tracks of the origin's publisher id,
// made on its first track; nil once the pipe closed.
func (pp *Pipe) relay(id string) *Peer {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.closed {
		return nil
	}
	relay := pp.relays[id]
	if relay == nil {
		room := pp.peer.room
		relay = newPeer(room, id, func([]byte) {})
		relay.relayed = true
		// Keyframe requests for its tracks go over the pipe.
		relay.pub.Store(pp.peer.pub.Load())
		// What the origin forwards is already under its last-N limit.
		relay.featured.Store(true)
		pp.relays[id] = relay
	}
	return relay
}

// Close closes the pipe's connection and unpublishes every piped track.
func (pp *Pipe) Close() {
	pp.mu.Lock()
	pp.closed = true
	relays := pp.relays
	pp.relays = nil
	pp.mu.Unlock()
	for _, relay := range relays {
		// A relay peer is in no room's list and owns no connection:
		// leaving takes its tracks, and the pipe closes the connection.
		relay.closed.Store(true)
		relay.room.leave(relay)
	}
	pp.peer.Close()
}

// PipedTracks counts the tracks the SFU's pipes received since it
// started: each of an origin's tracks once per pipe, however many viewers
// the edge serves.
func (s *SFU) PipedTracks() uint64 { return s.pipedTracks.Load() }

// Done is closed once the peer has closed.
func (p *Peer) Done() <-chan struct{} { return p.done }
