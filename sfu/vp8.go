package sfu

import "encoding/binary"

// The VP8 payload descriptor (RFC 7741, section 4.2) a subscriber's
// decoder reads to follow the stream: the picture ID numbers frames, the
// TL0PICIDX numbers base-layer frames, and KEYIDX numbers keyframes. A
// subscriber that moves from one simulcast layer to another, or whose
// track pauses and resumes, would see those jump (each layer numbers its
// own frames), and a decoder that sees picture IDs jump takes frames for
// lost. The downTrack rewrites them (vp8Munger) so that what it sends is
// one continuous stream.

// vp8Desc locates the fields of one packet's descriptor.
type vp8Desc struct {
	// size is the descriptor's length: the VP8 payload header follows.
	size int
	// Byte offsets of the fields, 0 where absent (offset 0 is always the
	// first descriptor byte, which holds none of them).
	picID, tl0, keyIdx int
	longPicID          bool // a 15-bit picture ID (M bit), else 7 bits
	// start: the first packet of a frame (S bit set, partition 0).
	start bool
}

// parseVP8Desc reads the descriptor at the start of a VP8 RTP payload. It
// reports false for a payload too short for the descriptor it announces.
func parseVP8Desc(payload []byte) (vp8Desc, bool) {
	var d vp8Desc
	if len(payload) < 1 {
		return d, false
	}
	d.start = payload[0]&0x10 != 0 && payload[0]&0x07 == 0
	i := 1
	if payload[0]&0x80 != 0 { // X: extension byte follows
		if len(payload) < 2 {
			return d, false
		}
		ext := payload[1]
		i = 2
		if ext&0x80 != 0 { // I: picture ID
			if len(payload) <= i {
				return d, false
			}
			d.picID = i
			if payload[i]&0x80 != 0 {
				d.longPicID = true
				i += 2
			} else {
				i++
			}
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			d.tl0 = i
			i++
		}
		if ext&0x10 != 0 { // K: KEYIDX, in the TID/Y/KEYIDX byte
			d.keyIdx = i
		}
		if ext&0x30 != 0 { // T or K: that byte is there
			i++
		}
	}
	if len(payload) < i {
		return d, false
	}
	d.size = i
	return d, true
}

// keyframe reports whether the payload starts a key frame (RFC 7741): the
// first packet of partition 0 whose VP8 payload header has the inverse key
// frame bit P clear.
func (d vp8Desc) keyframe(payload []byte) bool {
	return d.start && len(payload) > d.size && payload[d.size]&0x01 == 0
}

// readPicID reads the picture ID, -1 if the packet has none.
func (d vp8Desc) readPicID(payload []byte) int {
	switch {
	case d.picID == 0:
		return -1
	case d.longPicID:
		return int(binary.BigEndian.Uint16(payload[d.picID:]) & 0x7fff)
	default:
		return int(payload[d.picID] & 0x7f)
	}
}

// vp8Munger keeps one subscriber's view of a VP8 track continuous. It
// maps each source stream's picture IDs, TL0PICIDXs and KEYIDXs onto the
// subscriber's own numbering: when the stream changes (another layer, or
// the same after a pause), the next frame gets the number after the last
// one sent. Owned by the goroutine that decides what a subscriber is sent.
type vp8Munger struct {
	// Offsets subtracted from the source's numbers, modulo their widths.
	picOffset, tl0Offset, keyOffset int
	// The last numbers sent, and whether anything was sent yet.
	lastPic, lastTL0, lastKey int
	sent                      bool
	// rebase: the next frame of the source starts a new numbering run.
	rebase bool
	// active: the offsets are not all zero, so payloads must be rewritten.
	active bool
}

// restart makes the next packet of the source (a keyframe of another
// layer, or the first after a pause) continue the numbering.
func (m *vp8Munger) restart() { m.rebase = true }

// vp8Numbers are the rewritten descriptor fields of one packet, -1 where
// the packet has none.
type vp8Numbers struct {
	picID, tl0, keyIdx int
}

// next returns the numbers payload carries to this subscriber, and
// advances the munger's state.
func (m *vp8Munger) next(payload []byte, d vp8Desc) vp8Numbers {
	pic := d.readPicID(payload)
	tl0, key := -1, -1
	if d.tl0 != 0 {
		tl0 = int(payload[d.tl0])
	}
	if d.keyIdx != 0 {
		key = int(payload[d.keyIdx] & 0x1f)
	}
	if m.rebase {
		m.rebase = false
		if m.sent {
			if pic >= 0 {
				m.picOffset = mod(pic-(m.lastPic+1), 1<<15)
			}
			if tl0 >= 0 {
				m.tl0Offset = mod(tl0-(m.lastTL0+1), 1<<8)
			}
			if key >= 0 {
				m.keyOffset = mod(key-(m.lastKey+1), 1<<5)
			}
			m.active = m.picOffset != 0 || m.tl0Offset != 0 || m.keyOffset != 0
		}
	}
	out := vp8Numbers{picID: -1, tl0: -1, keyIdx: -1}
	if pic >= 0 {
		width := 1 << 7
		if d.longPicID {
			width = 1 << 15
		}
		out.picID = mod(pic-m.picOffset, width)
		m.lastPic = out.picID
	}
	if tl0 >= 0 {
		out.tl0 = mod(tl0-m.tl0Offset, 1<<8)
		m.lastTL0 = out.tl0
	}
	if key >= 0 {
		out.keyIdx = mod(key-m.keyOffset, 1<<5)
		m.lastKey = out.keyIdx
	}
	m.sent = true
	return out
}

// rewriteVP8 copies payload into dst with the descriptor's numbers
// replaced, keeping every field's width, and returns the copy.
func rewriteVP8(dst, payload []byte, d vp8Desc, n vp8Numbers) []byte {
	out := dst[:len(payload)]
	copy(out, payload)
	if n.picID >= 0 && d.picID != 0 {
		if d.longPicID {
			binary.BigEndian.PutUint16(out[d.picID:], 0x8000|uint16(n.picID&0x7fff))
		} else {
			out[d.picID] = byte(n.picID & 0x7f)
		}
	}
	if n.tl0 >= 0 && d.tl0 != 0 {
		out[d.tl0] = byte(n.tl0)
	}
	if n.keyIdx >= 0 && d.keyIdx != 0 {
		out[d.keyIdx] = out[d.keyIdx]&0xe0 | byte(n.keyIdx&0x1f)
	}
	return out
}

// vp8KeyframeSize reads the width and height a VP8 keyframe's payload
// header announces (RFC 6386, section 9.1), for the first packet of a
// keyframe; ok is false for anything else.
func vp8KeyframeSize(payload []byte, d vp8Desc) (width, height int, ok bool) {
	b := payload[d.size:]
	// 3-byte frame tag (P bit clear for a keyframe), start code, then
	// 14-bit width and height, each with a 2-bit scale above it.
	if !d.keyframe(payload) || len(b) < 10 || b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
		return 0, 0, false
	}
	width = int(binary.LittleEndian.Uint16(b[6:]) & 0x3fff)
	height = int(binary.LittleEndian.Uint16(b[8:]) & 0x3fff)
	return width, height, width > 0 && height > 0
}

// mod is x modulo m, never negative.
func mod(x, m int) int {
	x %= m
	if x < 0 {
		x += m
	}
	return x
}
