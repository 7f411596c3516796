package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// TestNACKIsAnsweredFromTheTrackCache checks that a subscriber's NACK gets
// the lost packet again, with the sequence number that subscriber knows it
// by, from the publisher's track cache; and that NACKs and PLIs are
// counted.
func TestNACKIsAnsweredFromTheTrackCache(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("nack")
	pub := joinClient(t, room, "alice")
	// The subscriber got the packet it NACKs (loopback loses nothing), so
	// its SRTP replay protection would drop the copy: this one has none.
	sub := joinClientWith(t, room, "bob", replayingAPI(), nil)
	const key = "alice|camera"
	video := newSender(t, true, "cam")
	pub.publish(map[string]*webrtc.TrackLocalStaticRTP{"camera": video.track})
	n := uint32(0)
	waitUntil(t, 20*time.Second, "video at the subscriber", func() bool {
		_ = video.send(n)
		n++
		arrivals, _ := sub.received(key)
		return len(arrivals) >= 5
	})

	arrivals, media := sub.received(key)
	lost := arrivals[2]
	if err := sub.Subscriber().WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{
		MediaSSRC: media,
		Nacks:     rtcp.NackPairsFromSequenceNumbers([]uint16{lost.seq}),
	}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the NACKed packet again", func() bool {
		arrivals, _ := sub.received(key)
		seen := 0
		for _, a := range arrivals {
			if a.seq == lost.seq {
				if a.counter != lost.counter {
					t.Fatalf("seq %d came back carrying %d, want %d", a.seq, a.counter, lost.counter)
				}
				seen++
			}
		}
		return seen == 2
	})
	waitUntil(t, 5*time.Second, "the NACK counters", func() bool {
		st := s.Totals()
		return st.NACKs == 1 && st.Resent == 1
	})

	// A keyframe request is counted and passed on to the publisher.
	before := s.Totals().Keyframes
	time.Sleep(pliInterval) // a PLI is passed on only this long after the last request
	if err := sub.Subscriber().WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: media}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "the PLI counters", func() bool {
		st := s.Totals()
		return st.PLIs == 1 && st.Keyframes > before
	})
}
