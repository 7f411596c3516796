package leanrx

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pion/rtcp"
)

// The RTCP a receiver sends, as Pion's interceptors send it for the
// tool's Pion clients: a receiver report per second, and NACKs every
// 100 ms for the packets still missing.
const (
	nackInterval = 100 * time.Millisecond
	// reportEvery is a report's period in nackIntervals: a second.
	reportEvery = 10
	// nackTries is how often one missing packet is asked for; then it is
	// given up (a second of asking).
	nackTries = 10
	// nackWindow is how far behind the newest packet a missing one is
	// still asked for, as Pion's generator's receive log.
	nackWindow = 512
)

// trackStats is what a receiver counts of one SSRC, for its reports
// (RFC 3550 A.1 and A.3) and NACKs.
type trackStats struct {
	offerTrack
	ssrc uint32

	started bool
	epoch   time.Time
	baseSeq uint32 // extended
	maxSeq  uint16
	cycles  uint32 // of maxSeq, in units of 1<<16
	count   uint32 // packets received, retransmissions of missing ones included

	expectedPrior, receivedPrior uint32

	jitter      float64 // in clock units
	lastTransit int64

	lastSR   uint32 // middle 32 bits of the last sender report's NTP time
	lastSRAt time.Time

	missing []missingSeq // oldest first
}

type missingSeq struct {
	seq   uint32 // extended
	tries uint8
}

func newTrackStats(ssrc uint32, t offerTrack) *trackStats {
	return &trackStats{offerTrack: t, ssrc: ssrc}
}

// received counts one packet: its sequence number (which also tells
// what went missing before it) and its timestamp (for the jitter).
func (t *trackStats) received(seq uint16, timestamp uint32, now time.Time) {
	t.count++
	if !t.started {
		t.started, t.epoch, t.baseSeq, t.maxSeq = true, now, uint32(seq), seq
		t.lastTransit = t.transit(timestamp, now)
		return
	}
	transit := t.transit(timestamp, now)
	d := transit - t.lastTransit
	if d < 0 {
		d = -d
	}
	t.jitter += (float64(d) - t.jitter) / 16
	t.lastTransit = transit

	oldMax := t.cycles + uint32(t.maxSeq)
	switch delta := seq - t.maxSeq; {
	case delta == 0:
	case delta < 1<<15: // newer, maybe after a gap
		if seq < t.maxSeq {
			t.cycles += 1 << 16
		}
		t.maxSeq = seq
		newMax := t.cycles + uint32(seq)
		if newMax-oldMax > nackWindow {
			t.missing = t.missing[:0] // a jump, not a loss to repair
			return
		}
		for s := oldMax + 1; s < newMax; s++ {
			t.missing = append(t.missing, missingSeq{seq: s})
		}
	default: // older: a retransmission or a reordered packet
		ext := oldMax - uint32(t.maxSeq-seq)
		for i, m := range t.missing {
			if m.seq == ext {
				t.missing = append(t.missing[:i], t.missing[i+1:]...)
				break
			}
		}
	}
}

// transit is the packet's arrival time less its timestamp, in clock
// units (RFC 3550 A.8).
func (t *trackStats) transit(timestamp uint32, now time.Time) int64 {
	arrival := now.Sub(t.epoch).Nanoseconds() * int64(t.clockRate) / int64(time.Second)
	return arrival - int64(timestamp)
}

// nacks returns the missing sequence numbers to ask for now, and forgets
// those asked for too often or too far behind.
func (t *trackStats) nacks() []uint16 {
	if len(t.missing) == 0 {
		return nil
	}
	newest := t.cycles + uint32(t.maxSeq)
	var seqs []uint16
	kept := t.missing[:0]
	for _, m := range t.missing {
		if m.tries >= nackTries || newest-m.seq > nackWindow {
			continue
		}
		m.tries++
		seqs = append(seqs, uint16(m.seq))
		kept = append(kept, m)
	}
	t.missing = kept
	return seqs
}

// report is the reception report of the interval since the last one.
func (t *trackStats) report(now time.Time) rtcp.ReceptionReport {
	extMax := t.cycles + uint32(t.maxSeq)
	expected := extMax - t.baseSeq + 1
	lost := min(max(int64(expected)-int64(t.count), 0), 0x7fffff)
	expectedInterval := expected - t.expectedPrior
	lostInterval := int64(expectedInterval) - int64(t.count-t.receivedPrior)
	t.expectedPrior, t.receivedPrior = expected, t.count
	var fraction uint8
	if expectedInterval > 0 && lostInterval > 0 {
		fraction = uint8(lostInterval << 8 / int64(expectedInterval))
	}
	var delay uint32
	if t.lastSR != 0 {
		delay = uint32(now.Sub(t.lastSRAt).Seconds() * 65536)
	}
	return rtcp.ReceptionReport{
		SSRC:               t.ssrc,
		FractionLost:       fraction,
		TotalLost:          uint32(lost),
		LastSequenceNumber: extMax,
		Jitter:             uint32(t.jitter),
		LastSenderReport:   t.lastSR,
		Delay:              delay,
	}
}

// onRTCP reads the server's RTCP: its sender reports date our reports'
// LSR and DLSR, from which it learns the round trip.
func (r *Receiver) onRTCP(pkt, plain []byte) {
	ctx := r.decrypt.Load()
	if ctx == nil {
		return
	}
	out, err := ctx.DecryptRTCP(plain[:0], pkt, nil)
	if err != nil {
		return
	}
	packets, err := rtcp.Unmarshal(out)
	if err != nil {
		return
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range packets {
		if sr, ok := p.(*rtcp.SenderReport); ok {
			if t := r.tracks[sr.SSRC]; t != nil {
				t.lastSR, t.lastSRAt = uint32(sr.NTPTime>>16), now
			}
		}
	}
}

// tick sends what is due: NACKs, and with report a receiver report.
func (r *Receiver) tick(now time.Time, report bool) {
	r.mu.Lock()
	if r.encrypt == nil || r.closed {
		r.mu.Unlock()
		return
	}
	var packets []rtcp.Packet
	rr := &rtcp.ReceiverReport{SSRC: r.ssrc}
	for _, t := range r.tracks {
		if !t.started {
			continue
		}
		if seqs := t.nacks(); len(seqs) > 0 {
			packets = append(packets, &rtcp.TransportLayerNack{SenderSSRC: r.ssrc, MediaSSRC: t.ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)})
		}
		if report && len(rr.Reports) < 31 {
			rr.Reports = append(rr.Reports, t.report(now))
		}
	}
	if len(rr.Reports) > 0 {
		packets = append([]rtcp.Packet{rr}, packets...)
	}
	var sealed []byte
	if len(packets) > 0 {
		if raw, err := rtcp.Marshal(packets); err == nil {
			sealed, _ = r.encrypt.EncryptRTCP(nil, raw, nil)
		}
	}
	to := r.remote
	r.mu.Unlock()
	if sealed != nil {
		_, _ = r.conn.WriteToUDPAddrPort(sealed, to)
	}
}

// reporter is the one goroutine that sends every receiver's RTCP, each
// receiver's reports at its own phase of the second so that hundreds of
// receivers do not all report at once.
var reporter = &reporterSet{receivers: map[*Receiver]int{}}

type reporterSet struct {
	mu        sync.Mutex
	receivers map[*Receiver]int // → its phase, in nackIntervals
	running   bool
}

func (s *reporterSet) add(r *Receiver) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.receivers[r] = rand.IntN(reportEvery)
	if !s.running {
		s.running = true
		go s.run()
	}
}

func (s *reporterSet) remove(r *Receiver) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.receivers, r)
}

// run ticks until no receiver is left.
func (s *reporterSet) run() {
	ticker := time.NewTicker(nackInterval)
	defer ticker.Stop()
	type due struct {
		r     *Receiver
		phase int
	}
	var list []due
	for tick := 0; ; tick++ {
		now := <-ticker.C
		s.mu.Lock()
		if len(s.receivers) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		list = list[:0]
		for r, phase := range s.receivers {
			list = append(list, due{r, phase})
		}
		s.mu.Unlock()
		for _, d := range list {
			d.r.check()
			d.r.tick(now, (tick+d.phase)%reportEvery == 0)
		}
	}
}
