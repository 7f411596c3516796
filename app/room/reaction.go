package room

import (
	"fmt"
	"sync"
	"time"

	"meet/protocol"
)

// Each participant may send a burst of reactions, then a steady few a
// second: enough for applause, too few to flood everyone's screen.
const (
	ReactionBurst  = 5
	ReactionPerSec = 2
)

// reactionLimit is one participant's token bucket for reactions. Its zero
// value is a full bucket.
type reactionLimit struct{ bucket }

// take spends a token at now and reports whether there was one.
func (l *reactionLimit) take(now time.Time) bool {
	return l.bucket.take(now, ReactionBurst, ReactionPerSec)
}

// bucket is a token bucket of burst tokens that refills at perSec a
// second. Its zero value is full.
type bucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// take spends a token at now and reports whether there was one.
func (b *bucket) take(now time.Time, burst, perSec float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.last.IsZero():
		b.tokens, b.last = burst, now
	case now.After(b.last):
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*perSec)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

var reactionLimitMessage = fmt.Sprintf("Too many reactions: at most %d at once, then %d a second. Wait a moment.", ReactionBurst, ReactionPerSec)

// React handles a reaction of p at now: within p's limit it goes to
// everyone in the room, the sender included, stamped with the sender's
// id; nothing is stored. The emoji is one of the fixed set, as the decoder
// checked.
func (r *Room) React(p *Participant, emoji string, now time.Time) error {
	if !p.reactions.take(now) {
		return refuse(protocol.CodeRateLimited, reactionLimitMessage, protocol.TypeReaction)
	}
	out := encode(protocol.Reaction{Type: protocol.TypeReaction, From: p.id, Emoji: emoji})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.indexLocked(p.id) < 0 {
		return nil
	}
	r.broadcastLocked(out, nil)
	return nil
}
