package record

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/at-wat/ebml-go/mkvcore"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
)

// TrackInfo describes a track to record.
type TrackInfo struct {
	ParticipantID string
	Participant   string // the name shown in the room
	Source        string // camera, microphone, screen
	Video         bool   // VP8; otherwise Opus
	ClockRate     uint32
	// RequestKeyframe asks the publisher for a keyframe; nil for sound.
	// The SFU limits how often it really asks.
	RequestKeyframe func()
}

// queueLength is how many packets a track holds for its writer: about a
// second of a 1.5 Mbit/s camera. A writer that falls further behind (a
// slow disk) loses packets, never the forwarding path's time.
const queueLength = 256

// The sample builders' patience, in packets: how late a packet may come
// (a NACK's answer) and still make its frame.
const (
	videoLate = 256
	audioLate = 64
)

// Cluster lengths, in milliseconds: a new cluster at the first keyframe a
// second or more into the current one, and every 5 s at the latest, so
// that a player can seek and a file cut short keeps its clusters whole
// but the last.
const (
	minCluster = 1000
	maxCluster = 5000
)

// cuesReserved is the room kept at the front of a file for its seek index;
// a long recording's index is thinned to fit.
const cuesReserved = 16 << 10

var packetPool = sync.Pool{New: func() any { return &rtp.Packet{Payload: make([]byte, 0, 1500)} }}

// Track writes one track's packets to its file.
type Track struct {
	rec   *Recording
	info  TrackInfo
	queue chan *rtp.Packet
	quit  chan struct{}
	once  sync.Once

	// Owned by the writer's goroutine; out is set under mu.
	out       *countingFile
	writer    webm.BlockWriteCloser
	needKey   bool
	firstTS   int64 // the first written sample's unwrapped timestamp
	extTS     int64
	lastTS    uint32
	lastMs    int64
	wrote     bool // a frame is in the file
	haveTS    bool
	startedAt time.Time

	mu     sync.Mutex // guards meta
	meta   File
	opened bool

	dropped atomic.Int64
}

// AddTrack starts recording a track. It is refused once the recording
// stopped.
func (r *Recording) AddTrack(info TrackInfo) (*Track, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return nil, errors.New("the recording has stopped")
	}
	codec := "Opus"
	if info.Video {
		codec = "VP8"
	}
	t := &Track{
		rec:   r,
		info:  info,
		queue: make(chan *rtp.Packet, queueLength),
		quit:  make(chan struct{}),
		meta: File{
			Name:          r.fileNameLocked(info.ParticipantID, info.Source),
			ParticipantID: info.ParticipantID,
			Participant:   info.Participant,
			Source:        info.Source,
			Codec:         codec,
		},
	}
	r.tracks = append(r.tracks, t)
	r.wg.Add(1)
	go t.run()
	return t, nil
}

// WriteRTP queues a copy of a packet; it never blocks. The caller keeps
// its payload.
func (t *Track) WriteRTP(seq uint16, timestamp uint32, marker bool, payload []byte) {
	select {
	case <-t.quit:
		return
	default:
	}
	p := packetPool.Get().(*rtp.Packet)
	p.Header = rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: timestamp, Marker: marker}
	p.Payload = append(p.Payload[:0], payload...)
	select {
	case t.queue <- p:
	default:
		packetPool.Put(p)
		t.dropped.Add(1)
	}
}

// Close ends the track: what is queued is written, then the file is
// finished. It does not wait (Recording.Stop does).
func (t *Track) Close() {
	t.once.Do(func() { close(t.quit) })
}

// file is the track's entry in the manifest, once its file exists.
func (t *Track) file() (File, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.meta
	if t.out != nil {
		f.Bytes = t.out.size.Load()
	}
	return f, t.opened
}

func (t *Track) run() {
	defer t.rec.wg.Done()
	var depacketizer rtp.Depacketizer = &codecs.OpusPacket{}
	late := uint16(audioLate)
	if t.info.Video {
		depacketizer, late = &codecs.VP8Packet{}, videoLate
	}
	sb := samplebuilder.New(late, depacketizer, t.info.ClockRate,
		samplebuilder.WithPacketReleaseHandler(func(p *rtp.Packet) { packetPool.Put(p) }))
	for {
		select {
		case p := <-t.queue:
			sb.Push(p)
			t.drain(sb)
		case <-t.quit:
			for {
				select {
				case p := <-t.queue:
					sb.Push(p)
					t.drain(sb)
					continue
				default:
				}
				break
			}
			sb.Flush()
			t.drain(sb)
			t.finish()
			return
		}
	}
}

func (t *Track) drain(sb *samplebuilder.SampleBuilder) {
	for s := sb.Pop(); s != nil; s = sb.Pop() {
		t.write(s)
	}
}

// write adds one frame to the file, opening the file at the first one
// it can start with (a keyframe, for video).
func (t *Track) write(s *media.Sample) {
	if len(s.Data) == 0 || t.rec.faulted.Load() {
		return
	}
	keyframe := true
	if t.info.Video {
		// VP8's frame tag: bit 0 is 0 on a keyframe (RFC 6386, 9.1).
		keyframe = s.Data[0]&1 == 0
		if s.PrevDroppedPackets > 0 {
			t.needKey = true
		}
		if (t.needKey || t.writer == nil) && !keyframe {
			t.askKeyframe()
			return
		}
		if keyframe {
			t.needKey = false
		}
	}
	if t.writer == nil && !t.open(s) {
		return
	}
	ms := t.millis(s.PacketTimestamp)
	if t.wrote && ms <= t.lastMs {
		// Players take each frame's time as later than the last one's; a
		// frame rebuilt out of order or twice (a late retransmission)
		// would make two at one time.
		return
	}
	t.lastMs, t.wrote = ms, true
	if _, err := t.writer.Write(keyframe, ms, s.Data); err != nil {
		t.rec.fault(err)
		return
	}
	t.mu.Lock()
	t.meta.DurationMs = ms
	t.mu.Unlock()
	if max := t.rec.opts.MaxBytes; max > 0 && t.rec.written.Load() >= max {
		t.rec.fault(ErrLimit)
	}
}

func (t *Track) askKeyframe() {
	if t.info.RequestKeyframe != nil {
		t.info.RequestKeyframe()
	}
}

// millis is a sample's time in the file, in milliseconds from its first
// frame, from the RTP timestamps (unwrapped).
func (t *Track) millis(ts uint32) int64 {
	if !t.haveTS {
		t.haveTS, t.lastTS, t.extTS, t.firstTS = true, ts, int64(ts), int64(ts)
	}
	t.extTS += int64(int32(ts - t.lastTS))
	t.lastTS = ts
	return (t.extTS - t.firstTS) * 1000 / int64(t.info.ClockRate)
}

// open creates the track's file, with its first frame in hand.
func (t *Track) open(s *media.Sample) bool {
	entry := webm.TrackEntry{Name: t.info.Source, TrackNumber: 1, TrackUID: trackUID()}
	if t.info.Video {
		w, h, ok := vp8Size(s.Data)
		if !ok {
			return false
		}
		entry.CodecID, entry.TrackType = "V_VP8", 1
		entry.Video = &webm.Video{PixelWidth: uint64(w), PixelHeight: uint64(h)}
	} else {
		entry.CodecID, entry.TrackType = "A_OPUS", 2
		entry.Audio = &webm.Audio{SamplingFrequency: 48000, Channels: 2}
		entry.CodecPrivate = opusHead(2)
	}
	t.mu.Lock()
	name := t.meta.Name
	t.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(t.rec.dir, name), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err != nil {
		t.rec.fault(err)
		return false
	}
	out := &countingFile{f: f, rec: t.rec}
	ws, err := webm.NewSimpleBlockWriter(out, []webm.TrackEntry{entry},
		mkvcore.WithSegmentInfo(&webm.Info{TimecodeScale: 1_000_000, MuxingApp: "meet", WritingApp: "meet"}),
		mkvcore.WithSeekHead(true),
		mkvcore.WithCues(cuesReserved),
		mkvcore.WithMinMaxClusterDuration(1, minCluster, maxCluster),
		mkvcore.WithOnErrorHandler(func(err error) { t.rec.log.Debug("recording: frame left out", "file", name, "err", err) }),
		mkvcore.WithOnFatalHandler(func(err error) { t.rec.fault(err) }),
	)
	if err != nil {
		_ = f.Close()
		t.rec.fault(err)
		return false
	}
	t.writer = ws[0]
	t.startedAt = time.Now()
	t.mu.Lock()
	t.out = out // file() reads it for the manifest, from another goroutine
	t.meta.StartOffsetMs = t.startedAt.Sub(t.rec.manifest.StartedAt).Milliseconds()
	t.opened = true
	t.mu.Unlock()
	return true
}

// finish closes the file: the muxer writes the last cluster, the cues and
// the duration.
func (t *Track) finish() {
	if t.writer == nil {
		return
	}
	if err := t.writer.Close(); err != nil {
		t.rec.log.Warn("recording: closing a file", "err", err)
	}
	if d := t.dropped.Load(); d > 0 {
		t.rec.log.Warn("recording: packets dropped by a slow writer", "source", t.info.Source, "participant", t.info.ParticipantID, "dropped", d)
	}
}

// vp8Size reads a VP8 keyframe's picture size (RFC 6386, 9.1).
func vp8Size(frame []byte) (w, h int, ok bool) {
	if len(frame) < 10 || frame[0]&1 != 0 || frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return 0, 0, false
	}
	w = int(binary.LittleEndian.Uint16(frame[6:8]) & 0x3fff)
	h = int(binary.LittleEndian.Uint16(frame[8:10]) & 0x3fff)
	return w, h, w > 0 && h > 0
}

// opusHead is the identification header WebM keeps as an Opus track's
// codec private data (RFC 7845, 5.1): version 1, no pre-skip, 48 kHz, no
// gain, mapping family 0.
func opusHead(channels byte) []byte {
	b := make([]byte, 19)
	copy(b, "OpusHead")
	b[8], b[9] = 1, channels
	binary.LittleEndian.PutUint32(b[12:16], 48000)
	return b
}

func trackUID() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])>>1 | 1
}

// countingFile is a track's file as the muxer sees it. It counts what is
// written against the recording's limit, and it never hands the muxer an
// error (on which the muxer's goroutine would stop, and the writes after
// it wait for good): a failed or refused write faults the recording, which
// then stops, and the file keeps what was written before.
type countingFile struct {
	f    *os.File
	rec  *Recording
	size atomic.Int64
	bad  atomic.Bool
}

// limitSlack is how far past its limit a recording's last writes may go
// while it stops: the frames in flight, the cues and the last cluster.
const limitSlack = 64 << 10

func (c *countingFile) Write(b []byte) (int, error) {
	if c.bad.Load() {
		return len(b), nil
	}
	if max := c.rec.opts.MaxBytes; max > 0 && c.rec.written.Load()+int64(len(b)) > max+limitSlack {
		c.fail(ErrLimit)
		return len(b), nil
	}
	n, err := c.f.Write(b)
	c.size.Add(int64(n))
	c.rec.written.Add(int64(n))
	if err != nil {
		c.fail(err)
	}
	return len(b), nil
}

func (c *countingFile) WriteAt(b []byte, off int64) (int, error) {
	if c.bad.Load() {
		return len(b), nil
	}
	if _, err := c.f.WriteAt(b, off); err != nil {
		c.fail(err)
	}
	return len(b), nil
}

func (c *countingFile) Close() error {
	err := c.f.Sync()
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (c *countingFile) fail(err error) {
	c.bad.Store(true)
	if errors.Is(err, syscall.ENOSPC) {
		err = ErrDiskFull
	}
	c.rec.fault(err)
}
