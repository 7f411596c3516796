package main

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// Every payload the tool sends carries a stamp at stampOffset: its stream's
// sequence number (uint32; the SFU rewrites RTP sequence numbers when it
// drops, so loss is counted on this one) and its send time (unix
// nanoseconds). The two bytes before it are the VP8 payload descriptor and
// the first byte of the VP8 frame header, which the SFU reads to find
// keyframes; audio leaves them as filler.
const (
	stampOffset = 2
	stampLen    = 12
)

func putStamp(payload []byte, seq uint32, sent time.Time) {
	binary.BigEndian.PutUint32(payload[stampOffset:], seq)
	binary.BigEndian.PutUint64(payload[stampOffset+4:], uint64(sent.UnixNano()))
}

func readStamp(payload []byte) (seq uint32, sent time.Time, ok bool) {
	if len(payload) < stampOffset+stampLen {
		return 0, time.Time{}, false
	}
	seq = binary.BigEndian.Uint32(payload[stampOffset:])
	sent = time.Unix(0, int64(binary.BigEndian.Uint64(payload[stampOffset+4:])))
	return seq, sent, true
}

// mediaSpec shapes the synthetic media of one publisher.
type mediaSpec struct {
	videoBitrate  int           // bits per second, keyframes included
	fps           int           // video frames per second
	keyframeEvery time.Duration // periodic keyframes, besides those asked for by PLI
	packetSize    int           // video payload bytes per packet at most
	audioPPS      int           // audio packets per second (Opus: 50)
	audioSize     int           // audio payload bytes
}

func defaultMediaSpec(bitrate int) mediaSpec {
	return mediaSpec{videoBitrate: bitrate, fps: 30, keyframeEvery: 2 * time.Second, packetSize: 1150, audioPPS: 50, audioSize: 160}
}

// keyframeFactor is how much bigger a keyframe is than a delta frame, as
// with a real VP8 encoder at this bitrate.
const keyframeFactor = 5

// frameSizes returns keyframe and delta frame sizes whose average over a
// keyframe interval gives the spec's bitrate.
func (s mediaSpec) frameSizes() (key, delta int) {
	perInterval := int(float64(s.fps) * s.keyframeEvery.Seconds())
	if perInterval < 1 {
		perInterval = 1
	}
	budget := s.videoBitrate / 8 * int(s.keyframeEvery/time.Millisecond) / 1000
	delta = budget / (perInterval - 1 + keyframeFactor)
	return delta * keyframeFactor, delta
}

// packetsPerSecond is the packet rate of one publisher, video and audio.
func (s mediaSpec) packetsPerSecond() float64 {
	key, delta := s.frameSizes()
	perInterval := float64(s.fps) * s.keyframeEvery.Seconds()
	pk := float64((key + s.packetSize - 1) / s.packetSize)
	pd := float64((delta + s.packetSize - 1) / s.packetSize)
	return (pk+pd*(perInterval-1))/s.keyframeEvery.Seconds() + float64(s.audioPPS)
}

// rtpWriter is where a stream's packets go: a Pion local track.
type rtpWriter interface {
	WriteRTP(*rtp.Packet) error
}

// stream is one synthetic track being sent: it numbers and stamps every
// packet. next is the stamp the next packet will carry, so the packets
// sent between two loads of next are exactly the numbers in between.
type stream struct {
	key   string // "participantId|source", as subscribe offers name it
	video bool
	out   rtpWriter
	next  atomic.Uint32
	// wantKey is set when a keyframe was asked for (PLI or FIR).
	wantKey atomic.Bool

	rtpSeq uint16
	ts     uint32
	buf    []byte
}

func newStream(key string, video bool, out rtpWriter) *stream {
	s := &stream{key: key, video: video, out: out, buf: make([]byte, 1500)}
	s.next.Store(1)
	return s
}

// sendFrame sends one video frame of size bytes as a burst of packets, the
// last one marked, all with one timestamp.
func (s *stream) sendFrame(size, packetSize int, keyframe bool) {
	s.ts += 90000 / 30
	for first := true; size > 0; first = false {
		n := min(size, packetSize)
		size -= n
		if n < stampOffset+stampLen {
			n = stampOffset + stampLen
		}
		payload := s.buf[:n]
		switch {
		case first && keyframe:
			payload[0], payload[1] = 0x10, 0x00 // start of partition 0; P bit clear: key frame
		case first:
			payload[0], payload[1] = 0x10, 0x01 // start of partition 0; P bit set: inter frame
		default:
			payload[0], payload[1] = 0x00, 0x01 // continuation
		}
		s.write(payload, size == 0)
	}
}

func (s *stream) sendAudio(size int) {
	s.ts += 960
	payload := s.buf[:max(size, stampOffset+stampLen)]
	payload[0], payload[1] = 0x78, 0x00
	s.write(payload, false)
}

func (s *stream) write(payload []byte, marker bool) {
	seq := s.next.Load()
	putStamp(payload, seq, time.Now())
	s.rtpSeq++
	_ = s.out.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: marker, SequenceNumber: s.rtpSeq, Timestamp: s.ts}, Payload: payload})
	s.next.Store(seq + 1)
}

// pace sends video and audio by spec until stop closes: video frames at
// fps (keyframes periodically or when asked), audio at audioPPS. tick, if
// not nil, runs on pace's goroutine after every round of sends.
func pace(spec mediaSpec, video, audio *stream, stop <-chan struct{}, tick func()) {
	key, delta := spec.frameSizes()
	frameEvery := time.Second / time.Duration(spec.fps)
	audioEvery := time.Second / time.Duration(spec.audioPPS)
	start := time.Now()
	nextFrame, nextAudio, nextKey := start, start, start
	for {
		now := time.Now()
		if video != nil && !now.Before(nextFrame) {
			keyframe := !now.Before(nextKey) || video.wantKey.Swap(false)
			if keyframe {
				nextKey = now.Add(spec.keyframeEvery)
				video.sendFrame(key, spec.packetSize, true)
			} else {
				video.sendFrame(delta, spec.packetSize, false)
			}
			nextFrame = nextFrame.Add(frameEvery)
		}
		if audio != nil && !now.Before(nextAudio) {
			audio.sendAudio(spec.audioSize)
			nextAudio = nextAudio.Add(audioEvery)
		}
		if tick != nil {
			tick()
		}
		wake := nextAudio
		if video != nil && (audio == nil || nextFrame.Before(wake)) {
			wake = nextFrame
		}
		select {
		case <-stop:
			return
		case <-time.After(time.Until(wake)):
		}
	}
}

// seqSet records which stamps of one stream a receiver got. A bit set
// counts each stamp once, whatever the order or repeats (retransmissions).
type seqSet struct {
	mu   sync.Mutex
	bits []uint64
	n    int // stamps seen
}

func (s *seqSet) add(seq uint32) {
	i := int(seq / 64)
	s.mu.Lock()
	if i >= len(s.bits) {
		grown := make([]uint64, max(i+1, 2*len(s.bits)))
		copy(grown, s.bits)
		s.bits = grown
	}
	if s.bits[i]&(1<<(seq%64)) == 0 {
		s.bits[i] |= 1 << (seq % 64)
		s.n++
	}
	s.mu.Unlock()
}

// len returns how many distinct stamps were seen.
func (s *seqSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// countIn returns how many stamps in [from, to) were seen.
func (s *seqSet) countIn(from, to uint32) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for seq := from; seq < to; seq++ {
		i := int(seq / 64)
		if i < len(s.bits) && s.bits[i]&(1<<(seq%64)) != 0 {
			n++
		}
	}
	return n
}
