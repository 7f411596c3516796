package sfu

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

// A peer that only publishes: an encoder that speaks WHIP (RFC 9725),
// such as a streaming studio, sends its camera and sound into the room and
// receives nothing. Its offer is answered whole, candidates included (WHIP
// sends one answer and no trickle), and the app hears when its connection
// ends, since no socket tells it.

// ErrNoMedia refuses a WHIP offer that sends nothing this SFU forwards.
var ErrNoMedia = errors.New("sfu: the offer sends no VP8 video or Opus sound")

// publishOnly is what a publishing-only peer keeps: when its publish
// connection ended.
type publishOnly struct {
	ended     chan struct{}
	endedOnce sync.Once
}

// JoinPublisher adds a peer that publishes and never subscribes.
func (r *Room) JoinPublisher(id string, send func([]byte)) (*Peer, error) {
	r.mu.Lock()
	if r.closed || r.forgotten {
		r.mu.Unlock()
		if r.closed {
			return nil, ErrClosed
		}
		next, err := r.sfu.Room(r.id)
		if err != nil {
			return nil, err
		}
		return next.JoinPublisher(id, send)
	}
	p := newPeer(r, id, send)
	p.publisher = &publishOnly{ended: make(chan struct{})}
	r.peers = append(r.peers, p)
	r.mu.Unlock()
	return p, nil
}

// PublishEnded is closed once a publishing-only peer's connection has
// failed or closed; nil for other peers.
func (p *Peer) PublishEnded() <-chan struct{} {
	if p.publisher == nil {
		return nil
	}
	return p.publisher.ended
}

// AnswerWHIP answers an encoder's offer, once the answer has every
// candidate. It refuses an offer that sends no VP8 or Opus.
func (p *Peer) AnswerWHIP(ctx context.Context, offer string) (string, error) {
	if p.publisher == nil {
		return "", errors.New("sfu: not a publishing-only peer")
	}
	if err := checkWHIPOffer(offer); err != nil {
		return "", err
	}
	if err := p.HandleSignal(&protocol.SFU{Type: protocol.TypeSFU, PC: protocol.PCPublish, Kind: protocol.KindOffer, SDP: offer}); err != nil {
		return "", err
	}
	pc := p.pub.Load()
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			p.publisher.endedOnce.Do(func() { close(p.publisher.ended) })
		}
	})
	select {
	case <-webrtc.GatheringCompletePromise(pc):
	case <-ctx.Done():
		return "", fmt.Errorf("sfu: gathering candidates: %w", ctx.Err())
	}
	return pc.LocalDescription().SDP, nil
}

// checkWHIPOffer parses an offer and checks that it sends a codec the SFU
// forwards: a studio that sends H.264 only would publish nothing.
func checkWHIPOffer(offer string) error {
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(offer); err != nil {
		return fmt.Errorf("sfu: the offer is not SDP: %w", err)
	}
	for _, m := range desc.MediaDescriptions {
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			var pt int
			var codec string
			if _, err := fmt.Sscanf(a.Value, "%d %s", &pt, &codec); err != nil {
				continue
			}
			if codec = strings.ToLower(codec); strings.HasPrefix(codec, "vp8/") || strings.HasPrefix(codec, "opus/") {
				return nil
			}
		}
	}
	return ErrNoMedia
}
