package sfu

import (
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Handing a packet to each subscriber's writer goroutine cost every
// delivery a channel send, a wake-up and a trip through the scheduler: a
// fifth of the server's CPU with 20 viewers (issue 19). A write to a UDP
// subscriber cannot block on that subscriber (the kernel takes the
// datagram or drops it), so the reader of the publisher's track, which
// has the packet in hand, sends it itself whenever it can do so in order:
// the subscriber is on UDP and nothing of this track waits for the writer.
// Otherwise the packet waits in the queue, as before, and the writer sends
// it: a subscriber on ICE-TCP, whose writes can block; a replay out of the
// cache (a burst that would hold the other subscribers); and whatever
// follows a queued packet until the writer has caught up, so that packets
// go out in order and the writer's age limit (late.go) still applies to a
// subscriber that fell behind.
//
// The reader and the writer never write one track at once: the reader
// writes only while pending is 0, and pending is raised only by the
// reader, before it queues a packet, and lowered by the writer once that
// packet is sent. So the writer's state (the header, the scratch buffer,
// the late skip) has one owner at a time, handed over by the atomic.

// watchPath keeps p.udp up to date with the protocol of the subscribe
// connection pc's selected candidate pair.
func (p *Peer) watchPath(pc *webrtc.PeerConnection) {
	pc.SCTP().Transport().ICETransport().OnSelectedCandidatePairChange(func(pair *webrtc.ICECandidatePair) {
		p.udp.Store(pair != nil && pair.Local != nil && pair.Local.Protocol == webrtc.ICEProtocolUDP)
	})
}

// sendsInline reports whether the reader may send the next packet of d
// itself: see above.
func (d *downTrack) sendsInline() bool {
	return d.subscriber.udp.Load() && d.pending.Load() == 0 && !d.closed.Load()
}

// send writes q to the subscriber, unless the late skip drops it. now is
// the time q is judged by: its arrival for a packet sent inline.
func (d *downTrack) send(q *queued, now int64) {
	if d.skip.dropAt(d, q, now) {
		return
	}
	b := d.binding.Load()
	if b == nil {
		return
	}
	d.hdr = rtp.Header{
		Version: 2, Marker: q.p.marker, PayloadType: b.payloadType,
		SequenceNumber: q.seq, Timestamp: q.ts, SSRC: b.ssrc,
	}
	if d.history != nil {
		d.meta[q.seq%cacheSize].Store(packMeta(*q))
		d.history[q.seq%cacheSize].Store(1<<32 | uint64(q.p.layer)<<33 | uint64(q.seq)<<16 | uint64(q.p.seq))
	}
	payload := q.p.payload
	if q.rewrite {
		payload = rewriteVP8(d.scratch, payload, q.p.vp8, q.vp8)
	}
	// Pion reports a write before SRTP is up as 0 bytes, no error: that
	// packet did not leave.
	if n, err := b.writeRTP(&d.hdr, payload); err == nil && n > 0 {
		d.sent.Add(1)
		if d.up.video {
			d.sentVideo.Add(1)
		}
		d.sentBytes.Add(uint64(len(q.p.payload)))
	}
}

// write sends the queued packets until the downTrack closes.
func (d *downTrack) write() {
	for {
		select {
		case <-d.done:
			d.drain()
			return
		case q := <-d.queue:
			d.send(&q, time.Now().UnixNano())
			q.p.release()
			d.pending.Add(-1)
		}
	}
}

func (d *downTrack) drain() {
	for {
		select {
		case q := <-d.queue:
			q.p.release()
		default:
			return
		}
	}
}
