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

// TestSkippingVideoAsksUntilAKeyframe: a video that skips to its next
// keyframe after a late packet asks for one; when the track's budget
// refuses that request (another subscriber's went just before), a later
// drop asks again once the budget allows, instead of the video waiting for
// a keyframe nobody asked for. The keyframe ends the skip.
func TestSkippingVideoAsksUntilAKeyframe(t *testing.T) {
	up := testTrack(1)
	d, _ := testDown(up)
	defer d.close()
	c := countRequests(up)
	now := time.Now().UnixNano()
	if !up.layer(0).askKeyframe(now, false) || c.poll() != 1 {
		t.Fatal("the first request to the track was refused")
	}
	var late lateSkip
	if !late.drop(d, &queued{p: &packet{}, since: now - int64(2*maxQueueAge), seq: 1}) {
		t.Fatal("a late packet was sent")
	}
	if n := c.poll(); n != 1 {
		t.Fatalf("%d requests: the budget let a second one go at once", n)
	}
	c.age(keyframeInterval) // an urgent request may go now
	if !late.drop(d, &queued{p: &packet{}, since: time.Now().UnixNano(), seq: 2}) {
		t.Fatal("a packet before the keyframe was sent")
	}
	if n := c.poll(); n != 2 {
		t.Fatalf("%d requests once the budget allowed another, want 2: the skipping video did not ask again", n)
	}
	if late.drop(d, &queued{p: &packet{keyframe: true}, since: time.Now().UnixNano(), seq: 3}) {
		t.Fatal("the keyframe was dropped")
	}
	if late.drop(d, &queued{p: &packet{}, since: time.Now().UnixNano(), seq: 4}) {
		t.Fatal("a fresh packet after the keyframe was dropped")
	}
}
