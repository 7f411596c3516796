package sfu

import "testing"

// TestCountersAddUp: every counter reaches its own Stats field, a retired
// subscription's counts move to the totals, and Stats.Add sums every field.
func TestCountersAddUp(t *testing.T) {
	var c counters
	var want Stats
	for i, f := range c.fields(&want) {
		f.counter.Add(uint64(i + 1))
		*f.stat = uint64(i + 1)
	}
	var got Stats
	c.addTo(&got)
	if got != want {
		t.Fatalf("addTo = %+v, want %+v", got, want)
	}
	var totals counters
	c.retire(&totals)
	c.retire(&totals)
	var twice Stats
	totals.addTo(&twice)
	sum := want
	sum.Add(want)
	if twice != sum {
		t.Fatalf("two retirements = %+v, want %+v", twice, sum)
	}
	a := Stats{Peers: 2, Tracks: 3, Sent: 5, Replays: 1}
	a.Add(Stats{Peers: 1, Tracks: 1, Sent: 7, PLIs: 4})
	if a != (Stats{Peers: 3, Tracks: 4, Sent: 12, PLIs: 4, Replays: 1}) {
		t.Fatalf("Stats.Add = %+v", a)
	}
	// Each field has its own counter: no two counters share a field.
	seen := map[*uint64]bool{}
	for _, f := range c.fields(&got) {
		if seen[f.stat] {
			t.Fatal("two counters report to one Stats field")
		}
		seen[f.stat] = true
	}
}
