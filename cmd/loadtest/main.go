// Command loadtest drives a running meet server with Pion and WebSocket
// clients that speak the app's real protocol, and measures what the
// server does under that load: loss, latency, join time, and the server's
// own CPU and memory (from /proc, with -server-pid).
//
// Scenarios:
//
//	classroom  one presenter publishes synthetic VP8-like video and
//	           Opus-like audio; -viewers spectators receive it via the SFU
//	           (with -whep, -viewers WHEP players of the room's stage)
//	meeting    -participants all publish and all receive each other;
//	           with -simulcast each camera sends three layers and each
//	           viewer reports tile sizes dealt from -tiles
//	chat       -clients send paced chat messages to one room
//
// Media rooms must reach the SFU: start the server with a -mesh-max below
// the number of participants (the benchmarks use -mesh-max 1).
//
// Several nodes sharing one database: -url takes their URLs, comma
// separated; the room is made and the presenter joins through the first,
// the other clients through each in turn. -server-pid and -metrics-url
// then take one value per node, and the result gives each node's CPU per
// packet it forwarded, and in a classroom the receivers by the node that
// serves their media (cluster.go, nodes.go, served.go).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

type config struct {
	url                string // one URL, or several nodes' (cluster.go)
	scenario           string
	viewers            int
	participants       int
	clients            int
	duration           time.Duration
	serverPIDs         string
	metricsURLs        string
	json               bool
	bitrate            int
	chatRate           float64
	joinConcurrency    int
	joinEvery          time.Duration
	baselineReceivers  int
	setupTimeout       time.Duration
	cpuProfile         string
	simulcast          bool
	twcc               bool
	pionReceivers      bool
	keyframesOnRequest bool
	whep               bool
	tiles              string
	tileCycle          []tileSize // parsed -tiles
	cluster            *cluster   // parsed -url, -server-pid, -metrics-url
}

func parseConfig(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.url, "url", "http://127.0.0.1:8080", "base URL of the meet server; for several nodes of one database, their URLs, comma-separated: the room is made and the presenter joins through the first, the other clients through each in turn")
	fs.StringVar(&cfg.scenario, "scenario", "classroom", "classroom, meeting or chat")
	fs.IntVar(&cfg.viewers, "viewers", 20, "classroom: receive-only viewers")
	fs.IntVar(&cfg.participants, "participants", 4, "meeting: participants, each publishing and receiving")
	fs.IntVar(&cfg.clients, "clients", 100, "chat: WebSocket clients in the room")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of the measured window, after every client is set up")
	fs.StringVar(&cfg.serverPIDs, "server-pid", "0", "pid of the server process, to read its CPU time and RSS from /proc (0: not measured); with several -url, one pid per node, comma-separated, in -url's order")
	fs.StringVar(&cfg.metricsURLs, "metrics-url", "", "each node's metrics listener (meet's -metrics-addr, e.g. http://127.0.0.1:9090), comma-separated, in -url's order: the result then gives each node's CPU per packet it forwarded (meet_sfu_forwarded_packets_total over the window)")
	fs.BoolVar(&cfg.json, "json", false, "end the output with one line of JSON")
	fs.IntVar(&cfg.bitrate, "bitrate", 1_500_000, "video bits per second of each publisher")
	fs.Float64Var(&cfg.chatRate, "chat-rate", 100, "chat: messages per second from the whole room, spread evenly over the clients")
	fs.IntVar(&cfg.joinConcurrency, "join-concurrency", 8, "how many clients join at the same time")
	fs.DurationVar(&cfg.joinEvery, "join-every", 0, "start one join this long after the one before (a class that trickles in) instead of all at once")
	fs.IntVar(&cfg.baselineReceivers, "baseline-receivers", 20, "receivers of the bare Pion sender baseline run after a media scenario (0: skip it)")
	fs.DurationVar(&cfg.setupTimeout, "setup-timeout", 2*time.Minute, "how long joining and the first media may take")
	fs.BoolVar(&cfg.simulcast, "simulcast", false, "meeting: each camera sends three simulcast layers (q 320x180 at a tenth of -bitrate, h 640x360 at a third, f 1280x720 at -bitrate), and each viewer reports its tiles' sizes (-tiles)")
	fs.BoolVar(&cfg.twcc, "twcc", false, "media receivers send transport-wide congestion control feedback, as browsers do: the SFU's bandwidth estimate per subscriber, which can hold a simulcast video below the layer its tile asks for, then follows the link instead of staying at its start value")
	fs.BoolVar(&cfg.keyframesOnRequest, "keyframes-on-request", false, "publishers send a keyframe at the start and then only when the SFU asks, as a browser's encoder does, instead of every 2 s besides")
	fs.BoolVar(&cfg.pionReceivers, "pion-receivers", false, "receive-only viewers subscribe with full Pion connections (sfuclient), as before the lean receivers (cmd/loadtest/leanrx): about as much CPU per packet as the server's, on the same machine (-twcc implies it: the lean receivers send no TWCC feedback)")
	fs.BoolVar(&cfg.whep, "whep", false, "classroom: the viewers watch as WHEP players (POST /api/rooms/:id/whep with the owner's token, one receive-only connection each, DELETE at the end) instead of as spectators with a socket and a subscribe connection")
	fs.StringVar(&cfg.tiles, "tiles", "1280x720:1,320x180:2", "with -simulcast: the tile sizes viewers report, WIDTHxHEIGHT:weight,...; the viewer-camera pairs are dealt them in turn (0x0: not watched)")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write this tool's own CPU profile of the whole run to this file (the tool shares the machine with the server: know its part)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := checkScenario(cfg); err != nil {
		return nil, err
	}
	if cfg.simulcast {
		if cfg.scenario != "meeting" {
			return nil, fmt.Errorf("-simulcast is for -scenario meeting, not %s", cfg.scenario)
		}
		var err error
		if cfg.tileCycle, err = parseTiles(cfg.tiles); err != nil {
			return nil, err
		}
	}
	if cfg.whep && cfg.scenario != "classroom" {
		return nil, fmt.Errorf("-whep is for -scenario classroom, not %s", cfg.scenario)
	}
	if cfg.duration <= 0 {
		return nil, fmt.Errorf("-duration must be positive, got %s", cfg.duration)
	}
	if cfg.bitrate < 100_000 {
		return nil, fmt.Errorf("-bitrate must be at least 100000, got %d", cfg.bitrate)
	}
	if cfg.joinEvery < 0 {
		return nil, fmt.Errorf("-join-every must not be negative, got %s", cfg.joinEvery)
	}
	if cfg.joinConcurrency < 1 {
		return nil, fmt.Errorf("-join-concurrency must be at least 1, got %d", cfg.joinConcurrency)
	}
	if cfg.baselineReceivers < 0 {
		return nil, fmt.Errorf("-baseline-receivers must be 0 or more, got %d", cfg.baselineReceivers)
	}
	var err error
	if cfg.cluster, err = parseCluster(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// checkScenario checks the flags of the chosen scenario.
func checkScenario(cfg *config) error {
	switch cfg.scenario {
	case "classroom":
		if cfg.viewers < 1 {
			return fmt.Errorf("-viewers must be at least 1, got %d", cfg.viewers)
		}
	case "meeting":
		if cfg.participants < 2 {
			return fmt.Errorf("-participants must be at least 2, got %d", cfg.participants)
		}
	case "chat":
		if cfg.clients < 2 {
			return fmt.Errorf("-clients must be at least 2, got %d", cfg.clients)
		}
		if cfg.chatRate <= 0 {
			return fmt.Errorf("-chat-rate must be positive, got %g", cfg.chatRate)
		}
	default:
		return fmt.Errorf("-scenario %q: want classroom, meeting or chat", cfg.scenario)
	}
	return nil
}

// result is one run's figures. The JSON names are read by other checks:
// keep them stable. Server figures are null when no -server-pid was given.
type result struct {
	Scenario        string  `json:"scenario"`
	WHEP            bool    `json:"whep,omitempty"` // the viewers were WHEP players
	Viewers         int     `json:"viewers"`        // receiving clients
	Publishers      int     `json:"publishers"`     // publishing clients (chat: senders)
	DurationS       float64 `json:"duration_s"`
	SentPackets     uint64  `json:"sent_packets"`     // by publishers in the window (chat: messages)
	ExpectedPackets uint64  `json:"expected_packets"` // deliveries that should have arrived
	ReceivedPackets uint64  `json:"received_packets"` // deliveries that did arrive
	LossPct         float64 `json:"loss_pct"`
	LatencyP50MS    float64 `json:"latency_p50_ms"`
	LatencyP99MS    float64 `json:"latency_p99_ms"`
	JoinP50MS       float64 `json:"join_p50_ms"`
	JoinP99MS       float64 `json:"join_p99_ms"`
	JoinMaxMS       float64 `json:"join_max_ms"`
	// Where media join time goes: join to the socket's upgrade, to the
	// welcome, to the first subscribe offer, to ICE connected, and to the
	// subscribe connection connected (ICE and DTLS done).
	JoinUpgradedP50MS  float64 `json:"join_upgraded_p50_ms,omitempty"`
	JoinWelcomeP50MS   float64 `json:"join_welcome_p50_ms,omitempty"`
	JoinOfferP50MS     float64 `json:"join_offer_p50_ms,omitempty"`
	JoinICEP50MS       float64 `json:"join_ice_p50_ms,omitempty"`
	JoinConnectedP50MS float64 `json:"join_connected_p50_ms,omitempty"`
	JoinAnswerP50MS    float64 `json:"join_answer_p50_ms,omitempty"` // -whep: from the player's offer to the answer
	JoinsMeasured      int     `json:"joins_measured"`
	DeliveriesPerS     float64 `json:"deliveries_per_s"`
	// What each receiver got while measuring, on average: packets and
	// RTP payload bits (retransmissions included).
	ReceivedPPSPerViewer  float64 `json:"received_pps_per_viewer,omitempty"`
	ReceivedKbpsPerViewer float64 `json:"received_kbps_per_viewer,omitempty"`
	// With -simulcast: the layers and the tile mix.
	Simulcast *simulcastResult `json:"simulcast,omitempty"`
	// Refused chat messages (rate limit); not counted as loss.
	Refused int `json:"refused,omitempty"`

	ServerCPUUSPerPacket *float64 `json:"server_cpu_us_per_packet"`
	ServerCPUCores       *float64 `json:"server_cpu_cores"`
	ServerRSSMB          *float64 `json:"server_rss_mb"`
	ServerRSSPerViewerMB *float64 `json:"server_rss_per_viewer_mb"`

	Baseline *baselineResult `json:"baseline_sender,omitempty"`
	// CPURatio is server_cpu_us_per_packet over the baseline's.
	CPURatio *float64 `json:"cpu_ratio_vs_baseline,omitempty"`

	// Across nodes (or with -metrics-url): each node's figures, and in a
	// classroom the receivers by the node that serves their media. The
	// server_ figures above are then the nodes' sums.
	Nodes    []nodeResult   `json:"nodes,omitempty"`
	ServedBy []servedResult `json:"served_by,omitempty"`
	Machine  *machineResult `json:"machine,omitempty"`

	LoadAverage string   `json:"loadavg"`
	Errors      []string `json:"errors,omitempty"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "loadtest: "+format+"\n", a...) }
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var res *result
	switch cfg.scenario {
	case "chat":
		res, err = runChat(ctx, cfg, cfg.cluster, logf)
	default:
		res, err = runMedia(ctx, cfg, cfg.cluster, logf)
	}
	if err != nil {
		return err
	}
	res.LoadAverage = loadAverage()
	printSummary(stdout, res)
	if cfg.json {
		data, err := json.Marshal(res)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", data)
	}
	return nil
}

// serverWindow turns two samples of the server process into the result's
// server figures; per is the number of deliveries the CPU is divided by,
// and joined the clients the memory growth is divided by.
func (r *result) serverWindow(before, start, end procSample, window time.Duration, per uint64, joined int) {
	cores := (end.cpu - start.cpu).Seconds() / window.Seconds()
	r.ServerCPUCores = &cores
	rss := float64(end.rssKB) / 1024
	r.ServerRSSMB = &rss
	if joined > 0 {
		perViewer := float64(end.rssKB-before.rssKB) / 1024 / float64(joined)
		r.ServerRSSPerViewerMB = &perViewer
	}
	if per > 0 {
		us := float64((end.cpu - start.cpu).Microseconds()) / float64(per)
		r.ServerCPUUSPerPacket = &us
	}
}

func printSummary(w io.Writer, r *result) {
	f := func(p *float64, format string) string {
		if p == nil {
			return "not measured (no -server-pid)"
		}
		return fmt.Sprintf(format, *p)
	}
	unit := "packets"
	if r.Scenario == "chat" {
		unit = "messages"
	}
	receivers := "receivers"
	if r.WHEP {
		receivers = "WHEP players"
	}
	fmt.Fprintf(w, "scenario %s: %d %s, %d senders, %.1f s measured (load average %s)\n", r.Scenario, r.Viewers, receivers, r.Publishers, r.DurationS, r.LoadAverage)
	fmt.Fprintf(w, "  sent %d %s; %d of %d deliveries arrived: loss %.3f %%; %.0f deliveries/s\n", r.SentPackets, unit, r.ReceivedPackets, r.ExpectedPackets, r.LossPct, r.DeliveriesPerS)
	fmt.Fprintf(w, "  latency p50 %.2f ms, p99 %.2f ms\n", r.LatencyP50MS, r.LatencyP99MS)
	if r.ReceivedPPSPerViewer > 0 {
		fmt.Fprintf(w, "  per receiver: %.0f packets/s, %.0f kbit/s of RTP payload\n", r.ReceivedPPSPerViewer, r.ReceivedKbpsPerViewer)
	}
	if r.Simulcast != nil {
		printSimulcast(w, r.Simulcast)
	}
	fmt.Fprintf(w, "  join to first %s: p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d joins measured)\n", map[bool]string{true: "history", false: "video frame"}[r.Scenario == "chat"], r.JoinP50MS, r.JoinP99MS, r.JoinMaxMS, r.JoinsMeasured)
	if r.JoinAnswerP50MS > 0 {
		fmt.Fprintf(w, "    of which: answer (offer made, POST answered) p50 %.0f ms, connected (ICE+DTLS) p50 %.0f ms\n", r.JoinAnswerP50MS, r.JoinConnectedP50MS)
	} else if r.JoinConnectedP50MS > 0 {
		fmt.Fprintf(w, "    of which (p50): socket upgraded %.0f ms, welcome %.0f ms, subscribe offer %.0f ms, ICE connected %.0f ms, connected (ICE+DTLS) %.0f ms\n",
			r.JoinUpgradedP50MS, r.JoinWelcomeP50MS, r.JoinOfferP50MS, r.JoinICEP50MS, r.JoinConnectedP50MS)
	}
	if r.Refused > 0 {
		fmt.Fprintf(w, "  %d messages refused by the server (rate limit): lower -chat-rate or add -clients\n", r.Refused)
	}
	fmt.Fprintf(w, "  server CPU: %s per delivery, %s cores\n", f(r.ServerCPUUSPerPacket, "%.2f µs"), f(r.ServerCPUCores, "%.2f"))
	fmt.Fprintf(w, "  server RSS: %s, %s per receiver\n", f(r.ServerRSSMB, "%.1f MB"), f(r.ServerRSSPerViewerMB, "%.3f MB"))
	if len(r.Nodes) > 0 {
		printNodes(w, r)
	}
	if b := r.Baseline; b != nil {
		fmt.Fprintf(w, "  bare Pion sender baseline: %.2f µs per packet (%d receivers, %d packets)", b.USPerPacket, b.Receivers, b.Packets)
		if r.CPURatio != nil {
			fmt.Fprintf(w, "; server/baseline %.2f×", *r.CPURatio)
		}
		fmt.Fprintln(w)
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "  errors: %s\n", strings.Join(r.Errors, "; "))
	}
}
