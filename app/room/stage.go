package room

import (
	"fmt"
	"slices"

	"github.com/pion/webrtc/v4"

	"meet/protocol"
	"meet/store"
)

// writeStage puts an identity on the stage or takes it off, in the store,
// and returns the stage as stored. The caller holds r.writes, not r.mu:
// a SQLite write may wait for the database's one write lock, and nobody
// else in the room should wait with it.
func (r *Room) writeStage(userID, name string, on bool) ([]store.StageMember, error) {
	var err error
	if on {
		_, err = r.cfg.Store.AddStageMember(r.id, userID, name)
	} else {
		_, err = r.cfg.Store.RemoveStageMember(r.id, userID)
	}
	if err != nil {
		return nil, err
	}
	return r.cfg.Store.StageMembers(r.id)
}

// applyStageLocked takes the stage as just stored: those who came on lower
// their hands, those who lost the right to publish lose their media, and
// everyone is told. The caller holds r.mu.
func (r *Room) applyStageLocked(members []store.StageMember) {
	before := r.publishersLocked()
	r.state.version++
	r.state.setMembers(members)
	r.dropHandsLocked(func(q *Participant) bool { return r.state.onStage(q.userID) })
	r.revokeLocked(before)
	for _, p := range r.participants {
		if p.sfuPeer != nil {
			// The stage is forwarded beside the SFU's last-N limit.
			p.sfuPeer.SetFeatured(r.state.onStage(p.userID))
		}
	}
	r.followStageLocked()
	r.broadcastLocked(r.stageMessageLocked(), nil)
}

// changeStage writes a stage change decided under the room's lock and
// applies it. The caller holds r.writes. A failed write is logged here and
// returned as it is: a fault of ours, not a refusal.
func (r *Room) changeStage(userID, name string, on bool) error {
	members, err := r.writeStage(userID, name, on)
	if err != nil {
		r.cfg.Log.Error("change the stage", "room", r.id, "user", userID, "on", on, "err", err)
		return fmt.Errorf("room: change the stage: %w", err)
	}
	r.mu.Lock()
	r.applyStageLocked(members)
	r.mu.Unlock()
	return nil
}

// PutOnStage puts p's identity on the stage, as a WHIP encoder joins: the
// studio's camera is the presenter's.
func (r *Room) PutOnStage(p *Participant) error {
	r.mu.Lock()
	name := p.name
	r.mu.Unlock()
	return r.changeStage(p.userID, name, true)
}

// SetStage handles stage-set: anyone may step down; stepping on needs the
// owner or a room that allows it; moving others is the owner's.
func (r *Room) SetStage(p *Participant, m *protocol.StageSet) error {
	r.writes.Lock()
	defer r.writes.Unlock()
	userID, name, change, err := r.stageTarget(p, m)
	if err != nil || !change {
		return err
	}
	if err := r.changeStage(userID, name, m.On); err != nil {
		return err
	}
	r.cfg.Log.Info("stage changed", "room", r.id, "user", userID, "on", m.On, "by", p.id)
	return nil
}

// stageTarget checks a stage-set against p's rights and the stage, and
// returns whom it moves; change is false when it changes nothing.
func (r *Room) stageTarget(p *Participant, m *protocol.StageSet) (userID, name string, change bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 {
		return "", "", false, nil
	}
	userID, name = p.userID, p.name
	switch {
	case m.ID != "":
		q := r.findLocked(m.ID)
		if q == nil {
			return "", "", false, refuse(protocol.CodeUnknownPeer, "That participant is not in this room.", protocol.TypeStageSet)
		}
		userID, name = q.userID, q.name
	case m.UserID != "":
		userID = m.UserID
	}
	self := userID == p.userID
	host := isHost(p.role)
	switch {
	case !self && !host:
		return "", "", false, refuse(protocol.CodeForbidden, "Only the room's hosts can put others on the stage or take them off.", protocol.TypeStageSet)
	case self && m.On && !host && p.role != protocol.RolePresenter && !r.state.allowStage:
		return "", "", false, refuse(protocol.CodeForbidden, "Only the owner can put you on the stage here. Raise your hand to ask.", protocol.TypeStageSet)
	case m.UserID != "" && !r.state.onStage(userID):
		return "", "", false, refuse(protocol.CodeBadRequest, "Nobody with that user id is on the stage.", protocol.TypeStageSet)
	}
	// Already so: nothing changes, nothing to announce.
	return userID, name, r.state.onStage(userID) != m.On, nil
}

// RaiseHand handles hand: a hand keeps its place in the queue until it is
// lowered, answered, or its participant leaves.
func (r *Room) RaiseHand(p *Participant, raised bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 {
		return nil
	}
	up := slices.Contains(r.state.hands, p.id)
	switch {
	case raised && r.state.onStage(p.userID):
		return refuse(protocol.CodeBadRequest, "You are on the stage already.", protocol.TypeHand)
	case raised == up:
		return nil
	case raised:
		r.state.hands = append(r.state.hands, p.id)
	default:
		r.dropHandLocked(p)
	}
	r.broadcastLocked(r.stageMessageLocked(), nil)
	return nil
}

// LowerHands handles lower-hands, the owner's: every raised hand goes
// down at once and everyone is told. An empty queue changes nothing and
// sends nothing.
func (r *Room) LowerHands(p *Participant) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 {
		return nil
	}
	if err := hostLocked(p, protocol.TypeLowerHands, "lower everyone's hands"); err != nil {
		return err
	}
	n := len(r.state.hands)
	if n == 0 {
		return nil
	}
	r.state.hands = nil
	r.cfg.Log.Info("hands lowered", "room", r.id, "by", p.id, "count", n)
	r.broadcastLocked(r.stageMessageLocked(), nil)
	return nil
}

// AnswerHand handles hand-answer, the owner's: accept puts the identity of
// participant id on the stage (which gives it the right to publish),
// decline lowers its hand.
func (r *Room) AnswerHand(p *Participant, id string, accept bool) error {
	r.writes.Lock()
	defer r.writes.Unlock()
	r.mu.Lock()
	q, err := r.raisedHandLocked(p, id)
	if q == nil || !accept {
		if q != nil {
			r.dropHandLocked(q)
			r.broadcastLocked(r.stageMessageLocked(), nil)
		}
		r.mu.Unlock()
		if q != nil {
			r.cfg.Log.Info("hand answered", "room", r.id, "participant", q.id, "accepted", false)
		}
		return err
	}
	userID, name := q.userID, q.name
	r.mu.Unlock()
	if err := r.changeStage(userID, name, true); err != nil {
		return err
	}
	r.cfg.Log.Info("hand answered", "room", r.id, "participant", q.id, "accepted", true)
	return nil
}

// raisedHandLocked returns the participant whose hand an owner answers;
// nil and a refusal when p may not answer or there is no such hand, nil
// alone when p is not in the room.
func (r *Room) raisedHandLocked(p *Participant, id string) (*Participant, error) {
	if r.indexLocked(p.id) < 0 {
		return nil, nil
	}
	if !isHost(p.role) {
		return nil, refuse(protocol.CodeForbidden, "Only the room's hosts can answer raised hands.", protocol.TypeHandAnswer)
	}
	q := r.findLocked(id)
	if q == nil || !slices.Contains(r.state.hands, q.id) {
		return nil, refuse(protocol.CodeBadRequest, "That participant has no raised hand.", protocol.TypeHandAnswer)
	}
	return q, nil
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

// MayPublishOffer checks an SFU message of p against p's right to
// publish: a publish offer that would send media from someone who may not
// publish is refused.
func (r *Room) MayPublishOffer(p *Participant, m *protocol.SFU) error {
	if m.PC != protocol.PCPublish || m.Kind != protocol.KindOffer {
		return nil
	}
	r.mu.Lock()
	allowed := r.mayPublishLocked(p)
	refusal := r.publishRefusalLocked()
	r.mu.Unlock()
	if allowed {
		return nil
	}
	sends, err := offerSendsMedia(m)
	if err != nil {
		return refuse(protocol.CodeBadRequest, "The media server refused that message: "+err.Error(), protocol.TypeSFU)
	}
	if sends {
		return refuse(protocol.CodeForbidden, refusal, protocol.TypeSFU)
	}
	return nil
}
