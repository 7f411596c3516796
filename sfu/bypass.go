package sfu

import (
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// Estimating a subscriber's downlink costs every packet sent to it a
// transport-wide sequence number and a place in GCC's history, and costs
// the server reading the subscriber's feedback: in a classroom of 150 it
// took a third more CPU per delivery. The estimate can change something
// only when the subscriber watches a video sent in several layers (the
// plan picks among them); a video of one layer is forwarded as it comes
// whatever the link. So while a subscriber watches no simulcast video its
// packets skip the estimator, written straight to the writer past it, and
// carry no sequence number, so the browser sends no feedback for them.

// estimatorBypass is an interceptor placed between the RTCP reports and
// the congestion controller of one subscribe connection. It keeps, for
// each stream, the writer past the estimator.
type estimatorBypass struct {
	interceptor.NoOp

	// estimating: the subscriber's packets go through the estimator. Set
	// by the peer's bandwidth loop, read for every packet.
	estimating atomic.Bool

	mu   sync.Mutex
	past map[uint32]interceptor.RTPWriter
}

func newEstimatorBypass() *estimatorBypass {
	return &estimatorBypass{past: make(map[uint32]interceptor.RTPWriter)}
}

// NewInterceptor implements interceptor.Factory: the bypass belongs to
// the one connection of its API.
func (b *estimatorBypass) NewInterceptor(string) (interceptor.Interceptor, error) { return b, nil }

// BindLocalStream notes the writer past the estimator.
func (b *estimatorBypass) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	b.mu.Lock()
	b.past[info.SSRC] = writer
	b.mu.Unlock()
	return writer
}

// UnbindLocalStream forgets the stream's writer.
func (b *estimatorBypass) UnbindLocalStream(info *interceptor.StreamInfo) {
	b.mu.Lock()
	delete(b.past, info.SSRC)
	b.mu.Unlock()
}

// writerPast returns the writer past the estimator for ssrc, nil until
// Pion has bound the stream.
func (b *estimatorBypass) writerPast(ssrc uint32) interceptor.RTPWriter {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.past[ssrc]
}

// pastWriter boxes the writer past the estimator for an atomic pointer.
type pastWriter struct{ interceptor.RTPWriter }

// writeRTP sends one packet of the binding's stream: through the
// estimator while the subscriber's bandwidth is estimated, past it
// otherwise.
func (b *binding) writeRTP(hdr *rtp.Header, payload []byte) (int, error) {
	if b.bypass != nil && !b.bypass.estimating.Load() {
		w := b.past.Load()
		if w == nil {
			if found := b.bypass.writerPast(b.ssrc); found != nil {
				w = &pastWriter{found}
				b.past.Store(w)
			}
		}
		if w != nil {
			return w.Write(hdr, payload, nil)
		}
	}
	return b.writer.WriteRTP(hdr, payload)
}
