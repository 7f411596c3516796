package room

import (
	"time"

	"meet/protocol"
	"meet/sfu"
)

// Policy is how a room chooses its topology.
type Policy struct {
	MeshMax   int           // a room with more participants than this uses the SFU
	BackDelay time.Duration // how long a small SFU room waits before returning to mesh
	SFUGrace  time.Duration // how long after returning to mesh leftover SFU connections live
	SFU       *sfu.SFU
	// OnSFUError tells p that it could not be connected to the SFU. It
	// runs under the room's lock, so it may only queue messages.
	OnSFUError func(p *Participant, err error)
	// NodeCapacity, above 0, is how many viewers (participants who may not
	// publish) a room serves from this node; Edges serves the next ones'
	// media from other nodes (edge.go). Edges is nil on a single node.
	NodeCapacity int
	Edges        Edges
}

// reconsiderModeLocked starts or stops the way back to mesh after a join
// or a leave. Growing past the threshold switches at once (in Join): the
// joiner that tips the room over is the reason to switch. Shrinking waits,
// so that one participant reloading a page does not bounce the whole room
// between topologies.
func (r *Room) reconsiderModeLocked() {
	if r.ended || len(r.participants) == 0 || r.mode != protocol.ModeSFU {
		return
	}
	big := r.needsSFULocked()
	switch {
	case big && r.backToMesh != nil:
		r.backToMesh.Stop()
		r.backToMesh = nil
	case !big && r.backToMesh == nil:
		r.backToMesh = time.AfterFunc(r.cfg.Policy.BackDelay, r.tryBackToMesh)
	}
}

// needsSFULocked reports whether the room must be on the SFU: it has more
// participants than mesh takes, it records (the SFU records it), an
// encoder publishes into it over WHIP or a player watches it over WHEP
// (they speak only to the SFU).
func (r *Room) needsSFULocked() bool {
	if len(r.participants) > r.cfg.Policy.MeshMax || r.recording.rec != nil || r.hub.viewers.count(r.id) > 0 {
		return true
	}
	for _, p := range r.participants {
		if p.publishOnly {
			return true
		}
	}
	return false
}

// switchToSFULocked moves the room to the SFU and tells everyone but
// joiner, whose welcome will say so. The caller then gives everyone SFU
// connections, while their mesh connections keep carrying media; each
// client closes its mesh once the SFU delivers (make before break).
func (r *Room) switchToSFULocked(joiner *Participant) {
	r.mode = protocol.ModeSFU
	r.epoch++
	if r.sfuCleanup != nil {
		r.sfuCleanup.Stop()
		r.sfuCleanup = nil
	}
	r.broadcastLocked(encode(protocol.Mode{Type: protocol.TypeMode, Mode: r.mode, Epoch: r.epoch}), joiner)
}

// tryBackToMesh returns the room to mesh if it is still small.
func (r *Room) tryBackToMesh() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.backToMesh = nil
	if r.ended || r.mode != protocol.ModeSFU || len(r.participants) == 0 || r.needsSFULocked() {
		return
	}
	r.mode = protocol.ModeMesh
	r.epoch++
	r.broadcastLocked(encode(protocol.Mode{Type: protocol.TypeMode, Mode: r.mode, Epoch: r.epoch}), nil)
	// Clients close their SFU connections once mesh media flows; this
	// catches the ones that never say so.
	r.sfuCleanup = time.AfterFunc(r.cfg.Policy.SFUGrace, r.closeLeftoverSFU)
}

func (r *Room) closeLeftoverSFU() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sfuCleanup = nil
	if r.mode != protocol.ModeMesh {
		return
	}
	for _, p := range r.participants {
		r.disconnectSFULocked(p)
	}
}

// connectSFULocked gives p a peer in the room's SFU room, once.
func (r *Room) connectSFULocked(p *Participant) {
	policy := &r.cfg.Policy
	if p.sfuPeer != nil || policy.SFU == nil {
		return
	}
	room, err := policy.SFU.Room(r.id)
	switch {
	case err != nil:
	case p.publishOnly:
		p.sfuPeer, err = room.JoinPublisher(p.id, p.Send)
	case r.servedElsewhereLocked(p):
		err = r.connectEdgeLocked(p, room)
	default:
		p.sfuPeer, err = room.Join(p.id, p.Send)
	}
	if err == nil {
		// What p paused before it had SFU connections stays paused when
		// it publishes there.
		for source, state := range p.media {
			if state == protocol.TrackPaused {
				p.sfuPeer.SetPaused(source, true)
			}
		}
		p.sfuPeer.SetFeatured(r.state.onStage(p.userID))
	}
	if err != nil && policy.OnSFUError != nil {
		policy.OnSFUError(p, err)
	}
}

// disconnectSFULocked closes p's SFU connections, if any. Closing a
// PeerConnection waits on its transports, so it happens off the room's
// lock (and the hub's, on a leave): one slow close must not stall joins.
func (r *Room) disconnectSFULocked(p *Participant) {
	if peer := p.sfuPeer; peer != nil {
		p.sfuPeer = nil
		go peer.Close()
	}
	if link := p.edge; link != nil {
		p.edge = nil
		go link.Close()
	}
}

// SFUPeerOf returns p's SFU peer, creating it if the room is in SFU mode
// and p has none (a client that closed its connections too early); nil
// when the room does not use the SFU.
func (r *Room) SFUPeerOf(p *Participant) *sfu.Peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ensureSFULocked(p)
	return p.sfuPeer
}

// ensureSFULocked connects p to the SFU if the room is on it and p has no
// peer there.
func (r *Room) ensureSFULocked(p *Participant) {
	if p.sfuPeer == nil && r.mode == protocol.ModeSFU && r.indexLocked(p.id) >= 0 {
		r.connectSFULocked(p)
	}
}

// CloseSFU handles a client's sfu-close, sent in mesh mode once the client
// has closed its SFU connections, so the server's side of them is dead. A
// close from an older epoch crossed a switch back to the SFU, which gave
// the client fresh connections: those stay. A close without an epoch (an
// older client) in SFU mode gets a fresh peer, since the client's side is
// gone either way.
func (r *Room) CloseSFU(p *Participant, epoch uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if epoch != 0 && epoch != r.epoch {
		return
	}
	r.disconnectSFULocked(p)
	if r.mode == protocol.ModeSFU && r.indexLocked(p.id) >= 0 {
		r.connectSFULocked(p)
	}
}

func (r *Room) stopTimersLocked() {
	r.stopJoinWindowLocked()
	for _, t := range []**time.Timer{&r.backToMesh, &r.sfuCleanup} {
		if *t != nil {
			(*t).Stop()
			*t = nil
		}
	}
}
