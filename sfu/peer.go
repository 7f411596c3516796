package sfu

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

// Peer is one participant's two connections to the SFU: publish (the
// client offers, we answer) and subscribe (we offer, the client answers).
type Peer struct {
	room *Room
	id   string
	send func([]byte)
	log  *slog.Logger

	// pub is read by forwarding goroutines (keyframe requests) without a
	// lock; pubMu serializes its negotiation.
	pub     atomic.Pointer[webrtc.PeerConnection]
	pubMu   sync.Mutex
	sources map[string]string // publish mid → source, from the client
	ups     map[string]*upTrack
	// paused remembers the publisher's word per source, which can come
	// before the track does (a camera paused while the room was mesh).
	paused map[string]bool
	// early holds publish candidates that overtook their offer.
	early []*protocol.Candidate

	// sending is, per publish mid, whether the client's last offer sends
	// media on it: what the room can expect to arrive (pendingTracks).
	sending map[string]bool

	// The subscribe side, negotiated by the peer's goroutine (subscribe.go).
	subMu sync.Mutex
	sub   *webrtc.PeerConnection // nil until run creates it
	downs map[*upTrack]*downTrack
	// views are the page's last word on each track it shows (SetView),
	// by publisher and source, kept for tracks not subscribed yet.
	views map[string]View
	// lastNOff are the publishers whose video the last-N limit holds back
	// from this peer, as last told to its client; guarded by the room's
	// lock (lastn.go).
	lastNOff    []string
	awaiting    []*downTrack // in the offer the client has not answered yet
	earlySub    []*protocol.Candidate
	negotiating bool // an offer is out
	dirty       bool // the tracks changed since the last offer
	offers      atomic.Uint64
	wake        chan struct{}
	done        chan struct{}
	// subSettled is closed once the subscribe connection is connected,
	// failed or closed.
	subSettled chan struct{}
	// publisher is set for a peer that only publishes (whip.go), viewer
	// for one that only receives what it follows (viewer.go).
	publisher *publishOnly
	viewer    *Viewer
	// pipe is set for the peer that receives another node's room, the
	// receiving end of a cascade (pipe.go); relayed for the peers that
	// publish that room's tracks here.
	pipe    *Pipe
	relayed bool

	// The subscribe connection's bandwidth estimator, set with the
	// connection; the last estimate, and how many videos it keeps below
	// the layer their tiles ask for (bandwidth.go).
	estimator *cc.BandwidthEstimator
	bypass    *estimatorBypass
	estimate  atomic.Int64
	limited   atomic.Int32
	link      linkMeter // the bandwidth loop's

	// featured: on the room's stage, forwarded beside the last-N limit.
	featured atomic.Bool

	pubCands candidateQueue
	subCands candidateQueue

	closed atomic.Bool
}

// maxEarlyCandidates bounds the candidates kept for an offer that has not
// arrived: a client has a handful per connection.
const maxEarlyCandidates = 32

// Errors for signaling that does not fit the peer's state.
var (
	ErrNoPublish  = errors.New("sfu: no publish connection; send an offer first")
	ErrNoOffer    = errors.New("sfu: no subscribe offer is waiting for an answer")
	ErrPeerClosed = errors.New("sfu: peer closed")
)

// newPeer makes a peer without connections: its goroutine (run) creates
// them, outside the room's lock.
func newPeer(r *Room, id string, send func([]byte)) *Peer {
	return &Peer{
		room:    r,
		id:      id,
		send:    send,
		log:     r.sfu.log.With("peer", id, "room", r.id),
		sources: map[string]string{},
		ups:     map[string]*upTrack{},
		paused:  map[string]bool{},
		sending: map[string]bool{},
		downs:   map[*upTrack]*downTrack{},
		views:   map[string]View{},
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),

		subSettled: make(chan struct{}),
	}
}

// trickle sends our ICE candidates for one connection as they are found.
// Gathering starts inside SetLocalDescription, before the description is
// sent: candidates found before then wait in a queue, so the client never
// gets a candidate it cannot apply yet.
func (p *Peer) trickle(pc string) func(*webrtc.ICECandidate) {
	q := &p.subCands
	if pc == protocol.PCPublish {
		q = &p.pubCands
	}
	return func(c *webrtc.ICECandidate) {
		msg := protocol.SFU{Type: protocol.TypeSFU, PC: pc, Kind: protocol.KindCandidate}
		if c != nil {
			init := c.ToJSON()
			msg.Candidate = &protocol.Candidate{Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex}
		}
		q.mu.Lock()
		defer q.mu.Unlock()
		if !q.described {
			q.held = append(q.held, msg)
			return
		}
		p.emit(msg)
	}
}

// candidateQueue holds one connection's local candidates until its first
// description has been sent.
type candidateQueue struct {
	mu        sync.Mutex
	described bool
	held      []protocol.SFU
}

// sendDescription emits a description and then any candidates that were
// waiting for it.
func (p *Peer) sendDescription(q *candidateQueue, msg protocol.SFU) {
	q.mu.Lock()
	defer q.mu.Unlock()
	p.emit(msg)
	q.described = true
	for _, c := range q.held {
		p.emit(c)
	}
	q.held = nil
}

func (p *Peer) emit(msg any) {
	if p.closed.Load() {
		return
	}
	data, err := json.Marshal(msg)
	if err != nil {
		p.log.Error("encode sfu message", "err", err)
		return
	}
	p.send(data)
}

func (p *Peer) publishPC() *webrtc.PeerConnection { return p.pub.Load() }

// HandleSignal applies one negotiation message from the client.
func (p *Peer) HandleSignal(m *protocol.SFU) error {
	if p.closed.Load() {
		return ErrPeerClosed
	}
	switch {
	case m.PC == protocol.PCPublish && m.Kind == protocol.KindOffer:
		return p.answerPublish(m)
	case m.PC == protocol.PCPublish && m.Kind == protocol.KindCandidate:
		p.pubMu.Lock()
		defer p.pubMu.Unlock()
		pc := p.pub.Load()
		if pc == nil || pc.RemoteDescription() == nil {
			// Trickled candidates can overtake the offer they belong to.
			if len(p.early) >= maxEarlyCandidates {
				return ErrNoPublish
			}
			p.early = append(p.early, m.Candidate)
			return nil
		}
		return addCandidate(pc, m.Candidate)
	case m.PC == protocol.PCSubscribe && m.Kind == protocol.KindAnswer:
		return p.applyAnswer(m.SDP)
	case m.PC == protocol.PCSubscribe && m.Kind == protocol.KindCandidate:
		return p.addSubscribeCandidate(m.Candidate)
	}
	return fmt.Errorf("sfu: unexpected %s on %s", m.Kind, m.PC)
}

func addCandidate(pc *webrtc.PeerConnection, c *protocol.Candidate) error {
	if c == nil {
		return nil // end of candidates: nothing to do for a full ICE agent
	}
	return pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex})
}

// answerPublish answers the client's offer for its publish connection,
// creating the connection on the first offer.
func (p *Peer) answerPublish(m *protocol.SFU) error {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	pc := p.pub.Load()
	if pc == nil {
		var err error
		config, err := p.room.sfu.setup.configuration()
		if err == nil {
			pc, err = p.room.sfu.api.NewPeerConnection(config)
		}
		if err != nil {
			return fmt.Errorf("sfu: publish connection: %w", err)
		}
		pc.OnICECandidate(p.trickle(protocol.PCPublish))
		pc.OnTrack(p.onTrack)
		p.pub.Store(pc)
	}
	for mid, source := range m.Tracks {
		p.sources[mid] = source
	}
	p.sending = sendingMids(m.SDP)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
		return fmt.Errorf("sfu: publish offer: %w", err)
	}
	for _, c := range p.early {
		if err := addCandidate(pc, c); err != nil {
			p.log.Debug("early candidate refused", "err", err)
		}
	}
	p.early = nil
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("sfu: publish answer: %w", err)
	}
	if err := pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("sfu: publish answer: %w", err)
	}
	p.sendDescription(&p.pubCands, protocol.SFU{Type: protocol.TypeSFU, PC: protocol.PCPublish, Kind: protocol.KindAnswer, SDP: answer.SDP, Epoch: m.Epoch})
	return nil
}

// onTrack starts forwarding a newly published track, or another
// simulcast layer of one (Pion calls it once per RID).
func (p *Peer) onTrack(remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	source := p.sourceOf(remote, receiver)
	if p.pipe != nil {
		p.pipe.onTrack(source, remote, receiver) // another node's publisher's (pipe.go)
		return
	}
	p.publishTrack(source, remote, receiver)
}

// publishTrack publishes a remote track as p's source.
func (p *Peer) publishTrack(source string, remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	p.pubMu.Lock()
	if up := p.ups[source]; up != nil && up.simulcast && up.receiver == receiver {
		l, ok := up.addLayer(remote)
		p.pubMu.Unlock()
		if ok {
			up.tapLayerAdded(l.index)
			p.log.Debug("simulcast layer published", "source", source, "rid", remote.RID())
			go drainRTCP(receiver, remote.RID())
			p.readLayer(up, l)
		}
		return
	}
	up := newUpTrack(p, source, remote)
	up.receiver = receiver
	up.relayed = p.relayed
	if !up.video {
		up.levelID = audioLevelID(receiver)
	}
	if old := p.ups[source]; old != nil {
		p.room.removeTrack(old)
	}
	p.ups[source] = up
	up.paused.Store(p.paused[source])
	pending := p.pendingTracksLocked()
	p.pubMu.Unlock()
	if !p.room.addTrack(up, pending) {
		return
	}
	p.log.Debug("track published", "source", source, "codec", up.codec.MimeType, "rid", remote.RID())
	go drainRTCP(receiver, remote.RID())
	p.readLayer(up, up.layer(layerIndex(remote.RID())))
}

// readLayer forwards one layer of up until it ends; the track is gone
// when its last layer is.
func (p *Peer) readLayer(up *upTrack, l *layer) {
	up.readers.Add(1)
	l.read()
	if up.readers.Add(-1) > 0 {
		return
	}
	p.room.removeTrack(up)
	p.pubMu.Lock()
	if p.ups[up.source] == up {
		delete(p.ups, up.source)
	}
	p.pubMu.Unlock()
}

// pendingTracksLocked counts the labelled sources the client's last offer
// sends that have not arrived as tracks yet: a camera and a microphone
// published together arrive a few packets apart, and subscribers get both
// in one offer if the room waits for the second. The caller holds pubMu.
func (p *Peer) pendingTracksLocked() int {
	n := 0
	for mid, sending := range p.sending {
		source, labelled := p.sources[mid]
		if sending && labelled && p.ups[source] == nil {
			n++
		}
	}
	return n
}

// sendingMids reads which media sections of an offer send media, by mid:
// those neither recvonly nor inactive (no direction means sendrecv), and
// not rejected (port 0).
func sendingMids(offer string) map[string]bool {
	var desc sdp.SessionDescription
	out := map[string]bool{}
	if desc.UnmarshalString(offer) != nil {
		return out
	}
	for _, m := range desc.MediaDescriptions {
		mid, ok := m.Attribute("mid")
		if !ok {
			continue
		}
		_, recvonly := m.Attribute("recvonly")
		_, inactive := m.Attribute("inactive")
		out[mid] = !recvonly && !inactive && m.MediaName.Port.Value != 0
	}
	return out
}

// sourceOf names what a remote track carries, from the mid the client
// labelled in its offer; unlabelled tracks default by kind.
func (p *Peer) sourceOf(remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) string {
	pc := p.pub.Load()
	if pc != nil {
		for _, t := range pc.GetTransceivers() {
			if t.Receiver() == receiver {
				p.pubMu.Lock()
				source, ok := p.sources[t.Mid()]
				p.pubMu.Unlock()
				if ok {
					return source
				}
			}
		}
	}
	if remote.Kind() == webrtc.RTPCodecTypeAudio {
		return protocol.SourceMicrophone
	}
	return protocol.SourceCamera
}

// drainRTCP reads a receiver's RTCP, of one simulcast layer (rid) or of
// its one track, so the interceptors see the publisher's sender reports.
func drainRTCP(receiver *webrtc.RTPReceiver, rid string) {
	for {
		var err error
		if rid == "" {
			_, _, err = receiver.ReadRTCP()
		} else {
			_, _, err = receiver.ReadSimulcastRTCP(rid)
		}
		if err != nil {
			return
		}
	}
}

// SetPaused pauses or resumes forwarding of one of the peer's sources to
// everyone, as when the publisher mutes.
func (p *Peer) SetPaused(source string, paused bool) {
	p.pubMu.Lock()
	up := p.ups[source]
	if paused {
		p.paused[source] = true
	} else {
		delete(p.paused, source)
	}
	p.pubMu.Unlock()
	if up == nil {
		return
	}
	if up.paused.Swap(paused) && !paused {
		// The caller may hold its room's lock: the RTCP write is a
		// Pion call, so it goes from a goroutine of its own.
		go up.requestKeyframes()
	}
}

// Unpublish stops forwarding one of the peer's sources; subscribers lose
// the track.
func (p *Peer) Unpublish(source string) {
	p.pubMu.Lock()
	up := p.ups[source]
	delete(p.ups, source)
	delete(p.paused, source)
	p.pubMu.Unlock()
	if up != nil {
		p.room.removeTrack(up)
	}
}

// Close leaves the room and closes both connections.
func (p *Peer) Close() {
	if p.closed.Swap(true) {
		return
	}
	p.room.leave(p)
	p.closeConnections()
}

func (p *Peer) closeConnections() {
	p.closed.Store(true)
	p.subMu.Lock()
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	for up, d := range p.downs {
		up.removeDown(d)
		d.close()
	}
	p.downs = map[*upTrack]*downTrack{}
	sub := p.sub
	p.subMu.Unlock()
	if sub != nil {
		_ = sub.Close()
	}
	if pc := p.pub.Load(); pc != nil {
		_ = pc.Close()
	}
}

// failureLevel is how loud a failed subscription is: expected (debug) once
// the client has closed its side, which closes ours too before the app
// hears of it, and a warning otherwise.
func (p *Peer) failureLevel() slog.Level {
	if p.sub == nil || p.sub.ConnectionState() == webrtc.PeerConnectionStateClosed {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}
