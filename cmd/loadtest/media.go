package main

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// Every payload the tool sends carries a stamp at stampOffset: its
// stream's sequence number (uint32; the SFU rewrites RTP sequence numbers
// when it drops, so loss is counted on this one), its send time (unix
// nanoseconds) and its simulcast layer (0 for a plain track and audio).
// What comes before it in a video payload is shaped as a browser's VP8:
// the payload descriptor with a 15-bit picture ID (vp8Desc bytes), then
// the first bytes of the VP8 frame, which on a keyframe's first packet
// announce the frame's size (RFC 6386, section 9.1): the SFU reads the
// keyframe bit and the size there. Audio leaves them as filler.
const (
	vp8DescLen   = 4  // X=1, I=1 with a 15-bit picture ID
	vp8HeaderLen = 10 // frame tag, start code, width, height
	stampOffset  = vp8DescLen + vp8HeaderLen
	stampLen     = 13
)

func putStamp(payload []byte, seq uint32, sent time.Time, layer uint8) {
	binary.BigEndian.PutUint32(payload[stampOffset:], seq)
	binary.BigEndian.PutUint64(payload[stampOffset+4:], uint64(sent.UnixNano()))
	payload[stampOffset+12] = layer
}

func readStamp(payload []byte) (seq uint32, sent time.Time, layer int, ok bool) {
	if len(payload) < stampOffset+stampLen {
		return 0, time.Time{}, 0, false
	}
	seq = binary.BigEndian.Uint32(payload[stampOffset:])
	sent = time.Unix(0, int64(binary.BigEndian.Uint64(payload[stampOffset+4:])))
	return seq, sent, int(payload[stampOffset+12]), true
}

// putVP8 writes the descriptor and the frame's first bytes: a keyframe's
// first packet announces width x height; the first packet of any other
// frame has the frame tag's inverse key frame bit set.
func putVP8(payload []byte, picID uint16, first, keyframe bool, width, height int) {
	clear(payload[:stampOffset])
	payload[0] = 0x80 // X: the extension byte follows
	if first {
		payload[0] |= 0x10 // S: start of partition 0
	}
	payload[1] = 0x80 // I: a picture ID follows
	binary.BigEndian.PutUint16(payload[2:], 0x8000|picID&0x7fff)
	if !first {
		return
	}
	h := payload[vp8DescLen:]
	if !keyframe {
		h[0] = 0x11 // P set: an inter frame; shown
		return
	}
	h[0] = 0x10 // P clear: a keyframe; shown
	h[3], h[4], h[5] = 0x9d, 0x01, 0x2a
	binary.LittleEndian.PutUint16(h[6:], uint16(width)&0x3fff)
	binary.LittleEndian.PutUint16(h[8:], uint16(height)&0x3fff)
}

// vp8Frame reads what a receiver needs of a VP8 payload: whether it is
// the first packet of a keyframe, and the size that keyframe announces.
// It reads any descriptor a VP8 sender writes (RFC 7741, section 4.2).
func vp8Frame(payload []byte) (keyframe bool, width, height int) {
	if len(payload) < 1 || payload[0]&0x10 == 0 || payload[0]&0x07 != 0 {
		return false, 0, 0 // not the start of partition 0
	}
	i := 1
	if payload[0]&0x80 != 0 && len(payload) > 1 {
		ext := payload[1]
		i = 2
		if ext&0x80 != 0 && len(payload) > 2 {
			if payload[2]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if ext&0x40 != 0 {
			i++
		}
		if ext&0x30 != 0 {
			i++
		}
	}
	if len(payload) <= i || payload[i]&0x01 != 0 {
		return false, 0, 0
	}
	h := payload[i:]
	if len(h) >= 10 && h[3] == 0x9d && h[4] == 0x01 && h[5] == 0x2a {
		width = int(binary.LittleEndian.Uint16(h[6:]) & 0x3fff)
		height = int(binary.LittleEndian.Uint16(h[8:]) & 0x3fff)
	}
	return true, width, height
}

// mediaSpec shapes the synthetic media of one publisher.
type mediaSpec struct {
	videoBitrate  int           // bits per second of the top layer, keyframes included
	fps           int           // video frames per second
	keyframeEvery time.Duration // periodic keyframes, besides those asked for by PLI
	// keyframesOnRequest: after the first, keyframes only when asked for,
	// as a browser's encoder sends them; frame sizes still assume
	// keyframeEvery.
	keyframesOnRequest bool
	packetSize         int // video payload bytes per packet at most
	audioPPS           int // audio packets per second (Opus: 50)
	audioSize          int // audio payload bytes
}

func defaultMediaSpec(bitrate int, keyframesOnRequest bool) mediaSpec {
	return mediaSpec{videoBitrate: bitrate, fps: 30, keyframeEvery: 2 * time.Second, keyframesOnRequest: keyframesOnRequest, packetSize: 1150, audioPPS: 50, audioSize: 160}
}

// keyframeFactor is how much bigger a keyframe is than a delta frame, as
// with a real VP8 encoder at this bitrate.
const keyframeFactor = 5

// frameSizes returns keyframe and delta frame sizes whose average over a
// keyframe interval gives bitrate.
func (s mediaSpec) frameSizes(bitrate int) (key, delta int) {
	perInterval := int(float64(s.fps) * s.keyframeEvery.Seconds())
	if perInterval < 1 {
		perInterval = 1
	}
	budget := bitrate / 8 * int(s.keyframeEvery/time.Millisecond) / 1000
	delta = budget / (perInterval - 1 + keyframeFactor)
	return delta * keyframeFactor, delta
}

// videoLayer is one encoding of a publisher's camera: a plain camera
// has one (RID ""), a simulcast one three.
type videoLayer struct {
	RID     string `json:"rid"`
	Width   int    `json:"width"`
	Height  int    `json:"height"`
	Bitrate int    `json:"bitrate_bps"`
}

// rtpWriter is where a stream's packets go: a Pion local track, or one
// simulcast layer of one.
type rtpWriter interface {
	WriteRTP(*rtp.Packet) error
}

// stream is one synthetic RTP stream being sent: audio, a camera, or one
// simulcast layer of a camera. It numbers and stamps every packet. next
// is the stamp the next packet will carry, so the packets sent between two
// loads of next are exactly the numbers in between.
type stream struct {
	key   string // "participantId|source", as subscribe offers name it
	video bool
	layer int        // index among the camera's layers, lowest first
	shape videoLayer // of a video stream
	out   rtpWriter
	next  atomic.Uint32
	// wantKey is set when a keyframe was asked for (PLI or FIR).
	wantKey atomic.Bool

	keySize, deltaSize int // video frame sizes, from the spec and shape
	picID              uint16
	rtpSeq             uint16
	ts                 uint32
	buf                []byte
}

func newAudioStream(key string, out rtpWriter) *stream {
	s := &stream{key: key, out: out, buf: make([]byte, 1500)}
	s.next.Store(1)
	return s
}

// newVideoStream makes the stream of layer index of a camera of spec.
func newVideoStream(key string, out rtpWriter, spec mediaSpec, index int, shape videoLayer) *stream {
	s := newAudioStream(key, out)
	s.video, s.layer, s.shape = true, index, shape
	s.keySize, s.deltaSize = spec.frameSizes(shape.Bitrate)
	// Each layer numbers its pictures from a number of its own, as each
	// of a browser's encoders does.
	s.picID = uint16(rand.N(1 << 15))
	return s
}

// streamID names a stream among what a receiver gets: a camera's layers
// share its key.
type streamID struct {
	key   string
	layer int
}

func (s *stream) id() streamID { return streamID{s.key, s.layer} }

// sendFrame sends one video frame as a burst of packets of at most
// packetSize bytes, the last one marked, all with one timestamp.
func (s *stream) sendFrame(packetSize int, keyframe bool) {
	s.ts += 90000 / 30
	s.picID = (s.picID + 1) & 0x7fff
	size := s.deltaSize
	if keyframe {
		size = s.keySize
	}
	for first := true; size > 0; first = false {
		n := min(size, packetSize)
		size -= n
		payload := s.buf[:max(n, stampOffset+stampLen)]
		putVP8(payload, s.picID, first, keyframe, s.shape.Width, s.shape.Height)
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
	putStamp(payload, seq, time.Now(), uint8(s.layer))
	s.rtpSeq++
	_ = s.out.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: marker, SequenceNumber: s.rtpSeq, Timestamp: s.ts}, Payload: payload})
	s.next.Store(seq + 1)
}

// pace sends video and audio by spec until stop closes: a frame of every
// video layer at fps (keyframes periodically, of every layer at once, or
// of a layer when asked), audio at audioPPS. tick, if not nil, runs on
// pace's goroutine after every round of sends.
func pace(spec mediaSpec, videos []*stream, audio *stream, stop <-chan struct{}, tick func()) {
	frameEvery := time.Second / time.Duration(spec.fps)
	audioEvery := time.Second / time.Duration(spec.audioPPS)
	start := time.Now()
	nextFrame, nextAudio, nextKey := start, start, start
	for {
		now := time.Now()
		if len(videos) > 0 && !now.Before(nextFrame) {
			periodic := !now.Before(nextKey)
			if periodic {
				nextKey = now.Add(spec.keyframeEvery)
				if spec.keyframesOnRequest {
					nextKey = now.Add(100 * 365 * 24 * time.Hour)
				}
			}
			for _, v := range videos {
				v.sendFrame(spec.packetSize, v.wantKey.Swap(false) || periodic)
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
		if len(videos) > 0 && (audio == nil || nextFrame.Before(wake)) {
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
