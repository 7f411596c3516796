package room

import (
	"meet/protocol"
)

// reasonRemoved is the participant-left reason of a removal.
const reasonRemoved = "removed"

// ownerLocked refuses, naming the action, unless p owns the room: for
// the owner's own powers, ending the room and handing it over. The caller
// holds r.mu, which guards p's role.
func ownerLocked(p *Participant, ref, action string) error {
	if p.role == protocol.RoleOwner {
		return nil
	}
	return refuse(protocol.CodeForbidden, "Only the room's owner can "+action+".", ref)
}

// hostLocked refuses, naming the action, unless p is a host of the room:
// its owner or a moderator (access.go). The caller holds r.mu.
func hostLocked(p *Participant, ref, action string) error {
	if isHost(p.role) {
		return nil
	}
	return refuse(protocol.CodeForbidden, "Only the room's hosts can "+action+".", ref)
}

// RequireHost refuses, naming the action, unless p is a host of the room:
// for a host's request the room does not carry out itself.
func (r *Room) RequireHost(p *Participant, ref, action string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return hostLocked(p, ref, action)
}

// RequireOwner refuses, naming the action, unless p owns the room: for an
// owner's request the room does not carry out itself, such as ending it.
func (r *Room) RequireOwner(p *Participant, ref, action string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ownerLocked(p, ref, action)
}

// targetLocked finds the participant a request names, and refuses when
// it is not in the room.
func (r *Room) targetLocked(id, ref string) (*Participant, error) {
	q := r.findLocked(id)
	if q == nil {
		return nil, refuse(protocol.CodeUnknownPeer, "That participant is not in this room.", ref)
	}
	return q, nil
}

// Remove handles remove, a host's: participant id is told, leaves the
// stage and the room, and its socket closes with protocol.CloseRemoved.
// Joining again through the link is possible, unless ban: then the
// identity is banned (access.go), and every other tab of it leaves too.
// It returns whom it removed, for the caller to record the leaves.
func (r *Room) Remove(p *Participant, id string, ban bool) ([]*Participant, error) {
	r.writes.Lock()
	defer r.writes.Unlock()
	r.mu.Lock()
	q, err := r.removableLocked(p, id)
	if q == nil {
		r.mu.Unlock()
		return nil, err
	}
	if ban {
		userID, name := q.userID, q.name
		r.mu.Unlock()
		return r.ban(p, userID, name)
	}
	onStage := r.state.onStage(q.userID)
	userID, name := q.userID, q.name
	q.Send(encode(protocol.ParticipantLeft{Type: protocol.TypeParticipantLeft, ID: q.id, Reason: reasonRemoved}))
	q.left.Store(true)           // gone for good: no reconnect grace
	delete(r.admitted, q.userID) // coming back goes through the lobby again
	r.leaveLocked(q, reasonRemoved)
	q.Close(protocol.CloseRemoved, "removed by the owner")
	r.mu.Unlock()
	r.cfg.Log.Info("participant removed", "room", r.id, "participant", q.id, "by", p.id)
	if onStage {
		r.offStage(userID, name)
	}
	return []*Participant{q}, nil
}

// offStage takes a removed identity off the stage. The removal stands
// either way; a stage left behind is only logged. The caller holds
// r.writes, not r.mu.
func (r *Room) offStage(userID, name string) {
	members, err := r.writeStage(userID, name, false)
	if err != nil {
		r.cfg.Log.Error("take a removed participant off the stage", "room", r.id, "err", err)
		return
	}
	r.mu.Lock()
	r.applyStageLocked(members)
	r.mu.Unlock()
}

// removableLocked returns the participant p asks to remove; nil and a
// refusal when p may not or the target cannot be removed, nil alone when
// p is not in the room.
func (r *Room) removableLocked(p *Participant, id string) (*Participant, error) {
	if r.indexLocked(p.id) < 0 {
		return nil, nil
	}
	if err := hostLocked(p, protocol.TypeRemove, "remove participants"); err != nil {
		return nil, err
	}
	q, err := r.targetLocked(id, protocol.TypeRemove)
	switch {
	case q == nil:
		return nil, err
	case q == p:
		return nil, refuse(protocol.CodeBadRequest, "To leave the room yourself, use leave.", protocol.TypeRemove)
	case q.role == protocol.RoleOwner:
		return nil, refuse(protocol.CodeForbidden, "The room's owner cannot be removed.", protocol.TypeRemove)
	}
	return q, nil
}

// AskToMute handles mute-request: participant id is asked to turn source
// off (the microphone when source is empty), and its page mutes itself and
// announces it with a media message, as any mute.
func (r *Room) AskToMute(p *Participant, id, source string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 {
		return nil
	}
	if err := hostLocked(p, protocol.TypeMuteRequest, "ask others to mute"); err != nil {
		return err
	}
	q, err := r.targetLocked(id, protocol.TypeMuteRequest)
	if q == nil {
		return err
	}
	if source == "" {
		source = protocol.SourceMicrophone
	}
	if q.media[source] != protocol.TrackLive {
		return refuse(protocol.CodeBadRequest, q.name+"'s "+source+" is not on.", protocol.TypeMuteRequest)
	}
	r.flushJoinsLocked() // the target knows the asker before its request
	q.Send(encode(protocol.MuteRequest{Type: protocol.TypeMuteRequest, From: p.id, Source: source}))
	return nil
}

// AskAllToMute handles mute-all: everyone whose source (the microphone
// when empty) is live is asked to mute it, with the same mute-request a
// single ask sends, except the owner's own tabs. Nobody to ask is not an
// error: nothing is sent.
func (r *Room) AskAllToMute(p *Participant, source string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 {
		return nil
	}
	if err := hostLocked(p, protocol.TypeMuteAll, "ask everyone to mute"); err != nil {
		return err
	}
	if source == "" {
		source = protocol.SourceMicrophone
	}
	msg := encode(protocol.MuteRequest{Type: protocol.TypeMuteRequest, From: p.id, Source: source})
	r.flushJoinsLocked() // everyone knows the asker before its request
	asked := 0
	for _, q := range r.participants {
		if q == p || q.userID == p.userID || q.role == protocol.RoleOwner || q.media[source] != protocol.TrackLive {
			continue
		}
		q.Send(msg)
		asked++
	}
	r.cfg.Log.Info("asked everyone to mute", "room", r.id, "by", p.id, "source", source, "asked", asked)
	return nil
}

// HandOver handles owner-set: the room goes to the identity of participant
// id, in the store, so ownership follows that identity in every tab and
// after a restart.
func (r *Room) HandOver(p *Participant, id string) error {
	r.writes.Lock()
	defer r.writes.Unlock()
	r.mu.Lock()
	q, err := r.newOwnerLocked(p, id)
	var userID, name string
	if q != nil {
		userID, name = q.userID, q.name
	}
	r.mu.Unlock()
	if q == nil {
		return err
	}
	stored, err := r.cfg.Store.SetRoomOwner(r.id, userID, name)
	if err != nil {
		r.cfg.Log.Error("hand the room over", "room", r.id, "err", err)
		return err
	}
	r.cfg.Log.Info("room handed over", "room", r.id, "from", p.userID, "to", userID)
	r.mu.Lock()
	r.state.version++
	admitted := r.applyRoomLocked(stored)
	r.mu.Unlock()
	runAdmitted(r, admitted)
	return nil
}

// newOwnerLocked returns the participant p hands the room to; nil and a
// refusal when p may not or that one owns it already, nil alone when p is
// not in the room.
func (r *Room) newOwnerLocked(p *Participant, id string) (*Participant, error) {
	if r.indexLocked(p.id) < 0 {
		return nil, nil
	}
	if err := ownerLocked(p, protocol.TypeOwnerSet, "hand the room to someone else"); err != nil {
		return nil, err
	}
	q, err := r.targetLocked(id, protocol.TypeOwnerSet)
	if q != nil && q.userID == r.state.ownerID {
		return nil, refuse(protocol.CodeBadRequest, q.name+" owns the room already.", protocol.TypeOwnerSet)
	}
	return q, err
}
