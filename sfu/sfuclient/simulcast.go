package sfuclient

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Simulcast, as a browser sends a camera: up to three layers of one
// source, lowest quality first, each its own RTP stream named by a RID
// (the page's are q, h and f), all on one transceiver. The offer names the
// RIDs but no SSRC of them, so the SFU tells the layers apart by the MID
// and RID header extensions of their packets; a browser writes them on a
// layer's packets until the SFU's receiver reports show that its SSRC
// arrived. Pion sends the layers (RTPSender.AddEncoding) but writes
// neither extension: Layer.WriteRTP does, as the browser does.

// Simulcast is one source to publish as simulcast layers
// (PublishSimulcast).
type Simulcast struct {
	layers []*Layer
}

// Layer is one layer of a Simulcast source. Write its packets with
// WriteRTP; Pion sets their SSRC and payload type.
type Layer struct {
	track *webrtc.TrackLocalStaticRTP

	mu           sync.Mutex
	pc           *webrtc.PeerConnection
	sender       *webrtc.RTPSender // nil until published
	ssrc         uint32
	mid          string // the transceiver's, once the offer has set it
	midID, ridID uint8  // the header extensions' ids
	// acked: a receiver report of the layer's SSRC came, so the server
	// knows the layer; its packets no longer carry the MID and RID.
	acked atomic.Bool
}

// NewSimulcast makes a source of one layer per RID, lowest quality first,
// all of one codec and with the same track and stream IDs (the layers of
// one track, as Pion's AddEncoding requires).
func NewSimulcast(capability webrtc.RTPCodecCapability, id, streamID string, rids ...string) (*Simulcast, error) {
	if len(rids) < 2 {
		return nil, errors.New("sfuclient: simulcast needs two layers or more")
	}
	s := &Simulcast{}
	for _, rid := range rids {
		if rid == "" || slices.ContainsFunc(s.layers, func(l *Layer) bool { return l.RID() == rid }) {
			return nil, fmt.Errorf("sfuclient: simulcast RIDs must be distinct and not empty: %q", rids)
		}
		track, err := webrtc.NewTrackLocalStaticRTP(capability, id, streamID, webrtc.WithRTPStreamID(rid))
		if err != nil {
			return nil, err
		}
		s.layers = append(s.layers, &Layer{track: track})
	}
	return s, nil
}

// Layers returns the source's layers, lowest quality first.
func (s *Simulcast) Layers() []*Layer { return slices.Clone(s.layers) }

// RID names the layer.
func (l *Layer) RID() string { return l.track.RID() }

// Acked reports whether the server has reported receiving the layer's
// SSRC, after which its packets go without the MID and RID extensions.
func (l *Layer) Acked() bool { return l.acked.Load() }

// WriteRTP sends one packet of the layer; p is not modified. Until the
// server has reported receiving the layer, the packet carries the
// layer's MID and RID header extensions.
func (l *Layer) WriteRTP(p *rtp.Packet) error {
	if l.acked.Load() {
		return l.track.WriteRTP(p)
	}
	mid, midID, ridID := l.tags()
	if mid == "" {
		// Not offered yet: nothing is bound, the packet goes nowhere.
		return l.track.WriteRTP(p)
	}
	tagged := *p
	tagged.Header = p.Header.Clone()
	if err := tagged.Header.SetExtension(midID, []byte(mid)); err != nil {
		return err
	}
	if err := tagged.Header.SetExtension(ridID, []byte(l.RID())); err != nil {
		return err
	}
	return l.track.WriteRTP(&tagged)
}

// tags returns the layer's MID, once known, and the extensions' ids.
func (l *Layer) tags() (mid string, midID, ridID uint8) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mid == "" && l.sender != nil {
		for _, t := range l.pc.GetTransceivers() {
			if t.Sender() == l.sender {
				l.mid = t.Mid()
				break
			}
		}
	}
	return l.mid, l.midID, l.ridID
}

// bind ties the layer to the sender that carries it, with the ids of the
// MID and RID extensions the offer carries.
func (l *Layer) bind(pc *webrtc.PeerConnection, sender *webrtc.RTPSender, midID, ridID uint8) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sender != nil {
		return fmt.Errorf("sfuclient: simulcast layer %s is published already", l.RID())
	}
	for _, enc := range sender.GetParameters().Encodings {
		if enc.RID == l.RID() {
			l.ssrc = uint32(enc.SSRC)
		}
	}
	l.pc, l.sender, l.midID, l.ridID = pc, sender, midID, ridID
	return nil
}

// addSimulcastLocked adds the layers of source on one transceiver. The
// caller holds p.mu.
func (c *Client) addSimulcastLocked(p *publication, source string, s *Simulcast) error {
	if s == nil || len(s.layers) == 0 {
		return fmt.Errorf("sfuclient: publish %s: no simulcast layers", source)
	}
	base := s.layers[0].track
	sender, err := p.pc.AddTrack(base)
	if err != nil {
		return failure(p.pc, "publish "+source, err)
	}
	undo := func(err error) error {
		_ = p.pc.RemoveTrack(sender)
		return err
	}
	for _, l := range s.layers[1:] {
		if err := sender.AddEncoding(l.track); err != nil {
			return undo(failure(p.pc, "publish "+source+" layer "+l.RID(), err))
		}
	}
	var midID, ridID uint8
	for _, ext := range sender.GetParameters().HeaderExtensions {
		switch ext.URI {
		case sdp.SDESMidURI:
			midID = uint8(ext.ID)
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(ext.ID)
		}
	}
	if midID == 0 || ridID == 0 {
		return undo(fmt.Errorf("sfuclient: publish %s in simulcast: the API negotiates no MID and RID header extensions (Options.Simulcast)", source))
	}
	for _, l := range s.layers {
		if err := l.bind(p.pc, sender, midID, ridID); err != nil {
			return undo(err)
		}
	}
	p.sources[base] = source
	for _, l := range s.layers {
		go c.readLayerRTCP(source, l, sender)
	}
	return nil
}

// readLayerRTCP reads what the server says about one simulcast layer,
// which also lets the interceptors see it (NACKs): keyframe requests go
// to OnLayerKeyframeRequest (or OnKeyframeRequest), and the first
// receiver report of the layer's SSRC ends its MID and RID extensions.
func (c *Client) readLayerRTCP(source string, l *Layer, sender *webrtc.RTPSender) {
	for {
		packets, _, err := sender.ReadSimulcastRTCP(l.RID())
		if err != nil {
			return
		}
		for _, pkt := range packets {
			switch pkt := pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				switch {
				case c.cfg.OnLayerKeyframeRequest != nil:
					c.cfg.OnLayerKeyframeRequest(source, l.RID())
				case c.cfg.OnKeyframeRequest != nil:
					c.cfg.OnKeyframeRequest(source)
				}
			case *rtcp.ReceiverReport:
				for _, r := range pkt.Reports {
					if r.SSRC == l.ssrc {
						l.acked.Store(true)
					}
				}
			}
		}
	}
}
