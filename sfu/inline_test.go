package sfu

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/pion/rtp"
)

// gatedWriter records what is written, and holds the write of the packet
// numbered hold (if not -1) until gate is closed.
type gatedWriter struct {
	recordingWriter
	hold    int
	holding chan struct{} // closed once the held write began
	gate    chan struct{}
	// byReader notes, for each packet recorded, whether the publisher's
	// reader wrote it (layer.forward is on the writing stack).
	byReader []bool
}

func (w *gatedWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if int(h.SequenceNumber) == w.hold {
		close(w.holding)
		<-w.gate
	}
	stack := make([]byte, 8<<10)
	stack = stack[:runtime.Stack(stack, false)]
	w.mu.Lock()
	w.byReader = append(w.byReader, bytes.Contains(stack, []byte("(*layer).forward(")))
	w.mu.Unlock()
	return w.recordingWriter.WriteRTP(h, payload)
}

// sentNow is how many packets w has recorded so far.
func (w *gatedWriter) sentNow() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.sent)
}

// TestReaderSendsToUDPSubscribersItself: for a subscriber on UDP the
// publisher's reader writes each packet itself, before forward returns;
// while a packet waits for the subscriber's writer (here one the writer
// is stuck sending) the ones after it queue behind it, and the reader
// writes again once the writer has caught up. The subscriber gets every
// packet once, in order.
func TestReaderSendsToUDPSubscribersItself(t *testing.T) {
	up := testTrack(1)
	src := newSimulcastSource(up)
	w := &gatedWriter{hold: -1, holding: make(chan struct{}), gate: make(chan struct{})}
	d := newDownTrack(up, &Peer{room: up.publisher.room, id: "viewer"})
	defer d.close()
	d.binding.Store(&binding{ssrc: 4242, payloadType: 96, writer: w})
	d.paused.Store(false)
	d.ready.Store(true)
	up.addDown(d)

	d.subscriber.udp.Store(true)
	src.frame(t, 0, true)
	if n := w.sentNow(); n != 1 {
		t.Fatalf("%d packets sent when forward returned, want 1: the reader did not send it", n)
	}
	first := w.sent[0].hdr.SequenceNumber

	// Off UDP, the next packet goes to the writer, which is held in it.
	d.subscriber.udp.Store(false)
	w.hold = int(first + 1)
	src.frame(t, 0, false)
	<-w.holding
	d.subscriber.udp.Store(true)
	src.frame(t, 0, false)
	src.frame(t, 0, false)
	if n := w.sentNow(); n != 1 {
		t.Fatalf("%d packets sent while the writer was held, want 1: the reader overtook the queue", n)
	}
	close(w.gate)
	w.wait(t, 4)
	for d.pending.Load() != 0 {
		runtime.Gosched() // the writer lowers pending just after its last write
	}
	src.frame(t, 0, false)
	if n := w.sentNow(); n != 5 {
		t.Fatalf("%d packets sent once the writer caught up, want 5: the reader did not send again", n)
	}
	sent := w.wait(t, 5)
	wantByReader := []bool{true, false, false, false, true}
	for i, s := range sent {
		if want := first + uint16(i); s.hdr.SequenceNumber != want {
			t.Fatalf("packet %d went out as %d, want %d", i, s.hdr.SequenceNumber, want)
		}
		if w.byReader[i] != wantByReader[i] {
			t.Errorf("packet %d written by the reader: %v, want %v", i, w.byReader[i], wantByReader[i])
		}
	}
	if got := d.sent.Load(); got != 5 {
		t.Errorf("%d packets counted as sent, want 5", got)
	}
}
