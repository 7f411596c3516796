package room

import (
	"testing"
	"time"
)

// TestReactionLimitRefills checks the bucket with a clock of its own: a
// burst, then ReactionPerSec a second, never more than the burst saved up.
func TestReactionLimitRefills(t *testing.T) {
	var l reactionLimit
	t0 := time.Unix(1_700_000_000, 0)
	for i := range ReactionBurst {
		if !l.take(t0) {
			t.Fatalf("reaction %d of the burst refused", i+1)
		}
	}
	if l.take(t0) {
		t.Fatal("a reaction past the burst passed")
	}
	half := t0.Add(time.Second / ReactionPerSec)
	if !l.take(half) || l.take(half) {
		t.Fatal("after one refill interval exactly one more should pass")
	}
	// A long pause saves up no more than the burst.
	later := half.Add(time.Hour)
	for i := range ReactionBurst {
		if !l.take(later) {
			t.Fatalf("after a pause, reaction %d refused", i+1)
		}
	}
	if l.take(later) {
		t.Fatal("a pause saved up more than the burst")
	}
	// A clock that goes back gives nothing away.
	if l.take(t0) {
		t.Fatal("a clock going back refilled the bucket")
	}
}
