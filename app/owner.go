package app

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"meet/protocol"
	"meet/store"
)

// reasonRemoved is the participant-left reason of a removal.
const reasonRemoved = "removed"

var errStateUnavailable = newError(http.StatusInternalServerError, protocol.CodeInternal, "Could not load the room. Try again.")

// handleStage takes a decoded stage or owner message of p and reports
// whether msg was one. Every permission is checked here, on the server;
// a refusal is an error message and changes nothing.
func (s *Server) handleStage(p *participant, room *liveRoom, msg any) bool {
	switch m := msg.(type) {
	case *protocol.StageSet:
		s.stageSet(p, room, m)
	case *protocol.RaiseHand:
		s.raiseHand(p, room, m)
	case *protocol.HandAnswer:
		s.answerHand(p, room, m)
	case *protocol.RoomSettings:
		s.roomSettings(p, room, m)
	case *protocol.Remove:
		s.removeParticipant(p, room, m)
	case *protocol.MuteRequest:
		s.askToMute(p, room, m)
	case *protocol.MuteAll:
		s.askAllToMute(p, room, m)
	case *protocol.LowerHands:
		s.lowerHands(p, room)
	case *protocol.OwnerSet:
		s.handOwnership(p, room, m)
	case *protocol.EndRoom:
		s.endFromSocket(p, room)
	default:
		return false
	}
	return true
}

// ownerLocked reports whether p owns the room, and answers a refusal with
// what the action was. The caller holds r.mu.
func ownerLocked(p *participant, ref, action string) bool {
	if p.role == protocol.RoleOwner {
		return true
	}
	sendError(p, protocol.CodeForbidden, "Only the room's owner can "+action+".", ref)
	return false
}

// targetLocked finds the participant a message names, and answers when it
// is not in the room.
func targetLocked(p *participant, r *liveRoom, id, ref string) *participant {
	q := r.findLocked(id)
	if q == nil {
		sendError(p, protocol.CodeUnknownPeer, "That participant is not in this room.", ref)
	}
	return q
}

// liveViewLocked is the room's public view from the live room's state.
func liveViewLocked(r *liveRoom, room *store.Room) protocol.Room {
	v := roomViewWith(room, len(r.participants), r.mode)
	r.state.applyTo(&v)
	return v
}

// applyRoomLocked takes a stored room that was just written into the live
// room: new roles for a new owner, media revoked from those a classroom
// now silences, and the news for everyone.
func (r *liveRoom) applyRoomLocked(room *store.Room) {
	before := r.publishersLocked()
	r.state.setRoom(room)
	for _, p := range r.participants {
		if role := r.roleLocked(p); role != p.role {
			p.role = role
			r.broadcastLocked(encode(protocol.ParticipantUpdated{Type: protocol.TypeParticipantUpdated, Participant: p.view()}), nil)
		}
	}
	r.revokeLocked(before)
	r.broadcastLocked(encode(protocol.RoomUpdated{Type: protocol.TypeRoomUpdated, Room: liveViewLocked(r, room)}), nil)
}

// changeSettings writes a settings change and applies it to the live room
// if there is one, holding the room's writes lock so changes apply in the
// order they are stored. Without a live room, the room may start between
// the write and the second look-up: loadState then either read the new
// values already, or sees the version move and reads again.
func (s *Server) changeSettings(roomID string, change store.SettingsChange) (*store.Room, error) {
	r, wasLive := s.hub.room(roomID)
	if wasLive {
		r.writes.Lock()
		defer r.writes.Unlock()
	}
	room, err := s.store.UpdateRoomSettings(roomID, change)
	if err != nil {
		return nil, err
	}
	if !wasLive {
		if r, ok := s.hub.room(roomID); ok {
			r.mu.Lock()
			r.state.version++
			if r.state.loaded && !r.ended && (r.state.classroom != room.Classroom || r.state.allowStage != room.AllowStage) {
				r.applyRoomLocked(room)
			}
			r.mu.Unlock()
		}
		return room, nil
	}
	r.mu.Lock()
	r.state.version++
	if r.state.loaded && !r.ended {
		r.applyRoomLocked(room)
	}
	r.mu.Unlock()
	return room, nil
}

func (s *Server) roomSettings(p *participant, r *liveRoom, m *protocol.RoomSettings) {
	r.mu.Lock()
	isOwner := ownerLocked(p, protocol.TypeRoomSettings, "change the room's settings")
	r.mu.Unlock()
	if !isOwner {
		return
	}
	if _, err := s.changeSettings(r.id, store.SettingsChange{Classroom: m.Classroom, AllowStage: m.AllowStage}); err != nil {
		s.log.Error("change room settings", "room", r.id, "err", err)
		sendError(p, protocol.CodeInternal, "The settings could not be saved. Try again.", protocol.TypeRoomSettings)
		return
	}
	s.log.Info("room settings changed", "room", r.id, "by", p.id)
}

// removeParticipant handles remove: the participant is told, leaves the
// stage and the room, and its socket closes with protocol.CloseRemoved. Joining
// again through the link is possible; the owner can remove again.
func (s *Server) removeParticipant(p *participant, r *liveRoom, m *protocol.Remove) {
	r.writes.Lock()
	defer r.writes.Unlock()
	r.mu.Lock()
	q := r.removable(p, m.ID)
	if q == nil {
		r.mu.Unlock()
		return
	}
	onStage := r.state.onStage(q.identity.ID)
	q.Send(encode(protocol.ParticipantLeft{Type: protocol.TypeParticipantLeft, ID: q.id, Reason: reasonRemoved}))
	q.left.Store(true) // gone for good: no reconnect grace
	r.leaveLocked(q, reasonRemoved)
	q.close(protocol.CloseRemoved, "removed by the owner")
	r.mu.Unlock()
	s.log.Info("participant removed", "room", r.id, "participant", q.id, "by", p.id)
	if onStage {
		if members, err := s.writeStage(r, q.identity.ID, q.name, false); err != nil {
			s.log.Error("take a removed participant off the stage", "room", r.id, "err", err)
		} else {
			r.mu.Lock()
			r.applyStageLocked(members)
			r.mu.Unlock()
		}
	}
	s.recordLeave(q)
}

// removable returns the participant p asks to remove, or nil when p may
// not or the target cannot be removed (p is told). The caller holds r.mu.
func (r *liveRoom) removable(p *participant, id string) *participant {
	if r.indexLocked(p.id) < 0 || !ownerLocked(p, protocol.TypeRemove, "remove participants") {
		return nil
	}
	q := targetLocked(p, r, id, protocol.TypeRemove)
	switch {
	case q == nil:
		return nil
	case q == p:
		sendError(p, protocol.CodeBadRequest, "To leave the room yourself, use leave.", protocol.TypeRemove)
		return nil
	case q.role == protocol.RoleOwner:
		sendError(p, protocol.CodeForbidden, "The room's owner cannot be removed.", protocol.TypeRemove)
		return nil
	}
	return q
}

// askToMute handles mute-request: the target is asked, and its page mutes
// itself and announces it with a media message, as any mute.
func (s *Server) askToMute(p *participant, r *liveRoom, m *protocol.MuteRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 || !ownerLocked(p, protocol.TypeMuteRequest, "ask others to mute") {
		return
	}
	q := targetLocked(p, r, m.ID, protocol.TypeMuteRequest)
	if q == nil {
		return
	}
	source := m.Source
	if source == "" {
		source = protocol.SourceMicrophone
	}
	if q.media[source] != protocol.TrackLive {
		sendError(p, protocol.CodeBadRequest, q.name+"'s "+source+" is not on.", protocol.TypeMuteRequest)
		return
	}
	q.Send(encode(protocol.MuteRequest{Type: protocol.TypeMuteRequest, From: p.id, Source: source}))
}

// askAllToMute handles mute-all: everyone whose source is live is asked
// to mute it, with the same mute-request a single ask sends, except the
// owner's own tabs. Nobody to ask is not an error: nothing is sent.
func (s *Server) askAllToMute(p *participant, r *liveRoom, m *protocol.MuteAll) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 || !ownerLocked(p, protocol.TypeMuteAll, "ask everyone to mute") {
		return
	}
	source := m.Source
	if source == "" {
		source = protocol.SourceMicrophone
	}
	msg := encode(protocol.MuteRequest{Type: protocol.TypeMuteRequest, From: p.id, Source: source})
	asked := 0
	for _, q := range r.participants {
		if q.role == protocol.RoleOwner || q.media[source] != protocol.TrackLive {
			continue
		}
		q.Send(msg)
		asked++
	}
	s.log.Info("asked everyone to mute", "room", r.id, "by", p.id, "source", source, "asked", asked)
}

// handOwnership handles owner-set: the room goes to the identity of the
// named participant, in the store, so ownership follows that identity in
// every tab and after a restart.
func (s *Server) handOwnership(p *participant, r *liveRoom, m *protocol.OwnerSet) {
	r.writes.Lock()
	defer r.writes.Unlock()
	r.mu.Lock()
	q := r.newOwner(p, m.ID)
	r.mu.Unlock()
	if q == nil {
		return
	}
	room, err := s.store.SetRoomOwner(r.id, q.identity.ID, q.name)
	if err != nil {
		s.log.Error("hand the room over", "room", r.id, "err", err)
		sendError(p, protocol.CodeInternal, "The room could not be handed over. Try again.", protocol.TypeOwnerSet)
		return
	}
	s.log.Info("room handed over", "room", r.id, "from", p.identity.ID, "to", q.identity.ID)
	r.mu.Lock()
	r.state.version++
	r.applyRoomLocked(room)
	r.mu.Unlock()
}

// newOwner returns the participant p hands the room to, or nil when p may
// not or that one owns it already (p is told). The caller holds r.mu.
func (r *liveRoom) newOwner(p *participant, id string) *participant {
	if r.indexLocked(p.id) < 0 || !ownerLocked(p, protocol.TypeOwnerSet, "hand the room to someone else") {
		return nil
	}
	q := targetLocked(p, r, id, protocol.TypeOwnerSet)
	if q != nil && q.identity.ID == r.state.ownerID {
		sendError(p, protocol.CodeBadRequest, q.name+" owns the room already.", protocol.TypeOwnerSet)
		return nil
	}
	return q
}

// endFromSocket handles end-room: the same end as POST /api/rooms/:id/end.
func (s *Server) endFromSocket(p *participant, r *liveRoom) {
	r.mu.Lock()
	isOwner := ownerLocked(p, protocol.TypeEndRoom, "end the room")
	r.mu.Unlock()
	if !isOwner {
		return
	}
	if _, err := s.finishRoom(r.id); err != nil {
		s.log.Error("end room", "room", r.id, "err", err)
		sendError(p, protocol.CodeInternal, "The room could not be ended. Try again.", protocol.TypeEndRoom)
	}
}

// settingsRequest is the body of PATCH /api/rooms/:id; a missing field
// stays as it is.
type settingsRequest struct {
	Classroom  *bool `json:"classroom"`
	AllowStage *bool `json:"allowStage"`
}

// patchRoom changes a room's settings: only its owner may.
func (s *Server) patchRoom(c *gin.Context) {
	room, ok := s.ownedRoom(c)
	if !ok {
		return
	}
	var req settingsRequest
	if err := decodeBody(c, &req); err != nil {
		s.abortWithError(c, err)
		return
	}
	if req.Classroom == nil && req.AllowStage == nil {
		s.abortWithError(c, newError(http.StatusBadRequest, protocol.CodeBadRequest, `Nothing to change: send "classroom" and/or "allowStage".`))
		return
	}
	if room.Status == store.StatusEnded {
		s.abortWithError(c, errRoomEnded)
		return
	}
	room, err := s.changeSettings(room.ID, store.SettingsChange{Classroom: req.Classroom, AllowStage: req.AllowStage})
	if errors.Is(err, store.ErrNotFound) {
		err = errRoomNotFound
	}
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	s.log.Info("room settings changed", "room", room.ID, "by", identityOf(c).ID)
	c.JSON(http.StatusOK, s.roomView(room))
}
