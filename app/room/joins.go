package room

import (
	"time"

	"meet/protocol"
)

// A class that arrives at the start of a lesson joins all at once. Telling
// each of N participants about each joiner, one participant-joined at a
// time, is N² messages: 45,000 WebSocket frames, each written and decoded
// on its own, for 300 joins, while those same joins need the machine for
// their ICE and DTLS. So in an SFU room, joins that follow an announced one
// within the join window are held back and announced together, in one
// participants-joined, when the window closes; a window that closes on
// held joins opens another, so a burst costs one message per participant
// per window, however many join in it. A join after a quiet moment is
// announced at once, as is every join in a mesh room, whose newcomer
// offers to everyone the moment its welcome arrives. Anything else the
// room tells its participants first sends the joins held back
// (broadcastLocked), so nobody hears of a held joiner's media, name or
// leaving before its joining.

// DefaultJoinWindow is how long joins are gathered after an announcement
// (Config.JoinWindow). It is short beside a join's own ICE and DTLS, so
// nobody waits for it.
const DefaultJoinWindow = 100 * time.Millisecond

func (r *Room) joinWindow() time.Duration {
	if r.cfg.JoinWindow > 0 {
		return r.cfg.JoinWindow
	}
	return DefaultJoinWindow
}

// joinBatch is the room's joins held back, guarded by the room's lock.
type joinBatch struct {
	held []*Participant
	// window runs from an announcement until joins are quiet for a
	// whole window; nil when they are.
	window *time.Timer
}

// announceJoinLocked tells everyone but p that p joined, at once or with
// the next batch.
func (r *Room) announceJoinLocked(p *Participant) {
	if r.mode == protocol.ModeSFU && r.joins.window != nil {
		r.joins.held = append(r.joins.held, p)
		return
	}
	r.broadcastLocked(encode(protocol.ParticipantJoined{Type: protocol.TypeParticipantJoined, Participant: p.view()}), p)
	if r.mode == protocol.ModeSFU {
		r.joins.window = time.AfterFunc(r.joinWindow(), r.closeJoinWindow)
	}
}

// closeJoinWindow announces the joins held during the window, and keeps
// gathering while they keep coming.
func (r *Room) closeJoinWindow() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.flushJoinsLocked() && !r.ended && !r.retired {
		r.joins.window = time.AfterFunc(r.joinWindow(), r.closeJoinWindow)
		return
	}
	r.joins.window = nil
}

// flushJoinsLocked sends the joins held back, if any, to everyone, the held
// joiners included: a receiver skips itself and whoever its welcome
// listed. It reports whether there were any.
func (r *Room) flushJoinsLocked() bool {
	if len(r.joins.held) == 0 {
		return false
	}
	views := make([]protocol.Participant, 0, len(r.joins.held))
	for _, p := range r.joins.held {
		views = append(views, p.view())
	}
	r.joins.held = nil
	msg := encode(protocol.ParticipantsJoined{Type: protocol.TypeParticipantsJoined, Participants: views})
	for _, q := range r.participants {
		q.Send(msg)
	}
	return true
}

// stopJoinWindowLocked ends the window of an ended or retired room.
func (r *Room) stopJoinWindowLocked() {
	if r.joins.window != nil {
		r.joins.window.Stop()
		r.joins.window = nil
	}
	r.joins.held = nil
}
