package main

import (
	"context"
	"fmt"
	"slices"
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

// closeAll closes participants in parallel, a few at a time, and returns
// what went wrong (a WHEP session the server did not end).
func closeAll(ps []*participant) []string {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []string
		slots = make(chan struct{}, 32)
	)
	for _, p := range ps {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if err := p.close(); err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// runMedia runs the classroom and meeting scenarios: publishers send
// paced synthetic media through the SFU, receivers count what arrives.
func runMedia(ctx context.Context, cfg *config, cl *cluster, logf func(string, ...any)) (*result, error) {
	kit, err := newClientKit(cfg, cl.servers[0])
	if err != nil {
		return nil, err
	}
	m := &mediaRun{cfg: cfg, cl: cl, srv: cl.servers[0], logf: logf, kit: kit, api: kit.api, spec: defaultMediaSpec(cfg.bitrate, cfg.keyframesOnRequest), rx: &rxStats{},
		layers: cameraLayers(cfg.bitrate, cfg.simulcast)}
	// The classroom scenario is what a teacher does: a classroom room, the
	// teacher on its stage, the students receive-only.
	owner, room, before, err := newOwnedRoom(ctx, cl, "loadtest "+cfg.scenario, cfg.scenario == "classroom")
	m.before = before
	if err != nil {
		return nil, err
	}
	setupCtx, cancelSetup := context.WithTimeout(ctx, cfg.setupTimeout)
	defer cancelSetup()
	err = m.join(setupCtx, owner, room)
	defer m.closeEveryone()
	if err != nil {
		return nil, err
	}
	err = m.publish(setupCtx)
	defer m.stopPublishing()
	if err == nil && cfg.simulcast {
		err = m.sendViews()
	}
	if err != nil {
		return nil, err
	}
	streams := m.awaitMedia(setupCtx)
	m.groupByNode()
	logf("media flowing to %d receivers; measuring for %s", len(m.receivers), cfg.duration)
	time.Sleep(warmup)
	w, err := m.measure(ctx, streams)
	if err != nil {
		return nil, err
	}
	res := m.result(streams, w)
	// Free the server and this process before the baseline.
	m.stopPublishing()
	if errs := m.closeEveryone(); len(errs) > 0 {
		res.Errors = append(res.Errors, firstN(errs, 5)...)
	}
	m.baseline(ctx, res)
	return res, nil
}

// mediaRun is one run of a media scenario, from the joins to the result.
type mediaRun struct {
	cfg  *config
	cl   *cluster
	srv  *server // the first node: the room's, the presenter's
	logf func(string, ...any)
	kit  clientKit
	api  *webrtc.API
	spec mediaSpec
	rx   *rxStats
	// layers is what each camera sends; tiles, with -simulcast, each
	// viewer's tile of each camera (dealTiles).
	layers []videoLayer
	tiles  map[*participant]map[string]tileSize

	before                          procSample // the server before anyone joined
	publishers, receivers, everyone []*participant
	errs                            []string

	stopMedia chan struct{} // closed to stop the publishers; nil once stopped
	pacing    sync.WaitGroup

	groups []*servedGroup // across nodes: the receivers by serving node
}

// mediaWindow is the measured window: each stream's next stamp at its
// start and end, its length, and the servers' samples at both ends.
type mediaWindow struct {
	first, last []uint32
	length      time.Duration
	start, end  clusterSample
}

// join joins the scenario's participants: for a classroom the owner as
// presenter, on the stage, and receive-only viewers; for a meeting
// participants who all publish and receive.
func (m *mediaRun) join(setupCtx context.Context, owner identity, room protocol.Room) error {
	switch m.cfg.scenario {
	case "classroom":
		presenter, err := joinParticipant(setupCtx, m.srv, m.kit, m.rx, owner, room.ID, false)
		if err != nil {
			return err
		}
		m.everyone = []*participant{presenter}
		if err := presenter.ss.send(protocol.StageSet{Type: protocol.TypeStageSet, On: true}); err != nil {
			return fmt.Errorf("presenter: go on stage: %w", err)
		}
		m.publishers = []*participant{presenter}
		if presenter.joinedSFU {
			// An always-SFU room (-mesh-max 0): the presenter is on the
			// air before the class arrives, and a viewer's join is to
			// the presenter's picture, not to the presenter's start.
			if err := m.publish(setupCtx); err != nil {
				return err
			}
			if err := presenter.awaitPublished(setupCtx); err != nil {
				return err
			}
		}
		if m.cfg.whep {
			m.logf("room %s: presenter joined; starting %d WHEP players", room.ID, m.cfg.viewers)
			m.receivers, m.errs = joinEach(setupCtx, m.cfg, m.cfg.viewers, func(int) (*participant, error) {
				return joinWHEP(setupCtx, m.srv, m.api, m.rx, owner.Token, room.ID, presenter.self.ID)
			})
		} else {
			m.logf("room %s: presenter joined; joining %d viewers", room.ID, m.cfg.viewers)
			m.receivers, m.errs = joinAll(setupCtx, m.cfg, m.cl, m.kit, m.rx, room.ID, m.cfg.viewers, true, nil)
		}
		m.everyone = append(m.everyone, m.receivers...)
	case "meeting":
		m.logf("room %s: joining %d participants", room.ID, m.cfg.participants)
		m.everyone, m.errs = joinAll(setupCtx, m.cfg, m.cl, m.kit, m.rx, room.ID, m.cfg.participants, false, &owner)
		m.publishers, m.receivers = m.everyone, m.everyone
	}
	if len(m.receivers) == 0 {
		return fmt.Errorf("no receiver could join: %v", m.errs)
	}
	m.logf("%d joined (%d failed)", len(m.everyone), len(m.errs))
	return nil
}

// publish has each publisher publish once its room is in SFU mode, then
// pace its media until stopPublishing. It returns once all have published,
// or at the first that could not.
func (m *mediaRun) publish(setupCtx context.Context) error {
	if m.stopMedia != nil {
		return nil // published before the viewers joined
	}
	m.stopMedia = make(chan struct{})
	stop, joined := m.stopMedia, len(m.everyone)
	published := make(chan error, len(m.publishers))
	for _, p := range m.publishers {
		m.pacing.Add(1)
		go func() {
			defer m.pacing.Done()
			select {
			case <-p.sfu:
			case <-setupCtx.Done():
				published <- fmt.Errorf("participant %s: the room never switched to the SFU (start the server with a -mesh-max below %d)", p.self.ID, joined)
				return
			case <-stop:
				return
			}
			err := p.publish(m.spec, m.layers)
			published <- err
			if err == nil {
				pace(m.spec, p.video, p.audio, stop, nil)
			}
		}()
	}
	for range m.publishers {
		if err := <-published; err != nil {
			return err
		}
	}
	return nil
}

func (m *mediaRun) stopPublishing() {
	if m.stopMedia == nil {
		return
	}
	close(m.stopMedia)
	m.pacing.Wait()
	m.stopMedia = nil
}

// closeEveryone closes the WHEP players first (their sessions must
// still be there to be deleted, not ended with the room as its owner
// leaves), then the participants; it returns what went wrong.
func (m *mediaRun) closeEveryone() []string {
	var players, others []*participant
	for _, p := range m.everyone {
		if p.whep != nil {
			players = append(players, p)
		} else {
			others = append(others, p)
		}
	}
	errs := closeAll(players)
	errs = append(errs, closeAll(others)...)
	m.everyone = nil
	return errs
}

// sendViews deals the tiles and has every receiver report its own.
func (m *mediaRun) sendViews() error {
	m.tiles = dealTiles(m.receivers, m.publishers, m.cfg.tileCycle)
	for _, r := range m.receivers {
		if err := sendViews(r, m.tiles[r]); err != nil {
			return err
		}
	}
	return nil
}

// want is what a receiver must get before the window opens: any of ids
// (one stream, or any layer of a simulcast camera).
type want struct {
	p   *participant
	ids []streamID
}

func (w want) met() bool {
	return slices.ContainsFunc(w.ids, w.p.has)
}

// wants lists what every receiver must get: every stream of the others,
// but of a simulcast camera any one layer (the SFU's bandwidth estimate
// may hold it below the tile's; awaitLayers waits for the tile's), and
// nothing of a camera its tile does not watch.
func (m *mediaRun) wants(streams []*stream) []want {
	var out []want
	for _, r := range m.receivers {
		cameras := map[string]int{} // camera key → its want in out
		for _, s := range streams {
			switch {
			case r.owns(s):
			case !s.video || m.tiles == nil:
				out = append(out, want{r, []streamID{s.id()}})
			case m.tiles[r][s.key].Width == 0:
			default:
				if i, ok := cameras[s.key]; ok {
					out[i].ids = append(out[i].ids, s.id())
					continue
				}
				cameras[s.key] = len(out)
				out = append(out, want{r, []streamID{s.id()}})
			}
		}
	}
	return out
}

// awaitMedia waits until every receiver gets what it must (wants), or the
// setup time is up, and returns the publishers' streams.
func (m *mediaRun) awaitMedia(setupCtx context.Context) []*stream {
	var streams []*stream
	for _, pub := range m.publishers {
		streams = append(streams, pub.video...)
		streams = append(streams, pub.audio)
	}
	wants := m.wants(streams)
	for {
		missing := 0
		for _, w := range wants {
			if !w.met() {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if setupCtx.Err() != nil {
			m.logf("%d of %d subscriptions still without media after %s; measuring anyway", missing, len(wants), m.cfg.setupTimeout)
			m.errs = append(m.errs, fmt.Sprintf("%d subscriptions without media at the start of the window", missing))
			return streams
		}
		time.Sleep(100 * time.Millisecond)
	}
	if m.tiles != nil {
		m.awaitLayers(setupCtx)
	}
	return streams
}

// measure notes where each stream is at the start and the end of the
// window, and the server's samples; then lets packets in flight arrive.
func (m *mediaRun) measure(ctx context.Context, streams []*stream) (mediaWindow, error) {
	w := mediaWindow{first: nextStamps(streams)}
	w.start = m.cl.sample(ctx)
	t0 := time.Now()
	m.rx.measuring.Store(true)
	select {
	case <-ctx.Done():
		return w, ctx.Err()
	case <-time.After(m.cfg.duration):
	}
	m.rx.measuring.Store(false)
	w.length = time.Since(t0)
	w.end = m.cl.sample(ctx)
	w.last = nextStamps(streams)
	time.Sleep(grace)
	return w, nil
}

func nextStamps(streams []*stream) []uint32 {
	next := make([]uint32, len(streams))
	for i, s := range streams {
		next[i] = s.next.Load()
	}
	return next
}

// result sums up the window: deliveries, latency, join times, the
// server's figures and the errors.
func (m *mediaRun) result(streams []*stream, w mediaWindow) *result {
	res := &result{Scenario: m.cfg.scenario, WHEP: m.cfg.whep, Viewers: len(m.receivers), Publishers: len(m.publishers), DurationS: w.length.Seconds()}
	m.countDeliveries(res, streams, w)
	m.joinTimes(res)
	if m.cl.measured() {
		res.serverWindow(m.before, w.start.total, w.end.total, w.length, res.ReceivedPackets, len(m.everyone))
	}
	if m.cl.perNode() {
		res.Nodes = m.cl.nodeResults(w.start, w.end, w.length)
		res.Machine = machineWindow(w.start, w.end, w.length)
	}
	res.ServedBy = m.servedResults(streams, w)
	for _, p := range m.everyone {
		m.errs = append(m.errs, p.errors()...)
	}
	res.Errors = firstN(m.errs, 10)
	return res
}

// countDeliveries counts what was sent in the window, what each receiver
// should have got of it and did, the latency, and what arrived per
// receiver.
func (m *mediaRun) countDeliveries(res *result, streams []*stream, w mediaWindow) {
	for i := range streams {
		res.SentPackets += uint64(w.last[i] - w.first[i])
	}
	res.ExpectedPackets, res.ReceivedPackets = m.deliveries(m.receivers, streams, w)
	if res.ExpectedPackets > 0 {
		res.LossPct = 100 * float64(res.ExpectedPackets-res.ReceivedPackets) / float64(res.ExpectedPackets)
	}
	res.DeliveriesPerS = float64(res.ReceivedPackets) / w.length.Seconds()
	res.LatencyP50MS = m.rx.latency.quantile(0.50)
	res.LatencyP99MS = m.rx.latency.quantile(0.99)
	if n := float64(len(m.receivers)); n > 0 {
		res.ReceivedPPSPerViewer = float64(m.rx.packets.Load()) / w.length.Seconds() / n
		res.ReceivedKbpsPerViewer = float64(m.rx.bytes.Load()) * 8 / 1000 / w.length.Seconds() / n
	}
	if m.tiles != nil {
		res.Simulcast = m.simulcastFigures(streams, w)
	}
}

// deliveries counts what receivers should have got in the window and
// did.
func (m *mediaRun) deliveries(receivers []*participant, streams []*stream, w mediaWindow) (expected, received uint64) {
	for _, r := range receivers {
		for i, s := range streams {
			if !m.counts(r, s) {
				continue
			}
			expected += uint64(w.last[i] - w.first[i])
			received += uint64(r.received(s.id()).countIn(w.first[i], w.last[i]))
		}
	}
	return expected, received
}

// joinTimes sums up the receivers' joins (joinStats).
func (m *mediaRun) joinTimes(res *result) {
	j := joinStats(m.receivers)
	res.JoinUpgradedP50MS, res.JoinWelcomeP50MS, res.JoinOfferP50MS = j.upgradedP50, j.welcomeP50, j.offerP50
	res.JoinAnswerP50MS, res.JoinICEP50MS, res.JoinConnectedP50MS = j.answerP50, j.iceP50, j.connectedP50
	res.JoinsMeasured, res.JoinP50MS, res.JoinP99MS, res.JoinMaxMS = j.measured, j.p50, j.p99, j.max
}

// baseline runs the bare Pion sender baseline, if asked for, into res.
func (m *mediaRun) baseline(ctx context.Context, res *result) {
	if m.cfg.baselineReceivers <= 0 {
		return
	}
	m.logf("bare Pion sender baseline: %d receivers", m.cfg.baselineReceivers)
	b, err := runBaseline(ctx, m.api, m.spec, m.cfg.baselineReceivers, min(m.cfg.duration, 5*time.Second))
	if err != nil {
		res.Errors = append(res.Errors, "baseline: "+err.Error())
		return
	}
	res.Baseline = &b
	if res.ServerCPUUSPerPacket != nil && b.USPerPacket > 0 {
		ratio := *res.ServerCPUUSPerPacket / b.USPerPacket
		res.CPURatio = &ratio
	}
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
}
