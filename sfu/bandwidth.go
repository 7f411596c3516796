package sfu

import (
	"slices"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

// Bandwidth per subscriber (issue 16): every packet sent to a subscriber
// carries a transport-wide sequence number, the subscriber's browser
// reports when each arrived (TWCC feedback), and pion/interceptor's
// Google Congestion Control turns that into an estimate of the
// subscriber's downlink. A few times a second the peer shares the estimate
// among the videos it receives (planBandwidth): sound first, then the
// pinned video, the shared screen and the larger tiles, each at the best
// layer that fits what is left, never below the lowest layer: a viewer on a
// poor link keeps a small picture rather than none.

// Estimator settings. A new subscriber starts at startBitrate, enough for
// a large tile and a few small ones: the estimate falls within a second on
// a link that cannot carry it, and starting low would show every newcomer
// the lowest layer for the many seconds GCC takes to climb.
const (
	startBitrate = 2_500_000
	minBitrate   = 100_000
	maxBitrate   = 50_000_000
)

// subscribeAPI is the Pion API of one subscribe connection: the SFU's
// codecs and settings, with interceptors of its own, so that the
// connection's bandwidth estimator is known to be its own (GCC's factory
// reports each estimator it makes, without saying for which connection).
func (s *SFU) subscribeAPI() (*webrtc.API, *cc.BandwidthEstimator, *estimatorBypass, error) {
	registry := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(registry); err != nil {
		return nil, nil, nil, err
	}
	// The bypass binds after the reports and before the controller: the
	// writer it keeps is the one past the estimator.
	bypass := newEstimatorBypass()
	registry.Add(bypass)
	controller, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		// No pacer: the SFU forwards each packet when it comes, and
		// keeps a subscriber within its estimate by the layers it
		// chooses, not by queueing.
		return gcc.NewSendSideBWE(
			gcc.SendSideBWEInitialBitrate(startBitrate),
			gcc.SendSideBWEMinBitrate(minBitrate),
			gcc.SendSideBWEMaxBitrate(maxBitrate),
			gcc.SendSideBWEPacer(gcc.NewNoOpPacer()),
		)
	})
	if err != nil {
		return nil, nil, nil, err
	}
	estimator := new(cc.BandwidthEstimator)
	controller.OnNewPeerConnection(func(_ string, e cc.BandwidthEstimator) { *estimator = e })
	registry.Add(controller)
	// The transport-wide sequence number on every packet sent. Added
	// after the controller, so that a packet passes it first: the last
	// interceptor added is the first to see what is written.
	numbers, err := twcc.NewHeaderExtensionInterceptor()
	if err != nil {
		return nil, nil, nil, err
	}
	registry.Add(numbers)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(s.media), webrtc.WithInterceptorRegistry(registry), webrtc.WithSettingEngine(s.connectionSettings()))
	return api, estimator, bypass, nil
}

// bandwidthTick is how often a peer shares its estimate among its videos.
const bandwidthTick = 250 * time.Millisecond

// What a peer makes of GCC's estimate (linkState).
const (
	// GCC answers a rise in delay by setting its estimate under what got
	// through: on a busy machine or a jittery Wi-Fi, a brief one. The
	// estimate a peer shares is the highest of the last delayPatience,
	// unless packets are being lost (over lossyShare), which calls for a
	// move at once.
	delayPatience = 1500 * time.Millisecond
	lossyShare    = 0.1
	// lossFloor is the loss (GCC's average) that counts as losing at all:
	// GCC's own estimate stops growing there.
	lossFloor = 0.02
	// provenAfter: the layers sent count as carried once nothing was lost
	// for this long.
	provenAfter = 2 * time.Second
)

// linkMeter is a peer's view of its link across ticks, owned by its
// bandwidth loop.
type linkMeter struct {
	targets  []timedRate // GCC's targets of late
	lastLoss time.Time
}

// timedRate is a bit rate at a time.
type timedRate struct {
	at   time.Time
	rate int
}

// measure reads GCC's estimate and losses.
func (m *linkMeter) measure(now time.Time, e cc.BandwidthEstimator) linkState {
	target := e.GetTargetBitrate()
	loss, _ := e.GetStats()["averageLoss"].(float64)
	if loss >= lossFloor {
		m.lastLoss = now
	}
	if loss > lossyShare {
		m.targets = m.targets[:0]
	}
	m.targets = slices.DeleteFunc(m.targets, func(t timedRate) bool { return now.Sub(t.at) >= delayPatience })
	m.targets = append(m.targets, timedRate{now, target})
	best := 0
	for _, t := range m.targets {
		best = max(best, t.rate)
	}
	lossFree := func(d time.Duration) bool { return m.lastLoss.IsZero() || now.Sub(m.lastLoss) >= d }
	return linkState{estimate: best, clean: lossFree(provenAfter), quiet: lossFree(quietBefore)}
}

// shareBandwidth runs one tick of planBandwidth for the peer's videos and
// hands each downTrack the layer it may use.
func (p *Peer) shareBandwidth(now time.Time) {
	estimator := p.estimator
	if estimator == nil || *estimator == nil {
		return
	}
	p.subMu.Lock()
	downs := make([]*downTrack, 0, len(p.downs))
	for _, d := range p.downs {
		downs = append(downs, d)
	}
	p.subMu.Unlock()
	if !p.estimateWorthwhile(downs) {
		// Nothing to choose between: every video goes as it comes, and
		// the packets skip the estimator (bypass.go).
		for _, d := range downs {
			d.allowed.Store(maxLayers - 1)
		}
		p.estimate.Store(0)
		p.limited.Store(0)
		return
	}
	link := p.link.measure(now, *estimator)
	p.estimate.Store(int64(link.estimate))
	audio := 0
	var videos []videoShare
	var owners []*downTrack
	at := now.UnixNano()
	for _, d := range downs {
		if !d.watched() {
			continue
		}
		if !d.up.video {
			audio += d.up.rate(0)
			continue
		}
		v := videoShare{simulcast: d.up.simulcast, want: int(d.desired.Load()), pinned: d.pinned.Load(),
			screen: d.up.source == protocol.SourceScreen, area: int(d.viewWidth.Load()) * int(d.viewHeight.Load()), plan: d.plan}
		for i := range maxLayers {
			if l := d.up.layer(i); l != nil {
				v.rates[i], v.live[i] = int(l.bitrate.Load()), l.live(at)
			}
		}
		videos = append(videos, v)
		owners = append(owners, d)
	}
	planBandwidth(now, link, audio, videos)
	limited := 0
	for _, d := range owners {
		allowed := d.plan.layer
		if int(d.allowed.Swap(int32(allowed))) != allowed {
			p.log.Debug("bandwidth", "publisher", d.up.publisher.id, "source", d.up.source, "layer", allowed,
				"estimate", link.estimate, "clean", link.clean, "quiet", link.quiet, "loss", (*estimator).GetStats()["averageLoss"], "nacked", d.nacked.Load(),
				"rates", []int{d.up.rate(0), d.up.rate(1), d.up.rate(2)}, "audio", audio)
		}
		if allowed < int(d.desired.Load()) {
			limited++
		}
	}
	p.limited.Store(int32(limited))
}

// estimateWorthwhile reports whether the estimate can change what the
// peer receives: it watches a video sent in several layers. It turns the
// estimator on or off to match.
func (p *Peer) estimateWorthwhile(downs []*downTrack) bool {
	worthwhile := !p.room.sfu.fixedLayers && slices.ContainsFunc(downs, func(d *downTrack) bool { return d.up.simulcast && d.watched() })
	if p.bypass != nil && p.bypass.estimating.Swap(worthwhile) != worthwhile {
		p.log.Debug("bandwidth estimate", "on", worthwhile)
	}
	return worthwhile
}

// bandwidthLoop shares the peer's estimate every bandwidthTick until the
// peer closes.
func (p *Peer) bandwidthLoop() {
	ticker := time.NewTicker(bandwidthTick)
	defer ticker.Stop()
	for {
		select {
		case now := <-ticker.C:
			p.shareBandwidth(now)
		case <-p.done:
			return
		}
	}
}
