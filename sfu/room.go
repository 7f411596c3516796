package sfu

import (
	"sync"
	"sync/atomic"
	"time"
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
	// recent are the video publishers, most recent speaker first
	// (lastn.go); recentSnap a copy for readers without the lock.
	recent     []string
	recentSnap atomic.Pointer[[]string]
	// tapMaker taps every track of the room while it is set (tap.go).
	tapMaker TapMaker
}

func newRoom(s *SFU, id string) *Room {
	return &Room{sfu: s, id: id}
}

// trackWait is how long a room holds back a new track from its
// subscribers while the same publisher's other new tracks are still on
// the way (see Peer.pendingTracksLocked).
const trackWait = 300 * time.Millisecond

// Join adds a peer. send delivers the peer's signaling messages (already
// encoded JSON) to its client; it must not block. The peer's connections
// and its first offer are made by its own goroutine, so Join is cheap and
// may be called under the caller's locks.
func (r *Room) Join(id string, send func([]byte)) (*Peer, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	if r.forgotten {
		// The last peer left and the registry dropped this room while we
		// were joining it: the meeting goes on in the registry's room.
		r.mu.Unlock()
		next, err := r.sfu.Room(r.id)
		if err != nil {
			return nil, err
		}
		return next.Join(id, send)
	}
	p := newPeer(r, id, send)
	r.peers = append(r.peers, p)
	r.mu.Unlock()
	go p.run()
	return p, nil
}

// tracksFor is what p should receive: every track of the room but its
// own, and but those another node publishes for its participant (pipe.go).
func (r *Room) tracksFor(p *Peer) []*upTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	out := make([]*upTrack, 0, len(r.tracks))
	for _, up := range r.tracks {
		if up.publisher != p && up.publisher.id != p.id {
			out = append(out, up)
		}
	}
	return out
}

// addTrack publishes up to every other peer of the room. While pending
// more tracks of the same publisher are on the way, the subscribers are
// woken when the last of them arrives, or after trackWait.
func (r *Room) addTrack(up *upTrack, pending int) bool {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return false
	}
	r.tracks = append(r.tracks, up)
	if pending > 0 {
		time.AfterFunc(trackWait, r.wakeAll)
	} else {
		r.wakeAllLocked()
	}
	tap := r.tapMaker
	r.mu.Unlock()
	if tap != nil {
		up.setTap(tap)
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
			r.wakeAllLocked()
			return
		}
	}
}

func (r *Room) wakeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wakeAllLocked()
}

func (r *Room) wakeAllLocked() {
	for _, p := range r.peers {
		p.kick()
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
	kept := r.tracks[:0]
	removed := false
	for _, t := range r.tracks {
		if t.publisher == p {
			r.sfu.retireTrack(t)
			removed = true
		} else {
			kept = append(kept, t)
		}
	}
	r.tracks = kept
	if removed {
		r.wakeAllLocked()
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
	LayerSwitches             uint64 // subscribers moved to another simulcast layer
	SentVideo                 uint64 // of Sent, packets of video tracks
	// Late counts the packets dropped because they waited in a
	// subscriber's queue longer than maxQueueAge, and the ones after them
	// up to the next keyframe.
	Late uint64
	// Unwatched counts the video subscriptions whose viewer does not
	// watch them now (SetView 0x0: off screen, hidden, audio only): a
	// gauge, not a count of events.
	Unwatched int
	// LastNHeld counts the video subscriptions the last-N limit holds
	// back now (lastn.go): a gauge.
	LastNHeld int
	// BandwidthLimited counts the videos sent below the layer their
	// viewer's tile asks for, for lack of the viewer's bandwidth: a gauge.
	BandwidthLimited int
	// Downlink counts the subscribers by their downlink's estimate:
	// Downlink[i] those at or under DownlinkBuckets[i] bits per second
	// (cumulative, as Prometheus has it), DownlinkSum their sum.
	Downlink      [len(DownlinkBuckets)]uint64
	DownlinkCount uint64
	DownlinkSum   float64
}

// DownlinkBuckets are the upper bounds, in bits per second, of the
// downlink estimate's histogram: from a phone on a poor link to a wired
// desk.
var DownlinkBuckets = [...]float64{150e3, 300e3, 600e3, 1e6, 2e6, 4e6, 8e6, 16e6}

// addDownlink counts one subscriber's estimate in the histogram.
func (s *Stats) addDownlink(bps int64) {
	s.DownlinkCount++
	s.DownlinkSum += float64(bps)
	for i, bound := range DownlinkBuckets {
		if float64(bps) <= bound {
			s.Downlink[i]++
		}
	}
}

// Stats sums the counters of every track in the room.
func (r *Room) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Stats{Peers: len(r.peers), Tracks: len(r.tracks)}
	for _, p := range r.peers {
		st.BandwidthLimited += int(p.limited.Load())
		if bps := p.estimate.Load(); bps > 0 {
			st.addDownlink(bps)
		}
	}
	for _, up := range r.tracks {
		up.counters.addTo(&st)
		for _, d := range *up.downs.Load() {
			d.counters.addTo(&st)
			if d.hidden.Load() {
				st.Unwatched++
			}
			if d.lastNOff.Load() {
				st.LastNHeld++
			}
		}
	}
	return st
}
