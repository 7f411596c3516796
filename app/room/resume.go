package room

import (
	"time"

	"meet/protocol"
	"meet/store"
)

// Suspend keeps p in the room after its socket dropped: the others see it
// reconnecting, and expire runs after grace unless p resumes first. It
// reports false if p is not in the room (it left, was removed, or the room
// ended), and the caller removes it as usual.
func (r *Room) Suspend(p *Participant, grace time.Duration, expire func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended || r.indexLocked(p.id) < 0 {
		return false
	}
	p.reconnecting = true
	p.graceGen++
	gen := p.graceGen
	p.graceTimer = time.AfterFunc(grace, func() {
		if r.claimExpiry(p, gen) {
			expire()
		}
	})
	r.broadcastLocked(encode(protocol.ParticipantUpdated{Type: protocol.TypeParticipantUpdated, Participant: p.view()}), p)
	return true
}

// claimExpiry decides, under the room's lock, between a grace period that
// ran out and a resume that came at the same moment: whichever is first
// wins, and a participant whose grace ran out can no longer resume.
func (r *Room) claimExpiry(p *Participant, gen uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.graceGen != gen || p.graceTimer == nil || !p.reconnecting {
		return false
	}
	p.graceTimer = nil
	p.expired = true
	return true
}

// Resume gives participant id its stream back on c, replaying what came
// after the seen first messages, and returns it. false means a fresh join
// is in order: no such participant, another identity's, or its grace ran
// out. stored is the room as read for this join, for the fresh welcome a
// resume gets when what it missed fell out of the window.
func (r *Room) Resume(id, userID string, c Conn, seen uint64, stored *store.Room) (*Participant, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.indexLocked(id)
	if r.ended || i < 0 {
		return nil, false
	}
	p := r.participants[i]
	if p.userID != userID || p.expired {
		return nil, false
	}
	if p.graceTimer != nil {
		p.graceTimer.Stop()
		p.graceTimer = nil
	}
	wasReconnecting := p.reconnecting
	p.reconnecting = false
	p.pending.Store(0)
	p.closing.Store(false)
	resumed := encode(protocol.Resumed{Type: protocol.TypeResumed, Self: p.view(), Mode: r.mode, Epoch: r.epoch})
	replayed, old, ok := p.stream.resume(c, seen, resumed)
	if !ok {
		// What the client missed is gone: it starts over from a welcome,
		// and from fresh SFU connections, whose negotiation it lost.
		old = p.stream.restart(c)
		others := make([]protocol.Participant, 0, len(r.participants)-1)
		for _, o := range r.participants {
			if o != p {
				others = append(others, o.view())
			}
		}
		p.Send(r.welcomeLocked(p, others, stored))
		if p.sfuPeer != nil {
			r.disconnectSFULocked(p)
			r.connectSFULocked(p)
		}
		p.log.Debug("resume without replay", "participant", p.id, "seen", seen)
	} else {
		p.log.Debug("resumed", "participant", p.id, "seen", seen, "replayed", replayed)
	}
	if old != nil && old != c {
		// A socket the server had not seen drop yet (a network blink gives
		// no close): this one replaces it.
		_ = old.Close(protocol.CloseReplaced, "resumed on a new connection")
	}
	if wasReconnecting {
		r.broadcastLocked(encode(protocol.ParticipantUpdated{Type: protocol.TypeParticipantUpdated, Participant: p.view()}), p)
	}
	return p, true
}
