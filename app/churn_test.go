package app

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
	"meet/sfu/codec"
	"meet/sfu/sfuclient"
)

// The churn test: clients join and leave random rooms through the real
// /ws, some of them with Pion SFU connections, and afterwards every
// goroutine and every byte they cost must be given back. By default it is
// small enough for the normal suite; the full run is
//
//	go test ./app -run TestChurn -churn -v     (or MEET_CHURN=1)
//
// 300 clients for 60 s. It prints its figures either way;
// MEET_CHURN_HEAP_PROFILE=file writes exact heap profiles after each round
// (file.round1, file.round2: compare them with go tool pprof -diff_base).
var churnFull = flag.Bool("churn", false, "run TestChurn at full size: 300 clients for 60 s")

type churnParams struct {
	clients   int
	rooms     int
	duration  time.Duration
	pionShare float64 // share of clients with SFU connections
}

func churnSize() churnParams {
	p := churnParams{clients: 16, rooms: 4, duration: 2 * time.Second, pionShare: 0.25}
	if *churnFull || os.Getenv("MEET_CHURN") == "1" {
		p = churnParams{clients: 300, rooms: 40, duration: 60 * time.Second, pionShare: 0.15}
	}
	// For exploring: MEET_CHURN_DURATION=20s shortens a run.
	if d, err := time.ParseDuration(os.Getenv("MEET_CHURN_DURATION")); err == nil && d > 0 {
		p.duration = d
	}
	return p
}

// churnStats are the counts of a run, updated by every client.
type churnStats struct {
	joins, pionJoins, leaves, drops    atomic.Int64
	restCalls, serverErrors, internals atomic.Int64
	refusedJoins, packetsReceived      atomic.Int64
	mu                                 sync.Mutex
	failures                           []string
	joinTimes                          []time.Duration // dial to welcome
}

// joinTime records how long a join took, from dial to welcome.
func (s *churnStats) joinTime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.joinTimes = append(s.joinTimes, d)
}

// joinPercentiles returns the median, the 99th percentile and the maximum.
func (s *churnStats) joinPercentiles() (p50, p99, max time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.joinTimes) == 0 {
		return 0, 0, 0
	}
	sorted := slices.Clone(s.joinTimes)
	slices.Sort(sorted)
	return sorted[len(sorted)/2], sorted[len(sorted)*99/100], sorted[len(sorted)-1]
}

func (s *churnStats) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) < 20 {
		s.failures = append(s.failures, fmt.Sprintf(format, args...))
	}
}

// warnCounter counts log records at warn and above and keeps the first
// few of each message; it keeps nothing else, so the server's logging
// costs the heap nothing.
type warnCounter struct {
	warns, errors atomic.Int64
	mu            sync.Mutex
	seen          map[string]int
	first         []string
}

func (w *warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler           { return w }
func (w *warnCounter) WithGroup(string) slog.Handler                { return w }
func (w *warnCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		w.errors.Add(1)
	} else {
		w.warns.Add(1)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen == nil {
		w.seen = map[string]int{}
	}
	if w.seen[r.Message]++; w.seen[r.Message] <= 2 {
		var b strings.Builder
		b.WriteString(r.Level.String() + " " + r.Message)
		r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
		w.first = append(w.first, b.String())
	}
	return nil
}

// summary lists each message with its count and first occurrences.
func (w *warnCounter) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for msg, n := range w.seen {
		fmt.Fprintf(&b, "\n  %d × %q", n, msg)
	}
	for _, f := range w.first {
		b.WriteString("\n    e.g. " + f)
	}
	return b.String()
}

func TestChurn(t *testing.T) {
	params := churnSize()
	if os.Getenv("MEET_CHURN_HEAP_PROFILE") != "" {
		// Record every allocation, so the profile names what stayed.
		defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
		runtime.MemProfileRate = 1
	}
	warns := &warnCounter{}
	srv := newServerLoggingTo(t, noLimits(Config{
		MeshMax: 3, BackToMeshDelay: 300 * time.Millisecond, SFUGrace: 500 * time.Millisecond,
		ReconnectGrace: 300 * time.Millisecond,
	}), warns)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 10 * time.Second}

	rooms := make([]string, params.rooms)
	for i := range rooms {
		owner := newIdentity(time.Now())
		r, err := srv.store.CreateRoom(fmt.Sprintf("churn %d", i), owner.ID, owner.Name)
		if err != nil {
			t.Fatal(err)
		}
		rooms[i] = r.ID
	}
	api, err := sfuTestAPI()
	if err != nil {
		t.Fatal(err)
	}
	env := &churnEnv{
		t: t, srv: srv, base: hs.URL, wsURL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws",
		http: httpClient, rooms: rooms, stats: &churnStats{}, api: api,
	}

	// Warm up every kind of client once, so that pools, caches and lazily
	// started goroutines exist before the baseline is taken.
	env.runClient(rand.New(rand.NewPCG(1, 1)), true, 50*time.Millisecond)
	env.runClient(rand.New(rand.NewPCG(2, 2)), false, 50*time.Millisecond)
	env.waitEmpty(t, 10*time.Second)
	env.stats = &churnStats{}
	httpClient.CloseIdleConnections()
	goBefore, heapBefore := settle()

	// Two rounds of half the time each. After each, everyone has left:
	// the server must forget them all and give back every goroutine. The
	// runtime keeps some memory for the peak it saw (a goroutine's
	// descriptor is never freed, for one), so the heap is compared between
	// the rounds: what a join leaks would grow with the second round's
	// joins, what the peak costs would not.
	start := time.Now()
	var goAfter [2]int
	var heapAfter [2]uint64
	for round := range 2 {
		deadline := time.Now().Add(params.duration / 2)
		var wg sync.WaitGroup
		for i := 0; i < params.clients; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())+uint64(round)))
				pion := float64(i) < float64(params.clients)*params.pionShare
				for time.Now().Before(deadline) {
					env.runClient(rng, pion, time.Duration(100+rng.IntN(1400))*time.Millisecond)
				}
			}(i)
		}
		wg.Wait()
		env.waitEmpty(t, 15*time.Second)
		httpClient.CloseIdleConnections()
		goAfter[round], heapAfter[round] = goBefore+1<<20, 0
		for settledBy := time.Now().Add(10 * time.Second); time.Now().Before(settledBy); time.Sleep(200 * time.Millisecond) {
			goAfter[round], heapAfter[round] = settle()
			if goAfter[round] <= goBefore+churnGoroutineSlack {
				break
			}
		}
		if path := os.Getenv("MEET_CHURN_HEAP_PROFILE"); path != "" {
			if f, err := os.Create(fmt.Sprintf("%s.round%d", path, round+1)); err == nil {
				_ = pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
		if goAfter[round] > goBefore+churnGoroutineSlack {
			var buf bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Fatalf("round %d: goroutines did not return to the baseline: %d before, %d after; now running:\n%s", round+1, goBefore, goAfter[round], buf.String())
		}
	}
	ran := time.Since(start)

	st := env.stats
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	t.Logf("churn: %d clients (%.0f%% with Pion SFU connections) in %d rooms for %s", params.clients, params.pionShare*100, params.rooms, ran.Round(time.Millisecond))
	t.Logf("churn: %d joins (%d with SFU connections), %d leaves, %d dropped sockets, %d refused joins, %d REST calls, %d RTP packets received",
		st.joins.Load(), st.pionJoins.Load(), st.leaves.Load(), st.drops.Load(), st.refusedJoins.Load(), st.restCalls.Load(), st.packetsReceived.Load())
	p50, p99, maxJoin := st.joinPercentiles()
	t.Logf("churn: join (dial to welcome) p50 %s, p99 %s, max %s", p50.Round(time.Millisecond), p99.Round(time.Millisecond), maxJoin.Round(time.Millisecond))
	t.Logf("churn: goroutines %d before, %d after round 1, %d after round 2", goBefore, goAfter[0], goAfter[1])
	t.Logf("churn: live heap %.1f MiB before, %.1f MiB after round 1, %.1f MiB after round 2", mib(heapBefore), mib(heapAfter[0]), mib(heapAfter[1]))

	if st.joins.Load() < int64(params.clients) {
		t.Errorf("only %d joins for %d clients", st.joins.Load(), params.clients)
	}
	if n := st.serverErrors.Load(); n > 0 {
		t.Errorf("%d responses were 5xx", n)
	}
	if n := st.internals.Load(); n > 0 {
		t.Errorf("%d internal errors on the socket", n)
	}
	// Warnings are allowed (a publisher leaving while a subscriber is being
	// added to its track is a race the SFU reports and survives); errors
	// are not. Both are shown.
	if warns.warns.Load()+warns.errors.Load() > 0 {
		t.Logf("churn: %d warnings and %d errors logged:%s", warns.warns.Load(), warns.errors.Load(), warns.summary())
	}
	if n := warns.errors.Load(); n > 0 {
		t.Errorf("%d errors logged", n)
	}
	for _, f := range st.failures {
		t.Error(f)
	}
	// Every join was recorded, and so was its end, dropped sockets
	// included.
	var rows, open int
	for _, id := range rooms {
		att, err := srv.store.AttendanceOf(id)
		if err != nil {
			t.Fatal(err)
		}
		rows += len(att)
		for _, a := range att {
			if a.LeftAt == nil {
				open++
			}
		}
	}
	if rows < int(st.joins.Load()) || open > 0 {
		t.Errorf("attendance: %d rows for %d joins, %d without a leave", rows, st.joins.Load(), open)
	}
	if heapAfter[1] > heapAfter[0]+heapAfter[0]/4+churnHeapSlack {
		t.Errorf("the live heap grew from %.1f MiB after round 1 to %.1f MiB after round 2", mib(heapAfter[0]), mib(heapAfter[1]))
	}
	if heapAfter[1] > heapBefore+churnPeakSlack {
		t.Errorf("the live heap grew from %.1f MiB to %.1f MiB", mib(heapBefore), mib(heapAfter[1]))
	}
}

// Slack of the churn's checks: goroutines of the runtime and of the test's
// HTTP client come and go on their own; the heap may differ by a little
// between rounds (sync.Pools, the recorded join times), and may keep what
// the peak cost the runtime (about 0.5 KiB per goroutine ever running at
// once, some 15,000 in the full run).
const (
	churnGoroutineSlack = 5
	churnHeapSlack      = 1 << 20
	churnPeakSlack      = 16 << 20
)

// settle collects garbage and returns the goroutine count and the live
// heap: the bytes of objects still reachable (HeapAlloc after a GC; the
// spans they occupy, HeapInuse, also count fragmentation).
func settle() (int, uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), ms.HeapAlloc
}

// churnEnv is what every churn client shares.
type churnEnv struct {
	t     *testing.T
	srv   *Server
	base  string
	wsURL string
	http  *http.Client
	rooms []string
	stats *churnStats
	api   *webrtc.API
}

// waitEmpty waits until the server holds no room, socket or SFU peer.
func (e *churnEnv) waitEmpty(t *testing.T, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		rooms, sockets, peers := len(e.srv.hub.All()), e.srv.ws.Len(), e.srv.sfu.Totals().Peers
		if rooms == 0 && sockets == 0 && peers == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the clients left: %d live rooms, %d sockets, %d SFU peers", rooms, sockets, peers)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rest calls the API and counts 5xx answers.
func (e *churnEnv) rest(method, path, body string) {
	req, _ := http.NewRequest(method, e.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(req)
	e.stats.restCalls.Add(1)
	if err != nil {
		e.stats.fail("%s %s: %v", method, path, err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		e.stats.serverErrors.Add(1)
	}
}

// churnClient is one participant of the churn: a socket, and with pion
// the two SFU connections a browser would have.
type churnClient struct {
	env  *churnEnv
	conn *websocket.Conn
	self string

	wmu sync.Mutex // one writer on the socket

	sfu   *sfuclient.Client // nil for a plain client
	peers []string          // others in the room, from the welcome
}

func (c *churnClient) write(v any) {
	data, _ := json.Marshal(v)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = c.conn.WriteMessage(websocket.TextMessage, data)
}

// runClient joins a random room, acts like a participant for stay, and
// leaves: by saying so, or by dropping the socket.
func (e *churnEnv) runClient(rng *rand.Rand, pion bool, stay time.Duration) {
	roomID := e.rooms[rng.IntN(len(e.rooms))]
	if rng.IntN(4) == 0 {
		e.rest("GET", "/api/rooms/"+roomID, "")
	}
	id := newIdentity(time.Now())
	q := url.Values{"room": {roomID}, "token": {e.srv.tokens.sign(id)}, "name": {id.Name}}
	dialed := time.Now()
	conn, resp, err := websocket.DefaultDialer.Dial(e.wsURL+"?"+q.Encode(), nil)
	if err != nil {
		if resp != nil && resp.StatusCode >= 500 {
			e.stats.serverErrors.Add(1)
		}
		e.stats.fail("dial: %v", err)
		return
	}
	c := &churnClient{env: e, conn: conn}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, data, err := conn.ReadMessage()
	var w protocol.Welcome
	if err != nil || json.Unmarshal(data, &w) != nil || w.Type != protocol.TypeWelcome {
		e.stats.refusedJoins.Add(1)
		e.stats.fail("no welcome: %q %v", data, err)
		conn.Close()
		return
	}
	e.stats.joins.Add(1)
	e.stats.joinTime(time.Since(dialed))
	c.self = w.Self.ID
	for _, p := range w.Participants {
		c.peers = append(c.peers, p.ID)
	}
	if pion {
		e.stats.pionJoins.Add(1)
		if err := c.startSFU(); err != nil {
			e.stats.fail("sfu client: %v", err)
		}
	}
	done := make(chan struct{})
	go c.read(done)

	// Act like a participant: announce media, chat, rename, signal.
	c.write(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceCamera, Action: protocol.ActionPublished, StreamID: "s-" + c.self})
	if rng.IntN(3) == 0 {
		c.write(protocol.ChatSend{Type: protocol.TypeChatSend, Text: "hello from " + c.self, ClientID: c.self})
	}
	if rng.IntN(4) == 0 {
		c.write(protocol.Rename{Type: protocol.TypeRename, Name: "Renamed " + c.self[2:8]})
	}
	if len(c.peers) > 0 {
		c.write(protocol.Signal{Type: protocol.TypeSignal, To: c.peers[rng.IntN(len(c.peers))], Kind: protocol.KindOffer, SDP: "v=0 churn"})
	}
	if pion && rng.IntN(2) == 0 {
		c.publish(stay)
	} else {
		time.Sleep(stay)
	}
	if rng.IntN(5) == 0 {
		e.rest("GET", "/api/rooms/"+roomID+"/participants", "")
	}

	if rng.IntN(10) < 7 {
		c.write(protocol.Leave{Type: protocol.TypeLeave})
		e.stats.leaves.Add(1)
		select {
		case <-done: // the server closed the socket
		case <-time.After(30 * time.Second): // a hang, not a slow machine
			e.stats.fail("the server did not close the socket after leave")
		}
	} else {
		e.stats.drops.Add(1)
	}
	conn.Close()
	<-done
	c.closePeers()
}

// read handles what the server sends until the socket closes.
func (c *churnClient) read(done chan<- struct{}) {
	defer close(done)
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		var env protocol.Envelope
		_ = json.Unmarshal(data, &env)
		switch env.Type {
		case protocol.TypeError:
			var e protocol.Error
			_ = json.Unmarshal(data, &e)
			if e.Code == protocol.CodeInternal {
				c.env.stats.internals.Add(1)
				c.env.stats.fail("internal error: %+v", e)
			}
		case protocol.TypeSFU:
			var m protocol.SFU
			_ = json.Unmarshal(data, &m)
			c.onSFU(&m)
		}
	}
}

// startSFU opens the subscribe connection, which answers the server's
// offers; the publish connection opens when the client publishes.
func (c *churnClient) startSFU() error {
	client, err := sfuclient.New(sfuclient.Config{
		API: c.env.api,
		Send: func(m protocol.SFU) error {
			c.write(m)
			return nil
		},
		OnPacket: func(string, *webrtc.TrackRemote, *rtp.Packet) { c.env.stats.packetsReceived.Add(1) },
	})
	if err != nil {
		return err
	}
	c.sfu = client
	return nil
}

// onSFU applies the server's negotiation. Its failures are not the
// churn's: the server's side is what is measured, and a client leaving
// meets its own connections closing.
func (c *churnClient) onSFU(m *protocol.SFU) {
	if c.sfu == nil {
		return // a plain client: it never answers, as a broken browser would not
	}
	_ = c.sfu.Handle(*m)
}

// publish sends a microphone track to the SFU for d.
func (c *churnClient) publish(d time.Duration) {
	if c.sfu == nil { // startSFU failed, and said so
		time.Sleep(d)
		return
	}
	track, err := webrtc.NewTrackLocalStaticRTP(codec.Opus(), "audio", "mic-"+c.self)
	if err == nil {
		err = c.sfu.Publish(map[string]webrtc.TrackLocal{protocol.SourceMicrophone: track})
	}
	if err != nil {
		c.env.stats.fail("publish: %v", err)
		time.Sleep(d)
		return
	}
	payload := make([]byte, 80)
	end := time.Now().Add(d)
	for seq := uint16(1); time.Now().Before(end); seq++ {
		binary.BigEndian.PutUint16(payload, seq)
		_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960}, Payload: payload})
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *churnClient) closePeers() {
	if c.sfu != nil {
		c.sfu.Close()
	}
}
