package sfu

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// sendVP8 writes one packet carrying counter n, starting a keyframe or
// continuing a frame.
func sendVP8(s *sender, n uint32, keyframe bool) error {
	payload := make([]byte, 200)
	if keyframe {
		payload[0], payload[1] = 0x10, 0x00 // start of partition 0, key frame
	} else {
		payload[0], payload[1] = 0x10, 0x01 // start of partition 0, inter frame
	}
	binary.BigEndian.PutUint32(payload[4:], n)
	s.seq++
	s.ts += 3000
	return s.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: s.seq, Timestamp: s.ts}, Payload: payload})
}

// TestNewSubscriberStartsFromTheCachedKeyframe checks that a subscriber
// who joins after the publisher's last keyframe gets that keyframe and the
// frames since, from the cache, with no new keyframe from the publisher
// (this publisher never sends another), however long ago it came.
func TestNewSubscriberStartsFromTheCachedKeyframe(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("replay")
	pub := joinClient(t, room, "alice")
	first := joinClient(t, room, "bob")
	video := newSender(t, true, "cam")
	pub.publish(map[string]*webrtc.TrackLocalStaticRTP{"camera": video.track})
	key := "alice|camera"
	// Bob's subscription shows the track is forwarded; then one keyframe
	// and inter frames only.
	n := uint32(1 << 31)
	waitUntil(t, 20*time.Second, "bob to receive", func() bool {
		_ = sendVP8(video, n, true)
		n++
		return len(first.got(key)) > 0
	})
	if err := sendVP8(video, 0, true); err != nil {
		t.Fatal(err)
	}
	for i := uint32(1); i <= 3; i++ {
		_ = sendVP8(video, i, false)
	}
	// The cached keyframe is older than a queue may hold a packet
	// (maxQueueAge): a replay is as fresh as the packet that starts it.
	time.Sleep(maxQueueAge + 100*time.Millisecond)

	carol := joinClient(t, room, "carol")
	i := uint32(4)
	waitUntil(t, 20*time.Second, "carol to receive", func() bool {
		_ = sendVP8(video, i, false)
		i++
		time.Sleep(10 * time.Millisecond)
		return len(carol.got(key)) >= 5
	})
	got := carol.got(key)
	for j, v := range got[:5] {
		if v != uint32(j) {
			t.Fatalf("carol received %v: want the keyframe (0) and every frame since, in order", got)
		}
	}
	if st := s.Totals(); st.Replays == 0 {
		t.Fatalf("no start from the cache counted: %+v", st)
	}
}
