package main

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// joinAll joins n participants, concurrency at a time, each with an
// identity of its own (the first with first, when given), each through
// the cluster's nodes in turn.
func joinAll(ctx context.Context, cfg *config, cl *cluster, kit clientKit, rx *rxStats, roomID string, n int, spectator bool, first *identity) ([]*participant, []string) {
	return joinEach(ctx, cfg, n, func(i int) (*participant, error) {
		srv := cl.server(i)
		if i == 0 && first != nil {
			return joinParticipant(ctx, srv, kit, rx, *first, roomID, spectator)
		}
		id, err := srv.newIdentity(ctx)
		if err != nil {
			return nil, err
		}
		return joinParticipant(ctx, srv, kit, rx, id, roomID, spectator)
	})
}

// joinEach runs join for 0 to n-1, -join-concurrency at a time, each
// -join-every after the one before when that is set, and returns those
// that joined and the errors of the others.
func joinEach(ctx context.Context, cfg *config, n int, join func(i int) (*participant, error)) ([]*participant, []string) {
	var (
		mu     sync.Mutex
		joined = make([]*participant, n)
		errs   []string
		wg     sync.WaitGroup
		slots  = make(chan struct{}, cfg.joinConcurrency)
	)
	for i := 0; i < n; i++ {
		if i > 0 && cfg.joinEvery > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(cfg.joinEvery):
			}
		}
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			p, err := join(i)
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

// joinFigures sums up receivers' joins.
type joinFigures struct {
	p50, p99, max                                                      float64
	upgradedP50, welcomeP50, offerP50, answerP50, iceP50, connectedP50 float64
	measured                                                           int
}

// joinStats sums up the receivers' joins: to the socket's upgrade, to the
// welcome, to the first subscribe offer (a WHEP player: to the answer), to
// ICE connected, to the connection, to the first video frame.
func joinStats(receivers []*participant) joinFigures {
	var joins, upgrades, welcomes, offers, answers, ices, connects []time.Duration
	for _, r := range receivers {
		// Join time counts only joins into a room already in SFU mode:
		// the others waited for the switch, not for the SFU.
		if !r.joinedSFU {
			continue
		}
		if d, ok := r.joinTime(); ok {
			joins = append(joins, d)
		}
		for _, step := range []struct {
			at  *atomic.Int64
			out *[]time.Duration
		}{{&r.upgradedAt, &upgrades}, {&r.welcomeAt, &welcomes}, {&r.offerAt, &offers}, {&r.answerAt, &answers}, {&r.iceAt, &ices}, {&r.connectedAt, &connects}} {
			if d, ok := r.since(step.at); ok {
				*step.out = append(*step.out, d)
			}
		}
	}
	f := joinFigures{
		upgradedP50: medianMS(upgrades), welcomeP50: medianMS(welcomes), offerP50: medianMS(offers), answerP50: medianMS(answers),
		iceP50: medianMS(ices), connectedP50: medianMS(connects),
		measured: len(joins), p50: medianMS(joins), p99: quantileMS(joins, 0.99),
	}
	if len(joins) > 0 {
		sort.Slice(joins, func(i, j int) bool { return joins[i] < joins[j] })
		f.max = ms(joins[len(joins)-1])
	}
	return f
}
