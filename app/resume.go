package app

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/olahol/melody"

	"meet/protocol"
)

// A participant's server messages form one ordered stream that outlives
// its socket. The client counts what it has received since its welcome;
// when its socket drops it reconnects with ?resume=<participant id>&seen=<count>
// and the server replays what came after, from a window of recent
// messages. Meanwhile the participant stays in the room, marked
// reconnecting, so the others see a short "reconnecting" state rather than a
// leave and a join, and its peer connections (mesh and SFU), which do not
// depend on the socket, keep carrying media.

// streamWindow is how many of a participant's latest messages a resume can
// replay. A network blink of a few seconds in a busy room fits; a longer
// absence gets a fresh welcome under the same participant id instead.
const streamWindow = 256

// stream numbers a participant's messages and remembers the latest ones.
// Recording and writing happen under one lock, so the order on the wire is
// the order of the numbers, and a count of received messages says exactly
// which ones arrived.
type stream struct {
	mu      sync.Mutex
	session *melody.Session // nil while the participant has no socket
	seq     uint64          // messages in the stream so far; the welcome is 1
	window  [][]byte        // message n is at window[(n-1) % streamWindow]
}

// send records msg and hands it to write with the current socket, if any,
// under the stream's lock. write must not block.
func (s *stream) send(msg []byte, write func(*melody.Session)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.window == nil {
		s.window = make([][]byte, streamWindow)
	}
	s.window[s.seq%streamWindow] = msg
	s.seq++
	if s.session != nil {
		write(s.session)
	}
}

func (s *stream) current() *melody.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.session
}

// attach makes ss the stream's socket: a fresh join.
func (s *stream) attach(ss *melody.Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.session = ss
}

// detach forgets ss if it is still the stream's socket, and reports
// whether it was: the socket of a participant that has resumed elsewhere
// closes without consequence.
func (s *stream) detach(ss *melody.Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.session != ss {
		return false
	}
	s.session = nil
	return true
}

// resume moves the stream to ss and writes first, then every message after
// seen. It reports false, changing nothing, when some of those messages
// are no longer in the window (or seen is beyond the stream's end).
func (s *stream) resume(ss *melody.Session, seen uint64, first []byte) (replayed int, old *melody.Session, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seen > s.seq || s.seq-seen > streamWindow || (s.window == nil && s.seq > 0) {
		return 0, nil, false
	}
	old = s.session
	s.session = ss
	_ = ss.Write(first)
	for n := seen + 1; n <= s.seq; n++ {
		_ = ss.Write(s.window[(n-1)%streamWindow])
		replayed++
	}
	return replayed, old, true
}

// restart begins a new stream on ss, for a fresh welcome under the same
// participant id. It returns the socket it replaces, if any.
func (s *stream) restart(ss *melody.Session) *melody.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.session
	s.session = ss
	s.seq = 0
	clear(s.window)
	return old
}

// suspend keeps p in the room after its socket dropped: the others see it
// reconnecting, and expire runs after grace unless p resumes first. It
// reports false if p is not in the room (it left, was removed, or the room
// ended), and the caller removes it as usual.
func (r *liveRoom) suspend(p *participant, grace time.Duration, expire func()) bool {
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
func (r *liveRoom) claimExpiry(p *participant, gen uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.graceGen != gen || p.graceTimer == nil || !p.reconnecting {
		return false
	}
	p.graceTimer = nil
	p.expired = true
	return true
}

// resumeFunc builds the fresh welcome for a resume whose messages fell out
// of the window. It runs under the room's lock.
type resumeWelcome func(r *liveRoom, p *participant, others []protocol.Participant, mode string, epoch uint64) []byte

// resume gives participant id its stream back on ss and reports whether it
// did: false means a fresh join is in order (no such participant, another
// identity's, or its grace ran out).
func (r *liveRoom) resume(id, userID string, ss *melody.Session, seen uint64, welcome resumeWelcome) (*participant, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.indexLocked(id)
	if r.ended || i < 0 {
		return nil, false
	}
	p := r.participants[i]
	if p.identity.ID != userID || p.expired {
		return nil, false
	}
	if p.graceTimer != nil {
		p.graceTimer.Stop()
		p.graceTimer = nil
	}
	wasReconnecting := p.reconnecting
	p.reconnecting = false
	ss.Set(participantKey, p)
	p.pending.Store(0)
	p.closing.Store(false)
	resumed := encode(protocol.Resumed{Type: protocol.TypeResumed, Self: p.view(), Mode: r.mode, Epoch: r.epoch})
	replayed, old, ok := p.stream.resume(ss, seen, resumed)
	if !ok {
		// What the client missed is gone: it starts over from a welcome,
		// and from fresh SFU connections, whose negotiation it lost.
		old = p.stream.restart(ss)
		others := make([]protocol.Participant, 0, len(r.participants)-1)
		for _, o := range r.participants {
			if o != p {
				others = append(others, o.view())
			}
		}
		p.Send(welcome(r, p, others, r.mode, r.epoch))
		if p.sfuPeer != nil {
			r.disconnectSFULocked(p)
			r.connectSFULocked(p)
		}
		p.log.Debug("resume without replay", "participant", p.id, "seen", seen)
	} else {
		p.log.Debug("resumed", "participant", p.id, "seen", seen, "replayed", replayed)
	}
	if old != nil && old != ss {
		// A socket the server had not seen drop yet (a network blink gives
		// no close): this one replaces it.
		_ = old.CloseWithMsg(closeMessage(protocol.CloseReplaced, "resumed on a new connection"))
	}
	if wasReconnecting {
		r.broadcastLocked(encode(protocol.ParticipantUpdated{Type: protocol.TypeParticipantUpdated, Participant: p.view()}), p)
	}
	return p, true
}

// tryResume handles a join that asks to resume: it reports whether the
// socket now carries an existing participant's stream.
func (s *Server) tryResume(ss *melody.Session, identity Identity, roomID string, welcome resumeWelcome) bool {
	id, _ := ss.Keys["resume"].(string)
	if id == "" {
		return false
	}
	raw, _ := ss.Keys["seen"].(string)
	seen, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		seen = math.MaxUint64 // a count we cannot read: no replay, a fresh welcome
	}
	room, ok := s.hub.room(roomID)
	if !ok {
		return false
	}
	p, ok := room.resume(id, identity.ID, ss, seen, welcome)
	if !ok {
		return false
	}
	s.chat.join(p)
	s.log.Info("participant resumed", "room", roomID, "participant", p.id)
	return true
}

// expireResume removes a participant whose grace ran out without a resume.
func (s *Server) expireResume(room *liveRoom, p *participant) {
	if s.hub.exit(room, p, "disconnected") {
		s.log.Info("participant left", "room", p.roomID, "participant", p.id, "reason", "disconnected")
		s.recordLeave(p)
	}
}
