package sfuclient

import (
	"fmt"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Player is a WHEP player in Go: one receive-only connection that offers
// to receive a video and a sound, and is answered once (no trickle), as
// players that speak WHEP (RFC 9725's playback sibling) are. What arrives
// is counted per kind and, when the caller asks, kept.
type Player struct {
	pc    *webrtc.PeerConnection
	offer string
	keep  bool

	mu      sync.Mutex
	counts  map[webrtc.RTPCodecType]int
	packets map[webrtc.RTPCodecType][]rtp.Packet
}

// NewPlayer makes a player's connection and its offer, with every
// candidate in it. keep keeps every packet that arrives (tests); without
// it only counts are kept (the load tool).
func NewPlayer(api *webrtc.API, keep bool) (*Player, error) {
	if api == nil {
		var err error
		if api, err = NewAPI(Options{}); err != nil {
			return nil, err
		}
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	p := &Player{pc: pc, keep: keep, counts: map[webrtc.RTPCodecType]int{}, packets: map[webrtc.RTPCodecType][]rtp.Packet{}}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			_ = pc.Close()
			return nil, err
		}
	}
	pc.OnTrack(p.read)
	if p.offer, err = wholeOffer(pc); err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("sfuclient: player offer: %w", err)
	}
	return p, nil
}

// wholeOffer makes pc's offer and returns it once it holds every
// candidate, as WHIP and WHEP clients send it: one offer, no trickle.
func wholeOffer(pc *webrtc.PeerConnection) (string, error) {
	offer, err := pc.CreateOffer(nil)
	if err == nil {
		err = pc.SetLocalDescription(offer)
	}
	if err != nil {
		return "", err
	}
	<-webrtc.GatheringCompletePromise(pc)
	return pc.LocalDescription().SDP, nil
}

// Offer is the SDP offer to send.
func (p *Player) Offer() string { return p.offer }

// Answer applies the server's answer.
func (p *Player) Answer(sdp string) error {
	return p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
}

// Connection is the player's PeerConnection.
func (p *Player) Connection() *webrtc.PeerConnection { return p.pc }

// Close closes the connection.
func (p *Player) Close() error { return p.pc.Close() }

func (p *Player) read(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	kind := track.Kind()
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.counts[kind]++
		if p.keep {
			p.packets[kind] = append(p.packets[kind], *pkt)
		}
		p.mu.Unlock()
	}
}

// Count is how many packets of kind arrived.
func (p *Player) Count(kind webrtc.RTPCodecType) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[kind]
}

// Packets are the packets of kind that arrived, in order, if kept.
func (p *Player) Packets(kind webrtc.RTPCodecType) []rtp.Packet {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]rtp.Packet(nil), p.packets[kind]...)
}
