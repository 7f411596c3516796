package sfu

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// TestOneOfferForCameraAndMicrophone: a viewer already in the room when a
// publisher adds camera and microphone together gets one subscribe offer
// that carries both, not one per track; a screen added later is one more.
func TestOneOfferForCameraAndMicrophone(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("coalesce")
	viewer := joinClient(t, room, "viewer")
	pub := joinClient(t, room, "alice")
	audio := newSender(t, false, "mic")
	video := newSender(t, true, "cam")
	pub.publish(map[string]*webrtc.TrackLocalStaticRTP{"microphone": audio.track, "camera": video.track})
	n := uint32(1 << 31)
	waitUntil(t, 20*time.Second, "the viewer to receive camera and microphone", func() bool {
		_ = audio.send(n)
		_ = video.send(n)
		n++
		return len(viewer.got("alice|microphone")) > 0 && len(viewer.got("alice|camera")) > 0
	})
	if got := viewer.peer.Offers(); got != 1 {
		t.Fatalf("the viewer got %d subscribe offers for camera and microphone published together, want 1", got)
	}
	if got := pub.peer.Offers(); got != 0 {
		t.Fatalf("the publisher got %d subscribe offers with nothing to receive, want 0", got)
	}

	screen := newSender(t, true, "screen")
	pub.publish(map[string]*webrtc.TrackLocalStaticRTP{"screen": screen.track})
	warmUp(t, screen, "alice|screen", viewer)
	if got := viewer.peer.Offers(); got != 2 {
		t.Fatalf("the viewer got %d subscribe offers after a screen was added, want 2", got)
	}

	start := time.Now()
	late := joinClient(t, room, "late")
	waitUntil(t, 10*time.Second, "the late joiner's first offer", func() bool { return late.peer.Offers() > 0 })
	t.Logf("join to first offer: %s", time.Since(start))
}
