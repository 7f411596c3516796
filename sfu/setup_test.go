package sfu

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"meet/protocol"
	"meet/sfu/sfuclient"
)

// slowJoiner is a subscriber whose client starts answering only after a
// delay (a slow network), or never; it notes when the SFU sent it its
// first subscribe offer.
type slowJoiner struct {
	mu        sync.Mutex
	offeredAt time.Time
}

// never is the delay of a client that never answers.
const never = time.Duration(-1)

func joinSlow(t *testing.T, room *Room, id string, delay time.Duration) *slowJoiner {
	t.Helper()
	j := &slowJoiner{}
	in := make(chan protocol.SFU, 64)
	peer, err := room.Join(id, func(b []byte) {
		var m protocol.SFU
		if json.Unmarshal(b, &m) != nil {
			t.Errorf("the SFU sent %q", b)
			return
		}
		if m.Kind == protocol.KindOffer {
			j.mu.Lock()
			if j.offeredAt.IsZero() {
				j.offeredAt = time.Now()
			}
			j.mu.Unlock()
		}
		in <- m
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(peer.Close)
	if delay == never {
		return j
	}
	client, err := sfuclient.New(sfuclient.Config{
		API:  loopbackAPI(),
		Send: func(m protocol.SFU) error { _ = peer.HandleSignal(&m); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	go func() {
		time.Sleep(delay)
		for m := range in {
			_ = client.Handle(m)
		}
	}()
	return j
}

func (j *slowJoiner) offered() time.Time {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.offeredAt
}

// gatedRoom is a room on an SFU with one setup slot, held for hold, and
// a publisher in it, so that every joiner gets a subscribe offer.
func gatedRoom(t *testing.T, hold time.Duration) *Room {
	t.Helper()
	s := newTestSFU(t)
	s.setup = newConnSetup(1, hold)
	room, _ := s.Room("gate")
	pub := joinClient(t, room, "teacher")
	video := newSender(t, true, "cam")
	pub.publish(map[string]*webrtc.TrackLocalStaticRTP{"camera": video.track})
	probe := joinClient(t, room, "probe")
	warmUp(t, video, "teacher|camera", probe)
	return room
}

// offerGap waits for both joiners' first offers and returns the time
// between them.
func offerGap(t *testing.T, first, next *slowJoiner) time.Duration {
	t.Helper()
	waitUntil(t, 20*time.Second, "both joiners' offers", func() bool {
		return !first.offered().IsZero() && !next.offered().IsZero()
	})
	return next.offered().Sub(first.offered())
}

// TestSetupSlotHeldForTheHandshake: a joiner keeps its setup slot after
// its first offer until its subscribe connection connects, so that the
// crowd behind it waits instead of sharing the cores with its handshake.
// The hold is an hour here: the next joiner gets its offer only because
// the first one connected.
func TestSetupSlotHeldForTheHandshake(t *testing.T) {
	const delay = 300 * time.Millisecond
	room := gatedRoom(t, time.Hour)
	first := joinSlow(t, room, "first", delay)
	waitUntil(t, 20*time.Second, "the first joiner's offer", func() bool { return !first.offered().IsZero() })
	next := joinSlow(t, room, "next", 0)
	if gap := offerGap(t, first, next); gap < delay {
		t.Fatalf("the next joiner got its offer %s after the first, whose client answered only after %s: the slot was not held through the handshake", gap, delay)
	}
}

// TestSetupSlotHeldNoLongerThanTheHold: a joiner that never answers its
// offer (a client gone, or a network slower than the hold) keeps its slot
// for the hold and then lets the next joiner through.
func TestSetupSlotHeldNoLongerThanTheHold(t *testing.T) {
	const hold = 400 * time.Millisecond
	room := gatedRoom(t, hold)
	silent := joinSlow(t, room, "silent", never)
	waitUntil(t, 20*time.Second, "the silent joiner's offer", func() bool { return !silent.offered().IsZero() })
	next := joinSlow(t, room, "next", 0)
	if gap := offerGap(t, silent, next); gap < hold {
		t.Fatalf("the next joiner got its offer %s after the silent one's, within the silent one's hold of %s", gap, hold)
	}
}
