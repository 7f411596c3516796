package room

import (
	"meet/protocol"
)

// SetViews hands p's view message to its SFU peer: each track p receives
// is then forwarded at the layer its tile needs, or not at all when p does
// not watch it (sfu.Peer.SetView). In mesh mode, without an SFU peer,
// there is nothing to do. The SFU peer is called outside the room's lock.
func (r *Room) SetViews(p *Participant, m *protocol.View) {
	r.mu.Lock()
	peer, edge := p.sfuPeer, p.edge
	r.mu.Unlock()
	if edge != nil {
		edge.SetViews(m) // it receives on another node
		return
	}
	if peer == nil {
		return
	}
	peer.SetViews(m)
}

// ActiveSpeaker tells everyone in room id that participant is its
// dominant speaker now (the SFU's choice, sfu/speaker.go), if the room is
// live and the participant in it.
func (h *Hub) ActiveSpeaker(id, participant string) {
	r, ok := h.Room(id)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.findLocked(participant) == nil {
		return
	}
	r.broadcastLocked(encode(protocol.ActiveSpeaker{Type: protocol.TypeActiveSpeaker, ID: participant}), nil)
}
