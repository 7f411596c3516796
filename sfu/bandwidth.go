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
func (s *SFU) subscribeAPI() (*webrtc.API, *cc.BandwidthEstimator, error) {
	registry := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(registry); err != nil {
		return nil, nil, err
	}
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
		return nil, nil, err
	}
	estimator := new(cc.BandwidthEstimator)
	controller.OnNewPeerConnection(func(_ string, e cc.BandwidthEstimator) { *estimator = e })
	registry.Add(controller)
	// The transport-wide sequence number on every packet sent. Added
	// after the controller, so that a packet passes it first: the last
	// interceptor added is the first to see what is written.
	numbers, err := twcc.NewHeaderExtensionInterceptor()
	if err != nil {
		return nil, nil, err
	}
	registry.Add(numbers)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(s.media), webrtc.WithInterceptorRegistry(registry), webrtc.WithSettingEngine(s.settings))
	return api, estimator, nil
}

// bandwidthTick is how often a peer shares its estimate among its videos.
const bandwidthTick = 250 * time.Millisecond

// Hysteresis of the layer choice under an estimate.
const (
	// A layer already sent may use up to overuseMargin times the share
	// left for it before it is given up: GCC's estimate sits just under
	// what gets through, and a layer that fits must not flap on noise.
	overuseMargin = 1.25
	// A higher layer is taken only with upHeadroom to spare.
	upHeadroom = 1.1
	// After bandwidth forced a video down a layer, it does not try a
	// higher one again for upHold; when that try fails soon after
	// (within failWindow), the wait doubles, up to maxUpHold. GCC's
	// estimate climbs on a link that carries what is sent, whether or not
	// it would carry more: the wait keeps a capped viewer from being
	// tried at the layer it cannot take every few seconds.
	upHold     = 8 * time.Second
	maxUpHold  = 64 * time.Second
	failWindow = 10 * time.Second
	// For cautious after bandwidth last forced a video down, it moves
	// up one layer at a time, stepWait apart, so that a step that does
	// not fit shows before the next is tried.
	cautious = time.Minute
	stepWait = 2 * time.Second
	// GCC answers a rise in delay by setting its estimate under what got
	// through: on a busy machine or a jittery Wi-Fi, a brief one. The
	// estimate a peer shares is the highest of the last delayPatience,
	// unless packets are being lost (over lossyShare), which calls for a
	// move at once.
	delayPatience = 1500 * time.Millisecond
	lossyShare    = 0.1
)

// videoShare is one video a subscriber receives, as planBandwidth sees it.
type videoShare struct {
	simulcast bool
	// want is the layer the viewer's tile asks for, rates each layer's
	// bit rate now (0: unknown), live whether each layer is arriving.
	want  int
	rates [maxLayers]int
	live  [maxLayers]bool
	// Priority: pinned first, then a shared screen, then larger tiles.
	pinned, screen bool
	area           int

	plan *layerPlan // the track's state across ticks
}

// layerPlan is what bandwidth allows one video, kept across ticks.
type layerPlan struct {
	layer     int       // the layer chosen last: maxLayers-1 before the first

	holdUntil time.Time // no higher layer before
	hold      time.Duration
	lastUp    time.Time // when a higher layer was last chosen
	lastDown  time.Time // when bandwidth last forced a lower one
}

func newLayerPlan() *layerPlan {
	return &layerPlan{layer: maxLayers - 1, hold: upHold}
}

// planBandwidth shares estimate, less what the audio takes, among videos,
// and sets each one's plan: the best layer at or below what its tile asks
// for that fits, or its lowest live layer when none does. Pure but for the
// plans.
func planBandwidth(now time.Time, estimate, audio int, videos []videoShare) {
	slices.SortStableFunc(videos, func(a, b videoShare) int {
		switch {
		case a.pinned != b.pinned:
			return boolOrder(a.pinned)
		case a.screen != b.screen:
			return boolOrder(a.screen)
		}
		return b.area - a.area
	})
	budget := estimate - audio
	for _, v := range videos {
		if !v.simulcast {
			budget -= v.rates[0]
			continue
		}
		chosen := v.choose(now, budget)
		budget -= v.rates[chosen]
		v.plan.move(now, chosen, v.want)
	}
}

// choose is the best layer of v that fits budget, with the hysteresis of
// layerPlan; the lowest live layer when none fits.
func (v videoShare) choose(now time.Time, budget int) int {
	lowest := -1
	for i := min(v.want, maxLayers-1); i >= 0; i-- {
		if !v.live[i] {
			continue
		}
		lowest = i
		rate := float64(v.rates[i])
		fits := rate <= float64(budget)*overuseMargin
		if i > v.plan.layer {
			fits = rate*upHeadroom <= float64(budget) && v.plan.mayMoveUp(now, i)
		}
		if fits {
			return i
		}
	}
	if lowest < 0 {
		return max(0, min(v.want, maxLayers-1))
	}
	return lowest
}

// mayMoveUp reports whether the plan may move up to layer now: not during
// a hold, and, for a while after bandwidth forced it down, one layer at a
// time.
func (p *layerPlan) mayMoveUp(now time.Time, layer int) bool {
	if now.Before(p.holdUntil) {
		return false
	}
	if !p.lastDown.IsZero() && now.Sub(p.lastDown) < cautious {
		return layer == p.layer+1 && now.Sub(p.lastUp) >= stepWait
	}
	return true
}

// move records the layer chosen now. A move down that the tile did not
// ask for starts a hold on moving up again, doubled when it undoes a move
// up made just before.
func (p *layerPlan) move(now time.Time, layer, want int) {
	switch {
	case layer < p.layer && layer < want:
		if now.Sub(p.lastUp) < failWindow {
			p.hold = min(2*p.hold, maxUpHold)
		} else {
			p.hold = upHold
		}
		p.holdUntil = now.Add(p.hold)
		p.lastDown = now
	case layer > p.layer:
		p.lastUp = now
	}
	p.layer = layer
}

func boolOrder(first bool) int {
	if first {
		return -1
	}
	return 1
}

// shareBandwidth runs one tick of planBandwidth for the peer's videos and
// hands each downTrack the layer it may use.
func (p *Peer) shareBandwidth(now time.Time) {
	estimator := p.estimator
	if estimator == nil || *estimator == nil {
		return
	}
	estimate := p.shareable(now, *estimator)
	p.estimate.Store(int64(estimate))
	p.subMu.Lock()
	downs := make([]*downTrack, 0, len(p.downs))
	for _, d := range p.downs {
		downs = append(downs, d)
	}
	p.subMu.Unlock()
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
	planBandwidth(now, estimate, audio, videos)
	limited := 0
	for _, d := range owners {
		allowed := d.plan.layer
		if int(d.allowed.Swap(int32(allowed))) != allowed {
			p.log.Debug("bandwidth", "publisher", d.up.publisher.id, "source", d.up.source, "layer", allowed, "estimate", estimate,
				"rates", []int{d.up.rate(0), d.up.rate(1), d.up.rate(2)}, "audio", audio)
		}
		if allowed < int(d.desired.Load()) {
			limited++
		}
	}
	p.limited.Store(int32(limited))
}

// shareable is the estimate to share now: GCC's target, or the highest
// of the last delayPatience while no packets are being lost.
func (p *Peer) shareable(now time.Time, e cc.BandwidthEstimator) int {
	target := e.GetTargetBitrate()
	loss, _ := e.GetStats()["averageLoss"].(float64)
	if loss > lossyShare {
		p.targets = p.targets[:0]
	}
	p.targets = slices.DeleteFunc(p.targets, func(t timedRate) bool { return now.Sub(t.at) >= delayPatience })
	p.targets = append(p.targets, timedRate{now, target})
	best := 0
	for _, t := range p.targets {
		best = max(best, t.rate)
	}
	return best
}

// timedRate is a bit rate at a time.
type timedRate struct {
	at   time.Time
	rate int
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
