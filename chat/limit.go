package chat

import (
	"fmt"
	"math"
	"time"
)

// Default rate limit: a burst lets someone paste a few lines or answer a
// question in several short messages; the steady rate still stops a script
// from flooding a class.
const (
	DefaultBurst = 10
	DefaultRate  = 2.0 // messages per second once the burst is spent
)

// RateLimitError refuses a message sent too fast. The sender stays
// connected and may send again after RetryAfter.
type RateLimitError struct {
	RetryAfter time.Duration
	Burst      int
	Rate       float64
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("chat: rate limited, retry after %s", e.RetryAfter)
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// Message says, for people, what happened and when to try again.
func (e *RateLimitError) Message() string {
	// Round up, so that someone who waits as long as told is let through.
	secs := math.Ceil(e.RetryAfter.Seconds()*10) / 10
	return fmt.Sprintf("You are sending messages too fast (%d in a row, then %s per second). Try again in %.1f s.",
		e.Burst, trimFloat(e.Rate), secs)
}

func trimFloat(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%.1f", f)
}

// bucket is a token bucket: it holds up to burst tokens, refills at rate
// tokens per second, and each message takes one. It is guarded by the lock
// of the room its member is in, so it needs none of its own.
type bucket struct {
	tokens float64
	last   time.Time
}

// take spends a token at now. When none is left it returns how long until
// one will be.
func (b *bucket) take(now time.Time, burst int, rate float64) (time.Duration, bool) {
	switch {
	case b.last.IsZero():
		b.tokens = float64(burst)
	case now.After(b.last):
		b.tokens = math.Min(float64(burst), b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	if now.After(b.last) {
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / rate * float64(time.Second)), false
}

// refund gives back the token of a message that was not stored after all,
// or was a resend of one already stored: neither should count against the
// sender.
func (b *bucket) refund(burst int) {
	b.tokens = math.Min(float64(burst), b.tokens+1)
}
