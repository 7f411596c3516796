package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"meet/protocol"
)

// chatClient is one WebSocket participant of the chat scenario. Every
// message the tool sends is "lt <number> <unix nanoseconds>", numbered
// across the whole run, so any receiver can tell what it missed and how
// late each one came.
type chatClient struct {
	ss        *session
	joinTime  time.Duration
	got       seqSet
	mu        sync.Mutex
	waiting   []uint32 // sent, not yet answered; answers come in order
	refusals  []uint32
	errs      []string
	rx        *rxStats
	refusedTo *seqSet
}

func parseChatStamp(text string) (uint32, time.Time, bool) {
	f := strings.Fields(text)
	if len(f) != 3 || f[0] != "lt" {
		return 0, time.Time{}, false
	}
	n, err1 := strconv.ParseUint(f[1], 10, 32)
	at, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, time.Time{}, false
	}
	return uint32(n), time.Unix(0, at), true
}

func (c *chatClient) onChat(m protocol.ChatMessage, at time.Time) {
	n, sent, ok := parseChatStamp(m.Text)
	if !ok {
		return
	}
	c.got.add(n)
	if c.rx.measuring.Load() {
		c.rx.latency.record(at.Sub(sent))
	}
	if m.ClientID == "lt-"+strconv.FormatUint(uint64(n), 10) {
		c.answered(n, false)
	}
}

func (c *chatClient) onError(e protocol.Error) {
	if e.Ref != protocol.TypeChatSend {
		c.mu.Lock()
		if len(c.errs) < 3 {
			c.errs = append(c.errs, e.Code+": "+e.Message)
		}
		c.mu.Unlock()
		return
	}
	c.mu.Lock()
	var n uint32
	if len(c.waiting) > 0 {
		n = c.waiting[0]
	}
	c.mu.Unlock()
	if n != 0 {
		c.answered(n, true)
	}
}

// answered takes n off the waiting list: each chat-send gets exactly one
// answer, in order, either its echo or an error.
func (c *chatClient) answered(n uint32, refused bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, w := range c.waiting {
		if w == n {
			c.waiting = append(c.waiting[:i], c.waiting[i+1:]...)
			break
		}
	}
	if refused {
		c.refusedTo.add(n)
		if len(c.errs) < 3 {
			c.errs = append(c.errs, fmt.Sprintf("message %d refused", n))
		}
	}
}

func (c *chatClient) send(n uint32) error {
	c.mu.Lock()
	c.waiting = append(c.waiting, n)
	c.mu.Unlock()
	id := strconv.FormatUint(uint64(n), 10)
	return c.ss.send(protocol.ChatSend{Type: protocol.TypeChatSend, Text: "lt " + id + " " + strconv.FormatInt(time.Now().UnixNano(), 10), ClientID: "lt-" + id})
}

// runChat joins -clients participants to one room and has them send
// -chat-rate messages per second in turn; every client receives every
// message, its own included (that copy is the sender's acknowledgement).
func runChat(ctx context.Context, cfg *config, srv *server, logf func(string, ...any)) (*result, error) {
	rx := &rxStats{}
	refused := &seqSet{}
	owner, err := srv.newIdentity(ctx)
	if err != nil {
		return nil, err
	}
	room, err := srv.createRoom(ctx, owner, "loadtest chat", false)
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

	logf("room %s: joining %d chat clients", room.ID, cfg.clients)
	clients := make([]*chatClient, cfg.clients)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []string
		slots = make(chan struct{}, cfg.joinConcurrency)
	)
	for i := range clients {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			id := owner
			var err error
			if i > 0 {
				if id, err = srv.newIdentity(setupCtx); err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					return
				}
			}
			c := &chatClient{rx: rx, refusedTo: refused}
			start := time.Now()
			c.ss, err = srv.join(setupCtx, id, room.ID, false, handlers{chat: c.onChat, error: c.onError})
			if err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
				return
			}
			c.joinTime = time.Since(start)
			clients[i] = c
		}()
	}
	wg.Wait()
	joined := clients[:0]
	for _, c := range clients {
		if c != nil {
			joined = append(joined, c)
		}
	}
	clients = joined
	defer func() {
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Add(1)
			go func() { defer wg.Done(); c.ss.close() }()
		}
		wg.Wait()
	}()
	if len(clients) < 2 {
		return nil, fmt.Errorf("%d clients joined: %v", len(clients), errs)
	}
	logf("%d joined (%d failed); sending %.0f messages/s for %s", len(clients), len(errs), cfg.chatRate, cfg.duration)

	// One sender goroutine paces the whole room: message n goes out at
	// n/rate seconds, from client n mod len(clients).
	var next atomic.Uint32
	next.Store(1)
	stop := make(chan struct{})
	sending := make(chan struct{})
	go func() {
		defer close(sending)
		start := time.Now()
		for {
			n := next.Load()
			due := start.Add(time.Duration(float64(n-1) / cfg.chatRate * float64(time.Second)))
			select {
			case <-stop:
				return
			case <-time.After(time.Until(due)):
			}
			c := clients[int(n)%len(clients)]
			if err := c.send(n); err != nil {
				c.mu.Lock()
				c.errs = append(c.errs, err.Error())
				c.mu.Unlock()
			}
			next.Store(n + 1)
		}
	}()
	time.Sleep(warmup)

	var start, end procSample
	if cfg.serverPID > 0 {
		start, _ = readProc(cfg.serverPID)
	}
	w0 := next.Load()
	t0 := time.Now()
	rx.measuring.Store(true)
	select {
	case <-ctx.Done():
		close(stop)
		return nil, ctx.Err()
	case <-time.After(cfg.duration):
	}
	rx.measuring.Store(false)
	window := time.Since(t0)
	w1 := next.Load()
	if cfg.serverPID > 0 {
		end, _ = readProc(cfg.serverPID)
	}
	close(stop)
	<-sending
	time.Sleep(2 * grace)

	res := &result{Scenario: "chat", Viewers: len(clients), Publishers: len(clients), DurationS: window.Seconds()}
	res.SentPackets = uint64(w1 - w0)
	res.Refused = refused.countIn(w0, w1)
	res.ExpectedPackets = uint64(int(w1-w0)-res.Refused) * uint64(len(clients))
	var joins []time.Duration
	for _, c := range clients {
		res.ReceivedPackets += uint64(c.got.countIn(w0, w1))
		joins = append(joins, c.joinTime)
		c.mu.Lock()
		errs = append(errs, c.errs...)
		c.mu.Unlock()
	}
	if res.ExpectedPackets > 0 {
		res.LossPct = 100 * (float64(res.ExpectedPackets) - float64(res.ReceivedPackets)) / float64(res.ExpectedPackets)
	}
	res.DeliveriesPerS = float64(res.ReceivedPackets) / window.Seconds()
	res.LatencyP50MS = rx.latency.quantile(0.50)
	res.LatencyP99MS = rx.latency.quantile(0.99)
	res.JoinsMeasured = len(joins)
	res.JoinP50MS = medianMS(joins)
	for _, j := range joins {
		res.JoinMaxMS = max(res.JoinMaxMS, ms(j))
	}
	if cfg.serverPID > 0 {
		res.serverWindow(before, start, end, window, res.ReceivedPackets, len(clients))
	}
	res.Errors = firstN(errs, 10)
	return res, nil
}
