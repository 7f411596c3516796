package sfu

import "github.com/pion/rtp"

// The send side of a subscription: what one of the SFU's writers
// (writers.go) does with the packets queued for a downTrack.

// serve sends up to max of the packets queued for d, from one of the
// SFU's writers (writers.go); only one writer serves d at a time, so the
// header, the late-packet account and the scratch buffer need no lock. It
// reports whether more wait: d then stays scheduled, and the writer puts
// it back on the ready list. A closed d releases what it still holds.
func (d *downTrack) serve(max int) bool {
	for {
		if d.closed.Load() {
			d.drain()
			return false
		}
		if !d.sendQueued(max) {
			return true
		}
		// Drained: a packet queued from now on schedules d again, and one
		// queued just before is served here.
		d.scheduled.Store(false)
		if len(d.queue) == 0 || !d.scheduled.CompareAndSwap(false, true) {
			return false
		}
	}
}

// sendQueued sends up to max queued packets and reports whether the queue
// ran empty.
func (d *downTrack) sendQueued(max int) bool {
	for range max {
		select {
		case q := <-d.queue:
			d.send(&q)
		default:
			return true
		}
	}
	return false
}

// send writes one queued packet, unless it waited too long (late.go).
func (d *downTrack) send(q *queued) {
	defer q.p.release()
	if d.skip.drop(d, q) {
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
