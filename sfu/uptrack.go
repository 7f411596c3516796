package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// keyframeInterval is the shortest time between two keyframe requests to
// one publisher: a crowd of joiners must not make the encoder send nothing
// but keyframes.
const keyframeInterval = 500 * time.Millisecond

// upTrack is one track a participant publishes. One goroutine reads it and
// hands each packet to every subscriber's downTrack.
type upTrack struct {
	publisher *Peer
	source    string
	remote    *webrtc.TrackRemote
	video     bool
	codec     webrtc.RTPCodecCapability

	// downs is replaced, never mutated, so the reader walks it without a
	// lock (copy on write).
	downs  atomic.Pointer[[]*downTrack]
	downMu sync.Mutex

	// cache answers subscribers' NACKs; video only, as only video
	// negotiates NACK.
	cache *packetCache
	// The publisher's sequence number of the first packet of its last
	// keyframe, where a new subscriber can start. Owned by the reader.
	keyframeSeq   uint16
	keyframeKnown bool

	paused       atomic.Bool
	lastKeyframe atomic.Int64 // unix nanoseconds of the last request

	// counters: forwarded, forwardedBytes and keyframes are this track's.
	counters
}

func newUpTrack(publisher *Peer, source string, remote *webrtc.TrackRemote) *upTrack {
	u := &upTrack{
		publisher: publisher,
		source:    source,
		remote:    remote,
		video:     remote.Kind() == webrtc.RTPCodecTypeVideo,
		codec:     remote.Codec().RTPCodecCapability,
	}
	if u.video {
		u.cache = &packetCache{}
	}
	u.downs.Store(&[]*downTrack{})
	return u
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

// read forwards packets until the track ends. It is the only goroutine
// that reads the remote track.
func (u *upTrack) read() {
	for {
		p := getPacket()
		n, _, err := u.remote.Read(p.buf[:])
		if err != nil {
			p.refs.Store(1)
			p.release()
			if u.cache != nil {
				u.cache.clear()
			}
			return
		}
		if !p.parse(n, u.video) {
			p.refs.Store(1)
			p.release()
			continue
		}
		u.forward(p)
	}
}

// forward hands a parsed packet to every subscriber and drops the
// reader's reference.
func (u *upTrack) forward(p *packet) {
	downs := *u.downs.Load()
	// One reference per subscriber, one for the cache, and ours, dropped
	// below, so the packet cannot return to the pool while we are still
	// handing it out.
	refs := int32(len(downs)) + 1
	if u.cache != nil {
		refs++
	}
	p.refs.Store(refs)
	if u.cache != nil {
		u.cache.put(p)
		if p.keyframe {
			u.keyframeSeq, u.keyframeKnown = p.seq, true
		}
	}
	for _, d := range downs {
		d.enqueue(p)
	}
	u.forwarded.Add(1)
	u.forwardedBytes.Add(uint64(len(p.payload)))
	p.release()
}

// requestKeyframe asks the publisher for a keyframe, at most once per
// keyframeInterval.
func (u *upTrack) requestKeyframe() {
	if !u.video {
		return
	}
	now := time.Now().UnixNano()
	last := u.lastKeyframe.Load()
	if now-last < int64(keyframeInterval) || !u.lastKeyframe.CompareAndSwap(last, now) {
		return
	}
	pc := u.publisher.publishPC()
	if pc == nil {
		return
	}
	u.keyframes.Add(1)
	_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(u.remote.SSRC())}})
}
