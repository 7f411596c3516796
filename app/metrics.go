package app

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"meet/app/room"
	"meet/protocol"
	"meet/sfu"
	"meet/turn"
)

// metricsHandler serves Prometheus metrics from a registry of the
// server's own, so two servers in one process (tests) never collide. Every
// value is read when scraped: counting costs nothing on the media path.
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	gauge("meet_rooms_live", "Rooms with at least one participant.", func() float64 { return float64(len(s.hub.All())) })
	gauge("meet_websocket_connections", "Open WebSocket connections.", func() float64 { return float64(s.ws.Len()) })
	reg.MustRegister(participantsByMode{hub: s.hub})
	reg.MustRegister(sfuCollector{sfu: s.sfu})
	if s.turn.server != nil {
		reg.MustRegister(turnCollector{server: s.turn.server})
	}
	counter("meet_sfu_piped_tracks_total", "Tracks received from other nodes' rooms over pipes: each of a room's tracks once per node serving its viewers.",
		func() float64 { return float64(s.sfu.PipedTracks()) })
	gauge("meet_cascade_pipes", "Pipes open from other nodes, each feeding this node's viewers of one of their rooms.", func() float64 { return float64(s.pipes.count()) })
	if s.cascade != nil {
		gauge("meet_cascade_edge_viewers", "Viewers of this node's rooms whose media other nodes serve.", func() float64 { return float64(s.cascade.edgeViewers()) })
	}
	counter("meet_chat_messages_total", "Chat messages accepted.", func() float64 { return float64(s.chat.accepted.Load()) })
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// sfuCollector reports the SFU's counters from one snapshot per scrape.
type sfuCollector struct{ sfu *sfu.SFU }

type sfuMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(sfu.Stats) uint64
}

func newSFUMetric(name, help string, kind prometheus.ValueType, value func(sfu.Stats) uint64) sfuMetric {
	return sfuMetric{desc: prometheus.NewDesc(name, help, nil, nil), kind: kind, value: value}
}

var sfuMetrics = []sfuMetric{
	newSFUMetric("meet_sfu_peers", "Participants connected to the SFU.", prometheus.GaugeValue,
		func(s sfu.Stats) uint64 { return uint64(s.Peers) }),
	newSFUMetric("meet_sfu_tracks", "Tracks published to the SFU.", prometheus.GaugeValue,
		func(s sfu.Stats) uint64 { return uint64(s.Tracks) }),
	newSFUMetric("meet_sfu_received_packets_total", "RTP packets the SFU received from publishers.", prometheus.CounterValue,
		func(s sfu.Stats) uint64 { return s.Forwarded }),
	newSFUMetric("meet_sfu_received_bytes_total", "RTP payload bytes the SFU received from publishers.", prometheus.CounterValue,
		func(s sfu.Stats) uint64 { return s.ForwardedBytes }),
	newSFUMetric("meet_sfu_forwarded_packets_total", "RTP packets the SFU sent to subscribers.", prometheus.CounterValue,
		func(s sfu.Stats) uint64 { return s.Sent }),
	newSFUMetric("meet_sfu_forwarded_bytes_total", "RTP payload bytes the SFU sent to subscribers.", prometheus.CounterValue,
		func(s sfu.Stats) uint64 { return s.SentBytes }),
	newSFUMetric("meet_sfu_late_dropped_packets_total", "RTP packets dropped for waiting longer than 300 ms for their subscriber (and, of a video, the packets after them up to its next keyframe).", prometheus.CounterValue,
		func(s sfu.Stats) uint64 { return s.Late }),
	newSFUMetric("meet_sfu_dropped_packets_total", "RTP packets not sent to a subscriber (paused, or congested).", prometheus.CounterValue,
		func(s sfu.Stats) uint64 { return s.Dropped }),
	newSFUMetric("meet_sfu_keyframe_requests_total", "Keyframe requests (PLI) sent to publishers.", prometheus.CounterValue,
		func(s sfu.Stats) uint64 { return s.Keyframes }),
	newSFUMetric("meet_sfu_subscriber_plis_total", "Keyframe requests (PLI, FIR) received from subscribers.", prometheus.CounterValue,
		func(s sfu.Stats) uint64 { return s.PLIs }),
	newSFUMetric("meet_sfu_nacked_packets_total", "Packets subscribers reported lost (NACK).", prometheus.CounterValue,
		func(s sfu.Stats) uint64 { return s.NACKs }),
	newSFUMetric("meet_sfu_retransmitted_packets_total", "NACKed packets the SFU sent again from its cache.", prometheus.CounterValue,
		func(s sfu.Stats) uint64 { return s.Resent }),
	newSFUMetric("meet_sfu_keyframe_replays_total", "Subscriptions started from the cached last keyframe, without a keyframe request.", prometheus.CounterValue,
		func(s sfu.Stats) uint64 { return s.Replays }),
	newSFUMetric("meet_sfu_layer_switches_total", "Subscribers moved to another simulcast layer of a track.", prometheus.CounterValue,
		func(s sfu.Stats) uint64 { return s.LayerSwitches }),
	newSFUMetric("meet_sfu_forwarded_video_packets_total", "Of the packets forwarded to subscribers, those of video tracks.", prometheus.CounterValue,
		func(s sfu.Stats) uint64 { return s.SentVideo }),
	newSFUMetric("meet_sfu_last_n_held_videos", "Video subscriptions the last-N limit holds back (their publishers have not spoken lately).", prometheus.GaugeValue,
		func(s sfu.Stats) uint64 { return uint64(s.LastNHeld) }),
	newSFUMetric("meet_sfu_bandwidth_limited_videos", "Videos sent below the layer their viewer's tile asks for, for lack of the viewer's estimated bandwidth.", prometheus.GaugeValue,
		func(s sfu.Stats) uint64 { return uint64(s.BandwidthLimited) }),
	newSFUMetric("meet_sfu_unwatched_videos", "Video subscriptions not forwarded because the viewer does not watch them (off screen, hidden, audio only).", prometheus.GaugeValue,
		func(s sfu.Stats) uint64 { return uint64(s.Unwatched) }),
}

func (c sfuCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range sfuMetrics {
		ch <- m.desc
	}
	ch <- downlinkDesc
}

func (c sfuCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.sfu.Totals()
	for _, m := range sfuMetrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, float64(m.value(st)))
	}
	buckets := make(map[float64]uint64, len(sfu.DownlinkBuckets))
	for i, bound := range sfu.DownlinkBuckets {
		buckets[bound] = st.Downlink[i]
	}
	ch <- prometheus.MustNewConstHistogram(downlinkDesc, st.DownlinkCount, st.DownlinkSum, buckets)
}

// downlinkDesc is the histogram of the subscribers' estimated downlinks
// now (a gauge histogram in spirit: each scrape counts the subscribers of
// the moment).
var downlinkDesc = prometheus.NewDesc("meet_sfu_subscriber_downlink_bits_per_second",
	"Subscribers of the SFU by the estimate of their downlink (transport-wide congestion control), now.", nil, nil)

// participantsByMode reports the participants of live rooms by mode.
type participantsByMode struct{ hub *room.Hub }

var participantsDesc = prometheus.NewDesc("meet_participants", "Connected participants, by the mode of their room.", []string{"mode"}, nil)

func (c participantsByMode) Describe(ch chan<- *prometheus.Desc) { ch <- participantsDesc }

func (c participantsByMode) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]int{protocol.ModeMesh: 0, protocol.ModeSFU: 0}
	for _, r := range c.hub.All() {
		n, mode := r.Counts()
		counts[mode] += n
	}
	for mode, n := range counts {
		ch <- prometheus.MustNewConstMetric(participantsDesc, prometheus.GaugeValue, float64(n), mode)
	}
}

// readyz answers 200 once the database answers.
func (s *Server) readyz(c *gin.Context) {
	if err := s.store.Ping(); err != nil {
		s.log.Warn("not ready", "err", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": "database"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// turnCollector reports the built-in TURN server's counters, one snapshot
// per scrape: live allocations, relayed bytes each way, and the refusals
// by reason (a climbing not_allowed or bad_credential is someone trying
// the relay without being in a meeting).
type turnCollector struct{ server *turn.Server }

var (
	turnAllocationsDesc = prometheus.NewDesc("meet_turn_allocations", "Live TURN relay allocations.", nil, nil)
	turnBytesDesc       = prometheus.NewDesc("meet_turn_relayed_bytes_total", "Bytes the TURN relays carried, by direction (in: from peers, out: to peers).", []string{"direction"}, nil)
	turnRefusedDesc     = prometheus.NewDesc("meet_turn_allocations_refused_total", "TURN allocations refused, by reason.", []string{"reason"}, nil)
	turnPeersDesc       = prometheus.NewDesc("meet_turn_peers_refused_total", "TURN permissions refused by the peer filter (private, loopback or metadata addresses).", nil, nil)
)

func (c turnCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{turnAllocationsDesc, turnBytesDesc, turnRefusedDesc, turnPeersDesc} {
		ch <- d
	}
}

func (c turnCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.server.Stats()
	ch <- prometheus.MustNewConstMetric(turnAllocationsDesc, prometheus.GaugeValue, float64(st.Allocations))
	ch <- prometheus.MustNewConstMetric(turnBytesDesc, prometheus.CounterValue, float64(st.RelayedBytesIn), "in")
	ch <- prometheus.MustNewConstMetric(turnBytesDesc, prometheus.CounterValue, float64(st.RelayedBytesOut), "out")
	ch <- prometheus.MustNewConstMetric(turnPeersDesc, prometheus.CounterValue, float64(st.PeersRefused))
	for reason, n := range st.AllocationsRefused {
		ch <- prometheus.MustNewConstMetric(turnRefusedDesc, prometheus.CounterValue, float64(n), string(reason))
	}
}
