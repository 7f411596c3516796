package sfu

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// warmUp sends packets numbered from 1<<31 until every subscriber has
// received one, so that what follows is measured on live subscriptions.
func warmUp(t *testing.T, s *sender, key string, subs ...*testClient) {
	t.Helper()
	n := uint32(1 << 31)
	waitUntil(t, 20*time.Second, "every subscriber to receive "+key, func() bool {
		_ = s.send(n)
		n++
		for _, c := range subs {
			if len(c.got(key)) == 0 {
				return false
			}
		}
		return true
	})
}

// numbered keeps only the counters below 1<<31: the measured packets.
func numbered(all []uint32) []uint32 {
	var out []uint32
	for _, v := range all {
		if v < 1<<31 {
			out = append(out, v)
		}
	}
	return out
}

func checkInOrder(t *testing.T, name string, got []uint32, want int) {
	t.Helper()
	if len(got) != want {
		t.Fatalf("%s received %d of %d packets", name, len(got), want)
	}
	for i, v := range got {
		if v != uint32(i) {
			t.Fatalf("%s: packet %d is %d: out of order or lost", name, i, v)
		}
	}
}

func TestOnePublisherManySubscribersInOrderNoLoss(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("r1")
	pub := joinClient(t, room, "alice")
	subs := []*testClient{
		joinClient(t, room, "bob"),
		joinClient(t, room, "carol"),
		joinClient(t, room, "dave"),
	}
	audio := newSender(t, false, "mic")
	video := newSender(t, true, "cam")
	pub.publish(map[string]*webrtc.TrackLocalStaticRTP{"microphone": audio.track, "camera": video.track})

	warmUp(t, audio, "alice|microphone", subs...)
	warmUp(t, video, "alice|camera", subs...)

	const packets = 300
	for i := uint32(0); i < packets; i++ {
		if err := audio.send(i); err != nil {
			t.Fatal(err)
		}
		if err := video.send(i); err != nil {
			t.Fatal(err)
		}
		// A camera's pace, roughly: fast enough to finish quickly, slow
		// enough that a -race build's pauses never overflow a socket.
		time.Sleep(4 * time.Millisecond)
	}
	for _, c := range subs {
		waitUntil(t, 10*time.Second, "all packets", func() bool {
			return len(numbered(c.got("alice|microphone"))) >= packets && len(numbered(c.got("alice|camera"))) >= packets
		})
		checkInOrder(t, c.peer.id+" audio", numbered(c.got("alice|microphone")), packets)
		checkInOrder(t, c.peer.id+" video", numbered(c.got("alice|camera")), packets)
	}
	if got := len(pub.got("alice|camera")); got != 0 {
		t.Fatalf("the publisher received its own track: %d packets", got)
	}
	st := room.Stats()
	if st.Peers != 4 || st.Tracks != 2 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestPauseResumeUnpublish(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("r2")
	pub := joinClient(t, room, "alice")
	sub := joinClient(t, room, "bob")
	cam := newSender(t, true, "cam")
	pub.publish(map[string]*webrtc.TrackLocalStaticRTP{"camera": cam.track})
	warmUp(t, cam, "alice|camera", sub)

	pub.peer.SetPaused("camera", true)
	before := room.Stats()
	for i := uint32(0); i < 50; i++ {
		_ = cam.send(i)
		time.Sleep(time.Millisecond)
	}
	// The SFU counts a packet read once it has handed it to, or dropped it
	// for, every subscriber: then the paused ones must all be dropped.
	waitUntil(t, 5*time.Second, "the SFU to read the packets sent while paused", func() bool {
		return room.Stats().Forwarded >= before.Forwarded+50
	})
	if st := room.Stats(); st.Dropped < before.Dropped+50 {
		t.Fatalf("a paused track dropped %d of the 50 packets sent to it", st.Dropped-before.Dropped)
	}
	if got := numbered(sub.got("alice|camera")); len(got) != 0 {
		t.Fatalf("a paused track forwarded %d packets", len(got))
	}

	pub.peer.SetPaused("camera", false)
	for i := uint32(50); i < 100; i++ {
		_ = cam.send(i)
		time.Sleep(time.Millisecond)
	}
	waitUntil(t, 5*time.Second, "packets after resume", func() bool { return len(numbered(sub.got("alice|camera"))) >= 50 })
	for _, v := range numbered(sub.got("alice|camera")) {
		if v < 50 {
			t.Fatalf("packet %d sent while paused arrived after resume", v)
		}
	}

	pub.peer.Unpublish("camera")
	waitUntil(t, 5*time.Second, "the subscriber's track to end", func() bool { return sub.Ended("alice|camera") })
	if st := room.Stats(); st.Tracks != 0 {
		t.Fatalf("tracks after unpublish = %d", st.Tracks)
	}
}

// TestStalledSubscriberDoesNotSlowOthers has one subscriber that never
// reads: the others must still get every packet, in order.
func TestStalledSubscriberDoesNotSlowOthers(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("r3")
	pub := joinClient(t, room, "alice")
	stalled := joinStalledClient(t, room, "stalled")
	good := []*testClient{joinClient(t, room, "bob"), joinClient(t, room, "carol")}
	_ = stalled
	audio := newSender(t, false, "mic")
	pub.publish(map[string]*webrtc.TrackLocalStaticRTP{"microphone": audio.track})
	warmUp(t, audio, "alice|microphone", good...)

	const packets = 500
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint32(0); i < packets; i++ {
			_ = audio.send(i)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	wg.Wait()
	for _, c := range good {
		waitUntil(t, 10*time.Second, "all packets at "+c.peer.id, func() bool {
			return len(numbered(c.got("alice|microphone"))) >= packets
		})
		checkInOrder(t, c.peer.id, numbered(c.got("alice|microphone")), packets)
	}
}

func TestLateJoinerGetsExistingTracks(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("r4")
	pub := joinClient(t, room, "alice")
	cam := newSender(t, true, "cam")
	pub.publish(map[string]*webrtc.TrackLocalStaticRTP{"camera": cam.track})
	// Nobody subscribes yet; a late joiner must still get the track.
	late := joinClient(t, room, "late")
	warmUp(t, cam, "alice|camera", late)

	late.peer.Close()
	waitUntil(t, 5*time.Second, "the room to drop the leaver", func() bool { return room.Stats().Peers == 1 })
}

// TestPausedBeforePublishStaysPaused covers a camera paused while the room
// was mesh: the publisher's word arrives before its track reaches the SFU,
// and the track must start paused, then resume on the next word.
func TestPausedBeforePublishStaysPaused(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("r5")
	pub := joinClient(t, room, "alice")
	sub := joinClient(t, room, "bob")
	pub.peer.SetPaused("camera", true)
	cam := newSender(t, true, "cam")
	pub.publish(map[string]*webrtc.TrackLocalStaticRTP{"camera": cam.track})
	var up *upTrack
	waitUntil(t, 10*time.Second, "the camera to reach the SFU", func() bool {
		_ = cam.send(1 << 31)
		room.mu.Lock()
		defer room.mu.Unlock()
		if len(room.tracks) == 1 {
			up = room.tracks[0]
		}
		return up != nil
	})
	if !up.paused.Load() {
		t.Fatal("a camera paused before it was published forwards")
	}
	pub.peer.SetPaused("camera", false)
	warmUp(t, cam, "alice|camera", sub)
}

// TestJoinAfterTheRoomWasForgotten covers a join that raced with the last
// leave: the registry dropped the room, and the joiner must land in the
// registry's room, not in the dropped one where nobody would find it.
func TestJoinAfterTheRoomWasForgotten(t *testing.T) {
	s := newTestSFU(t)
	stale, _ := s.Room("r6")
	first, err := stale.Join("alice", func([]byte) {})
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	second, err := stale.Join("bob", func([]byte) {})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	live, _ := s.Room("r6")
	if live == stale {
		t.Fatal("the emptied room is still registered")
	}
	if second.room != live || live.Stats().Peers != 1 {
		t.Fatalf("the joiner is in %p, the registry's room is %p with %d peers", second.room, live, live.Stats().Peers)
	}
}
