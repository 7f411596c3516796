package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

// Settling times around the measured window: after everyone receives,
// let keyframe waits and join bursts pass; after it, let packets in flight
// arrive before counting.
const (
	warmup = time.Second
	grace  = 500 * time.Millisecond
)

// joinAll joins n participants, concurrency at a time, each with an
// identity of its own (the first with first, when given).
func joinAll(ctx context.Context, cfg *config, srv *server, api *webrtc.API, rx *rxStats, roomID string, n int, spectator bool, first *identity) ([]*participant, []string) {
	var (
		mu     sync.Mutex
		joined = make([]*participant, n)
		errs   []string
		wg     sync.WaitGroup
		slots  = make(chan struct{}, cfg.joinConcurrency)
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			var id identity
			var err error
			if i == 0 && first != nil {
				id = *first
			} else if id, err = srv.newIdentity(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
				return
			}
			p, err := joinParticipant(ctx, srv, api, rx, id, roomID, spectator)
			if err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
				return
			}
			joined[i] = p
		}()
	}
	wg.Wait()
	out := joined[:0]
	for _, p := range joined {
		if p != nil {
			out = append(out, p)
		}
	}
	return out, errs
}

// closeAll closes participants in parallel, a few at a time.
func closeAll(ps []*participant) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, 32)
	for _, p := range ps {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			p.close()
		}()
	}
	wg.Wait()
}

// runMedia runs the classroom and meeting scenarios: publishers send
// paced synthetic media through the SFU, receivers count what arrives.
func runMedia(ctx context.Context, cfg *config, srv *server, logf func(string, ...any)) (*result, error) {
	api, err := newClientAPI()
	if err != nil {
		return nil, err
	}
	spec := defaultMediaSpec(cfg.bitrate)
	rx := &rxStats{}
	owner, err := srv.newIdentity(ctx)
	if err != nil {
		return nil, err
	}
	// The classroom scenario is what a teacher does: a classroom room, the
	// teacher on its stage, the students receive-only.
	room, err := srv.createRoom(ctx, owner, "loadtest "+cfg.scenario, cfg.scenario == "classroom")
	if err != nil {
		return nil, err
	}
	var before procSample
	if cfg.serverPID > 0 {
		if before, err = readProc(cfg.serverPID); err != nil {
			return nil, err
		}
	}

	setupCtx, cancelSetup := context.WithTimeout(ctx, cfg.setupTimeout)
	defer cancelSetup()
	var publishers, receivers, everyone []*participant
	var errs []string
	switch cfg.scenario {
	case "classroom":
		presenter, err := joinParticipant(setupCtx, srv, api, rx, owner, room.ID, false)
		if err != nil {
			return nil, err
		}
		if err := presenter.ss.send(protocol.StageSet{Type: protocol.TypeStageSet, On: true}); err != nil {
			return nil, fmt.Errorf("presenter: go on stage: %w", err)
		}
		publishers = []*participant{presenter}
		logf("room %s: presenter joined; joining %d viewers", room.ID, cfg.viewers)
		receivers, errs = joinAll(setupCtx, cfg, srv, api, rx, room.ID, cfg.viewers, true, nil)
		everyone = append([]*participant{presenter}, receivers...)
	case "meeting":
		logf("room %s: joining %d participants", room.ID, cfg.participants)
		everyone, errs = joinAll(setupCtx, cfg, srv, api, rx, room.ID, cfg.participants, false, &owner)
		publishers, receivers = everyone, everyone
	}
	defer func() { closeAll(everyone) }()
	if len(receivers) == 0 {
		return nil, fmt.Errorf("no receiver could join: %v", errs)
	}
	logf("%d joined (%d failed)", len(everyone), len(errs))

	// Each publisher publishes once its room is in SFU mode, then paces
	// its media until the run ends.
	stopMedia := make(chan struct{})
	var pacing sync.WaitGroup
	defer func() { close(stopMedia); pacing.Wait() }()
	published := make(chan error, len(publishers))
	for _, p := range publishers {
		stop := stopMedia
		go func() {
			select {
			case <-p.sfu:
			case <-setupCtx.Done():
				published <- fmt.Errorf("participant %s: the room never switched to the SFU (start the server with a -mesh-max below %d)", p.self.ID, len(everyone))
				return
			}
			err := p.publish()
			if err == nil {
				pacing.Add(1)
			}
			published <- err
			if err == nil {
				defer pacing.Done()
				pace(spec, p.video, p.audio, stop, nil)
			}
		}()
	}
	for range publishers {
		if err := <-published; err != nil {
			return nil, err
		}
	}

	// Wait until every receiver gets every stream not its own.
	type want struct {
		p   *participant
		key string
	}
	var wants []want
	var streams []*stream
	for _, pub := range publishers {
		streams = append(streams, pub.video, pub.audio)
	}
	for _, r := range receivers {
		for _, s := range streams {
			if s != r.video && s != r.audio {
				wants = append(wants, want{r, s.key})
			}
		}
	}
	for {
		missing := 0
		for _, w := range wants {
			if !w.p.has(w.key) {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if setupCtx.Err() != nil {
			logf("%d of %d subscriptions still without media after %s; measuring anyway", missing, len(wants), cfg.setupTimeout)
			errs = append(errs, fmt.Sprintf("%d subscriptions without media at the start of the window", missing))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	logf("media flowing to %d receivers; measuring for %s", len(receivers), cfg.duration)
	time.Sleep(warmup)

	// The measured window.
	w0 := make([]uint32, len(streams))
	for i, s := range streams {
		w0[i] = s.next.Load()
	}
	var start, end procSample
	if cfg.serverPID > 0 {
		start, _ = readProc(cfg.serverPID)
	}
	t0 := time.Now()
	rx.measuring.Store(true)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(cfg.duration):
	}
	rx.measuring.Store(false)
	window := time.Since(t0)
	if cfg.serverPID > 0 {
		end, _ = readProc(cfg.serverPID)
	}
	w1 := make([]uint32, len(streams))
	for i, s := range streams {
		w1[i] = s.next.Load()
	}
	time.Sleep(grace)

	res := &result{Scenario: cfg.scenario, Viewers: len(receivers), Publishers: len(publishers), DurationS: window.Seconds()}
	for i := range streams {
		res.SentPackets += uint64(w1[i] - w0[i])
	}
	for _, r := range receivers {
		for i, s := range streams {
			if s == r.video || s == r.audio {
				continue
			}
			res.ExpectedPackets += uint64(w1[i] - w0[i])
			res.ReceivedPackets += uint64(r.received(s.key).countIn(w0[i], w1[i]))
		}
	}
	if res.ExpectedPackets > 0 {
		res.LossPct = 100 * float64(res.ExpectedPackets-res.ReceivedPackets) / float64(res.ExpectedPackets)
	}
	res.DeliveriesPerS = float64(res.ReceivedPackets) / window.Seconds()
	res.LatencyP50MS = rx.latency.quantile(0.50)
	res.LatencyP99MS = rx.latency.quantile(0.99)
	var joins, offers, connects []time.Duration
	for _, r := range receivers {
		// Join time counts only joins into a room already in SFU mode:
		// the others waited for the switch, not for the SFU.
		if !r.joinedSFU {
			continue
		}
		if d, ok := r.joinTime(); ok {
			joins = append(joins, d)
		}
		if d, ok := r.since(&r.offerAt); ok {
			offers = append(offers, d)
		}
		if d, ok := r.since(&r.connectedAt); ok {
			connects = append(connects, d)
		}
	}
	res.JoinOfferP50MS = medianMS(offers)
	res.JoinConnectedP50MS = medianMS(connects)
	res.JoinsMeasured = len(joins)
	res.JoinP50MS = medianMS(joins)
	if len(joins) > 0 {
		sort.Slice(joins, func(i, j int) bool { return joins[i] < joins[j] })
		res.JoinMaxMS = ms(joins[len(joins)-1])
	}
	if cfg.serverPID > 0 {
		res.serverWindow(before, start, end, window, res.ReceivedPackets, len(everyone))
	}
	for _, p := range everyone {
		errs = append(errs, p.errors()...)
	}
	res.Errors = firstN(errs, 10)

	// Free the server and this process before the baseline.
	close(stopMedia)
	pacing.Wait()
	stopMedia = make(chan struct{})
	closeAll(everyone)
	everyone = nil

	if cfg.baselineReceivers > 0 {
		logf("bare Pion sender baseline: %d receivers", cfg.baselineReceivers)
		b, err := runBaseline(ctx, api, spec, cfg.baselineReceivers, min(cfg.duration, 5*time.Second))
		if err != nil {
			res.Errors = append(res.Errors, "baseline: "+err.Error())
		} else {
			res.Baseline = &b
			if res.ServerCPUUSPerPacket != nil && b.USPerPacket > 0 {
				ratio := *res.ServerCPUUSPerPacket / b.USPerPacket
				res.CPURatio = &ratio
			}
		}
	}
	return res, nil
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
}
