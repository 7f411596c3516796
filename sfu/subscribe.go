package sfu

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

// The subscribe side of a peer is negotiated by the peer's own goroutine
// (run), never by whoever changed the room: a join, a published track or a
// leave only changes the room's lists under its lock and wakes the peers
// concerned. Each peer then compares what the room has with what it
// receives, adds and removes tracks, and sends one offer for all of it.
// Changes that arrive while an offer is out wait for its answer and go
// out together in the next one. This keeps Pion calls (PeerConnection
// creation, CreateOffer, SetLocalDescription) out of every room and hub
// lock, so joins do not queue behind each other's negotiations.

// run creates the subscribe connection and keeps it in step with the room
// until the peer closes. The connection and the first offer are made in
// one of the SFU's setup slots (connSetup).
func (p *Peer) run() {
	if p.publisher != nil {
		return // it receives nothing (whip.go)
	}
	if p.viewer != nil {
		p.viewer.run() // it receives what it follows (viewer.go)
		return
	}
	setup := p.room.sfu.setup
	setup.acquire()
	if !p.connectSubscribe() {
		setup.release()
		return
	}
	p.sync()
	p.awaitConnected(setup.hold)
	setup.release()
	go p.bandwidthLoop()
	if p.room.sfu.lastN > 0 {
		p.room.applyLastN()
	}
	for {
		select {
		case <-p.wake:
			p.sync()
			// New subscriptions, or a new or gone publisher: the last-N
			// limit and the client's list follow, outside the peer's lock.
			if p.room.sfu.lastN > 0 {
				p.room.applyLastN()
			}
		case <-p.done:
			return
		}
	}
}

// connectSubscribe creates the subscribe connection, unless the peer has
// closed meanwhile.
func (p *Peer) connectSubscribe() bool {
	if p.closed.Load() {
		return false
	}
	config, err := p.room.sfu.setup.configuration()
	var sub *webrtc.PeerConnection
	var api *webrtc.API
	if err == nil {
		api, p.estimator, p.bypass, err = p.room.sfu.subscribeAPI()
	}
	if err == nil {
		sub, err = api.NewPeerConnection(config)
	}
	if err != nil {
		p.log.Error("create subscribe connection", "err", err)
		return false
	}
	sub.OnICECandidate(p.trickle(protocol.PCSubscribe))
	var settled sync.Once
	sub.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s >= webrtc.PeerConnectionStateConnected {
			settled.Do(func() { close(p.subSettled) })
		}
	})
	p.subMu.Lock()
	defer p.subMu.Unlock()
	if p.closed.Load() {
		go sub.Close()
		return false
	}
	p.sub = sub
	return true
}

// awaitConnected waits until the subscribe connection is connected (or
// failed, or closed), the peer closes, or at most hold: what a setup slot
// is held for after the first offer (connSetup). With nothing offered yet
// (a room with no tracks) there is no handshake to wait for.
func (p *Peer) awaitConnected(hold time.Duration) {
	p.subMu.Lock()
	offered := p.negotiating
	p.subMu.Unlock()
	if !offered {
		return
	}
	t := time.NewTimer(hold)
	defer t.Stop()
	select {
	case <-p.subSettled:
	case <-p.done:
	case <-t.C:
	}
}

// kick asks the peer's goroutine to compare its subscriptions with the
// room again. It never blocks: one pending wake covers any number of
// changes.
func (p *Peer) kick() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// sync subscribes to the room's tracks the peer does not receive yet,
// drops the ones that are gone, and offers the result unless an offer is
// already out.
func (p *Peer) sync() {
	wanted := p.room.tracksFor(p)
	p.subMu.Lock()
	defer p.subMu.Unlock()
	if p.closed.Load() || p.sub == nil {
		return
	}
	keep := make(map[*upTrack]bool, len(wanted))
	for _, up := range wanted {
		keep[up] = true
		if p.downs[up] == nil && p.subscribeLocked(up) {
			p.dirty = true
		}
	}
	for up := range p.downs {
		if !keep[up] {
			p.unsubscribeLocked(up)
			p.dirty = true
		}
	}
	if p.dirty && !p.negotiating {
		p.offerLocked()
	}
}

// subscribeLocked adds up to the subscribe connection, paused until the
// client answers the offer that carries it. The caller holds subMu.
func (p *Peer) subscribeLocked(up *upTrack) bool {
	d := newDownTrack(up, p)
	sender, err := p.sub.AddTrack(d)
	if err != nil {
		p.log.Log(context.Background(), p.failureLevel(), "subscribe failed", "track", up.source, "publisher", up.publisher.id, "err", err)
		d.close()
		return false
	}
	d.sender = sender
	p.downs[up] = d
	if n := p.room.sfu.lastN; n > 0 && limited(up) {
		if snap := p.room.recentSnap.Load(); snap != nil {
			d.lastNOff.Store(!forwardedFor(*snap, p.id, n, up.publisher))
		}
	}
	if v, ok := p.views[up.publisher.id+"|"+up.source]; ok && up.video {
		// A new downTrack is not hidden: this asks for no keyframe.
		d.setView(v)
	}
	up.addDown(d)
	go d.readRTCP()
	return true
}

// unsubscribeLocked removes up from the subscribe connection. The caller
// holds subMu.
func (p *Peer) unsubscribeLocked(up *upTrack) {
	d := p.downs[up]
	delete(p.downs, up)
	up.removeDown(d)
	d.close()
	_ = p.sub.RemoveTrack(d.sender)
}

// readRTCP hands a subscriber's RTCP (keyframe requests, NACKs) to the
// downTrack, until the sender stops.
func (d *downTrack) readRTCP() {
	for {
		packets, _, err := d.sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range packets {
			d.onRTCP(pkt)
		}
	}
}

// offerLocked offers the subscribe connection's current tracks to the
// client. The caller holds subMu and no offer is out.
func (p *Peer) offerLocked() {
	p.dirty = false
	if len(p.sub.GetTransceivers()) == 0 {
		return // nothing to offer yet
	}
	offer, err := p.sub.CreateOffer(nil)
	if err == nil {
		err = p.sub.SetLocalDescription(offer)
	}
	if err != nil {
		p.log.Log(context.Background(), p.failureLevel(), "subscribe offer failed", "err", err)
		return
	}
	tracks := map[string]string{}
	p.awaiting = p.awaiting[:0]
	for _, t := range p.sub.GetTransceivers() {
		sender := t.Sender()
		if sender == nil || sender.Track() == nil {
			continue
		}
		if d, ok := sender.Track().(*downTrack); ok && t.Mid() != "" {
			d.mid = t.Mid()
			tracks[t.Mid()] = d.up.publisher.id + "|" + d.up.source
			p.awaiting = append(p.awaiting, d)
		}
	}
	p.negotiating = true
	p.offers.Add(1)
	p.sendDescription(&p.subCands, protocol.SFU{Type: protocol.TypeSFU, PC: protocol.PCSubscribe, Kind: protocol.KindOffer, SDP: offer.SDP, Tracks: tracks})
}

// applyAnswer completes a subscribe negotiation: the client's receivers
// are ready, so the tracks in the offer resume, each from a keyframe. What
// changed while the offer was out goes in the next one, from the peer's
// goroutine.
func (p *Peer) applyAnswer(sdp string) error {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	if !p.negotiating {
		return ErrNoOffer
	}
	if err := p.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("sfu: subscribe answer: %w", err)
	}
	p.negotiating = false
	for _, c := range p.earlySub {
		if err := addCandidate(p.sub, c); err != nil {
			p.log.Debug("early candidate refused", "err", err)
		}
	}
	p.earlySub = nil
	for _, d := range p.awaiting {
		if p.downs[d.up] == d {
			d.setPaused(false)
		}
	}
	p.awaiting = p.awaiting[:0]
	if p.dirty {
		p.kick()
	}
	return nil
}

// addSubscribeCandidate applies a client's candidate for the subscribe
// connection, or keeps it until the connection has the client's answer.
func (p *Peer) addSubscribeCandidate(c *protocol.Candidate) error {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	if p.sub == nil || p.sub.RemoteDescription() == nil {
		if len(p.earlySub) >= maxEarlyCandidates {
			return ErrNoOffer
		}
		p.earlySub = append(p.earlySub, c)
		return nil
	}
	return addCandidate(p.sub, c)
}

// Offers is how many subscribe offers the peer has sent its client.
func (p *Peer) Offers() uint64 { return p.offers.Load() }
