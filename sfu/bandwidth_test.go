package sfu

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"meet/sfu/codec"
	"meet/sfu/sfuclient"
)

// cameraShare is a live three-layer camera at the rates a browser sends
// them (150 kbit/s, 500 kbit/s, 1.5 Mbit/s), its tile asking for want.
func cameraShare(want int, plan *layerPlan) videoShare {
	return videoShare{
		simulcast: true, want: want,
		rates: [maxLayers]int{150e3, 500e3, 1500e3},
		live:  [maxLayers]bool{true, true, true},
		area:  640 * 360, plan: plan,
	}
}

// TestPlanUnderChangingEstimate follows one large tile as its viewer's
// estimate falls and climbs back: down at once when the top layer no
// longer fits, never below the lowest layer, and up again only with
// headroom, after the hold, which doubles when a move up fails at once,
// and a layer at a time while congestion is recent.
func TestPlanUnderChangingEstimate(t *testing.T) {
	plan := newLayerPlan()
	now := time.Unix(1000, 0)
	const audio = 50e3
	step := func(estimate int, want int) {
		t.Helper()
		if got := plan.layer; got != want {
			t.Fatalf("at %v, estimate %d: layer %d, want %d", now.Sub(time.Unix(1000, 0)), estimate, got, want)
		}
	}
	tick := func(estimate int, d time.Duration) {
		now = now.Add(d)
		planBandwidth(now, linkState{estimate: estimate}, audio, []videoShare{cameraShare(2, plan)})
	}
	tick(2_500_000, 0)
	step(2_500_000, 2)
	// Just under what the top layer takes: within the margin, it stays.
	tick(1_500_000, time.Second)
	step(1_500_000, 2)
	// Well under: the middle layer.
	tick(900_000, time.Second)
	step(900_000, 1)
	// A capped link: the low layer, and never less, however low.
	tick(400_000, time.Second)
	step(400_000, 0)
	tick(100_000, time.Second)
	step(100_000, 0)
	// The estimate climbs back: no move up during the hold...
	tick(3_000_000, time.Second)
	step(3_000_000, 0)
	// ...and once it is over, one layer at a time, stepWait apart, as
	// bandwidth forced it down lately.
	tick(3_000_000, upHold)
	step(3_000_000, 1)
	tick(3_000_000, stepWait/2)
	step(3_000_000, 1)
	tick(3_000_000, stepWait/2)
	step(3_000_000, 2)
	// That move fails at once: down again, with a doubled hold.
	tick(400_000, time.Second)
	step(400_000, 0)
	tick(3_000_000, upHold)
	step(3_000_000, 0)
	tick(3_000_000, upHold)
	step(3_000_000, 1)
	tick(3_000_000, stepWait)
	step(3_000_000, 2)
	if plan.hold != 2*upHold {
		t.Errorf("hold after a failed move up: %v, want %v", plan.hold, 2*upHold)
	}
	// A move up that lasts: the next congestion holds for upHold again.
	tick(400_000, failWindow+time.Second)
	step(400_000, 0)
	if plan.hold != upHold {
		t.Errorf("hold after a lasting move up: %v, want %v", plan.hold, upHold)
	}
	// A minute later, with no congestion since, a move up goes straight
	// to the layer the tile asks for.
	tick(3_000_000, cautious)
	step(3_000_000, 2)
}

// TestPlanTrials: on a link that lost nothing lately, a video moves up
// beyond the estimate and keeps the layer while nothing is lost; a loss
// ends the trial at once and counts as a failed move up.
func TestPlanTrials(t *testing.T) {
	now := time.Unix(1000, 0)
	plan := newLayerPlan()
	plan.layer = 0
	quiet := linkState{estimate: 300_000, clean: true, quiet: true}
	planBandwidth(now, quiet, 0, []videoShare{cameraShare(2, plan)})
	if plan.layer != 2 {
		t.Fatalf("on a quiet link: layer %d, want a trial of 2", plan.layer)
	}
	// While nothing is lost the layer stays, although the estimate is
	// short of it.
	now = now.Add(5 * time.Second)
	planBandwidth(now, linkState{estimate: 300_000, clean: true}, 0, []videoShare{cameraShare(2, plan)})
	if plan.layer != 2 {
		t.Fatalf("on a clean link: layer %d, want 2", plan.layer)
	}

	// A loss ends a trial at once.
	plan = newLayerPlan()
	plan.layer = 0
	planBandwidth(now, quiet, 0, []videoShare{cameraShare(2, plan)})
	now = now.Add(bandwidthTick)
	planBandwidth(now, linkState{estimate: 300_000}, 0, []videoShare{cameraShare(2, plan)})
	if plan.layer != 0 {
		t.Fatalf("a trial with losses: layer %d, want 0", plan.layer)
	}
	if plan.hold != 2*upHold {
		t.Errorf("hold after a failed trial: %v, want %v", plan.hold, 2*upHold)
	}
	// No trial while losses are recent, even once the hold is over.
	now = now.Add(2 * upHold)
	planBandwidth(now, linkState{estimate: 300_000, clean: true}, 0, []videoShare{cameraShare(2, plan)})
	if plan.layer != 0 {
		t.Fatalf("a trial on a link not quiet yet: layer %d, want 0", plan.layer)
	}
	// The next trial, on a quiet link, goes a layer at a time.
	planBandwidth(now, quiet, 0, []videoShare{cameraShare(2, plan)})
	if plan.layer != 1 {
		t.Fatalf("the next trial: layer %d, want 1", plan.layer)
	}
}

// TestPlanHeadroomForMovingUp: a higher layer needs a tenth to spare over
// its rate, while the layer sent keeps going up to a quarter over.
func TestPlanHeadroomForMovingUp(t *testing.T) {
	now := time.Unix(1000, 0)
	plan := newLayerPlan()
	plan.layer = 1
	// 1.5 Mbit/s of budget exactly: the top layer would fit, but not with
	// the headroom to move up to it.
	planBandwidth(now, linkState{estimate: 1_500_000}, 0, []videoShare{cameraShare(2, plan)})
	if plan.layer != 1 {
		t.Fatalf("moved to layer %d with no headroom, want to stay on 1", plan.layer)
	}
	planBandwidth(now, linkState{estimate: 1_700_000}, 0, []videoShare{cameraShare(2, plan)})
	if plan.layer != 2 {
		t.Fatalf("layer %d with headroom, want 2", plan.layer)
	}
}

// TestPlanSharesByPriority: with room for one top layer, the pinned tile
// gets it before a larger one; a shared screen comes before cameras; the
// others get what is left, and a tile that asks for little never gets
// more.
func TestPlanSharesByPriority(t *testing.T) {
	now := time.Unix(1000, 0)
	large, pinned, small := newLayerPlan(), newLayerPlan(), newLayerPlan()
	videos := []videoShare{cameraShare(2, large), cameraShare(2, pinned), cameraShare(0, small)}
	videos[0].area = 1920 * 1080
	videos[1].pinned = true
	planBandwidth(now, linkState{estimate: 2_300_000}, 0, videos)
	if pinned.layer != 2 || large.layer != 1 || small.layer != 0 {
		t.Fatalf("layers pinned %d, large %d, small %d; want 2, 1, 0", pinned.layer, large.layer, small.layer)
	}

	screenPlan, cam := newLayerPlan(), newLayerPlan()
	screen := cameraShare(2, screenPlan)
	screen.screen, screen.area = true, 100
	planBandwidth(now, linkState{estimate: 1_800_000}, 0, []videoShare{cameraShare(2, cam), screen})
	if screenPlan.layer != 2 || cam.layer != 0 {
		t.Fatalf("layers screen %d, camera %d; want 2, 0", screenPlan.layer, cam.layer)
	}
}

// TestPlanSkipsLayersNotArriving: a layer the publisher stopped sending is
// not chosen, and a layer of unknown rate fits any budget.
func TestPlanSkipsLayersNotArriving(t *testing.T) {
	plan := newLayerPlan()
	v := cameraShare(2, plan)
	v.live[2] = false
	planBandwidth(time.Unix(1000, 0), linkState{estimate: 5_000_000}, 0, []videoShare{v})
	if plan.layer != 1 {
		t.Fatalf("layer %d with the top layer gone, want 1", plan.layer)
	}
	plan = newLayerPlan()
	v = cameraShare(2, plan)
	v.rates = [maxLayers]int{}
	planBandwidth(time.Unix(1000, 0), linkState{estimate: minBitrate}, 0, []videoShare{v})
	if plan.layer != 2 {
		t.Fatalf("layer %d with no rates known yet, want 2", plan.layer)
	}
}

// simulcastSender publishes a camera as three simulcast layers through
// Pion, writing numbered keyframe packets on each.
type simulcastSender struct {
	layers []*sfuclient.Layer
	seq    [3]uint16
	ts     uint32
}

func publishSimulcast(t *testing.T, c *testClient, source string) *simulcastSender {
	t.Helper()
	sim, err := sfuclient.NewSimulcast(codec.VP8(), source, "stream-"+source, "q", "h", "f")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PublishSimulcast(nil, map[string]*sfuclient.Simulcast{source: sim}); err != nil {
		t.Fatal(err)
	}
	return &simulcastSender{layers: sim.Layers()}
}

// send writes one packet carrying counter n on every layer.
func (s *simulcastSender) send(n uint32) {
	s.ts += 3000
	for i, l := range s.layers {
		payload := make([]byte, 200)
		payload[0] = 0x10 // VP8 descriptor: start of partition 0
		payload[1] = 0x00 // VP8 header: key frame
		binary.BigEndian.PutUint32(payload[4:], n)
		s.seq[i]++
		_ = l.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: s.seq[i], Timestamp: s.ts}, Payload: payload})
	}
}

// TestSubscriberEstimateFollowsFeedback: a subscriber that watches only
// videos of one layer is not estimated (its packets skip GCC and carry no
// transport-wide number); once it watches a simulcast video its estimate
// follows its TWCC feedback, while one that sends none stays at the start
// value.
func TestSubscriberEstimateFollowsFeedback(t *testing.T) {
	s := newTestSFU(t)
	room, _ := s.Room("bwe")
	simulcastAPI := mustAPI(sfuclient.Options{LoopbackOnly: true, Simulcast: true})
	alice := joinClientWith(t, room, "alice", simulcastAPI, nil)
	feedback := joinClientWith(t, room, "bob", mustAPI(sfuclient.Options{LoopbackOnly: true, TWCCFeedback: true}), nil)
	silent := joinClient(t, room, "carol")
	video := newSender(t, true, "cam")
	alice.publish(map[string]*webrtc.TrackLocalStaticRTP{"camera": video.track})
	warmUp(t, video, "alice|camera", feedback, silent)
	n := uint32(0)
	for range 100 { // a second: four bandwidth ticks
		_ = video.send(n)
		n++
		time.Sleep(10 * time.Millisecond)
	}
	if feedback.peer.bypass.estimating.Load() || feedback.peer.estimate.Load() != 0 {
		t.Errorf("a subscriber of one single-layer video is estimated (estimate %d)", feedback.peer.estimate.Load())
	}
	feedback.mu.Lock()
	extended, total := feedback.extended["alice|camera"], len(feedback.arrivals["alice|camera"])
	feedback.mu.Unlock()
	if extended != 0 {
		t.Errorf("%d of %d packets of a single-layer video carried a transport-wide number", extended, total)
	}
	if st := room.Stats(); st.DownlinkCount != 0 {
		t.Errorf("downlink histogram counts %d subscribers before any simulcast video, want 0", st.DownlinkCount)
	}

	dave := joinClientWith(t, room, "dave", simulcastAPI, nil)
	layered := publishSimulcast(t, dave, "camera")
	m := uint32(1 << 31)
	waitUntil(t, 20*time.Second, "the estimate to follow the feedback", func() bool {
		for range 10 {
			layered.send(m)
			_ = video.send(n)
			m++
			n++
			time.Sleep(2 * time.Millisecond)
		}
		e := feedback.peer.estimate.Load()
		return e != 0 && e != startBitrate
	})
	if e := silent.peer.estimate.Load(); e != startBitrate {
		t.Errorf("a subscriber that sends no feedback has an estimate of %d, want the start value %d", e, startBitrate)
	}
	t.Logf("estimate with feedback: %d bit/s after %d packets", feedback.peer.estimate.Load(), m-1<<31)
	feedback.mu.Lock()
	if feedback.extended["dave|camera"] == 0 || feedback.extended["alice|camera"] == extended {
		t.Errorf("once estimated, packets carry no transport-wide number: %d of dave's, %d more of alice's",
			feedback.extended["dave|camera"], feedback.extended["alice|camera"]-extended)
	}
	feedback.mu.Unlock()
	// Alice, Bob and Carol watch Dave's simulcast camera; Dave watches
	// only Alice's single-layer one.
	if st := room.Stats(); st.DownlinkCount != 3 {
		t.Errorf("downlink histogram counts %d subscribers, want 3", st.DownlinkCount)
	}
}

// TestEstimateMovesTheForwardedLayer: a downTrack follows what its plan
// allows as the estimate changes, moving at keyframes of the new layer
// with the numbering continuous across the moves.
func TestEstimateMovesTheForwardedLayer(t *testing.T) {
	up := testTrack(3)
	src := newSimulcastSource(up)
	d, w := testDown(up)
	defer d.close()
	src.all(t, false)
	src.frame(t, 0, true)
	src.frame(t, 2, true)
	src.all(t, false)
	if got := widthOf(t, w.wait(t, 1)[0]); got != 640 {
		t.Fatalf("started on a %d-wide layer, want the top (640)", got)
	}
	now := time.Unix(1000, 0)
	apply := func(estimate int) {
		v := cameraShare(int(d.desired.Load()), d.plan)
		planBandwidth(now, linkState{estimate: estimate}, 0, []videoShare{v})
		d.allowed.Store(int32(d.plan.layer))
	}
	// The estimate falls: the low layer, at its next keyframe.
	apply(300_000)
	src.all(t, false)
	if up.layer(0).lastKeyframe.Load() == 0 {
		t.Fatal("no keyframe was asked of the low layer")
	}
	src.frame(t, 0, true)
	src.all(t, false)
	// It climbs back: after the hold, one layer up.
	now = now.Add(upHold)
	apply(3_000_000)
	src.frame(t, 1, true)
	src.all(t, false)
	sent := w.wait(t, 7)
	if len(sent) != 7 {
		t.Fatalf("%d packets sent, want 7", len(sent))
	}
	// The keyframes: the top layer's, the low one's, the middle one's.
	for i, want := range map[int]int{0: 640, 3: 160, 5: 320} {
		if got := widthOf(t, sent[i]); got != want {
			t.Fatalf("packet %d of a %d-wide layer, want %d", i, got, want)
		}
	}
	checkContinuous(t, sent)
}
