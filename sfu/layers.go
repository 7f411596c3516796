package sfu

import "time"

// Simulcast, per subscriber: of a track's layers, a downTrack forwards the
// best one that is live and no better than its subscriber's view asks for
// (desired, from SetView). It moves to another layer only at a keyframe of
// that layer, asked for with a PLI within the track's keyframe budget
// (uptrack.go), and keeps forwarding the layer it has until that keyframe
// comes, so the picture never stops. Sequence numbers, timestamps and the
// VP8 descriptor's numbers are rewritten so that the subscriber's decoder
// sees one continuous stream across the moves.

// follow decides what becomes of p, a packet of layer l of a simulcast
// track: true when it is of the layer to forward (and the move to it, if
// any, is done), false when it was released. The caller holds d.mu.
func (d *downTrack) follow(p *packet, l *layer) bool {
	// Frames of other layers that ended since the current layer last sent
	// anything: a browser that stops sending a layer (its uplink or its
	// CPU cannot carry it) says nothing, and the others go on.
	if l.index == d.current {
		d.behind = 0
	} else if p.marker && d.current >= 0 {
		d.behind++
	}
	target := d.targetLayer(p.arrival)
	switch {
	case target == d.current:
		if l.index == d.current {
			return true
		}
	case l.index == target:
		if p.keyframe {
			d.switchLayer(l, p)
			return true
		}
		if d.current < 0 && d.replayFromKeyframe(p, l) {
			// A first subscription starts from the layer's last
			// keyframe, out of its cache; p follows it.
			d.current = l.index
			d.waitKeyframe = false
			return true
		}
		// A first picture for a subscriber that has nothing yet; urgent
		// for one that gets more than its link carries (it loses packets
		// until it moves down); other switches wait for the budget, or
		// for the keyframe a request already brings.
		if d.current < 0 {
			l.askFirstKeyframe(p.arrival)
		} else {
			l.askKeyframe(p.arrival, d.current > int(d.allowed.Load()))
		}
	case l.index == d.current:
		// The current layer goes on until the target's keyframe.
		return true
	}
	p.release()
	return false
}

// switchLayer moves the subscription to layer l at p, a keyframe of it:
// p follows the last packet sent without a gap in sequence numbers, its
// timestamp as far after the last one as it arrived after it, and its
// frame's numbers after the last frame's.
func (d *downTrack) switchLayer(l *layer, p *packet) {
	if d.current >= 0 {
		d.switches.Add(1)
	}
	d.current = l.index
	d.waitKeyframe = false
	d.restartAt(p.seq)
	if !d.queuedAny {
		return
	}
	step := uint32(1)
	if rate := d.up.codec.ClockRate; rate > 0 && p.arrival > d.lastArrival {
		step = max(1, uint32(uint64(p.arrival-d.lastArrival)*uint64(rate)/uint64(time.Second)))
	}
	d.tsOffset = p.timestamp - (d.lastTS + step)
}

// stallFrames is how many frames of the other layers may end while the
// current layer sends nothing before the current one counts as stopped:
// about 300 ms of a 15 fps camera's two other layers, well before
// layerSilence, so that a subscriber moves on before its picture freezes
// for long.
const stallFrames = 10

// targetLayer is the layer to forward now: the best usable layer at or
// below the desired one and the one bandwidth allows, else the lowest
// usable one above it, else the current one. Usable: live (a current
// layer that has stalled, stallFrames, is not) and, unless it is the
// current one and needs no keyframe, answering keyframe requests
// (layer.answers), as moving to it takes one; when no layer answers, any
// live one.
func (d *downTrack) targetLayer(now int64) int {
	if !d.up.simulcast {
		return 0
	}
	if i := d.bestLayer(now, true); i >= 0 {
		return i
	}
	if i := d.bestLayer(now, false); i >= 0 {
		return i
	}
	return d.current
}

// bestLayer is targetLayer's choice among the layers that are usable,
// answering or not; -1 if none is.
func (d *downTrack) bestLayer(now int64, answering bool) int {
	usable := func(i int) bool {
		l := d.up.layer(i)
		if l == nil || !l.live(now) {
			return false
		}
		if i == d.current {
			if d.behind >= stallFrames {
				return false
			}
			if !d.waitKeyframe {
				return true
			}
		}
		return !answering || l.answers(now)
	}
	want := int(min(d.desired.Load(), d.allowed.Load()))
	for i := want; i >= 0; i-- {
		if usable(i) {
			return i
		}
	}
	for i := want + 1; i < maxLayers; i++ {
		if usable(i) {
			return i
		}
	}
	return -1
}

// layerSize is a layer's resolution, 0x0 until its first keyframe.
type layerSize struct{ width, height int }

// chooseLayer picks the layer for a tile of width x height device pixels:
// the lowest whose resolution covers the tile (with a tenth to spare, as
// a tile a few pixels larger than a layer looks no worse), else the top.
// Layers of unknown size are taken as the top's half and quarter. Pure.
func chooseLayer(sizes [maxLayers]layerSize, width, height int) int {
	top := -1
	for i := maxLayers - 1; i >= 0; i-- {
		if sizes[i].width > 0 {
			top = i
			break
		}
	}
	if top < 0 {
		return maxLayers - 1
	}
	for i := 0; i <= top; i++ {
		s := sizes[i]
		if s.width == 0 {
			shift := top - i
			s = layerSize{sizes[top].width >> shift, sizes[top].height >> shift}
		}
		if s.width*10 >= width*9 && s.height*10 >= height*9 {
			return i
		}
	}
	return top
}

// setView takes what the subscriber shows of this track (View).
func (d *downTrack) setView(v View) {
	d.pinned.Store(v.Pinned)
	if v.Width <= 0 || v.Height <= 0 {
		d.hidden.Store(true)
		return
	}
	d.viewWidth.Store(int32(v.Width))
	d.viewHeight.Store(int32(v.Height))
	before := d.desired.Load()
	d.chooseDesired()
	if d.hidden.Swap(false) {
		// Watched again: it resumes at a keyframe.
		d.requestKeyframe()
	} else if d.desired.Load() > before {
		d.requestSwitchUp(true)
	}
}

// requestSwitchUp asks for a keyframe of the better layer a grown or
// pinned tile now wants, as an urgent request: the viewer has just asked
// for more, and follow's own requests wait for the budget. Refused (a
// request went less than keyframeInterval ago, or urgent ones borrowed
// ahead), it tries once more when the budget will allow, unless the
// keyframe came meanwhile. A request that went shortly before may be
// bringing the keyframe already; then the second one is not needed.
func (d *downTrack) requestSwitchUp(retry bool) {
	if !d.up.simulcast {
		return
	}
	now := time.Now().UnixNano()
	d.mu.Lock()
	target, current := d.targetLayer(now), d.current
	d.mu.Unlock()
	l := d.up.layer(target)
	if current < 0 || target <= current || l == nil || l.askKeyframe(now, true) || !retry {
		return
	}
	wait := time.Duration(d.up.keyframeBudget.earliest(true) - now)
	time.AfterFunc(max(wait, time.Millisecond), func() { d.requestSwitchUp(false) })
}

// chooseDesired sets the layer the view asks for from the layers' sizes as
// known now: again whenever a layer's size becomes known or changes, since
// a view may come before the top layer's first keyframe. Without a view,
// or pinned, the top layer.
func (d *downTrack) chooseDesired() {
	width, height := int(d.viewWidth.Load()), int(d.viewHeight.Load())
	if d.pinned.Load() {
		d.desired.Store(maxLayers - 1)
		return
	}
	if width == 0 {
		return
	}
	var sizes [maxLayers]layerSize
	for i := range maxLayers {
		if l := d.up.layer(i); l != nil {
			sizes[i] = layerSize{int(l.width.Load()), int(l.height.Load())}
		}
	}
	d.desired.Store(int32(chooseLayer(sizes, width, height)))
}

// Meta of a sent packet, packed in 64 bits for the history: its
// timestamp, whether its VP8 descriptor was rewritten, and the numbers it
// carried (a presence bit each).
const (
	metaRewrite = 1 << 31
	metaPic     = 1 << 0
	metaTL0     = 1 << 1
	metaKey     = 1 << 2
)

func packMeta(q queued) uint64 {
	m := uint64(q.ts) << 32
	if q.rewrite {
		m |= metaRewrite
	}
	if q.vp8.picID >= 0 {
		m |= uint64(q.vp8.picID&0x7fff)<<16 | metaPic
	}
	if q.vp8.tl0 >= 0 {
		m |= uint64(q.vp8.tl0&0xff)<<8 | metaTL0
	}
	if q.vp8.keyIdx >= 0 {
		m |= uint64(q.vp8.keyIdx&0x1f)<<3 | metaKey
	}
	return m
}

func unpackMeta(m uint64) queued {
	q := queued{ts: uint32(m >> 32), rewrite: m&metaRewrite != 0, vp8: vp8Numbers{picID: -1, tl0: -1, keyIdx: -1}}
	if m&metaPic != 0 {
		q.vp8.picID = int(m >> 16 & 0x7fff)
	}
	if m&metaTL0 != 0 {
		q.vp8.tl0 = int(m >> 8 & 0xff)
	}
	if m&metaKey != 0 {
		q.vp8.keyIdx = int(m >> 3 & 0x1f)
	}
	return q
}
