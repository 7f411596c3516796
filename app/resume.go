package app

import (
	"math"
	"strconv"

	"github.com/olahol/melody"

	"meet/app/room"
	"meet/store"
)

// A socket that dropped may be resumed: the client reconnects with
// ?resume=<participant id>&seen=<count of messages it received>, and the
// room replays what it missed (room.Room.Resume).

// tryResume handles a join that asks to resume: it reports whether the
// socket now carries an existing participant's stream. stored is the room
// as read for this join.
func (s *Server) tryResume(ss *melody.Session, sock *socket, identity Identity, stored *store.Room) bool {
	id, _ := ss.Keys["resume"].(string)
	if id == "" {
		return false
	}
	raw, _ := ss.Keys["seen"].(string)
	seen, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		seen = math.MaxUint64 // a count we cannot read: no replay, a fresh welcome
	}
	live, ok := s.hub.Room(stored.ID)
	if !ok {
		return false
	}
	p, ok := live.Resume(id, identity.ID, sock, seen, stored)
	if !ok {
		return false
	}
	// Melody starts the socket's reading and writing only once onConnect
	// returns, so nothing this socket carries is missed by setting it now.
	ss.Set(participantKey, p)
	s.chat.join(p)
	s.log.Info("participant resumed", "room", stored.ID, "participant", p.ID())
	return true
}

// expireResume removes a participant whose grace ran out without a resume.
func (s *Server) expireResume(live *room.Room, p *room.Participant) {
	if s.hub.Exit(live, p, "disconnected") {
		s.log.Info("participant left", "room", p.RoomID(), "participant", p.ID(), "reason", "disconnected")
		s.recordLeave(p)
	}
}
