package sfu

import (
	"slices"
	"time"
)

// How a subscriber's bandwidth is shared among its videos, a few times a
// second (Peer.shareBandwidth): pure rules over what the peer measured.

// Hysteresis of the layer choice.
const (
	// A layer already sent may use up to overuseMargin times the share
	// left for it before it is given up: GCC's estimate sits just under
	// what gets through, and a layer that fits must not flap on noise.
	overuseMargin = 1.25
	// A higher layer is taken at once with upHeadroom to spare.
	upHeadroom = 1.1
	// After bandwidth forced a video down a layer, it does not try a
	// higher one again for upHold; when that try fails soon after
	// (within failWindow), the wait doubles, up to maxUpHold.
	upHold     = 8 * time.Second
	maxUpHold  = 64 * time.Second
	failWindow = 10 * time.Second
	// For cautious after bandwidth last forced a video down, it moves
	// up one layer at a time, stepWait apart, so that a step that does
	// not fit shows before the next is tried.
	cautious = time.Minute
	stepWait = 2 * time.Second
	// A trial: on a link that lost nothing for quietBefore, a video may
	// move up beyond the estimate, and keeps the higher layer while
	// nothing is lost. GCC's estimate grows only to half again what is
	// sent, so without trials a viewer moved to a low layer once would
	// never be shown it could carry more.
	quietBefore = 5 * time.Second
)

// linkState is what a subscriber's link looks like now.
type linkState struct {
	// estimate is the bit rate GCC takes the link to carry.
	estimate int
	// clean: nothing lost lately (provenAfter), so every layer sent now
	// goes through and none moves down, whatever the estimate says;
	// quiet: nothing lost for quietBefore, so a trial may start.
	clean, quiet bool
}

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

// layerPlan is the layer bandwidth gives one video, kept across ticks.
type layerPlan struct {
	layer     int // the layer chosen last: maxLayers-1 before the first
	holdUntil time.Time
	hold      time.Duration
	lastUp    time.Time // when a higher layer was last chosen
	lastDown  time.Time // when bandwidth last forced a lower one
}

func newLayerPlan() *layerPlan {
	return &layerPlan{layer: maxLayers - 1, hold: upHold}
}

// planBandwidth shares the link's estimate, less what the audio takes,
// among videos, and sets each one's plan: the best layer at or below what
// its tile asks for that fits, or its lowest live layer when none does.
// Pure but for the plans.
func planBandwidth(now time.Time, link linkState, audio int, videos []videoShare) {
	slices.SortStableFunc(videos, func(a, b videoShare) int {
		switch {
		case a.pinned != b.pinned:
			return boolOrder(a.pinned)
		case a.screen != b.screen:
			return boolOrder(a.screen)
		}
		return b.area - a.area
	})
	budget := link.estimate - audio
	for _, v := range videos {
		if !v.simulcast {
			budget -= v.rates[0]
			continue
		}
		chosen := v.choose(now, budget, link)
		budget -= v.rates[chosen]
		v.plan.move(now, chosen, v.want)
	}
}

// choose is the best layer of v that fits budget, with the hysteresis of
// layerPlan; the lowest live layer when none fits.
func (v videoShare) choose(now time.Time, budget int, link linkState) int {
	lowest := -1
	for i := min(v.want, maxLayers-1); i >= 0; i-- {
		if !v.live[i] {
			continue
		}
		lowest = i
		rate := float64(v.rates[i])
		if i <= v.plan.layer {
			if rate <= float64(budget)*overuseMargin || (i == v.plan.layer && link.clean) {
				return i
			}
			continue
		}
		if v.plan.mayMoveUp(now, i) && (rate*upHeadroom <= float64(budget) || link.quiet) {
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
