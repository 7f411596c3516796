package sfu

import (
	"sync"
)

// Room is one meeting's forwarding state: the tracks published in it and
// the peers subscribed to them. Every peer receives every other peer's
// tracks.
type Room struct {
	sfu *SFU
	id  string

	mu     sync.Mutex
	peers  []*Peer
	tracks []*upTrack
	closed bool
	// forgotten is set when the registry drops the room (empty); a join
	// that raced with that goes to the registry's new room instead.
	forgotten bool
}

func newRoom(s *SFU, id string) *Room {
	return &Room{sfu: s, id: id}
}

// Join adds a peer. send delivers the peer's signaling messages (already
// encoded JSON) to its client; it must not block.
func (r *Room) Join(id string, send func([]byte)) (*Peer, error) {
	p, err := newPeer(r, id, send)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		p.closeConnections()
		return nil, ErrClosed
	}
	if r.forgotten {
		// The last peer left and the registry dropped this room while we
		// were joining it: the meeting goes on in the registry's room.
		r.mu.Unlock()
		p.closeConnections()
		next, err := r.sfu.Room(r.id)
		if err != nil {
			return nil, err
		}
		return next.Join(id, send)
	}
	r.peers = append(r.peers, p)
	for _, up := range r.tracks {
		p.subscribe(up)
	}
	p.negotiate()
	r.mu.Unlock()
	return p, nil
}

// addTrack publishes up to every other peer of the room.
func (r *Room) addTrack(up *upTrack) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.tracks = append(r.tracks, up)
	for _, p := range r.peers {
		if p != up.publisher {
			p.subscribe(up)
			p.negotiate()
		}
	}
	return true
}

// removeTrack unpublishes up from every subscriber.
func (r *Room) removeTrack(up *upTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, t := range r.tracks {
		if t == up {
			r.tracks = append(r.tracks[:i], r.tracks[i+1:]...)
			r.sfu.retireTrack(up)
			break
		}
	}
	for _, p := range r.peers {
		if p.unsubscribe(up) {
			p.negotiate()
		}
	}
}

// leave removes p, its published tracks and its subscriptions. The room
// forgets itself once empty.
func (r *Room) leave(p *Peer) {
	r.mu.Lock()
	for i, x := range r.peers {
		if x == p {
			r.peers = append(r.peers[:i], r.peers[i+1:]...)
			break
		}
	}
	var gone []*upTrack
	kept := r.tracks[:0]
	for _, t := range r.tracks {
		if t.publisher == p {
			gone = append(gone, t)
			r.sfu.retireTrack(t)
		} else {
			kept = append(kept, t)
		}
	}
	r.tracks = kept
	for _, up := range gone {
		for _, other := range r.peers {
			if other.unsubscribe(up) {
				other.negotiate()
			}
		}
	}
	empty := len(r.peers) == 0
	r.mu.Unlock()
	if empty {
		r.sfu.forget(r)
	}
}

// Close disconnects every peer.
func (r *Room) Close() {
	r.mu.Lock()
	r.closed = true
	peers := append([]*Peer(nil), r.peers...)
	r.mu.Unlock()
	for _, p := range peers {
		p.Close()
	}
	r.sfu.forget(r)
}

// Stats is a snapshot of a room's forwarding counters.
type Stats struct {
	Peers     int
	Tracks    int
	Forwarded uint64 // packets read from publishers
	Sent      uint64 // packets written to subscribers
	// RTP payload bytes read from publishers and written to subscribers.
	ForwardedBytes, SentBytes uint64
	Dropped                   uint64 // packets not sent to a subscriber (paused or congested)
	Keyframes                 uint64 // keyframe requests (PLI) sent to publishers
	NACKs                     uint64 // packets subscribers reported lost (NACK)
	Resent                    uint64 // of those, packets retransmitted from the cache
	PLIs                      uint64 // keyframe requests (PLI, FIR) received from subscribers
	Replays                   uint64 // subscriptions started from a cached keyframe
}

// Stats sums the counters of every track in the room.
func (r *Room) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Stats{Peers: len(r.peers), Tracks: len(r.tracks)}
	for _, up := range r.tracks {
		up.counters.addTo(&st)
		for _, d := range *up.downs.Load() {
			d.counters.addTo(&st)
		}
	}
	return st
}
