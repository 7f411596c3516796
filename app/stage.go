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
	loaded bool
	// version counts the stored changes applied to the live room; a load
	// that overlapped one reads the store again.
	version    uint64
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
// participant enters it. The store is read outside the room's lock, so a
// slow read stalls no one already in the room; a change written to the
// store meanwhile bumps the state's version (changeSettings), and the read
// is done again, so what is loaded is never older than what was written.
func (s *Server) loadState(r *liveRoom) error {
	for {
		r.mu.Lock()
		loaded, version := r.state.loaded, r.state.version
		r.mu.Unlock()
		if loaded {
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
		r.mu.Lock()
		current := r.state.loaded || r.state.version == version
		if !r.state.loaded && current {
			r.state.setRoom(room)
			r.state.setMembers(members)
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

// writeStage puts an identity on the stage or takes it off, in the store,
// and returns the stage as stored. The caller holds r.writes, not r.mu:
// a SQLite write may wait for the database's one write lock, and nobody
// else in the room should wait with it.
func (s *Server) writeStage(r *liveRoom, userID, name string, on bool) ([]store.StageMember, error) {
	var err error
	if on {
		_, err = s.store.AddStageMember(r.id, userID, name)
	} else {
		_, err = s.store.RemoveStageMember(r.id, userID)
	}
	if err != nil {
		return nil, err
	}
	return s.store.StageMembers(r.id)
}

// applyStageLocked takes the stage as just stored: those who came on lower
// their hands, those who lost the right to publish lose their media, and
// everyone is told. The caller holds r.mu.
func (r *liveRoom) applyStageLocked(members []store.StageMember) {
	before := r.publishersLocked()
	r.state.version++
	r.state.setMembers(members)
	r.dropHandsLocked(func(q *participant) bool { return r.state.onStage(q.identity.ID) })
	r.revokeLocked(before)
	r.broadcastLocked(r.stageMessageLocked(), nil)
}

// changeStage writes a stage change decided under the room's lock and
// applies it; ref names the request in a refusal.
func (s *Server) changeStage(p *participant, r *liveRoom, userID, name string, on bool, ref string) bool {
	members, err := s.writeStage(r, userID, name, on)
	if err != nil {
		s.log.Error("change the stage", "room", r.id, "user", userID, "on", on, "err", err)
		sendError(p, protocol.CodeInternal, "The stage could not be changed. Try again.", ref)
		return false
	}
	r.mu.Lock()
	r.applyStageLocked(members)
	r.mu.Unlock()
	return true
}

// stageSet handles stage-set: anyone may step down; stepping on needs the
// owner or a room that allows it; moving others is the owner's.
func (s *Server) stageSet(p *participant, r *liveRoom, m *protocol.StageSet) {
	r.writes.Lock()
	defer r.writes.Unlock()
	userID, name, ok := r.stageTarget(p, m)
	if ok && s.changeStage(p, r, userID, name, m.On, protocol.TypeStageSet) {
		s.log.Info("stage changed", "room", r.id, "user", userID, "on", m.On, "by", p.id)
	}
}

// stageTarget checks a stage-set against p's rights and the stage, and
// returns whom it moves; false when it is refused (p is told) or changes
// nothing.
func (r *liveRoom) stageTarget(p *participant, m *protocol.StageSet) (userID, name string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 {
		return "", "", false
	}
	userID, name = p.identity.ID, p.name
	switch {
	case m.ID != "":
		q := r.findLocked(m.ID)
		if q == nil {
			sendError(p, protocol.CodeUnknownPeer, "That participant is not in this room.", protocol.TypeStageSet)
			return "", "", false
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
		return "", "", false
	case self && m.On && !owner && !r.state.allowStage:
		sendError(p, protocol.CodeForbidden, "Only the owner can put you on the stage here. Raise your hand to ask.", protocol.TypeStageSet)
		return "", "", false
	case m.UserID != "" && !r.state.onStage(userID):
		sendError(p, protocol.CodeBadRequest, "Nobody with that user id is on the stage.", protocol.TypeStageSet)
		return "", "", false
	}
	// Already so: nothing changes, nothing to announce.
	return userID, name, r.state.onStage(userID) != m.On
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
	r.writes.Lock()
	defer r.writes.Unlock()
	r.mu.Lock()
	q := r.raisedHand(p, m.ID)
	if q == nil || !m.Accept {
		if q != nil {
			r.dropHandLocked(q)
			r.broadcastLocked(r.stageMessageLocked(), nil)
		}
		r.mu.Unlock()
		if q != nil {
			s.log.Info("hand answered", "room", r.id, "participant", q.id, "accepted", false)
		}
		return
	}
	userID, name := q.identity.ID, q.name
	r.mu.Unlock()
	if s.changeStage(p, r, userID, name, true, protocol.TypeHandAnswer) {
		s.log.Info("hand answered", "room", r.id, "participant", q.id, "accepted", true)
	}
}

// raisedHand returns the participant whose hand an owner answers, or nil
// when p may not answer or there is no such hand (p is told). The caller
// holds r.mu.
func (r *liveRoom) raisedHand(p *participant, id string) *participant {
	if r.indexLocked(p.id) < 0 {
		return nil
	}
	if p.role != protocol.RoleOwner {
		sendError(p, protocol.CodeForbidden, "Only the room's owner can answer raised hands.", protocol.TypeHandAnswer)
		return nil
	}
	q := r.findLocked(id)
	if q == nil || !slices.Contains(r.state.hands, q.id) {
		sendError(p, protocol.CodeBadRequest, "That participant has no raised hand.", protocol.TypeHandAnswer)
		return nil
	}
	return q
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
