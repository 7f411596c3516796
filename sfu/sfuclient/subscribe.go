package sfuclient

import (
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

// receiveBuffer holds one RTP packet as Pion delivers it: the SFU never
// sends more than an Ethernet MTU.
const receiveBuffer = 1500

// subscription is one subscribe connection and what arrived on it.
type subscription struct {
	pc  *webrtc.PeerConnection
	out outbox

	mu       sync.Mutex
	keys     map[string]string        // mid → "publisherId|source", from the server's offers
	received map[string]*atomic.Int64 // key → packets read
	ended    map[string]bool          // key → its latest track has ended
}

func (c *Client) newSubscription() (*subscription, error) {
	pc, err := c.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	s := &subscription{
		pc:       pc,
		out:      outbox{pc: protocol.PCSubscribe},
		keys:     map[string]string{},
		received: map[string]*atomic.Int64{},
		ended:    map[string]bool{},
	}
	pc.OnICECandidate(c.trickle(&s.out))
	pc.OnTrack(func(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
		c.onTrack(s, track, receiver)
	})
	return s, nil
}

func (c *Client) subscription() (*subscription, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	return c.sub, nil
}

// answerSubscribe answers one of the server's offers, which names the
// tracks it carries by mid.
func (c *Client) answerSubscribe(m protocol.SFU) error {
	s, err := c.subscription()
	if err != nil {
		return err
	}
	s.mu.Lock()
	for mid, key := range m.Tracks {
		s.keys[mid] = key
	}
	s.mu.Unlock()
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
		return failure(s.pc, "subscribe offer", err)
	}
	answer, err := s.pc.CreateAnswer(nil)
	if err == nil {
		err = s.pc.SetLocalDescription(answer)
	}
	if err != nil {
		return failure(s.pc, "subscribe answer", err)
	}
	return c.sendDescription(&s.out, protocol.SFU{Kind: protocol.KindAnswer, SDP: answer.SDP})
}

// addSubscribeCandidate applies one of the server's candidates. The server
// sends them after its offer; one that meets no offer is dropped, as a
// browser does, since a fresh connection (RenewSubscriber) cannot use the
// candidates of the one it replaced.
func (c *Client) addSubscribeCandidate(cand *protocol.Candidate) error {
	s, err := c.subscription()
	if err != nil || cand == nil || s.pc.RemoteDescription() == nil {
		return err
	}
	return addCandidate(s.pc, "subscribe candidate", cand)
}

// onTrack reads one subscribed track until it ends, counting its packets
// under the name the server gave its mid.
func (c *Client) onTrack(s *subscription, track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	key := s.keyOf(receiver)
	if c.cfg.OnTrack != nil {
		c.cfg.OnTrack(key, track, receiver)
		return
	}
	count := s.started(key)
	buf := make([]byte, receiveBuffer)
	var pkt rtp.Packet
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			s.end(key)
			return
		}
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		if c.cfg.OnPacket != nil {
			c.cfg.OnPacket(key, track, &pkt)
		}
		count.Add(1)
	}
}

func (s *subscription) keyOf(receiver *webrtc.RTPReceiver) string {
	for _, t := range s.pc.GetTransceivers() {
		if t.Receiver() == receiver {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.keys[t.Mid()]
		}
	}
	return ""
}

// started notes a new track named key and returns its packet counter, which
// a later track of the same name (the publisher's again) adds to.
func (s *subscription) started(key string) *atomic.Int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended[key] = false
	n := s.received[key]
	if n == nil {
		n = &atomic.Int64{}
		s.received[key] = n
	}
	return n
}

func (s *subscription) end(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended[key] = true
}

// Received is how many packets of the track named key ("publisherId|
// source") the current subscribe connection has read.
func (c *Client) Received(key string) int {
	c.mu.Lock()
	s := c.sub
	c.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.received[key]; n != nil {
		return int(n.Load())
	}
	return 0
}

// Ended reports whether the track named key came on the current subscribe
// connection and has ended since: the server took it away.
func (c *Client) Ended(key string) bool {
	c.mu.Lock()
	s := c.sub
	c.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended[key]
}

// RenewSubscriber does what a page does when it closes its SFU connections
// and opens new ones: the subscribe connection is closed, with what it
// counted, and a fresh one waits for the server's next offer.
func (c *Client) RenewSubscriber() error {
	fresh, err := c.newSubscription()
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = fresh.pc.Close()
		return ErrClosed
	}
	old := c.sub
	c.sub = fresh
	c.mu.Unlock()
	c.retire(&old.out, old.pc)
	return nil
}
