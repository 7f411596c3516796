package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"meet/app"
	"meet/store"
)

// startServer runs the app in-process on a fresh database, with rooms
// that use the SFU from their second participant on.
func startServer(t *testing.T) string {
	t.Helper()
	url, _ := startServerWithMetrics(t)
	return url
}

// startServerWithMetrics is startServer, with the app's metrics served on
// a listener of their own, as meet's -metrics-addr does: it returns both
// URLs.
func startServerWithMetrics(t *testing.T) (string, string) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "meet.db"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := app.New(app.Config{
		Store:   db,
		Secret:  []byte("loadtest-secret-loadtest-secret-0123"),
		MeshMax: 1,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	metrics := httptest.NewServer(srv.MetricsHandler())
	t.Cleanup(metrics.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.CloseClientConnections()
		hs.Close()
		db.Close()
	})
	return hs.URL, metrics.URL
}

// requiredKeys are the JSON names other checks read.
var requiredKeys = []string{
	"scenario", "viewers", "duration_s", "sent_packets", "received_packets", "loss_pct",
	"latency_p50_ms", "latency_p99_ms", "join_p50_ms", "server_cpu_us_per_packet", "server_rss_mb",
}

// runTool runs the tool with -json against url and returns its last line,
// decoded, and the whole output.
func runTool(t *testing.T, url string, args ...string) (map[string]any, string) {
	t.Helper()
	// One pid per node (the test's nodes are all this process).
	pids := strings.Repeat(strconv.Itoa(os.Getpid())+",", strings.Count(url, ",")+1)
	args = append([]string{"-url", url, "-json", "-server-pid", strings.TrimSuffix(pids, ","), "-setup-timeout", "40s"}, args...)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("loadtest %v: %v\n%s", args, err, errOut.String())
	}
	t.Log(out.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line is not JSON: %q: %v", lines[len(lines)-1], err)
	}
	for _, k := range requiredKeys {
		if _, ok := res[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, lines[len(lines)-1])
		}
	}
	return res, out.String()
}

// checkNoLoss asserts that something was measured and all of it arrived.
func checkNoLoss(t *testing.T, res map[string]any, out string) {
	t.Helper()
	expected, _ := res["expected_packets"].(float64)
	received, _ := res["received_packets"].(float64)
	if expected == 0 || received != expected || res["loss_pct"] != 0.0 {
		t.Errorf("expected %v deliveries, received %v, loss %v %%\n%s", expected, received, res["loss_pct"], out)
	}
	if errs, ok := res["errors"]; ok {
		t.Errorf("errors: %v\n%s", errs, out)
	}
	for _, k := range []string{"server_cpu_us_per_packet", "server_rss_mb"} {
		if v, ok := res[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v with -server-pid given", k, res[k])
		}
	}
}

func TestClassroomLosesNothingOnLoopback(t *testing.T) {
	url := startServer(t)
	res, out := runTool(t, url, "-scenario", "classroom", "-viewers", "5", "-duration", "2s", "-bitrate", "300000", "-baseline-receivers", "2")
	checkNoLoss(t, res, out)
	if res["scenario"] != "classroom" || res["viewers"] != 5.0 {
		t.Errorf("scenario %v viewers %v", res["scenario"], res["viewers"])
	}
	if res["joins_measured"] != 5.0 {
		t.Errorf("join to first frame measured for %v of 5 viewers\n%s", res["joins_measured"], out)
	}
	b, _ := res["baseline_sender"].(map[string]any)
	if b == nil || b["packets"] == 0.0 {
		t.Errorf("no baseline: %v\n%s", res["baseline_sender"], out)
	}
}

// TestClassroomWHEPLosesNothingOnLoopback: the classroom's viewers watch
// as WHEP players with the owner's token; what they get is counted as a
// spectator's is, and each session is deleted at the end (a DELETE the
// server refuses is an error of the run).
func TestClassroomWHEPLosesNothingOnLoopback(t *testing.T) {
	url := startServer(t)
	res, out := runTool(t, url, "-scenario", "classroom", "-whep", "-viewers", "4", "-duration", "2s", "-bitrate", "300000", "-baseline-receivers", "0")
	checkNoLoss(t, res, out)
	if res["whep"] != true || res["viewers"] != 4.0 || res["publishers"] != 1.0 {
		t.Errorf("whep %v viewers %v publishers %v", res["whep"], res["viewers"], res["publishers"])
	}
	// The presenter's video and sound, each to the four players.
	if sent, expected := res["sent_packets"].(float64), res["expected_packets"].(float64); expected != 4*sent {
		t.Errorf("sent %v, expected %v deliveries, want four times as many", sent, expected)
	}
	if v, _ := res["deliveries_per_s"].(float64); v <= 0 {
		t.Errorf("deliveries_per_s %v\n%s", res["deliveries_per_s"], out)
	}
	if res["joins_measured"] != 4.0 || res["join_answer_p50_ms"] == nil {
		t.Errorf("join to first frame measured for %v of 4 players, answer p50 %v\n%s", res["joins_measured"], res["join_answer_p50_ms"], out)
	}
}

func TestMeetingLosesNothingOnLoopback(t *testing.T) {
	url := startServer(t)
	res, out := runTool(t, url, "-scenario", "meeting", "-participants", "3", "-duration", "2s", "-bitrate", "300000", "-baseline-receivers", "0")
	checkNoLoss(t, res, out)
	// Three publishers, each received by the two others.
	if res["publishers"] != 3.0 || res["expected_packets"].(float64) != 2*res["sent_packets"].(float64) {
		t.Errorf("publishers %v, sent %v, expected %v", res["publishers"], res["sent_packets"], res["expected_packets"])
	}
}

// TestMeetingSimulcastFitsTiles: in a meeting whose cameras send three
// simulcast layers, each viewer's tile of a camera gets the layer that
// fits it: the 320-wide layer for a small tile, 640 for a middle one, 1280
// for a large one, and nothing else, without loss.
func TestMeetingSimulcastFitsTiles(t *testing.T) {
	url := startServer(t)
	res, out := runTool(t, url, "-scenario", "meeting", "-participants", "3", "-duration", "2s", "-bitrate", "600000",
		"-baseline-receivers", "0", "-simulcast", "-tiles", "1280x720:1,320x180:1,640x360:1")
	checkNoLoss(t, res, out)
	sim, _ := res["simulcast"].(map[string]any)
	tiles, _ := sim["tiles"].([]any)
	// Six viewer-camera pairs, two of each size, largest first.
	want := []struct {
		size, rid, width string
	}{{"1280x720", "f", "1280"}, {"640x360", "h", "640"}, {"320x180", "q", "320"}}
	if len(tiles) != len(want) {
		t.Fatalf("tiles %v, want %d sizes\n%s", sim["tiles"], len(want), out)
	}
	for i, w := range want {
		tile := tiles[i].(map[string]any)
		size := fmt.Sprintf("%vx%v", tile["width"], tile["height"])
		widths, _ := tile["received_widths"].(map[string]any)
		packets, _ := tile["received_packets_by_rid"].(map[string]any)
		if size != w.size || tile["tracks"] != 2.0 || tile["expected_rid"] != w.rid {
			t.Errorf("tile %d: %s, %v tracks, layer %v; want %s, 2 tracks, layer %s", i, size, tile["tracks"], tile["expected_rid"], w.size, w.rid)
		}
		if len(widths) != 1 || widths[w.width] != 2.0 {
			t.Errorf("%s tiles: last keyframes %v wide, want both %s", size, widths, w.width)
		}
		if len(packets) != 1 || packets[w.rid] == nil || packets[w.rid].(float64) == 0 || tile["off_layer_tracks"] != 0.0 || tile["switched_tracks"] != 0.0 {
			t.Errorf("%s tiles: packets by layer %v (%v tracks off layer, %v switched), want layer %s only", size, packets, tile["off_layer_tracks"], tile["switched_tracks"], w.rid)
		}
	}
	layers, _ := sim["layers"].([]any)
	for i, rid := range []string{"q", "h", "f"} {
		if i >= len(layers) {
			t.Fatalf("layers %v", sim["layers"])
		}
		l := layers[i].(map[string]any)
		if l["rid"] != rid || l["tracks"] != 2.0 || l["sent_packets"] == 0.0 {
			t.Errorf("layer %d: %v", i, l)
		}
	}
	if res["received_kbps_per_viewer"] == nil {
		t.Errorf("no received_kbps_per_viewer\n%s", out)
	}
}

func TestChatLosesNothingOnLoopback(t *testing.T) {
	url := startServer(t)
	res, out := runTool(t, url, "-scenario", "chat", "-clients", "20", "-chat-rate", "20", "-duration", "2s")
	checkNoLoss(t, res, out)
	if res["expected_packets"].(float64) != 20*res["sent_packets"].(float64) {
		t.Errorf("sent %v messages to 20 clients, expected %v deliveries", res["sent_packets"], res["expected_packets"])
	}
}

func TestFlagsAreChecked(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-scenario", "party"}, "-scenario"},
		{[]string{"-viewers", "0"}, "-viewers"},
		{[]string{"-scenario", "meeting", "-participants", "1"}, "-participants"},
		{[]string{"-scenario", "chat", "-clients", "1"}, "-clients"},
		{[]string{"-scenario", "chat", "-chat-rate", "0"}, "-chat-rate"},
		{[]string{"-duration", "0s"}, "-duration"},
		{[]string{"-server-pid", "-3"}, "-server-pid"},
		{[]string{"-server-pid", "x"}, "-server-pid"},
		{[]string{"-url", "http://a:1,http://b:2", "-server-pid", pid}, "-server-pid"},
		{[]string{"-url", "http://a:1", "-server-pid", pid + "," + pid}, "-server-pid"},
		{[]string{"-url", "http://a:1,http://b:2", "-metrics-url", "http://a:9"}, "-metrics-url"},
		{[]string{"-metrics-url", "a:9"}, "-metrics-url"},
		{[]string{"-url", " , "}, "-url"},
		{[]string{"-url", "http://a:1,ftp://b"}, "-url"},
		{[]string{"-url", "http://a:1,http://b:2", "-whep"}, "-whep"},
		{[]string{"-url", "ftp://x"}, "-url"},
		{[]string{"extra"}, "unexpected"},
		{[]string{"-simulcast"}, "-simulcast"},
		{[]string{"-scenario", "meeting", "-whep"}, "-whep"},
		{[]string{"-scenario", "meeting", "-simulcast", "-tiles", "big"}, "-tiles"},
		{[]string{"-scenario", "meeting", "-simulcast", "-tiles", "640x0"}, "-tiles"},
		{[]string{"-scenario", "meeting", "-simulcast", "-tiles", "640x360:0"}, "-tiles"},
	} {
		err := run(context.Background(), tt.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want mention of %s", tt.args, err, tt.want)
		}
	}
}

// TestClusterFlags: -url, -server-pid and -metrics-url take one value per
// node, in the same order; clients join through the nodes in turn.
func TestClusterFlags(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	cfg, err := parseConfig([]string{"-url", "http://127.0.0.1:8080, http://127.0.0.1:8081/",
		"-server-pid", pid + "," + pid, "-metrics-url", "http://127.0.0.1:9090,http://127.0.0.1:9091/m"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.cluster
	if len(c.servers) != 2 || c.servers[1].base.String() != "http://127.0.0.1:8081" || len(c.pids) != 2 {
		t.Fatalf("servers %v, pids %v", c.servers, c.pids)
	}
	if want := []string{"http://127.0.0.1:9090/metrics", "http://127.0.0.1:9091/m"}; strings.Join(c.metrics, " ") != strings.Join(want, " ") {
		t.Errorf("metrics %v, want %v", c.metrics, want)
	}
	if c.server(0) != c.servers[0] || c.server(1) != c.servers[1] || c.server(2) != c.servers[0] || !c.perNode() || !c.measured() {
		t.Errorf("clients do not join through the nodes in turn")
	}
	// One node, as before: no figures per node, -server-pid 0 measures nothing.
	cfg, err = parseConfig([]string{"-url", "http://127.0.0.1:8080", "-server-pid", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.cluster; len(c.servers) != 1 || c.measured() || c.perNode() {
		t.Errorf("one node: servers %v pids %v metrics %v", c.servers, c.pids, c.metrics)
	}
}

func TestParseMetricsText(t *testing.T) {
	in := `# HELP meet_sfu_forwarded_packets_total RTP packets the SFU sent to subscribers.
# TYPE meet_sfu_forwarded_packets_total counter
meet_sfu_forwarded_packets_total 1.234567e+06
meet_cascade_pipes 1
go_gc_duration_seconds{quantile="0.5"} 3e-05
process_cpu_seconds_total 12.5
`
	m, err := parseMetricsText(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if m["meet_sfu_forwarded_packets_total"] != 1234567 || m["meet_cascade_pipes"] != 1 || m["process_cpu_seconds_total"] != 12.5 || len(m) != 3 {
		t.Errorf("parsed %v", m)
	}
}

// TestClassroomThroughTwoURLs: a classroom whose viewers join through two
// URLs (here the same in-process server twice) and whose nodes' metrics
// are read: each node's figures and the receivers by serving node are in
// the result, and nothing is lost.
func TestClassroomThroughTwoURLs(t *testing.T) {
	url, metrics := startServerWithMetrics(t)
	res, out := runTool(t, url+","+url, "-metrics-url", metrics+","+metrics, "-scenario", "classroom", "-viewers", "4",
		"-duration", "2s", "-bitrate", "300000", "-baseline-receivers", "0")
	checkNoLoss(t, res, out)
	nodes, _ := res["nodes"].([]any)
	if len(nodes) != 2 {
		t.Fatalf("nodes %v\n%s", res["nodes"], out)
	}
	for _, n := range nodes {
		n := n.(map[string]any)
		if f, _ := n["forwarded_packets"].(float64); f <= 0 || n["role"] != "host" || n["cpu_us_per_forwarded_packet"] == nil {
			t.Errorf("node %v\n%s", n, out)
		}
	}
	served, _ := res["served_by"].([]any)
	if len(served) != 1 || served[0].(map[string]any)["node"] != "host" || served[0].(map[string]any)["receivers"] != 4.0 {
		t.Errorf("served_by %v\n%s", res["served_by"], out)
	}
}
