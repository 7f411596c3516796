package room

import (
	"slices"

	"meet/protocol"
	"meet/store"
)

// The lobby of a room with the lobby setting on: a joiner who is not the
// owner, and whose identity has not been in the room since it went live,
// waits here, outside the room, until the owner admits or denies it. A
// waiter is not a participant: it is in no list, gets no media and no
// chat, and only the owner's tabs see it, in the queue the lobby message
// carries. It holds no admission slot while it waits; its socket stays
// open and the owner's request completes its join.

// waiter is a join on hold: what JoinOrWait needs to finish it.
type waiter struct {
	p        *Participant
	stored   *store.Room
	limit    int
	admitted func(*Room) // the caller's part of the join, after the welcome
	// early: it waits for a host to come (host start, access.go), not in
	// the lobby's queue.
	early bool
}

// lobbyWaitText is what a waiting joiner is told; the page shows its own
// translation of the code.
const lobbyWaitText = "Waiting for the host to let you in."

// waitLocked puts a join in the lobby and tells the waiter and the owner.
func (r *Room) waitLocked(w waiter) {
	w.p.waiting.Store(true)
	r.lobby = append(r.lobby, w)
	w.p.writeBeforeWelcome(encode(protocol.LobbyWait{Type: protocol.TypeLobbyWait, Code: protocol.CodeInLobby, Message: lobbyWaitText}))
	r.sendLobbyLocked()
	r.cfg.Log.Info("joiner waits in the lobby", "room", r.id, "participant", w.p.id, "user", w.p.userID)
}

// lobbyMessageLocked is the lobby message of the queue as it is.
func (r *Room) lobbyMessageLocked() []byte {
	queue := make([]protocol.Waiter, 0, len(r.lobby))
	for _, w := range r.lobby {
		if w.early {
			continue
		}
		queue = append(queue, protocol.Waiter{ID: w.p.id, UserID: w.p.userID, Name: w.p.name})
	}
	return encode(protocol.Lobby{Type: protocol.TypeLobby, Waiting: queue})
}

// sendLobbyLocked tells every tab of the owner the queue after a change.
func (r *Room) sendLobbyLocked() {
	var msg []byte
	for _, p := range r.participants {
		if !isHost(p.role) {
			continue
		}
		if msg == nil {
			msg = r.lobbyMessageLocked()
		}
		p.Send(msg)
	}
}

// lobbyIndexLocked finds a waiter in the queue by its participant id; -1
// if none.
func (r *Room) lobbyIndexLocked(id string) int {
	return slices.IndexFunc(r.lobby, func(w waiter) bool { return w.p.id == id && !w.early })
}

// lobbyRequestLocked checks a lobby request of p: nothing to do (ok
// false, no error) when p is not in the room, a refusal when p does not
// own it.
func (r *Room) lobbyRequestLocked(p *Participant, ref string) (ok bool, err error) {
	if r.indexLocked(p.id) < 0 {
		return false, nil
	}
	if err := hostLocked(p, ref, "let people in from the lobby"); err != nil {
		return false, err
	}
	return true, nil
}

// notWaiting refuses a request about someone who is not in the lobby: most
// often a harmless race with its leaving, or another owner tab's answer.
func notWaiting(ref string) error {
	return refuse(protocol.CodeUnknownPeer, "That person is no longer waiting.", ref)
}

// Admit handles lobby-admit: the waiter id joins the room.
func (r *Room) Admit(p *Participant, id string) error {
	r.mu.Lock()
	ok, err := r.lobbyRequestLocked(p, protocol.TypeLobbyAdmit)
	if !ok {
		r.mu.Unlock()
		return err
	}
	i := r.lobbyIndexLocked(id)
	if i < 0 {
		r.mu.Unlock()
		return notWaiting(protocol.TypeLobbyAdmit)
	}
	done, err := r.admitLocked([]waiter{r.lobby[i]}, protocol.TypeLobbyAdmit)
	r.mu.Unlock()
	runAdmitted(r, done)
	if err == nil {
		r.cfg.Log.Info("admitted from the lobby", "room", r.id, "participant", id, "by", p.id)
	}
	return err
}

// AdmitAll handles lobby-admit-all: everyone waiting joins, in arrival
// order, as many as the room has room for.
func (r *Room) AdmitAll(p *Participant) error {
	r.mu.Lock()
	ok, err := r.lobbyRequestLocked(p, protocol.TypeLobbyAdmitAll)
	if !ok {
		r.mu.Unlock()
		return err
	}
	done, err := r.admitLocked(r.queuedLocked(), protocol.TypeLobbyAdmitAll)
	r.mu.Unlock()
	runAdmitted(r, done)
	r.cfg.Log.Info("admitted everyone from the lobby", "room", r.id, "admitted", len(done), "by", p.id)
	return err
}

// admitLocked moves waiters from the lobby into the room, in order, and
// returns them for runAdmitted once the lock is released. A waiter that
// would pass its join's participant limit stays waiting: room_full.
func (r *Room) admitLocked(ws []waiter, ref string) ([]waiter, error) {
	var done []waiter
	var err error
	for _, w := range ws {
		if w.limit > 0 && len(r.participants) >= w.limit {
			err = refuse(protocol.CodeRoomFull, "The room is full: nobody else can be let in now.", ref)
			break
		}
		r.lobby = slices.DeleteFunc(r.lobby, func(x waiter) bool { return x.p == w.p })
		w.p.waiting.Store(false)
		r.joinLocked(w.p, w.stored)
		done = append(done, w)
	}
	if len(done) > 0 {
		r.sendLobbyLocked()
	}
	return done, err
}

// runAdmitted runs the callers' part of each admitted join.
func runAdmitted(r *Room, done []waiter) {
	for _, w := range done {
		if w.admitted != nil {
			w.admitted(r)
		}
	}
}

// Deny handles lobby-deny: the waiter id is told it may not come in, and
// its socket closes; it may ask again through the link.
func (r *Room) Deny(p *Participant, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok, err := r.lobbyRequestLocked(p, protocol.TypeLobbyDeny)
	if !ok {
		return err
	}
	i := r.lobbyIndexLocked(id)
	if i < 0 {
		return notWaiting(protocol.TypeLobbyDeny)
	}
	q := r.lobby[i].p
	r.lobby = slices.Delete(r.lobby, i, i+1)
	denial := protocol.Error{Type: protocol.TypeError, Code: protocol.CodeDenied, Message: "The host did not let you in.", Ref: "join"}
	q.writeBeforeWelcome(encode(denial))
	q.Close(protocol.CloseRoomGone, "denied by the owner")
	r.sendLobbyLocked()
	r.cfg.Log.Info("denied from the lobby", "room", r.id, "participant", id, "by", p.id)
	return nil
}

// leaveLobby takes p out of the lobby, as when its socket closed while it
// waited, and reports whether it was waiting.
func (r *Room) leaveLobby(p *Participant) bool {
	i := slices.IndexFunc(r.lobby, func(w waiter) bool { return w.p == p })
	if i < 0 {
		return false
	}
	r.lobby = slices.Delete(r.lobby, i, i+1)
	r.sendLobbyLocked()
	return true
}

// LeaveLobby takes p out of r's lobby when its socket closed while it
// waited, and forgets r once nobody is in it or waiting. It reports
// whether p was waiting; if not, p was admitted (or never waited) and
// leaves the room as any participant.
func (h *Hub) LeaveLobby(r *Room, p *Participant) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	r.mu.Lock()
	waited := r.leaveLobby(p)
	retired := waited && r.retireIfEmptyLocked()
	r.mu.Unlock()
	if retired && h.rooms[r.id] == r {
		delete(h.rooms, r.id)
	}
	return waited
}

// Waiting reports whether p waits in its room's lobby: its messages are
// not the room's business until it is admitted.
func (p *Participant) Waiting() bool { return p.waiting.Load() }

// writeBeforeWelcome writes msg to p's socket outside its numbered stream:
// what a waiter is told comes before its welcome, which a resume counts
// as the first message.
func (p *Participant) writeBeforeWelcome(msg []byte) {
	c := p.stream.current()
	if c == nil || p.closing.Load() {
		return
	}
	p.pending.Add(1) // the socket's sent callback takes it off
	if err := c.Write(msg); err != nil {
		p.pending.Add(-1)
	}
}

// lobbyOnLocked applies the lobby and lock settings just stored: a lobby
// turned off lets everyone waiting in. It returns who was admitted, for
// runAdmitted after the lock.
func (r *Room) lobbyOnLocked() []waiter {
	done := r.startLocked()
	if r.state.lobby || len(r.lobby) == 0 {
		return done
	}
	more, _ := r.admitLocked(r.queuedLocked(), protocol.TypeRoomSettings)
	return append(done, more...)
}

// queuedLocked lists the lobby's queue, in arrival order: the waiters
// that do not wait for a host.
func (r *Room) queuedLocked() []waiter {
	var out []waiter
	for _, w := range r.lobby {
		if !w.early {
			out = append(out, w)
		}
	}
	return out
}
