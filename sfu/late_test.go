package sfu

import (
	"testing"
	"time"
)

// TestLatePacketsAreDropped checks the writer's age limit: a packet that
// waited longer than maxQueueAge is dropped; a video then drops everything
// up to its next keyframe, sound nothing more; the packets sent after a
// drop are renumbered to follow the last one sent without a gap; each
// drop is counted.
func TestLatePacketsAreDropped(t *testing.T) {
	now := time.Now().UnixNano()
	fresh, old := now, now-int64(2*maxQueueAge)
	type step struct {
		arrival  int64
		keyframe bool
		sent     int // the number it goes out with, -1 when dropped
	}
	cases := map[bool][]step{
		false: { // sound
			{fresh, false, 10}, {old, false, -1}, {fresh, false, 11}, {fresh, true, 12}, {fresh, false, 13},
		},
		true: { // video: after a late packet, nothing until a keyframe
			{fresh, false, 10}, {old, false, -1}, {fresh, false, -1}, {fresh, true, 11}, {fresh, false, 12},
		},
	}
	for video, steps := range cases {
		d := &downTrack{up: &upTrack{video: video}}
		var late lateSkip
		drops := 0
		for i, s := range steps {
			q := &queued{p: &packet{keyframe: s.keyframe}, since: s.arrival, seq: uint16(10 + i)}
			dropped := late.drop(d, q)
			switch {
			case dropped != (s.sent < 0):
				t.Fatalf("video %v, packet %d: dropped %v, want it sent as %d", video, i, dropped, s.sent)
			case dropped:
				drops++
			case int(q.seq) != s.sent:
				t.Errorf("video %v, packet %d: sent as %d, want %d", video, i, q.seq, s.sent)
			}
		}
		if got := d.late.Load(); got != uint64(drops) {
			t.Errorf("video %v: %d late drops counted, want %d", video, got, drops)
		}
	}
}
