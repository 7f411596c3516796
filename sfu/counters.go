package sfu

import "sync/atomic"

// counters are the SFU's packet counters, in one list: an upTrack counts
// what its publisher sends, a downTrack what goes to its subscriber, and
// the SFU keeps those of the closed ones so its totals never go back.
// Each is an atomic the media path bumps without a lock.
type counters struct {
	forwarded      atomic.Uint64 // packets read from the publisher
	forwardedBytes atomic.Uint64 // their RTP payload bytes
	keyframes      atomic.Uint64 // keyframe requests (PLI) sent to the publisher
	sent           atomic.Uint64 // packets written to the subscriber
	sentBytes      atomic.Uint64 // their RTP payload bytes
	dropped        atomic.Uint64 // packets not sent (paused or congested)
	nacked         atomic.Uint64 // packets the subscriber asked for again
	retransmitted  atomic.Uint64 // of those, the ones still cached and resent
	plis           atomic.Uint64 // keyframe requests (PLI, FIR) from the subscriber
	replays        atomic.Uint64 // starts from the cached keyframe
	switches       atomic.Uint64 // moves of a subscriber to another simulcast layer
	sentVideo      atomic.Uint64 // of the packets sent, those of video tracks
	late           atomic.Uint64 // packets dropped for waiting too long (maxQueueAge)
}

// counterField pairs a counter with the Stats field it is reported in.
type counterField struct {
	counter *atomic.Uint64
	stat    *uint64
}

// fields pairs each of c's counters with its field of st: the one place
// that maps one to the other.
func (c *counters) fields(st *Stats) [13]counterField {
	return [...]counterField{
		{&c.forwarded, &st.Forwarded},
		{&c.forwardedBytes, &st.ForwardedBytes},
		{&c.keyframes, &st.Keyframes},
		{&c.sent, &st.Sent},
		{&c.sentBytes, &st.SentBytes},
		{&c.dropped, &st.Dropped},
		{&c.nacked, &st.NACKs},
		{&c.retransmitted, &st.Resent},
		{&c.plis, &st.PLIs},
		{&c.replays, &st.Replays},
		{&c.switches, &st.LayerSwitches},
		{&c.sentVideo, &st.SentVideo},
		{&c.late, &st.Late},
	}
}

// addTo adds c's counts to st.
func (c *counters) addTo(st *Stats) {
	for _, f := range c.fields(st) {
		*f.stat += f.counter.Load()
	}
}

// retire adds c's counts to the totals of what has closed.
func (c *counters) retire(totals *counters) {
	var st Stats
	c.addTo(&st)
	for _, f := range totals.fields(&st) {
		f.counter.Add(*f.stat)
	}
}

// Add adds o's counts, peers and tracks included, to s.
func (s *Stats) Add(o Stats) {
	s.Peers += o.Peers
	s.Tracks += o.Tracks
	s.Unwatched += o.Unwatched
	s.LastNHeld += o.LastNHeld
	s.BandwidthLimited += o.BandwidthLimited
	for i := range s.Downlink {
		s.Downlink[i] += o.Downlink[i]
	}
	s.DownlinkCount += o.DownlinkCount
	s.DownlinkSum += o.DownlinkSum
	var c counters
	for _, f := range c.fields(&o) {
		f.counter.Store(*f.stat)
	}
	c.addTo(s)
}
