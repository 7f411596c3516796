package sfu

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Queue lengths per subscriber and track: about a second of media. A
// subscriber that falls further behind loses packets, never the others.
const (
	videoQueue = 256
	audioQueue = 64
)

// queued is a packet with what it will carry to this subscriber: its
// sequence number, its timestamp and, for VP8, the descriptor's numbers
// (rewrite: they differ from the packet's own).
type queued struct {
	p *packet
	// since is when the packet's wait for the writer began, as its age
	// counts (late.go): its arrival, or for a packet replayed out of the
	// cache, the arrival of the one that started the replay.
	since   int64
	seq     uint16
	ts      uint32
	rewrite bool
	vp8     vp8Numbers
}

// downTrack is one upTrack as one subscriber receives it. It implements
// webrtc.TrackLocal, so Pion negotiates it like any local track, but its
// packets come from the upTrack's reader through a bounded queue and go out
// from the downTrack's own writer goroutine: a slow subscriber only ever
// fills its own queue.
type downTrack struct {
	up         *upTrack
	subscriber *Peer
	id         string // the transceiver's track id: the source
	streamID   string
	mid        string // set once the offer that carries it is created
	sender     *webrtc.RTPSender

	queue chan queued
	done  chan struct{}
	once  sync.Once

	// Set by Bind, read by the writer for every packet without a lock.
	binding atomic.Pointer[binding]

	// paused until the subscriber has answered the offer that carries this
	// track, and whenever the subscription is paused.
	paused atomic.Bool

	// ready is set once the subscriber's DTLS is done (see isReady).
	ready atomic.Bool

	// desired is the layer the subscriber's view asks for (SetView); the
	// one forwarded is the best live layer at or below it (layers.go).
	desired atomic.Int32
	// The size of the viewer's tile (SetView), 0 until one came; pinned:
	// the viewer asked for the best layer whatever the size.
	viewWidth, viewHeight atomic.Int32
	pinned                atomic.Bool
	// allowed is the best layer the subscriber's bandwidth allows; plan is
	// how it was chosen, owned by the peer's bandwidth loop (bandwidth.go).
	allowed atomic.Int32
	plan    *layerPlan
	// hidden: the viewer does not watch this video (an off-screen or
	// paused tile, audio-only): nothing is sent. lastNOff: the room's
	// last-N limit holds it back (lastn.go).
	hidden   atomic.Bool
	lastNOff atomic.Bool

	// Owned by the goroutine of the layer being read; a simulcast track's
	// readers take mu, since each of its layers has one.
	mu           sync.Mutex
	current      int    // the layer forwarded, -1 before the first packet
	seqOffset    uint16 // publisher's sequence number - this subscriber's
	nextSeq      uint16 // the sequence number of the next packet sent
	lastQueued   uint16 // the publisher's number of the last packet queued
	queuedAny    bool
	waitKeyframe bool
	tsOffset     uint32 // publisher's timestamp - this subscriber's
	lastTS       uint32 // the timestamp of the last packet queued
	lastArrival  int64  // when that packet arrived, unix nanoseconds
	behind       int    // frames of other layers since the current one's last packet
	munger       vp8Munger

	// history maps the sequence numbers this subscriber was sent to the
	// publisher's, to find a NACKed packet in its layer's cache: each
	// entry is valid<<32 | layer<<33 | sent<<16 | original, and meta the
	// timestamp and descriptor numbers it was sent with (packMeta).
	// Written by the writer, read by the RTCP reader. Video only.
	history []atomic.Uint64
	meta    []atomic.Uint64
	// scratch holds a rewritten payload: the writer's, and the RTCP
	// reader's for retransmissions.
	scratch, rtxScratch []byte

	// counters: sent, sentBytes, dropped, nacked, retransmitted, plis and
	// replays are this subscription's.
	counters
}

func newDownTrack(up *upTrack, subscriber *Peer) *downTrack {
	size := audioQueue
	if up.video {
		size = videoQueue
	}
	d := &downTrack{
		up:           up,
		subscriber:   subscriber,
		id:           up.source,
		streamID:     streamIDFor(up.publisher.id, up.source),
		queue:        make(chan queued, size),
		done:         make(chan struct{}),
		waitKeyframe: up.video,
	}
	d.desired.Store(maxLayers - 1)
	d.allowed.Store(maxLayers - 1)
	d.plan = newLayerPlan()
	if up.simulcast {
		d.current = -1
	}
	if up.video {
		d.history = make([]atomic.Uint64, cacheSize)
		d.meta = make([]atomic.Uint64, cacheSize)
	}
	if up.vp8 {
		d.scratch = make([]byte, maxPacketSize)
		d.rtxScratch = make([]byte, maxPacketSize)
	}
	d.paused.Store(true)
	go d.write()
	return d
}

// binding is what Pion negotiated for this track on the subscriber's
// connection.
type binding struct {
	ssrc        uint32
	payloadType uint8
	writer      webrtc.TrackLocalWriter
	// bypass lets packets skip the subscriber's bandwidth estimator
	// (bypass.go), nil where there is none; past caches its writer.
	bypass *estimatorBypass
	past   atomic.Pointer[pastWriter]
}

// streamIDFor names the MediaStream a subscriber sees: camera and
// microphone of one publisher share a stream, so browsers keep them in lip
// sync; a screen is a stream of its own.
func streamIDFor(publisherID, source string) string {
	if source == "screen" {
		return publisherID + "|screen"
	}
	return publisherID
}

// Bind implements webrtc.TrackLocal.
func (d *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, codec := range ctx.CodecParameters() {
		if strings.EqualFold(codec.MimeType, d.up.codec.MimeType) {
			d.binding.Store(&binding{ssrc: uint32(ctx.SSRC()), payloadType: uint8(codec.PayloadType), writer: ctx.WriteStream(), bypass: d.subscriber.bypass})
			return codec, nil
		}
	}
	return webrtc.RTPCodecParameters{}, errors.New("sfu: subscriber does not support " + d.up.codec.MimeType)
}

// Unbind implements webrtc.TrackLocal.
func (d *downTrack) Unbind(webrtc.TrackLocalContext) error {
	d.binding.Store(nil)
	return nil
}

// ID implements webrtc.TrackLocal.
func (d *downTrack) ID() string { return d.id }

// RID implements webrtc.TrackLocal.
func (d *downTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (d *downTrack) StreamID() string { return d.streamID }

// Kind implements webrtc.TrackLocal.
func (d *downTrack) Kind() webrtc.RTPCodecType { return d.up.kind }

// enqueue is called by the reader of one of the upTrack's layers for
// every packet. It never blocks. Dropped packets shift the sequence
// numbers of the ones after them, so the subscriber sees no gap to NACK; a
// video drop waits for the next keyframe, since the frames in between
// could not be decoded. Of a simulcast track, one layer is forwarded; a
// move to another starts at a keyframe of that layer (layers.go).
func (d *downTrack) enqueue(p *packet, l *layer) {
	if d.up.simulcast {
		d.mu.Lock()
		defer d.mu.Unlock()
	}
	if d.paused.Load() || d.up.paused.Load() || d.hidden.Load() || d.lastNOff.Load() || !d.isReady() {
		if l.index == d.current {
			d.drop(p)
		} else {
			p.release()
		}
		return
	}
	if d.up.simulcast && !d.follow(p, l) {
		return
	}
	if d.waitKeyframe {
		if !p.keyframe && !d.replayFromKeyframe(p, l) {
			arrival := p.arrival
			d.drop(p)
			// A first picture while the subscriber has seen nothing of
			// the track.
			if d.queuedAny {
				l.askKeyframe(arrival, false)
			} else {
				l.askFirstKeyframe(arrival)
			}
			return
		}
		if p.keyframe {
			d.restartAt(p.seq)
		}
		d.waitKeyframe = false
	}
	d.push(p, p.arrival)
}

// push queues p for the writer, with the numbers it carries to this
// subscriber, or drops it if the subscriber is too far behind.
func (d *downTrack) push(p *packet, since int64) bool {
	q := queued{p: p, since: since, seq: p.seq - d.seqOffset, ts: p.timestamp - d.tsOffset}
	if d.up.vp8 && p.vp8OK {
		q.vp8 = d.munger.next(p.payload, p.vp8)
		q.rewrite = d.munger.active
	}
	select {
	case d.queue <- q:
		d.nextSeq = q.seq + 1
		d.lastQueued = p.seq
		d.lastTS, d.lastArrival = q.ts, p.arrival
		d.queuedAny = true
		return true
	default:
		arrival := p.arrival
		d.drop(p)
		if l := d.up.layer(d.current); l != nil {
			l.askKeyframe(arrival, false)
		}
		return false
	}
}

// restartAt makes the packet the publisher numbered seq follow, without a
// gap, the last one this subscriber was sent.
func (d *downTrack) restartAt(seq uint16) {
	d.seqOffset = seq - d.nextSeq
	d.munger.restart()
}

// isReady reports whether the subscriber's connection can carry media:
// until DTLS is done Pion drops what is written without an error, so a
// keyframe sent then would be lost and the subscriber would wait for
// the next one.
func (d *downTrack) isReady() bool {
	if d.ready.Load() {
		return true
	}
	if d.sender == nil {
		return false
	}
	t := d.sender.Transport()
	if t == nil || t.State() != webrtc.DTLSTransportStateConnected {
		return false
	}
	d.ready.Store(true)
	return true
}

// replayFromKeyframe starts a video subscription that waits for a
// keyframe from the last keyframe the publisher sent, out of the cache, so
// that a new subscriber sees a picture without waiting for a keyframe
// request to reach the publisher (rate-limited, and a round trip). It
// only does so when every packet from that keyframe up to p is cached, the
// run fits in the queue, and the subscriber was not already sent it.
func (d *downTrack) replayFromKeyframe(p *packet, l *layer) bool {
	if l.cache == nil || !l.keyframeKnown {
		return false
	}
	from := l.keyframeSeq
	if n := p.seq - from; n == 0 || n > videoQueue/2 {
		return false
	}
	if d.queuedAny && int16(from-d.lastQueued) <= 0 {
		return false
	}
	run := l.cache.run(from, p.seq)
	if run == nil {
		return false
	}
	d.restartAt(from)
	for i, c := range run {
		if !d.push(c, p.arrival) {
			for _, rest := range run[i+1:] {
				rest.release()
			}
			return false
		}
	}
	d.replays.Add(1)
	return true
}

func (d *downTrack) drop(p *packet) {
	d.seqOffset++
	d.dropped.Add(1)
	if d.up.video {
		// Whatever follows a gap must start from a keyframe.
		d.waitKeyframe = true
	}
	p.release()
}

// write sends queued packets until the downTrack closes. It is the only
// goroutine that writes this track, so its header needs no lock.
func (d *downTrack) write() {
	var hdr rtp.Header
	var late lateSkip
	for {
		select {
		case <-d.done:
			d.drain()
			return
		case q := <-d.queue:
			if late.drop(d, &q) {
				q.p.release()
				continue
			}
			if b := d.binding.Load(); b != nil {
				hdr = rtp.Header{
					Version: 2, Marker: q.p.marker, PayloadType: b.payloadType,
					SequenceNumber: q.seq, Timestamp: q.ts, SSRC: b.ssrc,
				}
				if d.history != nil {
					d.meta[q.seq%cacheSize].Store(packMeta(q))
					d.history[q.seq%cacheSize].Store(1<<32 | uint64(q.p.layer)<<33 | uint64(q.seq)<<16 | uint64(q.p.seq))
				}
				payload := q.p.payload
				if q.rewrite {
					payload = rewriteVP8(d.scratch, payload, q.p.vp8, q.vp8)
				}
				// Pion reports a write before SRTP is up as 0 bytes,
				// no error: that packet did not leave.
				if n, err := b.writeRTP(&hdr, payload); err == nil && n > 0 {
					d.sent.Add(1)
					if d.up.video {
						d.sentVideo.Add(1)
					}
					d.sentBytes.Add(uint64(len(q.p.payload)))
				}
			}
			q.p.release()
		}
	}
}

func (d *downTrack) drain() {
	for {
		select {
		case q := <-d.queue:
			q.p.release()
		default:
			return
		}
	}
}

// watched reports whether the subscriber gets this track now: not paused
// by either end, not hidden by its viewer, not held back by last-N.
func (d *downTrack) watched() bool {
	return !d.paused.Load() && !d.up.paused.Load() && !d.hidden.Load() && !d.lastNOff.Load()
}

// setPaused pauses or resumes this subscription. A resumed video track
// restarts at a keyframe, asked for at once.
func (d *downTrack) setPaused(paused bool) {
	if d.paused.Swap(paused) && !paused {
		d.requestKeyframe()
	}
}

// onRTCP handles one RTCP packet from the subscriber: keyframe requests
// go to the publisher, NACKs are answered from the upTrack's cache.
func (d *downTrack) onRTCP(pkt rtcp.Packet) {
	switch pkt := pkt.(type) {
	case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
		d.plis.Add(1)
		// An ordinary request: a viewer on a lossy or capped link asks
		// over and over, and the track's subscribers share each keyframe.
		d.requestTargetKeyframe(false)
	case *rtcp.TransportLayerNack:
		for _, pair := range pkt.Nacks {
			pair.Range(func(seq uint16) bool {
				d.retransmit(seq)
				return true
			})
		}
	}
}

// retransmit sends again the packet this subscriber received as seq, if
// the cache still has it. It runs on the RTCP reader's goroutine, beside
// the writer: Pion's write path takes concurrent writers.
func (d *downTrack) retransmit(seq uint16) {
	d.nacked.Add(1)
	if d.history == nil {
		return
	}
	meta := d.meta[seq%cacheSize].Load()
	e := d.history[seq%cacheSize].Load()
	if e&(1<<32) == 0 || uint16(e>>16) != seq {
		return
	}
	cache := d.up.cacheOf(int(e >> 33 & 3))
	if cache == nil {
		return
	}
	p := cache.get(uint16(e))
	if p == nil {
		return
	}
	defer p.release()
	b := d.binding.Load()
	if b == nil {
		return
	}
	q := unpackMeta(meta)
	hdr := rtp.Header{
		Version: 2, Marker: p.marker, PayloadType: b.payloadType,
		SequenceNumber: seq, Timestamp: q.ts, SSRC: b.ssrc,
	}
	payload := p.payload
	if q.rewrite {
		payload = rewriteVP8(d.rtxScratch, payload, p.vp8, q.vp8)
	}
	if _, err := b.writeRTP(&hdr, payload); err == nil {
		d.retransmitted.Add(1)
	}
}

// close stops the writer and moves its counters to the SFU's totals. The
// upTrack must no longer hand it packets.
func (d *downTrack) close() {
	d.once.Do(func() {
		close(d.done)
		d.counters.retire(&d.up.publisher.room.sfu.retired)
	})
}
