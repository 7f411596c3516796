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
func runChat(ctx context.Context, cfg *config, cl *cluster, logf func(string, ...any)) (*result, error) {
	r := &chatRun{cfg: cfg, cl: cl, rx: &rxStats{}, refused: &seqSet{}}
	owner, room, before, err := newOwnedRoom(ctx, cl, "loadtest chat", false)
	r.before = before
	if err != nil {
		return nil, err
	}
	setupCtx, cancelSetup := context.WithTimeout(ctx, cfg.setupTimeout)
	defer cancelSetup()

	logf("room %s: joining %d chat clients", room.ID, cfg.clients)
	r.join(setupCtx, owner, room.ID)
	defer r.closeAll()
	if len(r.clients) < 2 {
		return nil, fmt.Errorf("%d clients joined: %v", len(r.clients), r.errs)
	}
	logf("%d joined (%d failed); sending %.0f messages/s for %s", len(r.clients), len(r.errs), cfg.chatRate, cfg.duration)

	stop := make(chan struct{})
	sending := r.send(stop)
	time.Sleep(warmup)
	w, err := r.measure(ctx)
	close(stop)
	if err != nil {
		return nil, err
	}
	<-sending
	time.Sleep(2 * grace)
	return r.result(w), nil
}

// chatRun is one run of the chat scenario, from the joins to the result.
type chatRun struct {
	cfg     *config
	cl      *cluster
	rx      *rxStats
	refused *seqSet // messages the server refused (rate limit)

	before  procSample // the server before anyone joined
	clients []*chatClient
	errs    []string
	// next is the number of the next message to send; the messages sent
	// between two loads of it are exactly the numbers in between.
	next atomic.Uint32
}

// chatWindow is the measured window: the first message sent in it and the
// first after it, its length, and the server's samples at both ends.
type chatWindow struct {
	first, last uint32
	length      time.Duration
	start, end  clusterSample
}

// join joins -clients clients, -join-concurrency at a time, the first as
// the room's owner; the ones that could not join are left out.
func (r *chatRun) join(setupCtx context.Context, owner identity, roomID string) {
	clients := make([]*chatClient, r.cfg.clients)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		slots = make(chan struct{}, r.cfg.joinConcurrency)
	)
	failed := func(err error) {
		mu.Lock()
		r.errs = append(r.errs, err.Error())
		mu.Unlock()
	}
	for i := range clients {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			id := owner
			var err error
			if i > 0 {
				if id, err = r.cl.server(i).newIdentity(setupCtx); err != nil {
					failed(err)
					return
				}
			}
			c := &chatClient{rx: r.rx, refusedTo: r.refused}
			start := time.Now()
			if c.ss, err = r.cl.server(i).join(setupCtx, id, roomID, false); err != nil {
				failed(err)
				return
			}
			c.joinTime = time.Since(start)
			c.ss.serve(handlers{chat: c.onChat, error: c.onError})
			clients[i] = c
		}()
	}
	wg.Wait()
	for _, c := range clients {
		if c != nil {
			r.clients = append(r.clients, c)
		}
	}
}

func (r *chatRun) closeAll() {
	var wg sync.WaitGroup
	for _, c := range r.clients {
		wg.Add(1)
		go func() { defer wg.Done(); c.ss.close() }()
	}
	wg.Wait()
}

// send paces the whole room from one goroutine, until stop closes: message
// n goes out at n/rate seconds, from client n mod len(clients). The
// returned channel closes when it has stopped.
func (r *chatRun) send(stop <-chan struct{}) <-chan struct{} {
	r.next.Store(1)
	sending := make(chan struct{})
	go func() {
		defer close(sending)
		start := time.Now()
		for {
			n := r.next.Load()
			due := start.Add(time.Duration(float64(n-1) / r.cfg.chatRate * float64(time.Second)))
			select {
			case <-stop:
				return
			case <-time.After(time.Until(due)):
			}
			c := r.clients[int(n)%len(r.clients)]
			if err := c.send(n); err != nil {
				c.mu.Lock()
				c.errs = append(c.errs, err.Error())
				c.mu.Unlock()
			}
			r.next.Store(n + 1)
		}
	}()
	return sending
}

// measure notes the messages sent in the window and the server's samples.
func (r *chatRun) measure(ctx context.Context) (chatWindow, error) {
	var w chatWindow
	w.start = r.cl.sample(ctx)
	w.first = r.next.Load()
	t0 := time.Now()
	r.rx.measuring.Store(true)
	select {
	case <-ctx.Done():
		return w, ctx.Err()
	case <-time.After(r.cfg.duration):
	}
	r.rx.measuring.Store(false)
	w.length = time.Since(t0)
	w.last = r.next.Load()
	w.end = r.cl.sample(ctx)
	return w, nil
}

// result sums up the window: deliveries, refusals, latency, join times,
// the server's figures and the errors.
func (r *chatRun) result(w chatWindow) *result {
	res := &result{Scenario: "chat", Viewers: len(r.clients), Publishers: len(r.clients), DurationS: w.length.Seconds()}
	res.SentPackets = uint64(w.last - w.first)
	res.Refused = r.refused.countIn(w.first, w.last)
	res.ExpectedPackets = uint64(int(w.last-w.first)-res.Refused) * uint64(len(r.clients))
	var joins []time.Duration
	for _, c := range r.clients {
		res.ReceivedPackets += uint64(c.got.countIn(w.first, w.last))
		joins = append(joins, c.joinTime)
		c.mu.Lock()
		r.errs = append(r.errs, c.errs...)
		c.mu.Unlock()
	}
	if res.ExpectedPackets > 0 {
		res.LossPct = 100 * (float64(res.ExpectedPackets) - float64(res.ReceivedPackets)) / float64(res.ExpectedPackets)
	}
	res.DeliveriesPerS = float64(res.ReceivedPackets) / w.length.Seconds()
	res.LatencyP50MS = r.rx.latency.quantile(0.50)
	res.LatencyP99MS = r.rx.latency.quantile(0.99)
	res.JoinsMeasured = len(joins)
	res.JoinP50MS = medianMS(joins)
	res.JoinP99MS = quantileMS(joins, 0.99)
	for _, j := range joins {
		res.JoinMaxMS = max(res.JoinMaxMS, ms(j))
	}
	if r.cl.measured() {
		res.serverWindow(r.before, w.start.total, w.end.total, w.length, res.ReceivedPackets, len(r.clients))
	}
	if r.cl.perNode() {
		res.Nodes = r.cl.nodeResults(w.start, w.end, w.length)
		res.Machine = machineWindow(w.start, w.end, w.length)
	}
	res.Errors = firstN(r.errs, 10)
	return res
}
