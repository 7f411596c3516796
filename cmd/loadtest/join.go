package main

import (
	"context"
	"sync"

	"github.com/pion/webrtc/v4"
)

// joinAll joins n participants, concurrency at a time, each with an
// identity of its own (the first with first, when given).
func joinAll(ctx context.Context, cfg *config, srv *server, api *webrtc.API, rx *rxStats, roomID string, n int, spectator bool, first *identity) ([]*participant, []string) {
	return joinEach(ctx, cfg, n, func(i int) (*participant, error) {
		if i == 0 && first != nil {
			return joinParticipant(ctx, srv, api, rx, *first, roomID, spectator)
		}
		id, err := srv.newIdentity(ctx)
		if err != nil {
			return nil, err
		}
		return joinParticipant(ctx, srv, api, rx, id, roomID, spectator)
	})
}

// joinEach runs join for 0 to n-1, -join-concurrency at a time, and
// returns those that joined and the errors of the others.
func joinEach(ctx context.Context, cfg *config, n int, join func(i int) (*participant, error)) ([]*participant, []string) {
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
