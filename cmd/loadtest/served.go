package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/pion/webrtc/v4"
)

// In a classroom across nodes, a viewer's media comes from the room's
// host or, past the host's -node-capacity, from another node (an edge),
// which receives the stage over a pipe. Each node's SFU listens on one
// UDP port of its own, so the remote port of a viewer's subscribe
// connection tells which node serves it; the presenter's publish
// connection is always to the host. The receivers are grouped by that
// port before the window opens, and each group's loss, latency and joins
// are counted apart: the edge's latency against the host's is what the
// pipe adds.

// servedResult is what the receivers served by one node got.
type servedResult struct {
	// Node is "host" (the presenter's SFU), "edge", or "unknown" (no
	// selected ICE pair).
	Node               string  `json:"node"`
	UDPPort            int     `json:"udp_port"`
	Receivers          int     `json:"receivers"`
	ExpectedPackets    uint64  `json:"expected_packets"`
	ReceivedPackets    uint64  `json:"received_packets"`
	LossPct            float64 `json:"loss_pct"`
	LatencyP50MS       float64 `json:"latency_p50_ms"`
	LatencyP99MS       float64 `json:"latency_p99_ms"`
	JoinP50MS          float64 `json:"join_p50_ms"`
	JoinP99MS          float64 `json:"join_p99_ms"`
	JoinConnectedP50MS float64 `json:"join_connected_p50_ms"`
	JoinsMeasured      int     `json:"joins_measured"`
}

// servedGroup is the receivers one node serves, and their latency.
type servedGroup struct {
	port      int
	host      bool
	receivers []*participant
	latency   histogram
}

// servingPort is the remote port of pc's selected ICE candidate pair, 0
// when there is none yet.
func servingPort(pc *webrtc.PeerConnection) int {
	if pc == nil || pc.SCTP() == nil || pc.SCTP().Transport() == nil {
		return 0
	}
	pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Remote == nil {
		return 0
	}
	return int(pair.Remote.Port)
}

// subscribePort is the server's UDP port p's subscribe connection uses.
func (p *participant) subscribePort() int {
	if p.lean != nil {
		return int(p.lean.Remote().Port())
	}
	return servingPort(p.client.Subscriber())
}

// groupByNode sorts a classroom's receivers by the node serving them,
// when it runs across several nodes; the host's first.
func (m *mediaRun) groupByNode() {
	if len(m.cl.servers) < 2 || m.cfg.scenario != "classroom" || m.cfg.whep || len(m.publishers) == 0 {
		return
	}
	hostPort := servingPort(m.publishers[0].client.Publisher())
	byPort := map[int]*servedGroup{}
	for _, r := range m.receivers {
		port := r.subscribePort()
		g := byPort[port]
		if g == nil {
			g = &servedGroup{port: port, host: port != 0 && port == hostPort}
			byPort[port] = g
			m.groups = append(m.groups, g)
		}
		g.receivers = append(g.receivers, r)
		r.lat.Store(&g.latency)
	}
	sort.Slice(m.groups, func(i, j int) bool {
		a, b := m.groups[i], m.groups[j]
		if a.host != b.host {
			return a.host
		}
		if (a.port == 0) != (b.port == 0) {
			return b.port == 0
		}
		return a.port < b.port
	})
	for _, g := range m.groups {
		m.logf("%d receivers served by the SFU on UDP port %d (host: %v)", len(g.receivers), g.port, g.host)
	}
}

// servedResults sums up each group over the window.
func (m *mediaRun) servedResults(streams []*stream, w mediaWindow) []servedResult {
	var out []servedResult
	for _, g := range m.groups {
		s := servedResult{Node: "edge", UDPPort: g.port, Receivers: len(g.receivers)}
		switch {
		case g.host:
			s.Node = "host"
		case g.port == 0:
			s.Node = "unknown"
		}
		s.ExpectedPackets, s.ReceivedPackets = m.deliveries(g.receivers, streams, w)
		if s.ExpectedPackets > 0 {
			s.LossPct = 100 * float64(s.ExpectedPackets-s.ReceivedPackets) / float64(s.ExpectedPackets)
		}
		s.LatencyP50MS = g.latency.quantile(0.50)
		s.LatencyP99MS = g.latency.quantile(0.99)
		j := joinStats(g.receivers)
		s.JoinP50MS, s.JoinP99MS, s.JoinConnectedP50MS, s.JoinsMeasured = j.p50, j.p99, j.connectedP50, j.measured
		out = append(out, s)
	}
	return out
}

// printServedBy writes the groups and the latency the pipe adds.
func printServedBy(w io.Writer, groups []servedResult) {
	if len(groups) == 0 {
		return
	}
	fmt.Fprintln(w, "  receivers by the node serving their media:")
	var host *servedResult
	for i := range groups {
		g := &groups[i]
		if g.Node == "host" {
			host = g
		}
		fmt.Fprintf(w, "    %s (SFU on UDP port %d): %d receivers; %d of %d deliveries: loss %.3f %%; latency p50 %.2f ms, p99 %.2f ms; join p50 %.0f ms, p99 %.0f ms (connected p50 %.0f ms, %d joins)\n",
			g.Node, g.UDPPort, g.Receivers, g.ReceivedPackets, g.ExpectedPackets, g.LossPct, g.LatencyP50MS, g.LatencyP99MS, g.JoinP50MS, g.JoinP99MS, g.JoinConnectedP50MS, g.JoinsMeasured)
	}
	if host == nil {
		return
	}
	for _, g := range groups {
		if g.Node == "edge" {
			fmt.Fprintf(w, "  the pipe to the edge on port %d adds latency p50 %+.2f ms, p99 %+.2f ms; join p50 %+.0f ms\n",
				g.UDPPort, g.LatencyP50MS-host.LatencyP50MS, g.LatencyP99MS-host.LatencyP99MS, g.JoinP50MS-host.JoinP50MS)
		}
	}
}
