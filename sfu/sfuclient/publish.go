package sfuclient

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

// publication is one publish connection and the tracks on it.
type publication struct {
	pc  *webrtc.PeerConnection
	out outbox

	mu          sync.Mutex
	sources     map[webrtc.TrackLocal]string
	negotiating bool                  // an offer is out, not answered yet
	again       bool                  // tracks were added while it was out
	early       []*protocol.Candidate // the server's, come before its answer was applied
	reported    map[string]uint16     // source → highest sequence number the server reported receiving
}

// publication returns the publish connection, opening one if there is
// none.
func (c *Client) publication() (*publication, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.pub != nil {
		return c.pub, nil
	}
	pc, err := c.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("sfuclient: publish connection: %w", err)
	}
	p := &publication{pc: pc, out: outbox{pc: protocol.PCPublish}, sources: map[webrtc.TrackLocal]string{}, reported: map[string]uint16{}}
	pc.OnICECandidate(c.trickle(&p.out))
	c.pub = p
	return p, nil
}

func (c *Client) currentPublication() (*publication, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return nil, ErrClosed
	case c.pub == nil:
		return nil, ErrNoPublish
	}
	return c.pub, nil
}

// Publish adds tracks, each under its source ("camera", "microphone",
// "screen"), to the publish connection, opening one if there is none, and
// offers them to the server. If an offer is still out, they go in the next
// one, made once it is answered.
func (c *Client) Publish(tracks map[string]webrtc.TrackLocal) error {
	return c.PublishSimulcast(tracks, nil)
}

// PublishSimulcast is Publish with sources sent as simulcast layers
// (NewSimulcast) besides the plain tracks, all in one offer. The client's
// API must have been made with Options.Simulcast.
func (c *Client) PublishSimulcast(tracks map[string]webrtc.TrackLocal, layered map[string]*Simulcast) error {
	for source := range layered {
		if _, ok := tracks[source]; ok {
			return fmt.Errorf("sfuclient: publish %s: both a track and simulcast layers", source)
		}
	}
	p, err := c.publication()
	if err != nil {
		return err
	}
	p.mu.Lock()
	// In source order, so the mids do not depend on map order.
	sources := slices.Sorted(maps.Keys(tracks))
	sources = slices.Sorted(slices.Values(append(sources, slices.Collect(maps.Keys(layered))...)))
	for _, source := range sources {
		if s, ok := layered[source]; ok {
			err = c.addSimulcastLocked(p, source, s)
		} else {
			err = c.addTrackLocked(p, source, tracks[source])
		}
		if err != nil {
			p.mu.Unlock()
			return err
		}
	}
	if p.negotiating {
		p.again = true
		p.mu.Unlock()
		return nil
	}
	offer, err := p.offerLocked()
	p.mu.Unlock()
	if err != nil {
		return err
	}
	return c.sendDescription(&p.out, offer)
}

// addTrackLocked adds one plain track of source. The caller holds p.mu.
func (c *Client) addTrackLocked(p *publication, source string, track webrtc.TrackLocal) error {
	sender, err := p.pc.AddTrack(track)
	if err != nil {
		return failure(p.pc, "publish "+source, err)
	}
	p.sources[track] = source
	go c.readRTCP(p, source, sender)
	return nil
}

// offerLocked makes the offer of the connection's tracks, each mid named
// by its source. The caller holds p.mu and sends the offer.
func (p *publication) offerLocked() (protocol.SFU, error) {
	offer, err := p.pc.CreateOffer(nil)
	if err == nil {
		err = p.pc.SetLocalDescription(offer)
	}
	if err != nil {
		return protocol.SFU{}, failure(p.pc, "publish offer", err)
	}
	labels := map[string]string{}
	for _, t := range p.pc.GetTransceivers() {
		sender := t.Sender()
		if sender == nil || sender.Track() == nil || t.Mid() == "" {
			continue
		}
		if source, ok := p.sources[sender.Track()]; ok {
			labels[t.Mid()] = source
		}
	}
	p.negotiating, p.again = true, false
	return protocol.SFU{Kind: protocol.KindOffer, SDP: offer.SDP, Tracks: labels}, nil
}

// applyPublishAnswer completes a publish negotiation, and offers what was
// added while it was out.
func (c *Client) applyPublishAnswer(m protocol.SFU) error {
	p, err := c.currentPublication()
	if err != nil {
		return err
	}
	p.mu.Lock()
	if !p.negotiating {
		p.mu.Unlock()
		return ErrNoPublish
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
		p.mu.Unlock()
		return failure(p.pc, "publish answer", err)
	}
	p.negotiating = false
	early := p.early
	p.early = nil
	var offer protocol.SFU
	if p.again {
		offer, err = p.offerLocked()
	}
	p.mu.Unlock()
	for _, cand := range early {
		if err := addCandidate(p.pc, "publish candidate", cand); err != nil {
			return err
		}
	}
	if err != nil || offer.Kind == "" {
		return err
	}
	return c.sendDescription(&p.out, offer)
}

// addPublishCandidate applies one of the server's candidates, or keeps it
// until the answer it follows has been applied.
func (c *Client) addPublishCandidate(cand *protocol.Candidate) error {
	p, err := c.currentPublication()
	if err != nil || cand == nil {
		return err
	}
	p.mu.Lock()
	if p.negotiating || p.pc.RemoteDescription() == nil {
		p.early = append(p.early, cand)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	return addCandidate(p.pc, "publish candidate", cand)
}

// readRTCP reads what the server says about one published track, which
// also lets the interceptors see it (NACKs): keyframe requests go to
// OnKeyframeRequest, receiver reports to ReportedSeq.
func (c *Client) readRTCP(p *publication, source string, sender *webrtc.RTPSender) {
	var ssrc uint32
	if enc := sender.GetParameters().Encodings; len(enc) > 0 {
		ssrc = uint32(enc[0].SSRC)
	}
	for {
		packets, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range packets {
			switch pkt := pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if c.cfg.OnKeyframeRequest != nil {
					c.cfg.OnKeyframeRequest(source)
				}
			case *rtcp.ReceiverReport:
				for _, r := range pkt.Reports {
					if r.SSRC == ssrc {
						p.mu.Lock()
						// The extended number's low half is the
						// packet's own.
						p.reported[source] = uint16(r.LastSequenceNumber)
						p.mu.Unlock()
					}
				}
			}
		}
	}
}

// ReportedSeq is the highest RTP sequence number of source's track that
// the server said it received, in its last receiver report (the SFU sends
// one about every second): proof that the server has read the packets up
// to it. ok is false before the first report.
func (c *Client) ReportedSeq(source string) (seq uint16, ok bool) {
	p, err := c.currentPublication()
	if err != nil {
		return 0, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	seq, ok = p.reported[source]
	return seq, ok
}

// ClosePublisher closes the publish connection, as a page that stops
// publishing does; the next Publish opens a fresh one.
func (c *Client) ClosePublisher() {
	c.mu.Lock()
	p := c.pub
	c.pub = nil
	c.mu.Unlock()
	if p != nil {
		c.retire(&p.out, p.pc)
	}
}
