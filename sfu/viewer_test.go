package sfu

import (
	"context"
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"meet/sfu/sfuclient"
)

// joinPlayer joins the room as a viewer of stage with a Go WHEP player.
func joinPlayer(t *testing.T, room *Room, id string, stage []string) (*sfuclient.Player, *Viewer) {
	t.Helper()
	player, err := sfuclient.NewPlayer(loopbackAPI(), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = player.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, answer, err := room.JoinViewer(ctx, id, player.Offer(), stage)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	if err := player.Answer(answer); err != nil {
		t.Fatal(err)
	}
	return player, v
}

// counterOf is the number a test sender wrote in a packet.
func counterOf(p rtp.Packet) uint32 { return binary.BigEndian.Uint32(p.Payload[4:]) }

// TestViewerFollowsTheStage checks a WHEP viewer: it gets the first stage
// member's camera, then, when the stage changes, the next one's camera and
// sound on the same tracks, with sequence numbers and timestamps that go on
// without a jump, and never the old source again once the new one is on.
// Closing the viewer unsubscribes it.
func TestViewerFollowsTheStage(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("whep")
	alice := joinClient(t, room, "alice")
	bob := joinClient(t, room, "bob")
	aliceCam := newSender(t, true, "a-cam")
	bobCam, bobMic := newSender(t, true, "b-cam"), newSender(t, false, "b-mic")
	alice.publish(map[string]*webrtc.TrackLocalStaticRTP{"camera": aliceCam.track})
	bob.publish(map[string]*webrtc.TrackLocalStaticRTP{"camera": bobCam.track, "microphone": bobMic.track})

	// Alice's counters count up from 0, Bob's from 1<<30.
	var n uint32
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			n++
			_ = aliceCam.send(n)
			_ = bobCam.send(1<<30 + n)
			_ = bobMic.send(1<<30 + n)
		}
	}()
	defer func() { close(stop); <-done }()

	player, viewer := joinPlayer(t, room, "viewer", []string{"alice"})
	video := webrtc.RTPCodecTypeVideo
	waitUntil(t, 20*time.Second, "the viewer to get Alice's camera", func() bool { return len(player.Packets(video)) >= 20 })
	if got := player.Packets(webrtc.RTPCodecTypeAudio); len(got) > 0 {
		t.Fatalf("Alice has no microphone, yet the viewer got %d sound packets", len(got))
	}

	viewer.Follow([]string{"bob"})
	waitUntil(t, 20*time.Second, "the viewer to get Bob's camera and sound", func() bool {
		got := player.Packets(video)
		return counterOf(got[len(got)-1]) >= 1<<30 && len(player.Packets(webrtc.RTPCodecTypeAudio)) >= 20
	})
	checkOneStream(t, player.Packets(video))
	checkOneStream(t, player.Packets(webrtc.RTPCodecTypeAudio))

	viewer.Close()
	waitUntil(t, 5*time.Second, "the viewer's subscriptions to end", func() bool {
		room.mu.Lock()
		defer room.mu.Unlock()
		for _, up := range room.tracks {
			for _, d := range *up.downs.Load() {
				if d.subscriber.id == "viewer" {
					return false
				}
			}
		}
		return true
	})
}

// checkOneStream checks that packets form one stream across a move from
// Alice's source to Bob's: in the order of their sequence numbers, no gap
// but the few a lost packet leaves (a busy loopback can drop one, and a
// NACK brings it back out of order), timestamps that never go back, one
// SSRC, and no packet of Alice's after Bob's first. Sources that were not
// renumbered would jump by thousands.
func checkOneStream(t *testing.T, got []rtp.Packet) {
	t.Helper()
	if len(got) == 0 {
		t.Fatal("nothing arrived")
	}
	bySeq := map[int]rtp.Packet{}
	first := got[0].SequenceNumber
	for _, p := range got {
		if p.SSRC != got[0].SSRC {
			t.Fatalf("SSRC changes from %d to %d", got[0].SSRC, p.SSRC)
		}
		bySeq[int(int16(p.SequenceNumber-first))] = p
	}
	seqs := slices.Sorted(maps.Keys(bySeq))
	bobs := false
	for i, seq := range seqs {
		p := bySeq[seq]
		fromBob := counterOf(p) >= 1<<30
		if bobs && !fromBob {
			t.Fatalf("packet %d (counter %d) is Alice's, after Bob's had started", seq, counterOf(p))
		}
		bobs = bobs || fromBob
		if i == 0 {
			continue
		}
		prev := bySeq[seqs[i-1]]
		if seq-seqs[i-1] > 3 {
			t.Fatalf("sequence numbers jump from %d to %d", prev.SequenceNumber, p.SequenceNumber)
		}
		if int32(p.Timestamp-prev.Timestamp) <= 0 {
			t.Fatalf("timestamp goes from %d to %d at sequence number %d", prev.Timestamp, p.Timestamp, p.SequenceNumber)
		}
	}
	if !bobs {
		t.Fatal("nothing of Bob's arrived")
	}
}

// TestViewerPicksTheScreenFirst checks whom a viewer shows: the first
// stage member sharing a screen, else the first with a camera; the first
// with a microphone.
func TestViewerPicksTheScreenFirst(t *testing.T) {
	a, b := &Peer{id: "a"}, &Peer{id: "b"}
	aCam := &upTrack{publisher: a, source: "camera"}
	bCam := &upTrack{publisher: b, source: "camera"}
	bScreen := &upTrack{publisher: b, source: "screen"}
	bMic := &upTrack{publisher: b, source: "microphone"}
	tracks := []*upTrack{aCam, bCam, bScreen, bMic}
	if got := pickTrack(tracks, []string{"a", "b"}, "screen"); got != bScreen {
		t.Errorf("screen: got %v, want b's", got)
	}
	if got := pickTrack(tracks, []string{"a", "b"}, "camera"); got != aCam {
		t.Errorf("camera: got %v, want a's (first on stage)", got)
	}
	if got := pickTrack(tracks, []string{"a"}, "microphone"); got != nil {
		t.Errorf("microphone: got %v, want none (a has none)", got)
	}
	if got := pickTrack(tracks, nil, "camera"); got != nil {
		t.Errorf("empty stage: got %v, want none", got)
	}
}

// TestViewerRefusesWhatItCannotPlay checks the offers a viewer refuses.
func TestViewerRefusesWhatItCannotPlay(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("whep-bad")
	ctx := context.Background()
	if _, _, err := room.JoinViewer(ctx, "v1", "not sdp", nil); err == nil {
		t.Error("a body that is not SDP was taken")
	}
	h264 := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\na=rtpmap:102 H264/90000\r\n"
	if _, _, err := room.JoinViewer(ctx, "v2", h264, nil); !errors.Is(err, ErrNothingToReceive) {
		t.Errorf("an H.264-only offer: got %v, want ErrNothingToReceive", err)
	}
	room.mu.Lock()
	peers := len(room.peers)
	room.mu.Unlock()
	if peers != 0 {
		t.Errorf("%d peers left behind by refused offers", peers)
	}
}
