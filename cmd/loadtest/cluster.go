package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Several nodes (issue 18): -url may name several meet processes that
// share one database. The room is made, and the presenter joins, through
// the first; the other clients join through each in turn (a node forwards
// a join to the room's host, app/proxy.go). -server-pid and -metrics-url
// then name each node's process and metrics listener, in -url's order,
// and the result gives each node's CPU per packet it forwarded
// (meet_sfu_forwarded_packets_total over the window) besides the totals.

// cluster is the nodes under test.
type cluster struct {
	servers []*server
	pids    []int    // one per node, or none
	metrics []string // each node's /metrics URL, or none
	http    *http.Client
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseCluster checks -url, -server-pid and -metrics-url, and reads each
// pid once so that a wrong one fails before anything starts.
func parseCluster(cfg *config) (*cluster, error) {
	c := &cluster{http: &http.Client{Timeout: 5 * time.Second}}
	urls := splitList(cfg.url)
	if len(urls) == 0 {
		return nil, fmt.Errorf("-url is empty")
	}
	for _, u := range urls {
		srv, err := newServer(u)
		if err != nil {
			return nil, err
		}
		c.servers = append(c.servers, srv)
	}
	for _, f := range splitList(cfg.serverPIDs) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid < 0 {
			return nil, fmt.Errorf("-server-pid must be a pid or a comma-separated list of pids, got %q", cfg.serverPIDs)
		}
		c.pids = append(c.pids, pid)
	}
	if len(c.pids) == 1 && c.pids[0] == 0 {
		c.pids = nil // -server-pid 0: not measured
	}
	if len(c.pids) > 0 && len(c.pids) != len(c.servers) {
		return nil, fmt.Errorf("-server-pid: %d pids for %d -url nodes: give one per node, in the same order", len(c.pids), len(c.servers))
	}
	for _, pid := range c.pids {
		if _, err := readProc(pid); err != nil {
			return nil, fmt.Errorf("-server-pid %d: %w", pid, err)
		}
	}
	if err := c.parseMetrics(cfg.metricsURLs); err != nil {
		return nil, err
	}
	if cfg.whep && len(c.servers) > 1 {
		return nil, fmt.Errorf("-whep takes one -url: WHEP players are not measured across nodes")
	}
	return c, nil
}

// parseMetrics takes -metrics-url: http://host:port, /metrics added when
// no path is given.
func (c *cluster) parseMetrics(list string) error {
	for _, raw := range splitList(list) {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("-metrics-url %q: want http://host:port of a node's -metrics-addr", raw)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/metrics"
		}
		c.metrics = append(c.metrics, u.String())
	}
	if len(c.metrics) > 0 && len(c.metrics) != len(c.servers) {
		return fmt.Errorf("-metrics-url: %d URLs for %d -url nodes: give one per node, in the same order", len(c.metrics), len(c.servers))
	}
	return nil
}

// server is the node the i-th client joins through: each in turn.
func (c *cluster) server(i int) *server { return c.servers[i%len(c.servers)] }

// measured reports whether the server's CPU and memory are read.
func (c *cluster) measured() bool { return len(c.pids) > 0 }

// perNode reports whether the result has a figure per node.
func (c *cluster) perNode() bool { return len(c.servers) > 1 || len(c.metrics) > 0 }

// procTotal sums the CPU time and the RSS of every -server-pid.
func (c *cluster) procTotal() (procSample, error) {
	var total procSample
	for _, pid := range c.pids {
		s, err := readProc(pid)
		if err != nil {
			return total, fmt.Errorf("-server-pid %d: %w", pid, err)
		}
		total.cpu += s.cpu
		total.rssKB += s.rssKB
	}
	return total, nil
}

// clusterSample is every node at one moment: the processes' sum, and each
// node's process and metrics.
type clusterSample struct {
	total procSample
	nodes []nodeSample
	// With figures per node, also this tool's process and the whole
	// machine's busy time (/proc/stat): who took the cores.
	tool, machine procSample
}

type nodeSample struct {
	proc       procSample
	metrics    map[string]float64
	metricsErr error
}

// sample reads every node at once (each in its own goroutine, so that the
// samples are close in time). A node's metrics are read only when the
// result has a figure per node.
func (c *cluster) sample(ctx context.Context) clusterSample {
	s := clusterSample{nodes: make([]nodeSample, len(c.servers))}
	if !c.perNode() {
		s.total, _ = c.procTotal()
		return s
	}
	s.tool, _ = readProc(os.Getpid())
	s.machine, _ = machineBusy()
	var wg sync.WaitGroup
	for i := range c.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := &s.nodes[i]
			if i < len(c.pids) {
				n.proc, _ = readProc(c.pids[i])
			}
			if i < len(c.metrics) {
				n.metrics, n.metricsErr = c.scrape(ctx, c.metrics[i])
			}
		}()
	}
	wg.Wait()
	for _, n := range s.nodes {
		s.total.cpu += n.proc.cpu
		s.total.rssKB += n.proc.rssKB
	}
	return s
}

// scrape reads a node's /metrics: the values of the series without labels.
func (c *cluster) scrape(ctx context.Context, u string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return parseMetricsText(resp.Body)
}

// parseMetricsText reads Prometheus' text format, keeping the series that
// have no labels (the counters and gauges the tool reads have none).
func parseMetricsText(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[f[0]] = v
		}
	}
	return out, sc.Err()
}

// machineBusy is the time all the machine's cores spent on anything but
// idling, from the first line of /proc/stat (in USER_HZ ticks).
func machineBusy() (procSample, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return procSample{}, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return procSample{}, fmt.Errorf("/proc/stat: unexpected format")
	}
	var busy int64
	for i, v := range f[1:min(len(f), 9)] { // user nice system idle iowait irq softirq steal
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return procSample{}, fmt.Errorf("/proc/stat: %w", err)
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return procSample{cpu: time.Duration(busy) * clockTick}, nil
}
