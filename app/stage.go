package app

import (
	"fmt"
	"slices"

	"github.com/pion/webrtc/v4"

	"meet/protocol"
	"meet/store"
)

// roomState is the part of a stored room that changes while the room is
// live: its owner, its settings and its stage. The live room keeps a copy
// under its lock; every change is written to the store first, under that
// lock, and the copy is then reloaded from what the store returned, so the
// two never disagree. The queue of raised hands lives in memory only: a
// hand belongs to one connection and goes down when it leaves.
type roomState struct {
	loaded     bool
	ownerID    string
	ownerName  string
	classroom  bool
	allowStage bool
	members    []protocol.StageMember
	hands      []string // participant ids, in the order the hands went up
}

// setRoom copies a stored room's owner and settings.
func (st *roomState) setRoom(room *store.Room) {
	st.ownerID, st.ownerName = room.OwnerID, room.OwnerName
	st.classroom, st.allowStage = room.Classroom, room.AllowStage
}

// setMembers copies a stored stage.
func (st *roomState) setMembers(rows []store.StageMember) {
	st.members = stageView(rows)
}

func stageView(rows []store.StageMember) []protocol.StageMember {
	out := make([]protocol.StageMember, 0, len(rows))
	for _, m := range rows {
		out = append(out, protocol.StageMember{UserID: m.UserID, Name: m.Name})
	}
	return out
}

// onStage reports whether an identity is on the stage.
func (st *roomState) onStage(userID string) bool {
	return slices.ContainsFunc(st.members, func(m protocol.StageMember) bool { return m.UserID == userID })
}

// applyTo writes the live owner, settings and stage into a room's view.
func (st *roomState) applyTo(v *protocol.Room) {
	v.Owner = protocol.Owner{ID: st.ownerID, Name: st.ownerName}
	v.Classroom, v.AllowStage = st.classroom, st.allowStage
	v.Stage = slices.Clone(st.members)
	if v.Stage == nil {
		v.Stage = []protocol.StageMember{}
	}
}

// loadState fills a live room's state from the store the first time a
// participant enters it. It runs under the hub's lock, which also guards
// the room's creation, so a change written to the store before this
// point is seen here, and one written after finds the live room (see
// reloadRoom).
func (s *Server) loadState(r *liveRoom) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state.loaded {
		return nil
	}
	room, err := s.store.Room(r.id)
	if err != nil {
		return err
	}
	members, err := s.store.StageMembers(r.id)
	if err != nil {
		return err
	}
	r.state.setRoom(room)
	r.state.setMembers(members)
	r.state.loaded = true
	return nil
}

// roleLocked is p's role from the live owner: ownership follows the
// identity, and an owner who joins receive-only is still the owner.
func (r *liveRoom) roleLocked(p *participant) string {
	switch {
	case p.identity.ID == r.state.ownerID:
		return protocol.RoleOwner
	case p.spectator:
		return protocol.RoleSpectator
	default:
		return protocol.RoleParticipant
	}
}

// mayPublishLocked is the one rule of who may send media: stage members
// always; in a classroom nobody else; otherwise everyone but spectators.
func (r *liveRoom) mayPublishLocked(p *participant) bool {
	if r.state.onStage(p.identity.ID) {
		return true
	}
	return !r.state.classroom && !p.spectator
}

// publishRefusal says why p may not publish. The caller holds r.mu.
func (r *liveRoom) publishRefusalLocked() string {
	if r.state.classroom {
		return "In this classroom only people on the stage send video and sound. Raise your hand to ask."
	}
	return "Spectators join receive-only and cannot publish. Raise your hand to ask for the stage."
}

// publishers returns who may publish now, to compare after a change.
func (r *liveRoom) publishersLocked() map[*participant]bool {
	out := make(map[*participant]bool, len(r.participants))
	for _, p := range r.participants {
		out[p] = r.mayPublishLocked(p)
	}
	return out
}

// revokeLocked stops forwarding whatever the participants who lost the
// right to publish since before still publish, and tells everyone their
// tracks are gone. The participants themselves learn it from the stage or
// room-updated message that follows and stop their tracks.
func (r *liveRoom) revokeLocked(before map[*participant]bool) {
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
func (r *liveRoom) handsLocked() []protocol.Hand {
	out := make([]protocol.Hand, 0, len(r.state.hands))
	for _, id := range r.state.hands {
		if i := r.indexLocked(id); i >= 0 {
			p := r.participants[i]
			out = append(out, protocol.Hand{ID: p.id, UserID: p.identity.ID, Name: p.name})
		}
	}
	return out
}

// stageMessageLocked is the stage message of the current state.
func (r *liveRoom) stageMessageLocked() []byte {
	members := slices.Clone(r.state.members)
	if members == nil {
		members = []protocol.StageMember{}
	}
	return encode(protocol.Stage{Type: protocol.TypeStage, Members: members, Hands: r.handsLocked()})
}

// dropHandsLocked lowers the hands of the participants that match, and
// reports whether any was up.
func (r *liveRoom) dropHandsLocked(match func(*participant) bool) bool {
	before := len(r.state.hands)
	r.state.hands = slices.DeleteFunc(r.state.hands, func(id string) bool {
		i := r.indexLocked(id)
		return i < 0 || match(r.participants[i])
	})
	return len(r.state.hands) != before
}

// dropHandLocked lowers one participant's hand, as when it leaves. It must
// run while p is still in the room's list.
func (r *liveRoom) dropHandLocked(p *participant) bool {
	return r.dropHandsLocked(func(q *participant) bool { return q == p })
}

// findLocked returns the participant with id, or nil.
func (r *liveRoom) findLocked(id string) *participant {
	if i := r.indexLocked(id); i >= 0 {
		return r.participants[i]
	}
	return nil
}

// putOnStageLocked writes an identity onto the stage and lowers its hands.
func (s *Server) putOnStageLocked(r *liveRoom, userID, name string) error {
	if _, err := s.store.AddStageMember(r.id, userID, name); err != nil {
		return err
	}
	members, err := s.store.StageMembers(r.id)
	if err != nil {
		return err
	}
	r.state.setMembers(members)
	r.dropHandsLocked(func(q *participant) bool { return q.identity.ID == userID })
	return nil
}

// takeOffStageLocked removes an identity from the stage, and revokes the
// media of those who may no longer publish.
func (s *Server) takeOffStageLocked(r *liveRoom, userID string) error {
	before := r.publishersLocked()
	if _, err := s.store.RemoveStageMember(r.id, userID); err != nil {
		return err
	}
	members, err := s.store.StageMembers(r.id)
	if err != nil {
		return err
	}
	r.state.setMembers(members)
	r.revokeLocked(before)
	return nil
}

// stageSet handles stage-set: anyone may step down; stepping on needs the
// owner or a room that allows it; moving others is the owner's.
func (s *Server) stageSet(p *participant, r *liveRoom, m *protocol.StageSet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 {
		return
	}
	userID, name := p.identity.ID, p.name
	switch {
	case m.ID != "":
		q := r.findLocked(m.ID)
		if q == nil {
			sendError(p, protocol.CodeUnknownPeer, "That participant is not in this room.", protocol.TypeStageSet)
			return
		}
		userID, name = q.identity.ID, q.name
	case m.UserID != "":
		userID = m.UserID
	}
	self := userID == p.identity.ID
	owner := p.role == protocol.RoleOwner
	switch {
	case !self && !owner:
		sendError(p, protocol.CodeForbidden, "Only the room's owner can put others on the stage or take them off.", protocol.TypeStageSet)
		return
	case self && m.On && !owner && !r.state.allowStage:
		sendError(p, protocol.CodeForbidden, "Only the owner can put you on the stage here. Raise your hand to ask.", protocol.TypeStageSet)
		return
	}
	if m.UserID != "" && !r.state.onStage(userID) {
		sendError(p, protocol.CodeBadRequest, "Nobody with that user id is on the stage.", protocol.TypeStageSet)
		return
	}
	if r.state.onStage(userID) == m.On {
		return // already so: nothing changes, nothing to announce
	}
	var err error
	if m.On {
		err = s.putOnStageLocked(r, userID, name)
	} else {
		err = s.takeOffStageLocked(r, userID)
	}
	if err != nil {
		s.log.Error("change the stage", "room", r.id, "user", userID, "err", err)
		sendError(p, protocol.CodeInternal, "The stage could not be changed. Try again.", protocol.TypeStageSet)
		return
	}
	s.log.Info("stage changed", "room", r.id, "user", userID, "on", m.On, "by", p.id)
	r.broadcastLocked(r.stageMessageLocked(), nil)
}

// raiseHand handles hand: a hand keeps its place in the queue until it is
// lowered, answered, or its participant leaves.
func (s *Server) raiseHand(p *participant, r *liveRoom, m *protocol.RaiseHand) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 {
		return
	}
	up := slices.Contains(r.state.hands, p.id)
	switch {
	case m.Raised && r.state.onStage(p.identity.ID):
		sendError(p, protocol.CodeBadRequest, "You are on the stage already.", protocol.TypeHand)
		return
	case m.Raised == up:
		return
	case m.Raised:
		r.state.hands = append(r.state.hands, p.id)
	default:
		r.dropHandLocked(p)
	}
	r.broadcastLocked(r.stageMessageLocked(), nil)
}

// lowerHands handles lower-hands, the owner's: every raised hand goes
// down at once and everyone is told. An empty queue changes nothing and
// sends nothing.
func (s *Server) lowerHands(p *participant, r *liveRoom) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 || !ownerLocked(p, protocol.TypeLowerHands, "lower everyone's hands") {
		return
	}
	n := len(r.state.hands)
	if n == 0 {
		return
	}
	r.state.hands = nil
	s.log.Info("hands lowered", "room", r.id, "by", p.id, "count", n)
	r.broadcastLocked(r.stageMessageLocked(), nil)
}

// answerHand handles hand-answer, the owner's: accept puts the identity on
// the stage (which gives it the right to publish), decline lowers the hand.
func (s *Server) answerHand(p *participant, r *liveRoom, m *protocol.HandAnswer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 {
		return
	}
	if p.role != protocol.RoleOwner {
		sendError(p, protocol.CodeForbidden, "Only the room's owner can answer raised hands.", protocol.TypeHandAnswer)
		return
	}
	q := r.findLocked(m.ID)
	if q == nil || !slices.Contains(r.state.hands, q.id) {
		sendError(p, protocol.CodeBadRequest, "That participant has no raised hand.", protocol.TypeHandAnswer)
		return
	}
	if m.Accept {
		if err := s.putOnStageLocked(r, q.identity.ID, q.name); err != nil {
			s.log.Error("accept a raised hand", "room", r.id, "participant", q.id, "err", err)
			sendError(p, protocol.CodeInternal, "The stage could not be changed. Try again.", protocol.TypeHandAnswer)
			return
		}
	} else {
		r.dropHandLocked(q)
	}
	s.log.Info("hand answered", "room", r.id, "participant", q.id, "accepted", m.Accept)
	r.broadcastLocked(r.stageMessageLocked(), nil)
}

// offerSendsMedia reports whether a publish offer would send anything: a
// named track, or an m-section whose direction sends. A client that may
// not publish can still renegotiate a connection whose tracks it removed.
func offerSendsMedia(m *protocol.SFU) (bool, error) {
	if len(m.Tracks) > 0 {
		return true, nil
	}
	parsed, err := (&webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}).Unmarshal()
	if err != nil {
		return false, fmt.Errorf("the offer is not valid SDP: %w", err)
	}
	for _, md := range parsed.MediaDescriptions {
		if md.MediaName.Media != "audio" && md.MediaName.Media != "video" {
			continue
		}
		direction := "sendrecv" // RFC 8866: the default
		for _, a := range md.Attributes {
			switch a.Key {
			case "sendrecv", "sendonly", "recvonly", "inactive":
				direction = a.Key
			}
		}
		if direction == "sendrecv" || direction == "sendonly" {
			return true, nil
		}
	}
	return false, nil
}

// mayPublishOffer checks an SFU publish offer against p's right to
// publish, and answers a refusal.
func (s *Server) mayPublishOffer(p *participant, r *liveRoom, m *protocol.SFU) bool {
	if m.PC != protocol.PCPublish || m.Kind != protocol.KindOffer {
		return true
	}
	r.mu.Lock()
	allowed := r.mayPublishLocked(p)
	refusal := r.publishRefusalLocked()
	r.mu.Unlock()
	if allowed {
		return true
	}
	sends, err := offerSendsMedia(m)
	if err != nil {
		sendError(p, protocol.CodeBadRequest, "The media server refused that message: "+err.Error(), protocol.TypeSFU)
		return false
	}
	if sends {
		sendError(p, protocol.CodeForbidden, refusal, protocol.TypeSFU)
		return false
	}
	return true
}
