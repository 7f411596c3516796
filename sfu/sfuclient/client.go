// Package sfuclient is the client side of the app's SFU, in Go: the two
// PeerConnections a page opens in an SFU room, for the tests of sfu and
// app and for the load tool. It speaks the protocol's sfu messages and
// knows nothing of how they travel: the caller gives it a function that
// sends one (Config.Send) and hands it each one that arrives (Handle).
//
//	publish    carries the client's tracks up. The client offers, naming
//	           the source of each mid; the server answers.
//	subscribe  carries everyone else's tracks down. The server offers,
//	           naming each mid "publisherId|source"; the client answers.
//
// It negotiates as the frontend's sfu.js does: one publish offer at a time
// (tracks added meanwhile go in the next one), its own candidates held
// until the description they belong to has been sent, the server's
// candidates applied once their connection has the server's description.
// The server offers whenever its room changes, possibly several changes
// in one offer and some time after the change: the client answers every
// offer and reads every track one brings.
//
// It imports sfu/codec and protocol only, not sfu, so that sfu's own tests
// can use it.
package sfuclient

import (
	"errors"
	"fmt"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

// Config is what a client is made of. Only Send is required.
type Config struct {
	// API makes the connections; clients may share one. Nil gets
	// NewAPI(Options{}).
	API *webrtc.API
	// Send delivers one message to the server, Type already set. The
	// client makes one call at a time, from Publish, from Handle and from
	// Pion's goroutines (candidates); Send must not call the client.
	Send func(protocol.SFU) error

	// OnPacket, when set, sees every RTP packet of the subscribed tracks,
	// with the name the server's offer gave the track ("publisherId|
	// source"). It runs on the track's reader goroutine, one per track;
	// pkt and its payload are only valid during the call.
	OnPacket func(key string, track *webrtc.TrackRemote, pkt *rtp.Packet)
	// OnTrack, when set, is handed each subscribed track in place of the
	// client's own reader: it reads the track, or never does (a stalled
	// subscriber). Received, Ended and OnPacket then see nothing of it.
	OnTrack func(key string, track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver)
	// OnKeyframeRequest is called when the server asks for a keyframe of
	// a published source (PLI or FIR), as it does for new subscribers.
	OnKeyframeRequest func(source string)
	// OnLayerKeyframeRequest, when set, is called instead of
	// OnKeyframeRequest when the server asks for a keyframe of one layer
	// of a source published in simulcast (PublishSimulcast), named by its
	// RID: the SFU asks for the layer it wants to move a subscriber to.
	OnLayerKeyframeRequest func(source, rid string)
	// OnError receives the failures no caller waits for: a candidate that
	// could not be sent.
	OnError func(error)
}

// Errors of Handle and Publish, to be told apart with errors.Is.
var (
	// ErrClosed: the connection the message was for has been closed (by
	// Close, ClosePublisher or RenewSubscriber), before or during the call.
	ErrClosed = errors.New("sfuclient: connection closed")
	// ErrNoPublish: a publish answer or candidate with no offer out.
	ErrNoPublish = errors.New("sfuclient: no publish offer is waiting for that")
)

// Client is one participant's pair of SFU connections.
type Client struct {
	cfg Config
	api *webrtc.API

	// sendMu keeps one message at a time on Send, and each connection's
	// first description ahead of the candidates gathered before it. It
	// guards the outboxes.
	sendMu sync.Mutex

	mu     sync.Mutex
	sub    *subscription
	pub    *publication // nil until Publish
	closed bool
}

// New makes a client with its subscribe connection, ready for the
// server's offers.
func New(cfg Config) (*Client, error) {
	if cfg.Send == nil {
		return nil, errors.New("sfuclient: Config.Send is required")
	}
	c := &Client{cfg: cfg, api: cfg.API}
	if c.api == nil {
		api, err := NewAPI(Options{})
		if err != nil {
			return nil, err
		}
		c.api = api
	}
	sub, err := c.newSubscription()
	if err != nil {
		return nil, err
	}
	c.sub = sub
	return c, nil
}

// Handle applies one message from the server: it answers a subscribe
// offer, applies a publish answer, adds a candidate. Call it from one
// goroutine, in arrival order (a socket's reader). An error says the
// message could not be applied; errors.Is(err, ErrClosed) tells one that
// only met a connection closed meanwhile.
func (c *Client) Handle(m protocol.SFU) error {
	switch {
	case m.PC == protocol.PCSubscribe && m.Kind == protocol.KindOffer:
		return c.answerSubscribe(m)
	case m.PC == protocol.PCPublish && m.Kind == protocol.KindAnswer:
		return c.applyPublishAnswer(m)
	case m.PC == protocol.PCSubscribe && m.Kind == protocol.KindCandidate:
		return c.addSubscribeCandidate(m.Candidate)
	case m.PC == protocol.PCPublish && m.Kind == protocol.KindCandidate:
		return c.addPublishCandidate(m.Candidate)
	}
	return fmt.Errorf("sfuclient: unexpected %s on %s", m.Kind, m.PC)
}

// Subscriber is the current subscribe connection.
func (c *Client) Subscriber() *webrtc.PeerConnection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sub.pc
}

// Publisher is the current publish connection, nil before Publish.
func (c *Client) Publisher() *webrtc.PeerConnection {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pub == nil {
		return nil
	}
	return c.pub.pc
}

// Close closes both connections; Handle and Publish fail from then on.
func (c *Client) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	sub, pub := c.sub, c.pub
	c.mu.Unlock()
	c.retire(&sub.out, sub.pc)
	if pub != nil {
		c.retire(&pub.out, pub.pc)
	}
}

// outbox holds what a connection sends that must wait: its candidates
// gathered before its first description went out. Guarded by sendMu.
type outbox struct {
	pc        string // publish or subscribe
	described bool
	held      []*protocol.Candidate
	closed    bool
}

// trickle sends the connection's candidates as Pion gathers them.
func (c *Client) trickle(box *outbox) func(*webrtc.ICECandidate) {
	return func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return // the end of candidates means nothing to the server's full ICE agent
		}
		init := cand.ToJSON()
		found := &protocol.Candidate{Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex}
		c.sendMu.Lock()
		defer c.sendMu.Unlock()
		switch {
		case box.closed:
		case !box.described:
			box.held = append(box.held, found)
		default:
			c.sendCandidateLocked(box, found)
		}
	}
}

func (c *Client) sendCandidateLocked(box *outbox, cand *protocol.Candidate) {
	err := c.cfg.Send(protocol.SFU{Type: protocol.TypeSFU, PC: box.pc, Kind: protocol.KindCandidate, Candidate: cand})
	if err != nil && c.cfg.OnError != nil {
		c.cfg.OnError(fmt.Errorf("sfuclient: send %s candidate: %w", box.pc, err))
	}
}

// sendDescription sends an offer or answer, then the candidates that
// waited for it.
func (c *Client) sendDescription(box *outbox, msg protocol.SFU) error {
	msg.Type, msg.PC = protocol.TypeSFU, box.pc
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if box.closed {
		return fmt.Errorf("sfuclient: send %s %s: %w", msg.PC, msg.Kind, ErrClosed)
	}
	if err := c.cfg.Send(msg); err != nil {
		return fmt.Errorf("sfuclient: send %s %s: %w", msg.PC, msg.Kind, err)
	}
	box.described = true
	for _, cand := range box.held {
		c.sendCandidateLocked(box, cand)
	}
	box.held = nil
	return nil
}

// retire closes a connection that is done, so nothing more of it is sent.
func (c *Client) retire(box *outbox, pc *webrtc.PeerConnection) {
	c.sendMu.Lock()
	box.closed, box.held = true, nil
	c.sendMu.Unlock()
	_ = pc.Close()
}

// failure wraps a Pion error, as ErrClosed too when the connection was
// closed under it. Pion refuses calls on a closing connection before its
// state says closed.
func failure(pc *webrtc.PeerConnection, what string, err error) error {
	if errors.Is(err, webrtc.ErrConnectionClosed) || pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
		return fmt.Errorf("sfuclient: %s: %w: %w", what, ErrClosed, err)
	}
	return fmt.Errorf("sfuclient: %s: %w", what, err)
}

func addCandidate(pc *webrtc.PeerConnection, what string, c *protocol.Candidate) error {
	err := pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex})
	if err != nil {
		return failure(pc, what, err)
	}
	return nil
}
