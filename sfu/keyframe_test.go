package sfu

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// requestCount counts the keyframe requests made to a track: each one
// moves its budget's last on (uptrack.go), which only ever grows but when
// a test ages it.
type requestCount struct {
	up   *upTrack
	last int64
	n    int
}

func countRequests(up *upTrack) *requestCount {
	return &requestCount{up: up, last: up.keyframeBudget.last.Load()}
}

// poll notes a request made since the last poll (at most one).
func (c *requestCount) poll() int {
	if v := c.up.keyframeBudget.last.Load(); v != c.last {
		c.last = v
		c.n++
	}
	return c.n
}

// age makes the budget, and the times of the requests and keyframes, as
// they will be d later.
func (c *requestCount) age(d time.Duration) {
	c.poll()
	c.up.keyframeBudget.next.Add(-int64(d))
	c.last = c.up.keyframeBudget.last.Add(-int64(d))
	for i := range maxLayers {
		if l := c.up.layer(i); l != nil {
			for _, at := range []*atomic.Int64{&l.lastKeyframe, &l.keyframeAt} {
				if at.Load() != 0 {
					at.Add(-int64(d))
				}
			}
		}
	}
}

// reset makes the budget as it is long after the last request.
func (c *requestCount) reset() {
	c.poll()
	c.up.keyframeBudget.next.Store(0)
	c.up.keyframeBudget.last.Store(0)
	c.last = 0
}

// currentLayer is the layer d forwards.
func currentLayer(d *downTrack) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.current
}

// TestKeyframeBudgetSpacing: ordinary requests to a track go at most one
// per pliInterval; an urgent one may go keyframeInterval after the last
// and borrows from the next interval; in any window of T there are at
// most T/pliInterval+1 ordinary requests, and one more with urgent ones.
func TestKeyframeBudgetSpacing(t *testing.T) {
	var b keyframeBudget
	t0 := time.Unix(1000, 0).UnixNano()
	at := func(d time.Duration) int64 { return t0 + int64(d) }
	for _, c := range []struct {
		at     time.Duration
		urgent bool
		want   bool
	}{
		{0, false, true},
		{keyframeInterval - time.Millisecond, true, false},
		{keyframeInterval, true, true}, // borrows: the next ordinary one waits till 4 s
		{pliInterval - time.Millisecond, false, false},
		{pliInterval, false, false},
		{2500*time.Millisecond - time.Millisecond, true, false},
		{2500 * time.Millisecond, true, true}, // 1.5 s before 4 s: borrows again, till 6 s
		{2*pliInterval - time.Millisecond, false, false},
		{3*pliInterval - time.Millisecond, false, false},
		{3 * pliInterval, false, true},
		{4*pliInterval - time.Millisecond, false, false},
		{4 * pliInterval, false, true},
	} {
		if got := b.take(at(c.at), c.urgent); got != c.want {
			t.Fatalf("request at %s (urgent %v): %v, want %v", c.at, c.urgent, got, c.want)
		}
	}

	// Wishes every 50 ms for two minutes, every 13th urgent or none.
	for _, urgentEvery := range []int{0, 13} {
		var b keyframeBudget
		var sent []int64
		for i := range 2400 {
			now := at(time.Duration(i) * 50 * time.Millisecond)
			if b.take(now, urgentEvery > 0 && i%urgentEvery == 0) {
				sent = append(sent, now)
			}
		}
		extra, spacing := 1, pliInterval
		if urgentEvery > 0 {
			extra, spacing = 2, keyframeInterval
		}
		window := 31 * time.Second
		for i := range sent {
			if i > 0 && sent[i]-sent[i-1] < int64(spacing) {
				t.Fatalf("urgent every %d: requests %s apart", urgentEvery, time.Duration(sent[i]-sent[i-1]))
			}
			n := 0
			for j := i; j < len(sent) && sent[j]-sent[i] <= int64(window); j++ {
				n++
			}
			if limit := int(window/pliInterval) + extra; n > limit {
				t.Fatalf("urgent every %d: %d requests in %s, want at most %d", urgentEvery, n, window, limit)
			}
		}
		if n, limit := len(sent), int(2*time.Minute/pliInterval)+extra; n > limit {
			t.Fatalf("urgent every %d: %d requests in 2 minutes, want at most %d", urgentEvery, n, limit)
		}
	}
}

// TestFirstPicturesWhileTheBudgetIsSpent: once ordinary and urgent
// requests have spent the budget, a subscriber's first picture is still
// asked for keyframeInterval after the last request of any kind, never
// sooner, and ordinary requests wait no longer than pliInterval after the
// last of them.
func TestFirstPicturesWhileTheBudgetIsSpent(t *testing.T) {
	var b keyframeBudget
	t0 := time.Unix(1000, 0).UnixNano()
	at := func(d time.Duration) int64 { return t0 + int64(d) }
	ms := time.Millisecond
	for _, c := range []struct {
		at          time.Duration
		kind        string
		want        bool
		nextAtMost  time.Duration // 0: not checked
		description string
	}{
		{0, "ordinary", true, 0, ""},
		{500 * ms, "urgent", true, 4000 * ms, "borrows: the next ordinary one waits till 4 s"},
		{1000 * ms, "urgent", false, 0, "the budget is spent"},
		{999 * ms, "first", false, 0, "less than keyframeInterval after the last"},
		{1000 * ms, "first", true, 4000 * ms, "keyframeInterval after the last, without borrowing"},
		{1400 * ms, "first", false, 0, ""},
		{1500 * ms, "first", true, 4000 * ms, ""},
		{3999 * ms, "ordinary", false, 0, ""},
		{4000 * ms, "ordinary", true, 6000 * ms, ""},
	} {
		var got bool
		switch c.kind {
		case "first":
			got = b.takeFirst(at(c.at))
		default:
			got = b.take(at(c.at), c.kind == "urgent")
		}
		if got != c.want {
			t.Fatalf("%s request at %s: %v, want %v (%s)", c.kind, c.at, got, c.want, c.description)
		}
		if c.nextAtMost > 0 && b.next.Load() > at(c.nextAtMost) {
			t.Fatalf("after the %s request at %s ordinary ones wait till %s, want %s at most", c.kind, c.at, time.Duration(b.next.Load()-t0), c.nextAtMost)
		}
	}

	// A crowd arriving for ten seconds, a first picture wished every 20 ms:
	// requests keyframeInterval apart, and the budget free pliInterval after
	// the last.
	b = keyframeBudget{}
	var sent []int64
	for i := range 500 {
		if now := at(time.Duration(i) * 20 * ms); b.takeFirst(now) {
			sent = append(sent, now)
		}
	}
	for i := 1; i < len(sent); i++ {
		if gap := time.Duration(sent[i] - sent[i-1]); gap < keyframeInterval || gap > keyframeInterval+20*ms {
			t.Fatalf("first pictures asked for %s apart, want %s", gap, keyframeInterval)
		}
	}
	last := sent[len(sent)-1]
	if !b.take(last+int64(pliInterval), false) {
		t.Fatalf("an ordinary request pliInterval after the crowd was refused (next at %s after the last)", time.Duration(b.next.Load()-last))
	}
}

// TestKeyframeRequestsShareTheTrackBudget: three subscribers of one track
// that each wait for another layer's keyframe, and ask with PLIs besides,
// make one request to the publisher per pliInterval between them, keep
// their current layers meanwhile, and all move at the keyframes.
func TestKeyframeRequestsShareTheTrackBudget(t *testing.T) {
	up := testTrack(3)
	src := newSimulcastSource(up)
	views := []View{{Width: 150, Height: 90}, {Width: 300, Height: 170}, {Width: 1280, Height: 720}}
	var downs []*downTrack
	var writers []*recordingWriter
	for _, v := range views {
		d, w := testDown(up)
		defer d.close()
		d.setView(v)
		downs, writers = append(downs, d), append(writers, w)
	}
	src.all(t, true)
	src.all(t, true)
	for i, d := range downs {
		if got := currentLayer(d); got != i {
			t.Fatalf("subscriber %d started on layer %d", i, got)
		}
	}

	// The first tile grows: an urgent request, answered with keyframes of
	// every layer. Then the others shrink.
	requests := countRequests(up)
	downs[0].setView(View{Width: 1280, Height: 720})
	if n := requests.poll(); n != 1 {
		t.Fatalf("%d requests for the grown tile, want 1", n)
	}
	src.all(t, true)
	downs[1].setView(View{Width: 150, Height: 90})
	downs[2].setView(View{Width: 300, Height: 170})
	for range 20 {
		for i := range maxLayers {
			src.frame(t, i, false)
			requests.poll()
		}
		for _, d := range downs {
			d.onRTCP(&rtcp.PictureLossIndication{})
			requests.poll()
		}
	}
	if requests.n != 1 {
		t.Fatalf("%d requests within %s, want 1", requests.n, pliInterval)
	}
	// Meanwhile each keeps its layer: the second, the three keyframes it
	// had, then all 20 frames.
	if got := len(writers[1].wait(t, 24)); got != 24 {
		t.Fatalf("%d frames forwarded while waiting, want 20", got-4)
	}
	if got := downs[0].plis.Load(); got != 20 {
		t.Fatalf("%d PLIs counted, want 20", got)
	}

	// pliInterval later: one more request between them all.
	requests.age(pliInterval)
	for range 10 {
		src.all(t, false)
		requests.poll()
	}
	if requests.n != 2 {
		t.Fatalf("%d requests after %s, want 2", requests.n, pliInterval)
	}

	// The keyframes it brings move them all, each with its stream
	// continuous: the keyframes it had, 30 frames, and the keyframe it
	// moves at.
	src.all(t, true)
	for i, c := range []struct{ layer, sent int }{{2, 35}, {0, 35}, {1, 36}} {
		if got := currentLayer(downs[i]); got != c.layer {
			t.Fatalf("subscriber %d on layer %d after the keyframes, want %d", i, got, c.layer)
		}
		sent := writers[i].wait(t, c.sent)
		if len(sent) != c.sent {
			t.Fatalf("subscriber %d was sent %d packets, want %d", i, len(sent), c.sent)
		}
		checkContinuous(t, sent)
	}
}

// TestKeyframeNotAskedOfSilentLayer: a layer the publisher has stopped
// sending while it sends the others is never asked for a keyframe, and
// such a wish spends nothing of the budget; a track that sends nothing
// at all (a still screen) is asked.
func TestKeyframeNotAskedOfSilentLayer(t *testing.T) {
	up := testTrack(3)
	src := newSimulcastSource(up)
	src.all(t, true)
	up.layer(2).lastPacket.Store(time.Now().Add(-2 * layerSilence).UnixNano())
	src.frame(t, 0, false)
	src.frame(t, 1, false)
	requests := countRequests(up)

	now := time.Now().UnixNano()
	if up.layer(2).askKeyframe(now, true) || up.layer(2).askKeyframe(now, false) {
		t.Fatal("the silent top layer was asked for a keyframe")
	}
	up.layer(2).requestKeyframe() // as a recording's tap asks
	if requests.poll() != 0 {
		t.Fatal("a wish for the silent layer spent the budget")
	}
	if got := up.keyframeLayer(now); got != up.layer(1) {
		t.Fatalf("a resumed track asks layer %d, want the best that arrives (1)", got.index)
	}
	// The budget is whole for the layers that arrive.
	if !up.layer(1).askKeyframe(now, false) {
		t.Fatal("the middle layer was not asked")
	}

	// A track that sends nothing: its best layer is asked.
	still := testTrack(3)
	if !still.layer(2).worthAsking(now) || still.keyframeLayer(now) != still.layer(2) {
		t.Fatal("a track that sends nothing was not asked for a keyframe")
	}
}

// TestGrownTileSwitchesUpAtNextKeyframe: a tile that grows just after a
// request (another subscriber's PLI) asks no more, keeps its layer, and
// moves up at the top layer's next keyframe, which that request brings;
// its retry then finds nothing to ask for.
func TestGrownTileSwitchesUpAtNextKeyframe(t *testing.T) {
	up := testTrack(3)
	src := newSimulcastSource(up)
	small, w := testDown(up)
	defer small.close()
	small.setView(View{Width: 150, Height: 90})
	large, _ := testDown(up)
	defer large.close()
	src.all(t, true)
	src.all(t, true)
	if currentLayer(small) != 0 || currentLayer(large) != 2 {
		t.Fatalf("started on layers %d and %d, want 0 and 2", currentLayer(small), currentLayer(large))
	}

	requests := countRequests(up)
	large.onRTCP(&rtcp.PictureLossIndication{})
	small.setView(View{Width: 1280, Height: 720})
	if n := requests.poll(); n != 1 {
		t.Fatalf("%d requests for a PLI and a grown tile within %s, want 1", n, keyframeInterval)
	}
	for range 3 {
		src.all(t, false)
		requests.poll()
	}
	if currentLayer(small) != 0 || requests.n != 1 {
		t.Fatalf("before the keyframe: layer %d, %d requests", currentLayer(small), requests.n)
	}
	src.frame(t, 0, false)
	src.frame(t, 2, true)
	src.all(t, false)
	if got := currentLayer(small); got != 2 {
		t.Fatalf("the grown tile is on layer %d after the top layer's keyframe, want 2", got)
	}
	// 2 keyframes and 4 frames of the low layer, the top one's keyframe
	// and a frame.
	sent := w.wait(t, 8)
	if len(sent) != 8 {
		t.Fatalf("%d packets sent, want 8", len(sent))
	}
	if got := widthOf(t, sent[6]); got != 640 {
		t.Fatalf("the switch was at a %d-wide keyframe, want 640", got)
	}
	checkContinuous(t, sent)
	time.Sleep(keyframeInterval + 100*time.Millisecond)
	if n := requests.poll(); n != 1 {
		t.Fatalf("%d requests after the switch, want 1 (the retry had nothing to ask)", n)
	}
}

// TestUrgentRequestsGoSooner: keyframeInterval after a request, a grown
// tile and a new subscriber's first picture are asked for at once, while
// a PLI waits for pliInterval; a grown tile refused (too soon after a
// request) asks again once it may.
func TestUrgentRequestsGoSooner(t *testing.T) {
	up := testTrack(3)
	src := newSimulcastSource(up)
	d, _ := testDown(up)
	defer d.close()
	d.setView(View{Width: 150, Height: 90})
	src.all(t, true)
	src.all(t, true)
	requests := countRequests(up)

	d.onRTCP(&rtcp.PictureLossIndication{})
	requests.age(keyframeInterval)
	d.onRTCP(&rtcp.PictureLossIndication{})
	if requests.poll() != 1 {
		t.Fatalf("%d requests for two PLIs %s apart, want 1", requests.n, keyframeInterval)
	}
	d.setView(View{Width: 1280, Height: 720})
	if requests.poll() != 2 {
		t.Fatal("the grown tile was not asked for at once")
	}
	src.all(t, true) // the answer

	// A new subscriber, with nothing to replay: its first picture.
	requests.age(pliInterval)
	newcomer, _ := testDown(up)
	defer newcomer.close()
	for i := range maxLayers {
		up.layer(i).keyframeKnown = false
	}
	src.frame(t, 2, false)
	if requests.poll() != 3 {
		t.Fatal("no request for a new subscriber's first picture")
	}
	// Another one just after: the budget is spent (the grown tile's
	// request borrowed), but keyframeInterval after the last request its
	// first picture is asked for all the same.
	late, _ := testDown(up)
	defer late.close()
	requests.age(keyframeInterval)
	src.frame(t, 2, false)
	if requests.poll() != 4 {
		t.Fatal("no request for the second new subscriber's first picture")
	}
	// Shrunk, then grown just after a request: refused, then asked again
	// keyframeInterval after that request.
	src.frame(t, 2, true)
	d.setView(View{Width: 150, Height: 90})
	src.frame(t, 0, true)
	if currentLayer(d) != 0 {
		t.Fatalf("the shrunk tile is on layer %d", currentLayer(d))
	}
	requests.reset() // long after: nothing borrowed
	d.onRTCP(&rtcp.PictureLossIndication{})
	d.setView(View{Width: 1280, Height: 720})
	if requests.poll() != 5 {
		t.Fatalf("%d requests, want 5", requests.n)
	}
	deadline := time.Now().Add(3 * keyframeInterval)
	for requests.poll() == 5 {
		if time.Now().After(deadline) {
			t.Fatalf("the grown tile was not asked for again within %s", 3*keyframeInterval)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOverloadedSubscriberMovesDownSooner: keyframeInterval after a
// request, a tile that shrank waits for pliInterval, while a subscriber
// whose link no longer carries its layer (it loses packets until it
// moves down) asks at once.
func TestOverloadedSubscriberMovesDownSooner(t *testing.T) {
	up := testTrack(3)
	src := newSimulcastSource(up)
	d, _ := testDown(up)
	defer d.close()
	src.all(t, true)
	src.all(t, true)
	requests := countRequests(up)
	d.onRTCP(&rtcp.PictureLossIndication{})
	requests.age(keyframeInterval)

	d.setView(View{Width: 150, Height: 90})
	src.all(t, false)
	if requests.poll() != 1 {
		t.Fatal("a shrunk tile asked before pliInterval")
	}
	d.setView(View{Width: 1280, Height: 720})
	d.allowed.Store(0)
	src.all(t, false)
	if requests.poll() != 2 {
		t.Fatal("an overloaded subscriber did not ask at once")
	}
	src.frame(t, 0, true)
	if got := currentLayer(d); got != 0 {
		t.Fatalf("the overloaded subscriber is on layer %d after the low layer's keyframe", got)
	}
}

// TestLayerThatDoesNotAnswerIsLeftAlone: a layer that goes on arriving
// but brings no keyframe when asked (Chromium short of CPU, for its top
// layer) is asked again, and moved to, only after a backoff that doubles
// with each miss; meanwhile its subscribers take the best layer that
// answers, and one keyframe of it makes it a layer like the others.
func TestLayerThatDoesNotAnswerIsLeftAlone(t *testing.T) {
	up := testTrack(3)
	src := newSimulcastSource(up)
	first, _ := testDown(up)
	defer first.close()
	first.setView(View{Width: 300, Height: 170})
	second, _ := testDown(up)
	defer second.close()
	second.setView(View{Width: 150, Height: 90})
	src.all(t, true)
	src.all(t, true)
	requests := countRequests(up)

	// The first tile grows: the top layer is asked for, and does not
	// answer; the others do.
	first.setView(View{Width: 1280, Height: 720})
	if requests.poll() != 1 {
		t.Fatal("the grown tile asked for nothing")
	}
	// lower: a frame of the top layer, then keyframes of the others, as
	// if in answer to a request it made.
	lower := func() {
		src.frame(t, 2, false)
		src.frame(t, 0, true)
		src.frame(t, 1, true)
		requests.poll()
	}
	// wait lets time pass, one answerWait at a time.
	wait := func(d time.Duration) {
		for ; d > 0; d -= answerWait {
			requests.age(answerWait)
			lower()
		}
	}
	wait(2 * pliInterval)
	if requests.n != 2 {
		t.Fatalf("%d requests in %s of a layer that does not answer, want 2", requests.n, 2*pliInterval)
	}
	// Missed twice now: the next one 8 s after the last.
	wait(8*time.Second - answerWait)
	if requests.n != 2 {
		t.Fatalf("%d requests, want 2 before the backoff", requests.n)
	}
	wait(answerWait)
	if requests.n != 3 {
		t.Fatalf("%d requests, want 3 after the backoff", requests.n)
	}
	if got := currentLayer(first); got != 1 {
		t.Fatalf("the first tile is on layer %d, want 1 meanwhile", got)
	}

	// The other tile grows meanwhile: it moves to the middle layer, which
	// answers, at its next keyframe.
	wait(answerWait)
	second.setView(View{Width: 1280, Height: 720})
	lower()
	if got := currentLayer(second); got != 1 {
		t.Fatalf("the second tile is on layer %d, want 1", got)
	}

	// A keyframe of the top layer: both move up.
	src.frame(t, 2, true)
	if currentLayer(first) != 2 || currentLayer(second) != 2 {
		t.Fatalf("on layers %d and %d after the top layer's keyframe, want 2", currentLayer(first), currentLayer(second))
	}
	if !up.layer(2).answers(time.Now().UnixNano()) {
		t.Fatal("the top layer still counts as not answering")
	}
}
