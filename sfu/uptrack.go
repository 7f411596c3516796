package sfu

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// maxLayers is how many simulcast layers a track may have: the browser
// sends the camera at a quarter, half and full resolution.
const maxLayers = 3

// layerIndex maps a simulcast RID to its layer, lowest quality first; a
// plain track is layer 0. The page names its layers q, h and f (quarter,
// half, full); unknown RIDs take the top.
func layerIndex(rid string) int {
	switch rid {
	case "", "q":
		return 0
	case "h":
		return 1
	}
	return maxLayers - 1
}

// upTrack is one source a participant publishes (camera, microphone,
// screen), as its subscribers see it: one track. A simulcast source
// arrives as up to maxLayers layers, each a track of the publisher's with
// its own reader; each subscriber's downTrack forwards one of them.
type upTrack struct {
	publisher *Peer
	source    string
	kind      webrtc.RTPCodecType
	video     bool
	vp8       bool // its payload descriptors can be rewritten (vp8.go)
	codec     webrtc.RTPCodecCapability

	// layers by quality, lowest first; nil where none arrived (a plain
	// track has layer 0 only).
	layers    [maxLayers]atomic.Pointer[layer]
	simulcast bool
	receiver  *webrtc.RTPReceiver // the one of every layer
	readers   atomic.Int32        // layers being read

	// downs is replaced, never mutated, so the readers walk it without a
	// lock (copy on write).
	downs  atomic.Pointer[[]*downTrack]
	downMu sync.Mutex

	paused atomic.Bool

	// tap gets a copy of the packets of one layer while the room is
	// tapped, as when it records (tap.go).
	tap atomic.Pointer[trackTap]

	// levelID is the audio level extension's id on the publisher's
	// connection, 0 if it was not negotiated; loudness is what the reader
	// makes of the levels (speaker.go).
	levelID  uint8
	loudness loudness

	// keyframeBudget spaces the keyframe requests to the publisher.
	keyframeBudget keyframeBudget
	// relayed: the track comes from another node over a pipe (pipe.go),
	// whose own budget decides whether a request reaches the publisher:
	// a request refused there is no sign that the track does not answer.
	relayed bool

	// counters: forwarded, forwardedBytes and keyframes are this track's.
	counters
}

// layer is one encoding of a source: one SSRC, read by one goroutine.
type layer struct {
	up     *upTrack
	index  int
	remote *webrtc.TrackRemote

	// cache answers subscribers' NACKs; video only, as only video
	// negotiates NACK.
	cache *packetCache
	// The publisher's sequence number of the first packet of the layer's
	// last keyframe, where a new subscriber can start. Owned by the
	// reader.
	keyframeSeq   uint16
	keyframeKnown bool

	// The size its last keyframe announced (VP8), 0 until one came.
	width, height atomic.Int32
	// lastPacket is when the reader last got a packet, in unix
	// nanoseconds: a browser stops sending a layer it cannot afford.
	lastPacket atomic.Int64
	// lastKeyframe is when a keyframe request that covers this layer last
	// went out, in unix nanoseconds: a request to the track names one
	// layer and brings them all (keyframeBudget). keyframeAt is when its
	// last keyframe arrived; misses counts the requests in a row before
	// the last one that brought none (answers).
	lastKeyframe atomic.Int64
	keyframeAt   atomic.Int64
	misses       atomic.Int32

	// bitrate is the layer's bit rate over its last rateWindow (payload
	// bits per second), for the subscribers' bandwidth shares; the
	// window's start and bytes are the reader's.
	bitrate     atomic.Int64
	windowStart int64
	windowBytes int
}

// packetOverhead is what a packet carries besides its payload, on the
// wire to a subscriber: RTP header and extensions, SRTP's tag, UDP and
// IPv4. GCC's estimate counts it, and for sound it is a third of the rate.
const packetOverhead = 60

// rateWindow is how long a layer's bit rate is measured over: long enough
// to hold a few frames of any layer, short enough to follow a browser
// lowering a layer's rate.
const rateWindow = time.Second

// measure adds a packet of n payload bytes that arrived at now (unix
// nanoseconds) to the layer's bit rate. The reader's goroutine only.
func (l *layer) measure(now int64, n int) {
	if l.windowStart == 0 {
		l.windowStart = now
	}
	l.windowBytes += n
	if elapsed := now - l.windowStart; elapsed >= int64(rateWindow) {
		l.bitrate.Store(int64(l.windowBytes) * 8 * int64(time.Second) / elapsed)
		l.windowStart, l.windowBytes = now, 0
	}
}

// rate is layer i's bit rate, 0 if unknown.
func (u *upTrack) rate(i int) int {
	if l := u.layer(i); l != nil {
		return int(l.bitrate.Load())
	}
	return 0
}

func newUpTrack(publisher *Peer, source string, remote *webrtc.TrackRemote) *upTrack {
	u := &upTrack{
		publisher: publisher,
		source:    source,
		kind:      remote.Kind(),
		video:     remote.Kind() == webrtc.RTPCodecTypeVideo,
		codec:     remote.Codec().RTPCodecCapability,
		simulcast: remote.RID() != "",
	}
	u.vp8 = u.video && strings.EqualFold(u.codec.MimeType, webrtc.MimeTypeVP8)
	u.downs.Store(&[]*downTrack{})
	u.addLayer(remote)
	return u
}

// addLayer takes another simulcast layer of the source; it reports false
// when the source has that layer already.
func (u *upTrack) addLayer(remote *webrtc.TrackRemote) (*layer, bool) {
	l := &layer{up: u, index: layerIndex(remote.RID()), remote: remote}
	if u.video {
		l.cache = &packetCache{}
	}
	if !u.layers[l.index].CompareAndSwap(nil, l) {
		return nil, false
	}
	return l, true
}

// layer returns layer i, nil if it has not arrived.
func (u *upTrack) layer(i int) *layer {
	if i < 0 || i >= maxLayers {
		return nil
	}
	return u.layers[i].Load()
}

// addDown subscribes d to this track.
func (u *upTrack) addDown(d *downTrack) {
	u.downMu.Lock()
	defer u.downMu.Unlock()
	old := *u.downs.Load()
	next := make([]*downTrack, len(old), len(old)+1)
	copy(next, old)
	next = append(next, d)
	u.downs.Store(&next)
}

// removeDown unsubscribes d.
func (u *upTrack) removeDown(d *downTrack) {
	u.downMu.Lock()
	defer u.downMu.Unlock()
	old := *u.downs.Load()
	next := make([]*downTrack, 0, len(old))
	for _, x := range old {
		if x != d {
			next = append(next, x)
		}
	}
	u.downs.Store(&next)
}

// read forwards the layer's packets until its track ends. It is the only
// goroutine that reads the remote track.
func (l *layer) read() {
	for {
		p := getPacket()
		n, _, err := l.remote.Read(p.buf[:])
		if err != nil {
			p.refs.Store(1)
			p.release()
			if l.cache != nil {
				l.cache.clear()
			}
			return
		}
		if !p.parse(n, l.up.video, l.up.levelID) {
			p.refs.Store(1)
			p.release()
			continue
		}
		l.forward(p)
	}
}

// forward hands a parsed packet to every subscriber and drops the
// reader's reference.
func (l *layer) forward(p *packet) {
	u := l.up
	now := time.Now().UnixNano()
	l.lastPacket.Store(now)
	l.measure(now, len(p.payload)+packetOverhead)
	p.layer, p.arrival = int8(l.index), now
	if p.audioLevel >= 0 {
		u.loudness.add(p.audioLevel)
	}
	downs := *u.downs.Load()
	// One reference per subscriber, one for the cache, and ours, dropped
	// below, so the packet cannot return to the pool while we are still
	// handing it out.
	refs := int32(len(downs)) + 1
	if l.cache != nil {
		refs++
	}
	p.refs.Store(refs)
	if l.cache != nil {
		l.cache.put(p)
		if p.keyframe {
			l.keyframeSeq, l.keyframeKnown = p.seq, true
			l.keyframeAt.Store(now)
			if p.vp8OK {
				l.keyframeSize(p, downs)
			}
		}
	}
	for _, d := range downs {
		d.enqueue(p, l)
	}
	l.toTap(p)
	u.forwarded.Add(1)
	u.forwardedBytes.Add(uint64(len(p.payload)))
	p.release()
}

// keyframeSize takes the size a keyframe of the layer announces: when it
// is new or changed, each subscriber's choice of layer may change with it.
func (l *layer) keyframeSize(p *packet, downs []*downTrack) {
	w, h, ok := vp8KeyframeSize(p.payload, p.vp8)
	if !ok {
		return
	}
	oldW, oldH := l.width.Swap(int32(w)), l.height.Swap(int32(h))
	if oldW == int32(w) && oldH == int32(h) {
		return
	}
	for _, d := range downs {
		d.chooseDesired()
	}
}

// layerSilence is how long a layer may send nothing before subscribers
// move off it: a browser stops sending its top layers when its uplink
// cannot carry them.
const layerSilence = time.Second

// live reports whether the layer has sent anything lately.
func (l *layer) live(now int64) bool {
	return now-l.lastPacket.Load() < int64(layerSilence)
}

// cacheOf is the packet cache of layer i, nil if none.
func (u *upTrack) cacheOf(i int) *packetCache {
	if l := u.layer(i); l != nil {
		return l.cache
	}
	return nil
}
