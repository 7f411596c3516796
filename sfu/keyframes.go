package sfu

import (
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
)

// Keyframe requests (PLIs) to a publisher are budgeted per track, not per
// layer: Chromium (libwebrtc without x-google-per-layer-pli, which we do
// not negotiate) answers a PLI naming any one layer's SSRC with a keyframe
// on every layer it sends, so each request costs a full set of keyframes,
// and it ignores a second request within 300 ms. Layer switches, gaps
// and subscribers' own PLIs of all a track's subscribers share one budget
// (keyframeBudget): a wish the budget refuses waits for the target
// layer's next keyframe, which the request that used the budget is
// likely bringing, and its subscriber meanwhile keeps the layer it has.

// pliInterval is the track's keyframe budget: one ordinary request per
// pliInterval, as issue 16 asks of a publisher under a capped viewer ("at
// most one keyframe per 2 s"). Ordinary requests alone are never closer
// than this, so a window of T holds at most T/pliInterval + 1 of them.
const pliInterval = 2 * time.Second

// keyframeInterval is the shortest time between any two requests to a
// track: an urgent one (a viewer who sees nothing of the track yet, or
// just asked for more of it) may go this long after the last request if
// the budget has room, borrowing from the next interval: a window of T
// then holds at most one request more than ordinary ones alone.
const keyframeInterval = 500 * time.Millisecond

// keyframeBudget is a track's budget of keyframe requests, a token bucket
// of one request per pliInterval kept as a single time (GCRA): next, in
// unix nanoseconds, is when an ordinary request may go, pliInterval after
// the last request or later when urgent ones borrowed ahead. An urgent one
// may go pliInterval-keyframeInterval before next: keyframeInterval after
// the last request when nothing was borrowed.
//
// A first picture (takeFirst: a subscriber that has been sent nothing of
// the track yet) may also go keyframeInterval after the last request of
// any kind once the budget is spent. A crowd that joins while the budget
// is spent would otherwise wait up to pliInterval for its first picture,
// and a publisher that sends keyframes only when asked, as browsers do,
// sends none meanwhile. While viewers keep arriving this costs the
// publisher up to one keyframe per keyframeInterval; it never pushes next
// past pliInterval from now, so ordinary requests are not held off for
// longer than one interval after the crowd.
type keyframeBudget struct {
	next atomic.Int64
	last atomic.Int64 // when the last request of any kind went
}

// earliest is when a request may go, in unix nanoseconds.
func (b *keyframeBudget) earliest(urgent bool) int64 {
	return earliestAfter(b.next.Load(), urgent)
}

// earliestAfter is earliest for a budget whose next is next.
func earliestAfter(next int64, urgent bool) int64 {
	if urgent {
		return next - int64(pliInterval-keyframeInterval)
	}
	return next
}

// take reports whether a request may go at now, and if so spends on it.
func (b *keyframeBudget) take(now int64, urgent bool) bool {
	for {
		next := b.next.Load()
		if now < earliestAfter(next, urgent) {
			return false
		}
		if b.next.CompareAndSwap(next, max(next, now)+int64(pliInterval)) {
			b.last.Store(now)
			return true
		}
	}
}

// takeFirst is take for a subscriber's first picture: it may go
// keyframeInterval after the last request of any kind (never later than an
// urgent one could), and borrows nothing.
func (b *keyframeBudget) takeFirst(now int64) bool {
	last := b.last.Load()
	if now-last < int64(keyframeInterval) || !b.last.CompareAndSwap(last, now) {
		return false
	}
	for {
		next := b.next.Load()
		if next >= now+int64(pliInterval) || b.next.CompareAndSwap(next, now+int64(pliInterval)) {
			return true
		}
	}
}

// requestKeyframe asks the publisher for a keyframe of this layer, an
// ordinary request (askKeyframe).
func (l *layer) requestKeyframe() {
	l.askKeyframe(time.Now().UnixNano(), false)
}

// askKeyframe asks the publisher for a keyframe of this layer at now (unix
// nanoseconds) if the layer is worth asking and the track's budget has
// room; it reports whether the request went. Callers that wait for the
// keyframe ask again with their next packet, so a refused request is
// retried once the budget allows.
func (l *layer) askKeyframe(now int64, urgent bool) bool {
	return l.ask(now, func(b *keyframeBudget) bool { return b.take(now, urgent) })
}

// askFirstKeyframe is askKeyframe for a subscriber that has been sent
// nothing of the track yet (keyframeBudget.takeFirst).
func (l *layer) askFirstKeyframe(now int64) bool {
	return l.ask(now, func(b *keyframeBudget) bool { return b.takeFirst(now) })
}

// ask sends the request if the layer is worth asking and take allows it.
func (l *layer) ask(now int64, take func(*keyframeBudget) bool) bool {
	u := l.up
	if !u.video || !l.worthAsking(now) || !take(&u.keyframeBudget) {
		return false
	}
	u.noteRequest(now)
	pc := u.publisher.publishPC()
	if pc == nil {
		return true
	}
	u.keyframes.Add(1)
	_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(l.remote.SSRC())}})
	return true
}

// noteRequest notes a request to the track made at now on each of its
// layers: the one request brings a keyframe of every layer the publisher
// sends. A layer that arrives but brought no keyframe since the previous
// request, although it had answerWait to, missed it.
func (u *upTrack) noteRequest(now int64) {
	for i := range maxLayers {
		l := u.layer(i)
		if l == nil {
			continue
		}
		prev := l.lastKeyframe.Swap(now)
		if prev == 0 || now-prev < int64(answerWait) || !l.live(now) {
			continue
		}
		if l.keyframeAt.Load() < prev {
			l.misses.Add(1)
		} else {
			l.misses.Store(0)
		}
	}
}

// answerWait is how long a publisher may take to answer a keyframe
// request: a round trip and an encode, which took Chromium on two busy
// cores up to 0.9 s.
const answerWait = time.Second

// maxMissShift bounds the backoff of a layer that does not answer:
// pliInterval<<maxMissShift, 16 s.
const maxMissShift = 3

// answers reports whether a keyframe of the layer may be expected of a
// request. Chromium short of CPU goes on sending its top layer but answers
// no request with a keyframe of it (only of the others). A layer that
// brought none since the last request, after answerWait or, having
// missed earlier ones, at once, is asked again, and moved to, only
// pliInterval<<n after the last request, n being how many it missed in a
// row (up to maxMissShift): its subscribers take the best layer that
// answers meanwhile, and the publisher is not asked for keyframes of
// every layer every pliInterval in vain. Any request to the track tries
// it again, and one keyframe of it ends the backoff.
func (l *layer) answers(now int64) bool {
	last := l.lastKeyframe.Load()
	if last == 0 || l.keyframeAt.Load() >= last {
		return true
	}
	missed := l.misses.Load()
	if now-last < int64(answerWait) {
		return missed == 0
	}
	return now-last >= int64(pliInterval)<<min(missed+1, maxMissShift)
}

// worthAsking reports whether a keyframe of the layer may come of a
// request: not if it does not answer requests (answers), nor while the
// publisher sends other layers of the track but not this one, as its
// encoder has dropped it for lack of bandwidth or CPU: a request would
// only spend the budget the layers that arrive need. A track that sends
// nothing at all is asked: a still screen sends no frame for seconds, and
// its encoder answers with a keyframe of the last one.
func (l *layer) worthAsking(now int64) bool {
	if l.up.relayed {
		return true
	}
	if !l.answers(now) {
		return false
	}
	if l.live(now) {
		return true
	}
	for i := range maxLayers {
		if o := l.up.layer(i); o != nil && o.live(now) {
			return false
		}
	}
	return true
}

// requestKeyframes asks for a keyframe of every layer, as when the track
// resumes: one urgent request brings them all.
func (u *upTrack) requestKeyframes() {
	now := time.Now().UnixNano()
	if l := u.keyframeLayer(now); l != nil {
		l.askKeyframe(now, true)
	}
}

// keyframeLayer is the layer a request for all of them names: the best
// one worth asking, nil if none.
func (u *upTrack) keyframeLayer(now int64) *layer {
	for i := maxLayers - 1; i >= 0; i-- {
		if l := u.layer(i); l != nil && l.worthAsking(now) {
			return l
		}
	}
	return nil
}

// requestKeyframe asks for a keyframe of the layer this subscriber gets,
// or will get next, as an urgent request: the viewer has just asked to see
// the video (shown again, resumed, let through by last-N) and sees nothing
// until a keyframe comes.
func (d *downTrack) requestKeyframe() {
	d.requestTargetKeyframe(true)
}

// requestTargetKeyframe asks for a keyframe of the layer this subscriber
// gets, or will get next, if the track's budget allows (askKeyframe). It
// runs beside the layers' readers (an RTCP reader, a view), so it reads
// their state under d.mu; the request itself, an RTCP write, goes out
// after.
func (d *downTrack) requestTargetKeyframe(urgent bool) {
	now := time.Now().UnixNano()
	if l := d.keyframeTarget(now); l != nil {
		l.askKeyframe(now, urgent)
	}
}

// requestFirstKeyframe is requestKeyframe for a subscriber that has been
// sent nothing of the track yet (askFirstKeyframe).
func (d *downTrack) requestFirstKeyframe() {
	now := time.Now().UnixNano()
	if l := d.keyframeTarget(now); l != nil {
		l.askFirstKeyframe(now)
	}
}

// keyframeTarget is the layer this subscriber gets, or will get next.
func (d *downTrack) keyframeTarget(now int64) *layer {
	i := 0
	if d.up.simulcast {
		d.mu.Lock()
		i = d.targetLayer(now)
		d.mu.Unlock()
	}
	return d.up.layer(i)
}
