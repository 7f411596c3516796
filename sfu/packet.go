package sfu

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// maxPacketSize is the largest RTP packet we read: an Ethernet MTU with
// room to spare.
const maxPacketSize = 1500

// packet is one received RTP packet shared, read-only, by every subscriber
// it goes to. It returns to the pool when the last of them is done, so the
// forwarding path allocates nothing per packet once the pool is warm.
type packet struct {
	buf  [maxPacketSize]byte
	refs atomic.Int32

	// Parsed from buf; payload is a slice of buf.
	seq       uint16
	timestamp uint32
	marker    bool
	keyframe  bool
	payload   []byte
	// Set by the reader that received it: its simulcast layer, and when
	// it arrived (unix nanoseconds).
	layer   int8
	arrival int64
	// audioLevel is the RFC 6464 level the publisher measured, in -dBov
	// (0 loudest, 127 silence); -1 when the packet has none.
	audioLevel int8
	// vp8 locates the payload descriptor of a VP8 packet, read once by
	// the reader for every subscriber (vp8.go); vp8OK: it could be read.
	vp8   vp8Desc
	vp8OK bool
}

var packetPool = sync.Pool{New: func() any { return new(packet) }}

func getPacket() *packet { return packetPool.Get().(*packet) }

// release drops one reference; the last one returns the packet to the pool.
func (p *packet) release() {
	if p.refs.Add(-1) == 0 {
		p.payload = nil
		packetPool.Put(p)
	}
}

// parse reads the RTP header fields the forwarder needs from p.buf[:n]. It
// returns false for anything that is not a well-formed RTP packet. CSRCs
// and header extensions are not forwarded: extension ids are negotiated
// per connection, so the publisher's ids mean nothing to a subscriber.
// Of the extensions, only the audio level is read, when levelID (its id
// on the publisher's connection) is not 0.
func (p *packet) parse(n int, video bool, levelID uint8) bool {
	b := p.buf[:n]
	if n < 12 || b[0]>>6 != 2 {
		return false
	}
	p.audioLevel = -1
	offset := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 { // extension
		if n < offset+4 {
			return false
		}
		words := int(binary.BigEndian.Uint16(b[offset+2:]))
		if levelID != 0 && n >= offset+4+4*words && binary.BigEndian.Uint16(b[offset:]) == 0xbede {
			p.audioLevel = oneByteExtension(b[offset+4:offset+4+4*words], levelID)
		}
		offset += 4 + 4*words
	}
	end := n
	if b[0]&0x20 != 0 { // padding
		pad := int(b[n-1])
		if pad == 0 || end-pad < offset {
			return false
		}
		end -= pad
	}
	if offset > end {
		return false
	}
	p.marker = b[1]&0x80 != 0
	p.seq = binary.BigEndian.Uint16(b[2:])
	p.timestamp = binary.BigEndian.Uint32(b[4:])
	p.payload = b[offset:end]
	// Video is VP8 (sfu/codec): its descriptor is read once here, for
	// the keyframe bit and for every subscriber's rewrite (vp8.go).
	p.vp8OK, p.keyframe = false, false
	if video {
		p.vp8, p.vp8OK = parseVP8Desc(p.payload)
		p.keyframe = p.vp8OK && p.vp8.keyframe(p.payload)
	}
	return true
}

// oneByteExtension finds element id in a one-byte header extension block
// (RFC 8285) and returns its first byte's low 7 bits (the audio level), or
// -1 if it is not there.
func oneByteExtension(block []byte, id uint8) int8 {
	for i := 0; i < len(block); {
		head := block[i]
		if head == 0 { // padding
			i++
			continue
		}
		elemID, size := head>>4, int(head&0x0f)+1
		if elemID == 15 || i+1+size > len(block) {
			return -1
		}
		if elemID == id {
			return int8(block[i+1] & 0x7f)
		}
		i += 1 + size
	}
	return -1
}

// cacheSize is how many recent packets of a video track are kept to answer
// NACKs: about 2.5 s of 1.5 Mbit/s video, far more than a retransmission
// can usefully arrive in. A power of two, so that seq%cacheSize follows
// the 16-bit sequence numbers across their wrap.
const cacheSize = 512

// packetCache holds the last packets of one video track, shared by all of
// its subscribers: a NACK is answered from this one copy, where Pion's
// NACK responder would copy every packet once per subscriber (most of the
// SFU's memory per viewer, and a tenth of its CPU, when profiled).
type packetCache struct {
	mu    sync.Mutex
	slots [cacheSize]*packet
}

// put keeps p, which must carry a reference for the cache, and releases
// the packet whose slot it takes.
func (c *packetCache) put(p *packet) {
	i := p.seq % cacheSize
	c.mu.Lock()
	old := c.slots[i]
	c.slots[i] = p
	c.mu.Unlock()
	if old != nil {
		old.release()
	}
}

// get returns the packet the publisher sent with sequence number seq,
// with a reference the caller must release, or nil if it is gone.
func (c *packetCache) get(seq uint16) *packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.slots[seq%cacheSize]
	if p == nil || p.seq != seq {
		return nil
	}
	p.refs.Add(1)
	return p
}

// run returns the cached packets numbered from up to (not including) to,
// each with a reference the caller must release, or nil unless all of
// them are there.
func (c *packetCache) run(from, to uint16) []*packet {
	n := int(to - from)
	if n <= 0 || n > cacheSize {
		return nil
	}
	out := make([]*packet, 0, n)
	c.mu.Lock()
	defer c.mu.Unlock()
	for seq := from; seq != to; seq++ {
		p := c.slots[seq%cacheSize]
		if p == nil || p.seq != seq {
			return nil
		}
		out = append(out, p)
	}
	for _, p := range out {
		p.refs.Add(1)
	}
	return out
}

// clear releases every cached packet.
func (c *packetCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.slots {
		if p != nil {
			p.release()
			c.slots[i] = nil
		}
	}
}
