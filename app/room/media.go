package room

import "meet/protocol"

// UpdateMedia records a media change of p and announces it to the others.
// Only those who may publish (state.go) may announce a track, while anyone
// may withdraw one; the refusal says why not.
func (r *Room) UpdateMedia(p *Participant, m *protocol.Media) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 {
		return nil
	}
	if m.Action != protocol.ActionUnpublished && !r.mayPublishLocked(p) {
		return refuse(protocol.CodeForbidden, r.publishRefusalLocked(), protocol.TypeMedia)
	}
	if !p.applyMedia(m.Source, m.Action, m.StreamID) {
		return nil
	}
	if peer := p.sfuPeer; peer != nil {
		// Forwarding follows the publisher's own word: a paused camera
		// costs subscribers nothing.
		switch m.Action {
		case protocol.ActionPaused:
			peer.SetPaused(m.Source, true)
		case protocol.ActionResumed, protocol.ActionPublished:
			peer.SetPaused(m.Source, false)
		case protocol.ActionUnpublished:
			peer.Unpublish(m.Source)
		}
	}
	out := protocol.Media{Type: protocol.TypeMedia, From: p.id, Source: m.Source, Action: m.Action, StreamID: m.StreamID}
	r.broadcastLocked(encode(out), p)
	return nil
}

// Rename changes p's display name and announces it to everyone, p included,
// so every list shows the name the server accepted.
func (r *Room) Rename(p *Participant, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 || p.name == name {
		return
	}
	p.name = name
	// The owner's name shown in the room (a newcomer's welcome) follows
	// the owner's renames, as the stored one does (app writes it).
	if p.userID == r.state.ownerID {
		r.state.ownerName = name
	}
	r.broadcastLocked(encode(protocol.ParticipantUpdated{Type: protocol.TypeParticipantUpdated, Participant: p.view()}), nil)
}
