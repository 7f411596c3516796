package room

import (
	"slices"
	"time"

	"meet/protocol"
	"meet/store"
)

// roomState is the part of a stored room that changes while the room is
// live: its owner, its settings and its stage. The live room keeps a copy
// under its lock; every change is written to the store first, and the
// copy is then reloaded from what the store returned, so the two never
// disagree. The queue of raised hands lives in memory only: a hand belongs
// to one connection and goes down when it leaves.
type roomState struct {
	loaded bool
	// version counts the stored changes applied to the live room; a load
	// that overlapped one reads the store again.
	version    uint64
	ownerID    string
	ownerName  string
	classroom  bool
	allowStage bool
	lobby      bool
	locked     bool
	hostStart  bool
	// publicStage: the stage may be watched without a token over WHEP.
	publicStage bool
	// standing is each member identity's standing (store.Standing*):
	// moderators, presenters, viewers and the banned (access.go).
	standing map[string]string
	members  []protocol.StageMember
	hands    []string // participant ids, in the order the hands went up
}

// setRoom copies a stored room's owner and settings.
func (st *roomState) setRoom(room *store.Room) {
	st.ownerID, st.ownerName = room.OwnerID, room.OwnerName
	st.classroom, st.allowStage = room.Classroom, room.AllowStage
	st.lobby, st.locked, st.hostStart = room.Lobby, room.Locked, room.HostStart
	st.publicStage = room.PublicStage
}

// setStanding copies a room's stored members.
func (st *roomState) setStanding(rows []store.Member) {
	st.standing = make(map[string]string, len(rows))
	for _, m := range rows {
		st.standing[m.UserID] = m.Standing
	}
}

// setMembers copies a stored stage.
func (st *roomState) setMembers(rows []store.StageMember) {
	st.members = StageView(rows)
}

// StageView is the public view of a stored stage.
func StageView(rows []store.StageMember) []protocol.StageMember {
	out := make([]protocol.StageMember, 0, len(rows))
	for _, m := range rows {
		out = append(out, protocol.StageMember{UserID: m.UserID, Name: m.Name})
	}
	return out
}

// View is the public view of a stored room with the live counts the
// caller holds; its stage is empty, for the caller to fill.
func View(r *store.Room, online int, mode string) protocol.Room {
	v := protocol.Room{
		ID:          r.ID,
		Name:        r.Name,
		Status:      r.Status,
		Owner:       protocol.Owner{ID: r.OwnerID, Name: r.OwnerName},
		Online:      online,
		Mode:        mode,
		CreatedAt:   r.CreatedAt.UTC().Format(time.RFC3339),
		Classroom:   r.Classroom,
		AllowStage:  r.AllowStage,
		Lobby:       r.Lobby,
		Locked:      r.Locked,
		HostStart:   r.HostStart,
		PublicStage: r.PublicStage,
		Stage:       []protocol.StageMember{},

		Visibility:  r.Visibility,
		HasPasscode: r.PasscodeHash != "",
	}
	if v.Visibility == "" {
		v.Visibility = protocol.VisibilityPublic
	}
	if r.EndedAt != nil {
		v.EndedAt = r.EndedAt.UTC().Format(time.RFC3339)
	}
	return v
}

// onStage reports whether an identity is on the stage.
func (st *roomState) onStage(userID string) bool {
	return slices.ContainsFunc(st.members, func(m protocol.StageMember) bool { return m.UserID == userID })
}

// applyTo writes the live owner, settings and stage into a room's view.
func (st *roomState) applyTo(v *protocol.Room) {
	v.Owner = protocol.Owner{ID: st.ownerID, Name: st.ownerName}
	v.Classroom, v.AllowStage = st.classroom, st.allowStage
	v.Lobby, v.Locked, v.HostStart = st.lobby, st.locked, st.hostStart
	v.PublicStage = st.publicStage
	v.Stage = slices.Clone(st.members)
	if v.Stage == nil {
		v.Stage = []protocol.StageMember{}
	}
}

// liveViewLocked is the room's public view from the live room's state.
func (r *Room) liveViewLocked(stored *store.Room) protocol.Room {
	v := View(stored, len(r.participants), r.mode)
	r.state.applyTo(&v)
	return v
}

// LoadState fills the room's state from the store the first time a
// participant enters it; call it before Join. The store is read outside
// the room's lock, so a slow read stalls no one already in the room; a
// change written to the store meanwhile bumps the state's version
// (settings.go), and the read is done again, so what is loaded is never
// older than what was written.
func (r *Room) LoadState() error {
	for {
		r.mu.Lock()
		loaded, version := r.state.loaded, r.state.version
		r.mu.Unlock()
		if loaded {
			return nil
		}
		room, err := r.cfg.Store.Room(r.id)
		if err != nil {
			return err
		}
		members, err := r.cfg.Store.StageMembers(r.id)
		if err != nil {
			return err
		}
		standing, err := r.cfg.Store.Members(r.id)
		if err != nil {
			return err
		}
		r.mu.Lock()
		current := r.state.loaded || r.state.version == version
		if !r.state.loaded && current {
			r.state.setRoom(room)
			r.state.setMembers(members)
			r.state.setStanding(standing)
			r.state.loaded = true
		}
		r.mu.Unlock()
		if current {
			return nil
		}
	}
}

// roleLocked is p's role from the live owner: ownership follows the
// identity, and an owner who joins receive-only is still the owner.
func (r *Room) roleLocked(p *Participant) string {
	standing := r.state.standing[p.userID]
	switch {
	case p.userID == r.state.ownerID:
		return protocol.RoleOwner
	case standing == store.StandingModerator:
		return protocol.RoleModerator
	case p.spectator || standing == store.StandingViewer:
		return protocol.RoleSpectator
	case standing == store.StandingPresenter:
		return protocol.RolePresenter
	default:
		return protocol.RoleParticipant
	}
}

// mayPublishLocked is the one rule of who may send media: stage members
// always; in a classroom nobody else; otherwise everyone but spectators.
func (r *Room) mayPublishLocked(p *Participant) bool {
	if r.state.onStage(p.userID) {
		return true
	}
	return !r.state.classroom && !p.spectator && p.role != protocol.RoleSpectator
}

// publishRefusalLocked says why someone may not publish.
func (r *Room) publishRefusalLocked() string {
	if r.state.classroom {
		return "In this classroom only people on the stage send video and sound. Raise your hand to ask."
	}
	return "Spectators join receive-only and cannot publish. Raise your hand to ask for the stage."
}

// publishersLocked returns who may publish now, to compare after a change.
func (r *Room) publishersLocked() map[*Participant]bool {
	out := make(map[*Participant]bool, len(r.participants))
	for _, p := range r.participants {
		out[p] = r.mayPublishLocked(p)
	}
	return out
}

// revokeLocked stops forwarding whatever the participants who lost the
// right to publish since before still publish, and tells everyone their
// tracks are gone. The participants themselves learn it from the stage or
// room-updated message that follows and stop their tracks.
func (r *Room) revokeLocked(before map[*Participant]bool) {
	for _, p := range r.participants {
		if !before[p] || r.mayPublishLocked(p) {
			continue
		}
		for _, source := range []string{protocol.SourceCamera, protocol.SourceMicrophone, protocol.SourceScreen} {
			if _, ok := p.media[source]; !ok {
				continue
			}
			p.applyMedia(source, protocol.ActionUnpublished, "")
			if p.sfuPeer != nil {
				p.sfuPeer.Unpublish(source)
			}
			out := protocol.Media{Type: protocol.TypeMedia, From: p.id, Source: source, Action: protocol.ActionUnpublished}
			r.broadcastLocked(encode(out), p)
		}
	}
}

// handsLocked lists the raised hands in order.
func (r *Room) handsLocked() []protocol.Hand {
	out := make([]protocol.Hand, 0, len(r.state.hands))
	for _, id := range r.state.hands {
		if p := r.findLocked(id); p != nil {
			out = append(out, protocol.Hand{ID: p.id, UserID: p.userID, Name: p.name})
		}
	}
	return out
}

// stageMessageLocked is the stage message of the current state.
func (r *Room) stageMessageLocked() []byte {
	members := slices.Clone(r.state.members)
	if members == nil {
		members = []protocol.StageMember{}
	}
	return encode(protocol.Stage{Type: protocol.TypeStage, Members: members, Hands: r.handsLocked()})
}

// dropHandsLocked lowers the hands of the participants that match, and
// reports whether any was up.
func (r *Room) dropHandsLocked(match func(*Participant) bool) bool {
	before := len(r.state.hands)
	r.state.hands = slices.DeleteFunc(r.state.hands, func(id string) bool {
		i := r.indexLocked(id)
		return i < 0 || match(r.participants[i])
	})
	return len(r.state.hands) != before
}

// dropHandLocked lowers one participant's hand, as when it leaves. It must
// run while p is still in the room's list.
func (r *Room) dropHandLocked(p *Participant) bool {
	return r.dropHandsLocked(func(q *Participant) bool { return q == p })
}
