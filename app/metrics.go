package app

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"meet/app/signal"
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
	gauge("meet_rooms_live", "Rooms with at least one participant.", func() float64 { return float64(len(s.hub.all())) })
	gauge("meet_websocket_connections", "Open WebSocket connections.", func() float64 { return float64(s.ws.Len()) })
	reg.MustRegister(participantsByMode{hub: s.hub})
	gauge("meet_sfu_peers", "Participants connected to the SFU.", func() float64 { return float64(s.sfu.Totals().Peers) })
	gauge("meet_sfu_tracks", "Tracks published to the SFU.", func() float64 { return float64(s.sfu.Totals().Tracks) })
	counter("meet_sfu_received_packets_total", "RTP packets the SFU received from publishers.", func() float64 { return float64(s.sfu.Totals().Forwarded) })
	counter("meet_sfu_forwarded_packets_total", "RTP packets the SFU sent to subscribers.", func() float64 { return float64(s.sfu.Totals().Sent) })
	counter("meet_sfu_dropped_packets_total", "RTP packets not sent to a subscriber (paused, or congested).", func() float64 { return float64(s.sfu.Totals().Dropped) })
	counter("meet_sfu_keyframe_requests_total", "Keyframe requests (PLI) sent to publishers.", func() float64 { return float64(s.sfu.Totals().Keyframes) })
	counter("meet_chat_messages_total", "Chat messages accepted.", func() float64 { return float64(s.chat.accepted.Load()) })
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// participantsByMode reports the participants of live rooms by mode.
type participantsByMode struct{ hub *hub }

var participantsDesc = prometheus.NewDesc("meet_participants", "Connected participants, by the mode of their room.", []string{"mode"}, nil)

func (c participantsByMode) Describe(ch chan<- *prometheus.Desc) { ch <- participantsDesc }

func (c participantsByMode) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]int{signal.ModeMesh: 0, signal.ModeSFU: 0}
	for _, r := range c.hub.all() {
		n, mode := r.counts()
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
