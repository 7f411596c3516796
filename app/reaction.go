package app

import (
	"fmt"
	"sync"
	"time"

	"meet/protocol"
)

// Each participant may send a burst of reactions, then a steady few a
// second: enough for applause, too few to flood everyone's screen.
const (
	reactionBurst  = 5
	reactionPerSec = 2
)

// reactionLimit is one participant's token bucket for reactions. Its zero
// value is a full bucket.
type reactionLimit struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// take spends a token at now and reports whether there was one.
func (l *reactionLimit) take(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.last.IsZero():
		l.tokens, l.last = reactionBurst, now
	case now.After(l.last):
		l.tokens = min(reactionBurst, l.tokens+now.Sub(l.last).Seconds()*reactionPerSec)
		l.last = now
	}
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}

var reactionLimitMessage = fmt.Sprintf("Too many reactions: at most %d at once, then %d a second. Wait a moment.", reactionBurst, reactionPerSec)

// handleReaction takes a decoded reaction of p and reports whether msg was
// one. The emoji was checked against the fixed set by the decoder. A
// reaction within the sender's limit goes to everyone in the room, the
// sender included, stamped with the sender's id; nothing is stored.
func (s *Server) handleReaction(p *participant, r *liveRoom, msg any) bool {
	m, ok := msg.(*protocol.Reaction)
	if !ok {
		return false
	}
	if !p.reactions.take(time.Now()) {
		sendError(p, protocol.CodeRateLimited, reactionLimitMessage, protocol.TypeReaction)
		return true
	}
	out := encode(protocol.Reaction{Type: protocol.TypeReaction, From: p.id, Emoji: m.Emoji})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 {
		return true
	}
	r.broadcastLocked(out, nil)
	return true
}
