package sfu

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// recordingWriter keeps what a downTrack's writer sends, copied.
type recordingWriter struct {
	mu   sync.Mutex
	sent []sentPacket
}

type sentPacket struct {
	hdr     rtp.Header
	payload []byte
}

func (w *recordingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sent = append(w.sent, sentPacket{hdr: *h, payload: append([]byte(nil), payload...)})
	return len(payload), nil
}

func (w *recordingWriter) Write(b []byte) (int, error) { return len(b), nil }

// wait returns the first n packets sent, failing after a second.
func (w *recordingWriter) wait(t *testing.T, n int) []sentPacket {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		w.mu.Lock()
		got := append([]sentPacket(nil), w.sent...)
		w.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d packets sent, want %d", len(got), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// simulcastSource feeds a test track's layers as a publisher's browser
// would: each layer numbers its own packets, timestamps and pictures.
type simulcastSource struct {
	up  *upTrack
	seq [maxLayers]uint16
	ts  [maxLayers]uint32
	pic [maxLayers]int
}

func newSimulcastSource(up *upTrack) *simulcastSource {
	s := &simulcastSource{up: up}
	for i := range maxLayers {
		s.seq[i] = uint16(1000 * (i + 1))
		s.ts[i] = uint32(5_000_000 * (i + 1))
		s.pic[i] = 700 * (i + 1)
	}
	return s
}

// frame sends one one-packet frame of layer i, a keyframe if key.
func (s *simulcastSource) frame(t *testing.T, i int, key bool) {
	t.Helper()
	l := s.up.layer(i)
	w := 160 << i
	payload := vp8Payload(s.pic[i]&0x7fff, s.pic[i]&0xff, 3, true, key, w, w*9/16)
	p := getPacket()
	b := p.buf[:12+len(payload)]
	b[0], b[1] = 0x80, 96|0x80
	binary.BigEndian.PutUint16(b[2:], s.seq[i])
	binary.BigEndian.PutUint32(b[4:], s.ts[i])
	copy(b[12:], payload)
	if !p.parse(len(b), true, 0) {
		t.Fatal("parse")
	}
	s.seq[i]++
	s.ts[i] += 3000
	s.pic[i]++
	l.forward(p)
}

// all sends one frame of every layer, keyframes if key.
func (s *simulcastSource) all(t *testing.T, key bool) {
	for i := range maxLayers {
		s.frame(t, i, key)
	}
}

// testDown subscribes a recording, ready downTrack to up.
func testDown(up *upTrack) (*downTrack, *recordingWriter) {
	w := &recordingWriter{}
	d := newDownTrack(up, &Peer{room: up.publisher.room, id: "viewer"})
	d.binding.Store(&binding{ssrc: 4242, payloadType: 96, writer: w})
	d.paused.Store(false)
	d.ready.Store(true)
	up.addDown(d)
	return d, w
}

// checkContinuous fails unless the packets' sequence numbers follow each
// other, timestamps never go back, and picture IDs never skip.
func checkContinuous(t *testing.T, sent []sentPacket) {
	t.Helper()
	for i := 1; i < len(sent); i++ {
		a, b := sent[i-1], sent[i]
		if b.hdr.SequenceNumber != a.hdr.SequenceNumber+1 {
			t.Fatalf("packet %d: sequence %d after %d", i, b.hdr.SequenceNumber, a.hdr.SequenceNumber)
		}
		if int32(b.hdr.Timestamp-a.hdr.Timestamp) <= 0 {
			t.Fatalf("packet %d: timestamp %d after %d", i, b.hdr.Timestamp, a.hdr.Timestamp)
		}
		da, _ := parseVP8Desc(a.payload)
		db, _ := parseVP8Desc(b.payload)
		if pa, pb := da.readPicID(a.payload), db.readPicID(b.payload); pb != (pa+1)&0x7fff {
			t.Fatalf("packet %d: picture ID %d after %d", i, pb, pa)
		}
		if ta, tb := a.payload[da.tl0], b.payload[db.tl0]; tb != ta+1 {
			t.Fatalf("packet %d: TL0PICIDX %d after %d", i, tb, ta)
		}
	}
}

// widthOf is the width a sent keyframe announces: which layer it is of.
func widthOf(t *testing.T, p sentPacket) int {
	d, _ := parseVP8Desc(p.payload)
	w, _, ok := vp8KeyframeSize(p.payload, d)
	if !ok {
		t.Fatalf("packet %d is no keyframe", p.hdr.SequenceNumber)
	}
	return w
}

// TestSimulcastLayerSwitches: a subscriber starts on the top layer at its
// keyframe, moves down when its tile shrinks only at a keyframe of the
// lower layer (asked for, and the top layer goes on meanwhile), moves back
// up, falls back when its layer goes silent, and sees one continuous
// stream throughout: sequence numbers, timestamps, picture IDs.
func TestSimulcastLayerSwitches(t *testing.T) {
	up := testTrack(3)
	src := newSimulcastSource(up)
	d, w := testDown(up)
	defer d.close()

	// Interframes first: nothing until a keyframe of the top layer.
	src.all(t, false)
	src.frame(t, 0, true)
	src.frame(t, 2, true)
	src.all(t, false)
	sent := w.wait(t, 2)
	if widthOf(t, sent[0]) != 640 {
		t.Fatalf("started on a %d-wide layer, want the top (640)", widthOf(t, sent[0]))
	}
	if up.layer(2).lastKeyframe.Load() == 0 {
		t.Fatal("no keyframe was asked of the top layer while waiting")
	}

	// A small tile: the low layer, at its next keyframe; the top layer
	// goes on until then.
	d.setView(View{Width: 150, Height: 90})
	if got := d.desired.Load(); got != 0 {
		t.Fatalf("desired layer for a 150x90 tile = %d, want 0", got)
	}
	src.all(t, false)
	if up.layer(0).lastKeyframe.Load() == 0 {
		t.Fatal("no keyframe was asked of the low layer")
	}
	src.frame(t, 0, true)
	src.all(t, false)
	sent = w.wait(t, 5)
	if n := len(sent); n != 5 {
		t.Fatalf("%d packets sent, want 5", n)
	}
	if widthOf(t, sent[3]) != 160 {
		t.Fatalf("moved to a %d-wide layer, want 160", widthOf(t, sent[3]))
	}

	// Large again, then the top layer goes silent: the middle one.
	d.setView(View{Width: 1280, Height: 720})
	src.frame(t, 2, true)
	src.frame(t, 2, false)
	up.layer(2).lastPacket.Store(time.Now().Add(-2 * layerSilence).UnixNano())
	src.frame(t, 1, true)
	src.frame(t, 1, false)
	sent = w.wait(t, 9)
	if widthOf(t, sent[5]) != 640 || widthOf(t, sent[7]) != 320 {
		t.Fatalf("layers after growing and the top's silence: %d, %d", widthOf(t, sent[5]), widthOf(t, sent[7]))
	}
	checkContinuous(t, sent)
	if got := d.switches.Load(); got != 3 {
		t.Fatalf("%d layer switches counted, want 3", got)
	}
}

// TestHiddenTileGetsNothingAndResumesContinuously: a tile the viewer does
// not watch gets no packets; shown again, it resumes at a keyframe, and
// the numbering runs on from where it stopped.
func TestHiddenTileGetsNothingAndResumesContinuously(t *testing.T) {
	up := testTrack(1)
	src := newSimulcastSource(up)
	d, w := testDown(up)
	defer d.close()
	src.frame(t, 0, true)
	src.frame(t, 0, false)
	w.wait(t, 2)
	d.setView(View{Width: 0, Height: 0})
	for range 5 {
		src.frame(t, 0, false)
	}
	src.frame(t, 0, true)
	time.Sleep(20 * time.Millisecond)
	if got := len(w.wait(t, 2)); got != 2 {
		t.Fatalf("%d packets sent to a hidden tile", got-2)
	}
	d.setView(View{Width: 320, Height: 180})
	// The next packet resumes it from the last keyframe, out of the
	// cache: that keyframe, then the packet.
	src.frame(t, 0, false)
	src.frame(t, 0, true)
	sent := w.wait(t, 5)
	if len(sent) != 5 {
		t.Fatalf("%d packets after showing the tile again, want 5", len(sent))
	}
	if widthOf(t, sent[2]) != 160 {
		t.Fatal("the resumed tile did not start at a keyframe")
	}
	checkContinuous(t, sent)
}

// TestChooseLayer: the lowest layer that covers the tile, the top when
// none does, and layers of unknown size taken as halves of the top.
func TestChooseLayer(t *testing.T) {
	full := [maxLayers]layerSize{{160, 90}, {320, 180}, {640, 360}}
	for _, c := range []struct {
		sizes         [maxLayers]layerSize
		width, height int
		want          int
	}{
		{full, 150, 84, 0},
		{full, 170, 95, 0}, // a tenth to spare
		{full, 200, 112, 1},
		{full, 320, 180, 1},
		{full, 600, 338, 2},
		{full, 1920, 1080, 2},
		{[maxLayers]layerSize{{}, {}, {640, 360}}, 150, 84, 0},
		{[maxLayers]layerSize{{}, {}, {640, 360}}, 300, 170, 1},
		{[maxLayers]layerSize{{160, 90}, {320, 180}, {}}, 600, 338, 1},
		{[maxLayers]layerSize{}, 100, 100, 2},
	} {
		if got := chooseLayer(c.sizes, c.width, c.height); got != c.want {
			t.Errorf("chooseLayer(%v, %dx%d) = %d, want %d", c.sizes, c.width, c.height, got, c.want)
		}
	}
}

// TestMetaRoundTrip: what the history keeps of a sent packet comes back.
func TestMetaRoundTrip(t *testing.T) {
	for _, q := range []queued{
		{ts: 0xdeadbeef, rewrite: true, vp8: vp8Numbers{picID: 32767, tl0: 255, keyIdx: 31}},
		{ts: 1, vp8: vp8Numbers{picID: -1, tl0: -1, keyIdx: -1}},
		{ts: 90000, rewrite: true, vp8: vp8Numbers{picID: 0, tl0: -1, keyIdx: 0}},
	} {
		got := unpackMeta(packMeta(q))
		if got.ts != q.ts || got.rewrite != q.rewrite || got.vp8 != q.vp8 {
			t.Errorf("meta %+v came back as %+v", q, got)
		}
	}
}
