package sfu

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// A follower is one fixed sender of a viewer whose source changes: the
// stage's video or sound. It takes each source through an ordinary
// downTrack of that source's upTrack (so layers, keyframe waits, the
// cache's replay of the last keyframe and NACK answers work as for any
// subscriber), whose packets it renumbers on their way out: sequence
// numbers and timestamps go on from the previous source's without a jump,
// and the player's decoder sees one stream that starts again at a
// keyframe.
//
// A move is make-before-break: the new source's downTrack starts waiting
// for a keyframe (or replays the last one) while the old one goes on, and
// takes over with its first packet. Sound moves at once.

// follower is one of a viewer's senders.
type follower struct {
	viewer *Viewer
	kind   webrtc.RTPCodecType
	mime   string
	id     string // the track id the player sees
	sender *webrtc.RTPSender
	bound  atomic.Pointer[followBinding] // set by Pion's Bind

	// mu guards the following, taken by the writer of each downTrack for
	// every packet: a viewer has at most two writers, so it is never
	// contended, and it orders a move against the packets around it.
	mu      sync.Mutex
	target  *upTrack        // the source asked for
	current *followWriter   // the source sent now
	next    *followWriter   // the source that takes over at its first packet
	sentAny bool            // something was sent: the numbers below are set
	lastSeq uint16          // the last sequence number sent
	lastTS  uint32          // and its timestamp
	lastAt  time.Time       // when it was sent
	clock   uint32          // the codec's clock rate
	retired []*followWriter // downTracks to close, outside mu
}

// followBinding is what Pion negotiated for the follower's track.
type followBinding struct {
	ssrc        uint32
	payloadType uint8
	writer      webrtc.TrackLocalWriter
}

// followWriter is the writer of one source's downTrack: it renumbers its
// packets into the follower's stream.
type followWriter struct {
	f        *follower
	d        *downTrack
	started  bool // the offsets below are set (under f.mu)
	seqDelta uint16
	tsDelta  uint32
}

func newFollower(v *Viewer, kind webrtc.RTPCodecType, mime, id string) (*follower, error) {
	f := &follower{viewer: v, kind: kind, mime: mime, id: id, clock: 90000}
	if kind == webrtc.RTPCodecTypeAudio {
		f.clock = 48000
	}
	sender, err := v.pc.AddTrack(f)
	if err != nil {
		return nil, err
	}
	f.sender = sender
	return f, nil
}

// Bind implements webrtc.TrackLocal.
func (f *follower) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, codec := range ctx.CodecParameters() {
		if strings.EqualFold(codec.MimeType, f.mime) {
			f.bound.Store(&followBinding{ssrc: uint32(ctx.SSRC()), payloadType: uint8(codec.PayloadType), writer: ctx.WriteStream()})
			return codec, nil
		}
	}
	return webrtc.RTPCodecParameters{}, errors.New("sfu: the player does not take " + f.mime)
}

// Unbind implements webrtc.TrackLocal.
func (f *follower) Unbind(webrtc.TrackLocalContext) error {
	f.bound.Store(nil)
	return nil
}

// ID implements webrtc.TrackLocal.
func (f *follower) ID() string { return f.id }

// RID implements webrtc.TrackLocal.
func (f *follower) RID() string { return "" }

// StreamID implements webrtc.TrackLocal: one stream, so that a player
// keeps sound and picture in sync.
func (f *follower) StreamID() string { return "stage" }

// Kind implements webrtc.TrackLocal.
func (f *follower) Kind() webrtc.RTPCodecType { return f.kind }

// follow moves the follower to up (nil: nothing). Called by the viewer's
// goroutine only.
func (f *follower) follow(up *upTrack) {
	f.mu.Lock()
	if up == f.target || (up != nil && !strings.EqualFold(up.codec.MimeType, f.mime)) {
		f.mu.Unlock()
		return
	}
	f.target = up
	if f.next != nil {
		f.retired = append(f.retired, f.next)
		f.next = nil
	}
	var w *followWriter
	if up == nil {
		// Nobody to show: the player keeps its last picture.
		if f.current != nil {
			f.retired = append(f.retired, f.current)
			f.current = nil
		}
	} else {
		w = &followWriter{f: f, d: newDownTrack(up, f.viewer.peer)}
		w.d.sender = f.sender
		w.d.binding.Store(&binding{writer: w})
		f.next = w
	}
	retired := f.retired
	f.retired = nil
	f.mu.Unlock()
	f.close(retired)
	if w != nil {
		up.addDown(w.d)
		// Resumed, it asks its layer for a keyframe at once.
		w.d.setPaused(false)
	}
}

// close unsubscribes downTracks the follower has left.
func (f *follower) close(writers []*followWriter) {
	for _, w := range writers {
		w.d.up.removeDown(w.d)
		w.d.close()
	}
}

// stop leaves the current source as the viewer closes.
func (f *follower) stop() {
	f.mu.Lock()
	retired := append(f.retired, f.current, f.next)
	f.current, f.next, f.retired = nil, nil, nil
	f.mu.Unlock()
	for _, w := range retired {
		if w != nil {
			f.close([]*followWriter{w})
		}
	}
}

// WriteRTP implements webrtc.TrackLocalWriter for one source's downTrack;
// it renumbers hdr.
func (w *followWriter) WriteRTP(hdr *rtp.Header, payload []byte) (int, error) {
	f := w.f
	f.mu.Lock()
	if w == f.next {
		// The new source's first packet (for video, a keyframe's):
		// it takes over.
		if f.current != nil {
			f.retired = append(f.retired, f.current)
		}
		f.current, f.next = w, nil
	}
	if w != f.current {
		f.mu.Unlock()
		return 0, nil
	}
	now := time.Now()
	if !w.started {
		w.started = true
		if f.sentAny {
			step := max(1, uint32(now.Sub(f.lastAt).Seconds()*float64(f.clock)))
			w.seqDelta = f.lastSeq + 1 - hdr.SequenceNumber
			w.tsDelta = f.lastTS + step - hdr.Timestamp
		}
	}
	seq, ts := hdr.SequenceNumber+w.seqDelta, hdr.Timestamp+w.tsDelta
	if !f.sentAny || int16(seq-f.lastSeq) > 0 {
		f.sentAny, f.lastSeq, f.lastTS, f.lastAt = true, seq, ts, now
	}
	var retired []*followWriter
	if len(f.retired) > 0 {
		retired, f.retired = f.retired, nil
	}
	f.mu.Unlock()
	if retired != nil {
		// Not from this writer: closing a downTrack waits for nothing,
		// but removing it takes its upTrack's lock.
		go f.close(retired)
	}
	b := f.bound.Load()
	if b == nil {
		return 0, nil
	}
	// The downTrack builds a header for every packet, so it is rewritten
	// in place: a copy would escape to the heap, once per packet.
	hdr.SequenceNumber, hdr.Timestamp, hdr.SSRC, hdr.PayloadType = seq, ts, b.ssrc, b.payloadType
	return b.writer.WriteRTP(hdr, payload)
}

// Write implements webrtc.TrackLocalWriter; downTracks use WriteRTP.
func (w *followWriter) Write(b []byte) (int, error) {
	var p rtp.Packet
	if err := p.Unmarshal(b); err != nil {
		return 0, err
	}
	return w.WriteRTP(&p.Header, p.Payload)
}

// readRTCP passes the player's keyframe requests and NACKs to the source
// it gets now, until the sender stops.
func (f *follower) readRTCP() {
	for {
		packets, _, err := f.sender.ReadRTCP()
		if err != nil {
			return
		}
		f.mu.Lock()
		w := f.current
		var delta uint16
		if w != nil {
			delta = w.seqDelta
		}
		f.mu.Unlock()
		if w == nil {
			continue
		}
		for _, pkt := range packets {
			nack, ok := pkt.(*rtcp.TransportLayerNack)
			if !ok {
				w.d.onRTCP(pkt)
				continue
			}
			// The player numbers what it lost as the follower sent it;
			// the downTrack knows it by its own numbers.
			for _, pair := range nack.Nacks {
				pair.Range(func(seq uint16) bool {
					w.d.retransmit(seq - delta)
					return true
				})
			}
		}
	}
}
