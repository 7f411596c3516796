package sfu

import (
	"encoding/binary"
	"testing"
)

// vp8Payload builds a VP8 RTP payload: a descriptor with a 15-bit picture
// ID, TL0PICIDX and KEYIDX, then a payload header, a keyframe's when key
// (with its size), else an interframe's.
func vp8Payload(pic, tl0, keyIdx int, start, key bool, w, h int) []byte {
	b := []byte{0x80, 0xd0, 0, 0, byte(tl0), byte(keyIdx & 0x1f)}
	if start {
		b[0] |= 0x10
	}
	binary.BigEndian.PutUint16(b[2:], 0x8000|uint16(pic))
	if key {
		tag := []byte{0x00, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0, 0, 0, 0}
		binary.LittleEndian.PutUint16(tag[6:], uint16(w))
		binary.LittleEndian.PutUint16(tag[8:], uint16(h))
		return append(b, tag...)
	}
	return append(b, 0x01, 0x02, 0x03, 0x04)
}

func TestParseVP8Descriptor(t *testing.T) {
	p := vp8Payload(1234, 77, 5, true, true, 640, 360)
	d, ok := parseVP8Desc(p)
	if !ok || d.size != 6 || d.picID != 2 || !d.longPicID || d.tl0 != 4 || d.keyIdx != 5 || !d.start {
		t.Fatalf("descriptor = %+v, %v", d, ok)
	}
	if got := d.readPicID(p); got != 1234 {
		t.Fatalf("picture ID = %d", got)
	}
	if w, h, ok := vp8KeyframeSize(p, d); !ok || w != 640 || h != 360 {
		t.Fatalf("keyframe size = %dx%d, %v", w, h, ok)
	}
	if _, _, ok := vp8KeyframeSize(vp8Payload(1, 1, 1, true, false, 0, 0), d); ok {
		t.Fatal("an interframe has a keyframe size")
	}
	// Short payloads that announce more than they carry.
	for _, short := range [][]byte{{}, {0x80}, {0x80, 0x80}, {0x80, 0x80, 0x80}, {0x80, 0x40}, {0x80, 0x20}} {
		if _, ok := parseVP8Desc(short); ok {
			t.Errorf("parsed %x", short)
		}
	}
	// No extension: a one-byte descriptor, nothing to number.
	if d, ok := parseVP8Desc([]byte{0x10, 0x00}); !ok || d.size != 1 || d.readPicID([]byte{0x10}) != -1 {
		t.Fatalf("plain descriptor = %+v", d)
	}
}

// TestVP8MungerKeepsNumbersContinuous: a subscriber that moves from one
// layer to another (each numbering its own frames) and back, and pauses,
// sees picture IDs, TL0PICIDXs and KEYIDXs run on by one, wrapping at
// their widths.
func TestVP8MungerKeepsNumbersContinuous(t *testing.T) {
	var m vp8Munger
	buf := make([]byte, maxPacketSize)
	var last vp8Numbers
	send := func(pic, tl0, key int) vp8Numbers {
		t.Helper()
		p := vp8Payload(pic, tl0, key, true, false, 0, 0)
		d, ok := parseVP8Desc(p)
		if !ok {
			t.Fatal("parse")
		}
		n := m.next(p, d)
		out := rewriteVP8(buf, p, d, n)
		od, _ := parseVP8Desc(out)
		if got := od.readPicID(out); got != n.picID || int(out[od.tl0]) != n.tl0 || int(out[od.keyIdx]&0x1f) != n.keyIdx {
			t.Fatalf("rewritten payload %x does not carry %+v", out, n)
		}
		if out[od.keyIdx]&0xe0 != p[d.keyIdx]&0xe0 || string(out[d.size:]) != string(p[d.size:]) {
			t.Fatal("the rewrite changed more than the numbers")
		}
		last = n
		return n
	}
	// Layer 0 from its own numbers: nothing to rewrite yet.
	for i := range 3 {
		if n := send(100+i, 10+i, 3); n.picID != 100+i || n.tl0 != 10+i || m.active {
			t.Fatalf("frame %d of the first layer = %+v (active %v)", i, n, m.active)
		}
	}
	// Layer 2, numbered far away: continues at 103, 13, 4.
	m.restart()
	if n := send(30000, 200, 17); n != (vp8Numbers{picID: 103, tl0: 13, keyIdx: 4}) || !m.active {
		t.Fatalf("first frame after the switch = %+v", n)
	}
	if n := send(30001, 201, 17); n != (vp8Numbers{picID: 104, tl0: 14, keyIdx: 4}) {
		t.Fatalf("second frame after the switch = %+v", n)
	}
	// The source wraps its 15-bit picture ID: so does the output, by one.
	m.restart()
	send(32767, 255, 31)
	if last != (vp8Numbers{picID: 105, tl0: 15, keyIdx: 5}) {
		t.Fatalf("after a second switch = %+v", last)
	}
	if n := send(0, 0, 31); n != (vp8Numbers{picID: 106, tl0: 16, keyIdx: 5}) {
		t.Fatalf("across the source's wrap = %+v", n)
	}
	// The output wraps too.
	m.restart()
	m.lastPic, m.lastTL0, m.lastKey = 32767, 255, 31
	if n := send(5, 5, 5); n != (vp8Numbers{picID: 0, tl0: 0, keyIdx: 0}) {
		t.Fatalf("across the output's wrap = %+v", n)
	}
}
