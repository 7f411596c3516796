package sfu

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
	"meet/sfu/codec"
	"meet/sfu/sfuclient"
)

// testClient plays a browser against the SFU: an sfuclient whose messages
// go to its Peer in-process, recording the numbered packets it receives.
type testClient struct {
	t    *testing.T
	peer *Peer
	*sfuclient.Client

	mu       sync.Mutex
	arrivals map[string][]arrival // "publisher|source" → packets, in arrival order
	ssrcs    map[string]uint32    // "publisher|source" → the SSRC the SFU sends it with
	// extended counts the packets that came with a header extension:
	// the SFU writes only the transport-wide sequence number.
	extended map[string]int
}

// arrival is one received packet: the RTP sequence number the SFU gave
// it, and the counter the test's sender wrote in its payload.
type arrival struct {
	seq     uint16
	counter uint32
}

// The client APIs of the tests: loopback only, and, for a subscriber that
// NACKs a packet it did receive, without SRTP replay protection.
var (
	loopbackAPI  = sync.OnceValue(func() *webrtc.API { return mustAPI(sfuclient.Options{LoopbackOnly: true}) })
	replayingAPI = sync.OnceValue(func() *webrtc.API {
		return mustAPI(sfuclient.Options{LoopbackOnly: true, NoReplayProtection: true})
	})
)

func mustAPI(o sfuclient.Options) *webrtc.API {
	api, err := sfuclient.NewAPI(o)
	if err != nil {
		panic(err)
	}
	return api
}

func newTestSFU(t *testing.T) *SFU {
	t.Helper()
	s, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// joinClient joins room as id with a client that reads every track.
func joinClient(t *testing.T, room *Room, id string) *testClient {
	return joinClientWith(t, room, id, loopbackAPI(), nil)
}

// joinStalledClient joins a subscriber that never reads its tracks.
func joinStalledClient(t *testing.T, room *Room, id string) *testClient {
	return joinClientWith(t, room, id, loopbackAPI(), func(string, *webrtc.TrackRemote, *webrtc.RTPReceiver) {})
}

// joinClientWith joins with a client API of the test's choosing; onTrack,
// when not nil, takes the subscribed tracks instead of the recorder.
func joinClientWith(t *testing.T, room *Room, id string, api *webrtc.API, onTrack func(string, *webrtc.TrackRemote, *webrtc.RTPReceiver)) *testClient {
	t.Helper()
	c := &testClient{t: t, arrivals: map[string][]arrival{}, ssrcs: map[string]uint32{}, extended: map[string]int{}}
	// The SFU's messages wait here for the client: the SFU calls send
	// with its locks held, so the client must not answer from inside it.
	in := make(chan []byte, 256)
	var err error
	c.peer, err = room.Join(id, func(b []byte) {
		select {
		case in <- b:
		default:
			t.Errorf("client %s signaling queue full", id)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Client, err = sfuclient.New(sfuclient.Config{
		API:      api,
		Send:     c.send,
		OnPacket: c.record,
		OnTrack:  onTrack,
		OnError:  func(err error) { t.Errorf("client %s: %v", id, err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	go c.pump(in)
	t.Cleanup(func() {
		c.peer.Close()
		c.Close()
	})
	return c
}

// send hands a message to the SFU as app would. A message that crosses the
// end of the test (the SFU closing its peers) finds the peer closed: that
// is no failure.
func (c *testClient) send(m protocol.SFU) error {
	if err := c.peer.HandleSignal(&m); err != nil && !c.peer.closed.Load() {
		return err
	}
	return nil
}

// pump hands the client what the SFU sends it. A candidate that cannot be
// applied is not a failure (ICE has others); a description is.
func (c *testClient) pump(in <-chan []byte) {
	for data := range in {
		var m protocol.SFU
		if err := json.Unmarshal(data, &m); err != nil {
			c.t.Errorf("the SFU sent %q: %v", data, err)
			return
		}
		err := c.Handle(m)
		if err != nil && m.Kind != protocol.KindCandidate && !errors.Is(err, sfuclient.ErrClosed) && !c.peer.closed.Load() {
			c.t.Errorf("%s %s: %v", m.PC, m.Kind, err)
		}
	}
}

func (c *testClient) record(key string, track *webrtc.TrackRemote, pkt *rtp.Packet) {
	if len(pkt.Payload) < 8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ssrcs[key] = uint32(track.SSRC())
	if pkt.Extension {
		c.extended[key]++
	}
	c.arrivals[key] = append(c.arrivals[key], arrival{pkt.SequenceNumber, binary.BigEndian.Uint32(pkt.Payload[4:])})
}

// publish offers local tracks, each under its source.
func (c *testClient) publish(tracks map[string]*webrtc.TrackLocalStaticRTP) {
	c.t.Helper()
	local := map[string]webrtc.TrackLocal{}
	for source, tr := range tracks {
		local[source] = tr
	}
	if err := c.Publish(local); err != nil {
		c.t.Fatal(err)
	}
}

// got returns the counters of what arrived for key, in arrival order.
func (c *testClient) got(key string) []uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]uint32, len(c.arrivals[key]))
	for i, a := range c.arrivals[key] {
		out[i] = a.counter
	}
	return out
}

// received returns what arrived for key, and the SSRC it came with.
func (c *testClient) received(key string) ([]arrival, uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]arrival(nil), c.arrivals[key]...), c.ssrcs[key]
}

// sender writes numbered packets on a track. Video packets are all marked
// as VP8 keyframes so a subscriber can start anywhere.
type sender struct {
	track *webrtc.TrackLocalStaticRTP
	video bool
	seq   uint16
	ts    uint32
}

func newSender(t *testing.T, video bool, id string) *sender {
	capability := codec.Opus()
	if video {
		capability = codec.VP8()
	}
	tr, err := webrtc.NewTrackLocalStaticRTP(capability, id, "stream-"+id)
	if err != nil {
		t.Fatal(err)
	}
	return &sender{track: tr, video: video}
}

// send writes one packet carrying counter n.
func (s *sender) send(n uint32) error {
	payload := make([]byte, 200)
	if s.video {
		payload[0] = 0x10 // VP8 descriptor: start of partition 0
		payload[1] = 0x00 // VP8 header: key frame (P bit clear)
	}
	binary.BigEndian.PutUint32(payload[4:], n)
	s.seq++
	s.ts += 3000
	return s.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: s.seq, Timestamp: s.ts}, Payload: payload})
}

// waitUntil polls cond for up to d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
