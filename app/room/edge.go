package room

import (
	"meet/protocol"
	"meet/sfu"
)

// A classroom larger than one node (issue 18): once the room's host serves
// Policy.NodeCapacity viewers, the next viewers receive their media from
// another node, an edge, which gets each of the room's tracks once from
// the host and fans them out (sfu/pipe.go). Only media moves: such a
// viewer's socket, chat, presence and stage stay with the room here, and
// its publish connection too, so that a viewer called onto the stage
// publishes here like anyone. The room routes its subscribe signaling to
// the edge through an EdgeLink, which the app makes (Edges).

// Edges opens viewers' subscriptions on other nodes.
type Edges interface {
	// Open starts the subscription of participant of room on another
	// node; send delivers that node's signaling to the participant. It
	// returns at once (it is called under the room's lock) and connects
	// in its own goroutine; lost is called, from another goroutine, when
	// the link fails before Close.
	Open(room, participant string, send func([]byte), lost func()) EdgeLink
}

// EdgeLink is one viewer's subscription on another node.
type EdgeLink interface {
	// HandleSignal passes the viewer's subscribe answer or candidate on.
	HandleSignal(m *protocol.SFU) error
	// SetViews passes on what the viewer's page shows (protocol.View).
	SetViews(m *protocol.View)
	// Close ends the subscription there.
	Close()
}

// Signaler takes a participant's SFU negotiation messages: its SFU peer
// here, or the link to the node that serves its subscription.
type Signaler interface {
	HandleSignal(m *protocol.SFU) error
}

// SFUSignaler is where p's negotiation message for its pc connection goes,
// creating p's SFU peer if the room is on the SFU and p has none (a client
// that closed its connections too early); nil when the room does not use
// the SFU.
func (r *Room) SFUSignaler(p *Participant, pc string) Signaler {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ensureSFULocked(p)
	if pc == protocol.PCSubscribe && p.edge != nil {
		return p.edge
	}
	if p.sfuPeer == nil {
		return nil
	}
	return p.sfuPeer
}

// servedElsewhereLocked reports whether p's media should come from
// another node: it may not publish (a viewer), and the room serves as many
// viewers here as the node takes.
func (r *Room) servedElsewhereLocked(p *Participant) bool {
	policy := &r.cfg.Policy
	if policy.Edges == nil || policy.NodeCapacity <= 0 || p.publishOnly || r.mayPublishLocked(p) {
		return false
	}
	viewers := 0
	for _, q := range r.participants {
		if q != p && q.sfuPeer != nil && q.edge == nil && !q.publishOnly && !r.mayPublishLocked(q) {
			viewers++
		}
	}
	return viewers >= policy.NodeCapacity
}

// connectEdgeLocked gives p its subscription on another node and a
// publish-only peer here; with no other node to serve it, p is served
// here.
func (r *Room) connectEdgeLocked(p *Participant, room *sfu.Room) error {
	// lost may run before Open returns: it reads link under the room's
	// lock, which this caller holds until link is set.
	var link EdgeLink
	link = r.cfg.Policy.Edges.Open(r.id, p.id, p.Send, func() { r.edgeLost(p, &link) })
	if link == nil {
		peer, err := room.Join(p.id, p.Send)
		p.sfuPeer = peer
		return err
	}
	peer, err := room.JoinPublisher(p.id, p.Send)
	if err != nil {
		link.Close()
		return err
	}
	p.sfuPeer, p.edge = peer, link
	return nil
}

// edgeLost handles a viewer's link to another node that failed. Its
// client drops its SFU connections and asks for fresh ones (sfu-restart,
// then sfu-close), made on another edge or here: Edges does not pick the
// failed node again for a while.
func (r *Room) edgeLost(p *Participant, link *EdgeLink) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if *link == nil || p.edge != *link {
		return
	}
	p.log.Warn("the node serving a viewer's media is lost; its media restarts", "participant", p.id, "room", r.id)
	r.disconnectSFULocked(p)
	p.Send(encode(protocol.SFURestart{Type: protocol.TypeSFURestart, Epoch: r.epoch}))
}
