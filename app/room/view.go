package room

import "meet/protocol"

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
		peer.SetView(v.ID, v.Source, v.Width, v.Height)
	}
}
