package app

import (
	"net/http"
	"sync"

	"github.com/olahol/melody"

	"meet/app/room"
	"meet/protocol"
)

// The lobby's adapters: a socket that waits in a room's lobby
// (room.Room.JoinOrWait) keeps its participant, which is no member of the
// room until the owner admits it; the owner's request then finishes its
// join here. Waiting holds no admission slot.

var errRoomLocked = newError(http.StatusForbidden, protocol.CodeRoomLocked,
	"This room is locked: nobody new can join. Ask the host to unlock it.")

const lobbyKey = "meet.lobby"

// lobbyTicket is a waiting socket's claim to the rest of its join. The
// owner's admission and the socket's close race for it: an admission that
// comes after the close finishes nothing, and a close that comes after the
// admission leaves the room as any participant's would.
type lobbyTicket struct {
	mu     sync.Mutex
	closed bool
}

// admitted returns what runs once the room admitted p from its lobby: the
// rest of the join, as for a join that never waited.
func (s *Server) admitted(ticket *lobbyTicket, p *room.Participant, userID string) func(*room.Room) {
	return func(live *room.Room) {
		ticket.mu.Lock()
		defer ticket.mu.Unlock()
		if ticket.closed {
			return
		}
		s.joined(live, p, userID)
	}
}

// leaveLobby handles the close of a socket that waited in the lobby: it
// reports true when it was still waiting (nothing else to do), false when
// it had been admitted and now leaves the room as any participant.
func (s *Server) leaveLobby(ss *melody.Session, p *room.Participant) bool {
	v, _ := ss.Get(lobbyKey)
	ticket, _ := v.(*lobbyTicket)
	if ticket == nil {
		return false
	}
	ticket.mu.Lock()
	ticket.closed = true
	ticket.mu.Unlock()
	live, ok := s.hub.Room(p.RoomID())
	if !ok || !s.hub.LeaveLobby(live, p) {
		return false
	}
	s.log.Info("joiner left the lobby", "room", p.RoomID(), "participant", p.ID())
	return true
}

// handleLobby takes a decoded lobby message of p and reports whether msg
// was one. The room checks that p owns it.
func (s *Server) handleLobby(p *room.Participant, live *room.Room, msg any) bool {
	switch m := msg.(type) {
	case *protocol.LobbyAdmit:
		answer(p, live.Admit(p, m.ID), protocol.TypeLobbyAdmit, failedUnexpectedly)
	case *protocol.LobbyDeny:
		answer(p, live.Deny(p, m.ID), protocol.TypeLobbyDeny, failedUnexpectedly)
	case *protocol.LobbyAdmitAll:
		answer(p, live.AdmitAll(p), protocol.TypeLobbyAdmitAll, failedUnexpectedly)
	default:
		return false
	}
	return true
}
