package chat

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Each step takes one token at offset at and expects ok, or the wait.
	type step struct {
		at   time.Duration
		ok   bool
		wait time.Duration
	}
	for _, tt := range []struct {
		name  string
		burst int
		rate  float64
		steps []step
	}{
		{"burst then refused", 2, 1, []step{{0, true, 0}, {0, true, 0}, {0, false, time.Second}}},
		{"partial refill shortens the wait", 1, 2, []step{{0, true, 0}, {250 * time.Millisecond, false, 250 * time.Millisecond}, {500 * time.Millisecond, true, 0}}},
		{"refill caps at the burst", 2, 10, []step{{0, true, 0}, {time.Hour, true, 0}, {time.Hour, true, 0}, {time.Hour, false, 100 * time.Millisecond}}},
		{"a clock going back refills nothing", 1, 1, []step{{time.Second, true, 0}, {0, false, time.Second}, {2 * time.Second, true, 0}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bucket
			for i, s := range tt.steps {
				wait, ok := b.take(t0.Add(s.at), tt.burst, tt.rate)
				if ok != s.ok || wait != s.wait {
					t.Fatalf("step %d at %v: ok %v wait %v, want ok %v wait %v", i, s.at, ok, wait, s.ok, s.wait)
				}
			}
		})
	}
}

func TestBucketRefund(t *testing.T) {
	t0 := time.Now()
	var b bucket
	b.take(t0, 1, 1)
	b.refund(1)
	if _, ok := b.take(t0, 1, 1); !ok {
		t.Fatal("a refunded token could not be spent")
	}
	b.refund(1)
	b.refund(1) // never above the burst
	b.take(t0, 1, 1)
	if _, ok := b.take(t0, 1, 1); ok {
		t.Fatal("refunds raised the bucket above its burst")
	}
}

func TestRateLimitErrorMessage(t *testing.T) {
	for _, tt := range []struct {
		wait  time.Duration
		burst int
		rate  float64
		want  string
	}{
		{500 * time.Millisecond, 10, 2, "You are sending messages too fast (10 in a row, then 2 per second). Try again in 0.5 s."},
		{1234 * time.Millisecond, 5, 0.5, "You are sending messages too fast (5 in a row, then 0.5 per second). Try again in 1.3 s."},
		{time.Millisecond, 10, 2, "You are sending messages too fast (10 in a row, then 2 per second). Try again in 0.1 s."},
	} {
		e := &RateLimitError{RetryAfter: tt.wait, Burst: tt.burst, Rate: tt.rate}
		if got := e.Message(); got != tt.want {
			t.Errorf("Message() = %q, want %q", got, tt.want)
		}
		if !errors.Is(fmt.Errorf("wrapped: %w", e), ErrRateLimited) {
			t.Error("a wrapped RateLimitError does not match ErrRateLimited")
		}
	}
}
