package app

import (
	"time"

	"meet/app/room"
	"meet/protocol"
)

// handleReaction takes a decoded reaction of p and reports whether msg was
// one. The room paces each participant's reactions and relays them.
func (s *Server) handleReaction(p *room.Participant, live *room.Room, msg any) bool {
	m, ok := msg.(*protocol.Reaction)
	if !ok {
		return false
	}
	answer(p, live.React(p, m.Emoji, time.Now()), protocol.TypeReaction, failedUnexpectedly)
	return true
}
