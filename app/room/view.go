package room

import (
	"meet/protocol"
	"meet/sfu"
)

// SetViews hands p's view message to its SFU peer: each track p receives
// is then forwarded at the layer its tile needs, or not at all when p does
// not watch it (sfu.Peer.SetView). In mesh mode, without an SFU peer,
// there is nothing to do. The SFU peer is called outside the room's lock.
func (r *Room) SetViews(p *Participant, m *protocol.View) {
	r.mu.Lock()
	peer := p.sfuPeer
	r.mu.Unlock()
	if peer == nil {
		return
	}
	for _, v := range m.Views {
		peer.SetView(v.ID, v.Source, sfu.View{Width: v.Width, Height: v.Height, Pinned: v.Pinned})
	}
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
