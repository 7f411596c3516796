package main

import (
	"fmt"
	"io"
	"runtime"
	"time"
)

// nodeResult is one node's figures over the window, from its process
// (-server-pid; without one, from its metrics' process_cpu_seconds_total)
// and its metrics (-metrics-url). Counters are differences over the
// window, gauges are read at its end.
type nodeResult struct {
	URL string `json:"url"`
	// Role: "host" holds the room (its SFU receives the publisher);
	// "edge" serves viewers of another node's room over a pipe.
	Role     string   `json:"role,omitempty"`
	PID      int      `json:"pid,omitempty"`
	CPUCores *float64 `json:"cpu_cores"`
	RSSMB    *float64 `json:"rss_mb,omitempty"`
	// ForwardedPackets: meet_sfu_forwarded_packets_total, what the node's
	// SFU sent to subscribers (a host's pipes among them, retransmissions
	// included); ReceivedPackets: meet_sfu_received_packets_total, from
	// the publisher or from a pipe.
	ForwardedPackets *float64 `json:"forwarded_packets"`
	ReceivedPackets  *float64 `json:"received_packets,omitempty"`
	// CPUUSPerForwarded is the node's CPU over its forwarded packets.
	CPUUSPerForwarded *float64 `json:"cpu_us_per_forwarded_packet"`
	SFUPeers          float64  `json:"sfu_peers"`
	Pipes             float64  `json:"cascade_pipes"`
	PipedTracks       float64  `json:"piped_tracks"`
	EdgeViewers       float64  `json:"cascade_edge_viewers"`
	Error             string   `json:"error,omitempty"`
}

// machineResult is who took the machine's cores over the window: this
// tool, and everything (the nodes, the tool, the database, others).
type machineResult struct {
	ToolCPUCores float64 `json:"tool_cpu_cores"`
	BusyCores    float64 `json:"busy_cores"`
	Cores        int     `json:"cores"`
}

func machineWindow(start, end clusterSample, window time.Duration) *machineResult {
	return &machineResult{
		ToolCPUCores: (end.tool.cpu - start.tool.cpu).Seconds() / window.Seconds(),
		BusyCores:    (end.machine.cpu - start.machine.cpu).Seconds() / window.Seconds(),
		Cores:        runtime.NumCPU(),
	}
}

// nodeResults sums up each node over the window.
func (c *cluster) nodeResults(start, end clusterSample, window time.Duration) []nodeResult {
	out := make([]nodeResult, len(c.servers))
	for i, srv := range c.servers {
		n := &out[i]
		n.URL = srv.base.String()
		a, b := start.nodes[i], end.nodes[i]
		var cpu time.Duration
		haveCPU := false
		if i < len(c.pids) {
			n.PID = c.pids[i]
			cpu, haveCPU = b.proc.cpu-a.proc.cpu, true
			rss := float64(b.proc.rssKB) / 1024
			n.RSSMB = &rss
		}
		if err := firstErr(a.metricsErr, b.metricsErr); err != nil {
			n.Error = err.Error()
		}
		if a.metrics == nil || b.metrics == nil {
			if haveCPU {
				n.CPUCores = ptr(cpu.Seconds() / window.Seconds())
			}
			continue
		}
		if !haveCPU {
			if x, ok := delta(a.metrics, b.metrics, "process_cpu_seconds_total"); ok {
				cpu, haveCPU = time.Duration(x*float64(time.Second)), true
			}
		}
		if haveCPU {
			n.CPUCores = ptr(cpu.Seconds() / window.Seconds())
		}
		if x, ok := delta(a.metrics, b.metrics, "meet_sfu_forwarded_packets_total"); ok {
			n.ForwardedPackets = &x
			if haveCPU && x > 0 {
				n.CPUUSPerForwarded = ptr(float64(cpu.Microseconds()) / x)
			}
		}
		if x, ok := delta(a.metrics, b.metrics, "meet_sfu_received_packets_total"); ok {
			n.ReceivedPackets = &x
		}
		n.SFUPeers = b.metrics["meet_sfu_peers"]
		n.Pipes = b.metrics["meet_cascade_pipes"]
		n.PipedTracks = b.metrics["meet_sfu_piped_tracks_total"]
		n.EdgeViewers = b.metrics["meet_cascade_edge_viewers"]
		switch {
		case n.Pipes > 0:
			n.Role = "edge"
		case n.ReceivedPackets != nil && *n.ReceivedPackets > 0:
			n.Role = "host"
		}
	}
	return out
}

func delta(a, b map[string]float64, name string) (float64, bool) {
	x, ok1 := a[name]
	y, ok2 := b[name]
	return y - x, ok1 && ok2
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func ptr(x float64) *float64 { return &x }

// printNodes writes each node's figures, the receivers by the node that
// served their media, and what the hop from host to edge cost.
func printNodes(w io.Writer, r *result) {
	f := func(p *float64, format string) string {
		if p == nil {
			return "?"
		}
		return fmt.Sprintf(format, *p)
	}
	var host, edges []*nodeResult
	for i := range r.Nodes {
		n := &r.Nodes[i]
		role := n.Role
		if role == "" {
			role = "no media"
		}
		fmt.Fprintf(w, "  node %d %s (%s", i+1, n.URL, role)
		switch n.Role {
		case "host":
			host = append(host, n)
			fmt.Fprintf(w, ", %.0f of its viewers served by other nodes", n.EdgeViewers)
		case "edge":
			edges = append(edges, n)
			fmt.Fprintf(w, ", pipes open: %.0f, tracks piped in all: %.0f", n.Pipes, n.PipedTracks)
		}
		fmt.Fprintf(w, "): CPU %s cores, %s packets forwarded, %s per forwarded packet; %.0f SFU peers; RSS %s\n",
			f(n.CPUCores, "%.2f"), f(n.ForwardedPackets, "%.0f"), f(n.CPUUSPerForwarded, "%.2f µs"), n.SFUPeers, f(n.RSSMB, "%.1f MB"))
		if n.Error != "" {
			fmt.Fprintf(w, "    metrics: %s\n", n.Error)
		}
	}
	if m := r.Machine; m != nil {
		fmt.Fprintf(w, "  this tool: %.2f cores; the machine: %.2f of %d cores busy\n", m.ToolCPUCores, m.BusyCores, m.Cores)
	}
	printServedBy(w, r.ServedBy)
	if len(host) != 1 {
		return
	}
	for _, e := range edges {
		if e.CPUUSPerForwarded != nil && host[0].CPUUSPerForwarded != nil {
			fmt.Fprintf(w, "  node-to-node hop: edge %s %+.2f µs per forwarded packet against the host\n", e.URL, *e.CPUUSPerForwarded-*host[0].CPUUSPerForwarded)
		}
	}
}
