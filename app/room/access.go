package room

import (
	"errors"
	"slices"

	"meet/protocol"
	"meet/store"
)

// Who may do what beyond a plain participant. The owner and the
// moderators are the room's hosts: a moderator has every owner power but
// ending the room and handing it over (ownerLocked). An identity's
// standing in the room (store.Member: moderator, presenter, viewer or
// banned) follows it in every tab and across restarts; the live room
// keeps a copy in its state, written to the store first as every other
// change. A standing also comes with an invite or a join token (Profile),
// which the caller has stored before the join.

// isHost reports whether a role has the host's powers.
func isHost(role string) bool {
	return role == protocol.RoleOwner || role == protocol.RoleModerator
}

// bannedText is what a banned identity is told when a host bans it.
const bannedText = "You were banned from this room."

// GrantedStanding is the standing an identity has after an invite or a
// token granted it one: a ban and a moderator's standing stay, anything
// else takes the grant. An empty grant (a plain participant) changes
// nothing.
func GrantedStanding(current, granted string) string {
	if granted == "" || current == store.StandingBanned || current == store.StandingModerator {
		return current
	}
	return granted
}

// hostHereLocked reports whether a host is in the room.
func (r *Room) hostHereLocked() bool {
	return slices.ContainsFunc(r.participants, func(p *Participant) bool { return isHost(p.role) })
}

// waitForHostLocked puts a join on hold until a host comes (host start).
func (r *Room) waitForHostLocked(w waiter) {
	w.early = true
	w.p.waiting.Store(true)
	r.lobby = append(r.lobby, w)
	w.p.writeBeforeWelcome(encode(protocol.LobbyWait{Type: protocol.TypeLobbyWait, Code: protocol.CodeNotStarted, Message: notStartedText}))
	r.cfg.Log.Info("joiner waits for the host", "room", r.id, "participant", w.p.id, "user", w.p.userID)
}

// notStartedText is what a joiner waiting for the host is told.
const notStartedText = "The meeting has not started yet. You will join as soon as the host arrives."

// startLocked lets in whoever waits for a host, now that one is here or
// host start is off: into the lobby's queue when the lobby is on and the
// joiner may not skip it, else into the room. It returns who was
// admitted, for runAdmitted once the lock is released.
func (r *Room) startLocked() []waiter {
	if r.state.hostStart && !r.hostHereLocked() {
		return nil
	}
	var in []waiter
	queued := false
	for i := range r.lobby {
		w := &r.lobby[i]
		if !w.early {
			continue
		}
		w.early = false
		if r.state.lobby && !w.p.skipLobby && !r.admitted[w.p.userID] {
			w.p.writeBeforeWelcome(encode(protocol.LobbyWait{Type: protocol.TypeLobbyWait, Code: protocol.CodeInLobby, Message: lobbyWaitText}))
			queued = true
			continue
		}
		in = append(in, *w)
	}
	done, _ := r.admitLocked(in, protocol.TypeRoomSettings)
	if queued && len(done) == 0 {
		r.sendLobbyLocked()
	}
	return done
}

// standingLocked reads an identity's standing, "" for none.
func (r *Room) standingLocked(userID string) string { return r.state.standing[userID] }

// setStandingLocked takes a standing just written to the store: new roles
// for that identity's tabs, told to everyone; a new host gets the lobby's
// queue, one who is no longer a host an empty one.
func (r *Room) setStandingLocked(userID, standing string) {
	if r.state.standing == nil {
		r.state.standing = map[string]string{}
	}
	if standing == "" {
		delete(r.state.standing, userID)
	} else {
		r.state.standing[userID] = standing
	}
	r.rolesChangedLocked()
}

// rolesChangedLocked gives every participant the role its identity has
// now, and tells everyone of each change.
func (r *Room) rolesChangedLocked() {
	for _, p := range r.participants {
		role := r.roleLocked(p)
		if role == p.role {
			continue
		}
		wasHost := isHost(p.role)
		p.role = role
		r.broadcastLocked(encode(protocol.ParticipantUpdated{Type: protocol.TypeParticipantUpdated, Participant: p.view()}), nil)
		switch {
		case isHost(role) && !wasHost:
			p.Send(r.lobbyMessageLocked())
		case !isHost(role) && wasHost:
			p.Send(encode(protocol.Lobby{Type: protocol.TypeLobby, Waiting: []protocol.Waiter{}}))
		}
	}
	// Viewers show the hosts when nobody is on the stage.
	r.followStageLocked()
}

// SetRole handles role-set, a host's: participant id's identity becomes a
// moderator or a presenter, or a plain participant again, in the store
// first.
func (r *Room) SetRole(p *Participant, id, role string) error {
	r.writes.Lock()
	defer r.writes.Unlock()
	r.mu.Lock()
	q, err := r.roleTargetLocked(p, id)
	var userID, name, before string
	if q != nil {
		userID, name, before = q.userID, q.name, r.standingLocked(q.userID)
	}
	r.mu.Unlock()
	if q == nil {
		return err
	}
	standing := ""
	switch role {
	case protocol.RoleModerator:
		standing = store.StandingModerator
	case protocol.RolePresenter:
		standing = store.StandingPresenter
	}
	if standing == before {
		return nil
	}
	if standing == "" {
		_, err = r.cfg.Store.RemoveMember(r.id, userID, "")
	} else {
		err = r.cfg.Store.SetMember(store.Member{RoomID: r.id, UserID: userID, Name: name, Standing: standing})
	}
	if err != nil {
		r.cfg.Log.Error("set a role", "room", r.id, "err", err)
		return err
	}
	r.mu.Lock()
	before2 := r.publishersLocked()
	r.setStandingLocked(userID, standing)
	r.revokeLocked(before2)
	r.mu.Unlock()
	r.cfg.Log.Info("role set", "room", r.id, "user", userID, "role", role, "by", p.id)
	return nil
}

// roleTargetLocked returns the participant whose role p sets; nil and a
// refusal when p may not or the target is the owner, nil alone when p is
// not in the room.
func (r *Room) roleTargetLocked(p *Participant, id string) (*Participant, error) {
	if r.indexLocked(p.id) < 0 {
		return nil, nil
	}
	if err := hostLocked(p, protocol.TypeRoleSet, "give others a role"); err != nil {
		return nil, err
	}
	q, err := r.targetLocked(id, protocol.TypeRoleSet)
	if q != nil && q.role == protocol.RoleOwner {
		return nil, refuse(protocol.CodeForbidden, "The room's owner has every power already.", protocol.TypeRoleSet)
	}
	return q, err
}

// ban stores userID as banned, then takes every tab of it out of the
// room, the stage and the lobby. The caller holds r.writes, not r.mu. It
// returns the participants removed, for the caller to record their
// leaves.
func (r *Room) ban(by *Participant, userID, name string) ([]*Participant, error) {
	if err := r.cfg.Store.SetMember(store.Member{RoomID: r.id, UserID: userID, Name: name, Standing: store.StandingBanned}); err != nil {
		r.cfg.Log.Error("ban", "room", r.id, "err", err)
		return nil, err
	}
	r.mu.Lock()
	r.setStandingLocked(userID, store.StandingBanned)
	delete(r.admitted, userID)
	onStage := r.state.onStage(userID)
	var gone []*Participant
	for _, q := range slices.Clone(r.participants) {
		if q.userID != userID {
			continue
		}
		q.Send(encode(protocol.ParticipantLeft{Type: protocol.TypeParticipantLeft, ID: q.id, Reason: reasonRemoved}))
		q.left.Store(true)
		r.leaveLocked(q, reasonRemoved)
		q.Close(protocol.CloseRemoved, "banned by a host")
		gone = append(gone, q)
	}
	refusal := encode(protocol.Error{Type: protocol.TypeError, Code: protocol.CodeBanned, Message: bannedText, Ref: "join"})
	kept := r.lobby[:0]
	for _, w := range r.lobby {
		if w.p.userID != userID {
			kept = append(kept, w)
			continue
		}
		w.p.writeBeforeWelcome(refusal)
		w.p.Close(protocol.CloseRoomGone, "banned by a host")
	}
	r.lobby = kept
	r.sendLobbyLocked()
	r.mu.Unlock()
	r.cfg.Log.Info("identity banned", "room", r.id, "user", userID, "by", by.id, "removed", len(gone))
	if onStage {
		r.offStage(userID, name)
	}
	return gone, nil
}

// Unban handles unban, a host's: the identity may join again.
func (r *Room) Unban(p *Participant, userID string) error {
	if err := r.RequireHost(p, protocol.TypeUnban, "lift bans"); err != nil {
		return err
	}
	return r.hub.Unban(r.id, userID)
}

// Unban lifts a ban of room id, in the store and in the live room if
// there is one; a refusal (not_found) when the identity was not banned.
func (h *Hub) Unban(id, userID string) error {
	r, live := h.Room(id)
	if live {
		r.writes.Lock()
		defer r.writes.Unlock()
	}
	lifted, err := h.cfg.Store.RemoveMember(id, userID, store.StandingBanned)
	if err != nil {
		return err
	}
	if !lifted {
		return refuse(protocol.CodeNotFound, "That identity is not banned here.", protocol.TypeUnban)
	}
	if live {
		r.mu.Lock()
		if r.state.standing[userID] == store.StandingBanned {
			r.setStandingLocked(userID, "")
		}
		r.mu.Unlock()
	}
	h.cfg.Log.Info("ban lifted", "room", id, "user", userID)
	return nil
}

// ReloadStanding reads an identity's standing in room id from the store
// into the live room, if there is one: another node changed it (a ban
// lifted there while this node hosts the room).
func (h *Hub) ReloadStanding(id, userID string) error {
	r, live := h.Room(id)
	if !live {
		return nil
	}
	r.writes.Lock()
	defer r.writes.Unlock()
	standing := ""
	m, err := h.cfg.Store.Member(id, userID)
	switch {
	case err == nil:
		standing = m.Standing
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.standingLocked(userID) != standing {
		r.setStandingLocked(userID, standing)
	}
	return nil
}
