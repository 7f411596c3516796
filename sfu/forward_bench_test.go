package sfu

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// countingWriter stands in for Pion's SRTP writer: it only counts, so the
// benchmark below measures what the SFU adds on top of SRTP and sendto.
type countingWriter struct{ n atomic.Uint64 }

func (w *countingWriter) WriteRTP(_ *rtp.Header, payload []byte) (int, error) {
	w.n.Add(1)
	return len(payload), nil
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.n.Add(1)
	return len(b), nil
}

// benchTrack is an upTrack with subs bound, unpaused subscribers whose
// writers count what they are given.
func benchTrack(subs int) (*layer, []*countingWriter) {
	up := testTrack(1)
	writers := make([]*countingWriter, subs)
	for i := range writers {
		writers[i] = &countingWriter{}
		d := newDownTrack(up, &Peer{room: up.publisher.room, id: fmt.Sprint("sub", i)})
		d.binding.Store(&binding{ssrc: uint32(1000 + i), payloadType: 96, writer: writers[i]})
		d.paused.Store(false)
		d.ready.Store(true)
		up.addDown(d)
	}
	return up.layer(0), writers
}

// testTrack is a VP8 camera track of a publisher in a room of an SFU that
// listens nowhere, with layers layers (1: a plain track) that have no
// remote track: tests hand their readers' packets to forward.
func testTrack(layers int) *upTrack {
	room := newRoom(&SFU{}, "test")
	pub := &Peer{room: room, id: "publisher"}
	up := &upTrack{publisher: pub, source: "camera", kind: webrtc.RTPCodecTypeVideo, video: true, vp8: true,
		codec: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, simulcast: layers > 1}
	up.downs.Store(&[]*downTrack{})
	for i := range layers {
		up.layers[i].Store(&layer{up: up, index: i, cache: &packetCache{}})
	}
	return up
}

// rawVP8 is a 1200-byte RTP packet whose payload starts a VP8 keyframe.
func rawVP8(seq uint16) []byte {
	b := make([]byte, 1212)
	b[0] = 0x80
	b[1] = 96
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], uint32(seq)*3000)
	binary.BigEndian.PutUint32(b[8:], 42)
	b[12] = 0x10 // start of partition 0
	b[13] = 0x00 // key frame
	return b
}

// BenchmarkForward measures the SFU's own part of forwarding one packet to
// each subscriber: parse, fan-out through the queues, the writers'
// wake-ups and header rewrite; Pion's SRTP and the socket are left out.
// The figure to watch is ns/delivery and allocs/op (0 once the pool is
// warm).
func BenchmarkForward(b *testing.B) {
	for _, subs := range []int{1, 20, 150} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			l, writers := benchTrack(subs)
			up := l.up
			defer func() {
				for _, d := range *up.downs.Load() {
					d.close()
				}
			}()
			raw := rawVP8(1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p := getPacket()
				n := copy(p.buf[:], raw)
				binary.BigEndian.PutUint16(p.buf[2:], uint16(i))
				if !p.parse(n, true, 0) {
					b.Fatal("parse failed")
				}
				l.forward(p)
				// Stay below the queue bound: a drop would turn the
				// benchmark into one of the drop path.
				for _, d := range *up.downs.Load() {
					for len(d.queue) > videoQueue/2 {
						runtime.Gosched()
					}
				}
			}
			want := uint64(b.N)
			deadline := time.Now().Add(10 * time.Second)
			for _, w := range writers {
				for w.n.Load() < want && time.Now().Before(deadline) {
					runtime.Gosched()
				}
			}
			b.StopTimer()
			var got uint64
			for _, w := range writers {
				got += w.n.Load()
			}
			if got != want*uint64(subs) {
				b.Fatalf("delivered %d of %d", got, want*uint64(subs))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(got), "ns/delivery")
		})
	}
}
