package sfu

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

// A viewer is a peer that only receives: a WHEP player (RFC 9725's
// sibling for playback), an embed or a hallway screen. WHEP negotiates
// once, so its connection carries a fixed video and a fixed sound, and
// what they show follows the room's stage as it changes: the app says
// whom to follow (Follow), and each of the two is a follower (follow.go)
// that moves from one publisher's track to another's without the player
// renegotiating or seeing a gap in its numbers.

// ErrNothingToReceive refuses a WHEP offer that receives neither VP8
// video nor Opus sound.
var ErrNothingToReceive = errors.New("sfu: the offer receives no VP8 video or Opus sound")

// Viewer is a receive-only peer that follows the room's stage.
type Viewer struct {
	peer         *Peer
	pc           *webrtc.PeerConnection
	video, audio *follower // nil when the offer did not ask for one

	mu    sync.Mutex
	stage []string // the publishers to follow, in order

	ended     chan struct{}
	endedOnce sync.Once
}

// JoinViewer adds a receive-only peer for a WHEP offer and answers it,
// once the answer has every candidate (WHEP sends one answer and takes no
// trickle). stage are the publishers it shows first (Follow).
func (r *Room) JoinViewer(ctx context.Context, id, offer string, stage []string) (*Viewer, string, error) {
	video, audio, err := checkWHEPOffer(offer)
	if err != nil {
		return nil, "", err
	}
	r.mu.Lock()
	if r.closed || r.forgotten {
		r.mu.Unlock()
		if r.closed {
			return nil, "", ErrClosed
		}
		next, err := r.sfu.Room(r.id)
		if err != nil {
			return nil, "", err
		}
		return next.JoinViewer(ctx, id, offer, stage)
	}
	p := newPeer(r, id, func([]byte) {})
	v := &Viewer{peer: p, stage: slices.Clone(stage), ended: make(chan struct{})}
	p.viewer = v
	r.peers = append(r.peers, p)
	r.mu.Unlock()

	answer, err := v.answer(ctx, offer, video, audio)
	if err != nil {
		p.Close()
		return nil, "", err
	}
	go p.run()
	return v, answer, nil
}

// answer makes the viewer's connection, with a follower for the video
// and the sound the offer asks for, and answers the offer.
func (v *Viewer) answer(ctx context.Context, offer string, video, audio bool) (string, error) {
	s := v.peer.room.sfu
	api, err := s.viewAPI()
	var pc *webrtc.PeerConnection
	if err == nil {
		var config webrtc.Configuration
		if config, err = s.setup.configuration(); err == nil {
			pc, err = api.NewPeerConnection(config)
		}
	}
	if err != nil {
		return "", fmt.Errorf("sfu: viewer connection: %w", err)
	}
	v.peer.subMu.Lock()
	v.peer.sub, v.pc = pc, pc
	v.peer.subMu.Unlock()
	// Added before the offer is applied, Pion answers the player's
	// receive-only sections with these tracks.
	if video {
		if v.video, err = newFollower(v, webrtc.RTPCodecTypeVideo, webrtc.MimeTypeVP8, protocol.SourceCamera); err != nil {
			return "", err
		}
	}
	if audio {
		if v.audio, err = newFollower(v, webrtc.RTPCodecTypeAudio, webrtc.MimeTypeOpus, protocol.SourceMicrophone); err != nil {
			return "", err
		}
	}
	pc.OnConnectionStateChange(func(state webrtc.PeerConnectionState) {
		if state == webrtc.PeerConnectionStateFailed || state == webrtc.PeerConnectionStateClosed {
			v.endedOnce.Do(func() { close(v.ended) })
		}
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("sfu: WHEP offer: %w", err)
	}
	local, err := pc.CreateAnswer(nil)
	if err == nil {
		err = pc.SetLocalDescription(local)
	}
	if err != nil {
		return "", fmt.Errorf("sfu: WHEP answer: %w", err)
	}
	select {
	case <-webrtc.GatheringCompletePromise(pc):
	case <-ctx.Done():
		return "", fmt.Errorf("sfu: gathering candidates: %w", ctx.Err())
	}
	return pc.LocalDescription().SDP, nil
}

// viewAPI is the API of viewers' connections: the SFU's codecs and
// network, sender and receiver reports, and neither NACK responder nor
// bandwidth estimate (the followers answer NACKs from the tracks' caches;
// a player gets the best layer).
func (s *SFU) viewAPI() (*webrtc.API, error) {
	registry := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(registry); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(s.media), webrtc.WithInterceptorRegistry(registry), webrtc.WithSettingEngine(s.connectionSettings())), nil
}

// checkWHEPOffer parses a player's offer: which of VP8 video and Opus
// sound it can receive.
func checkWHEPOffer(offer string) (video, audio bool, err error) {
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(offer); err != nil {
		return false, false, fmt.Errorf("sfu: the offer is not SDP: %w", err)
	}
	for _, m := range desc.MediaDescriptions {
		if _, sendonly := m.Attribute("sendonly"); sendonly || m.MediaName.Port.Value == 0 {
			continue
		}
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			codec := strings.ToLower(a.Value)
			switch {
			case m.MediaName.Media == "video" && strings.Contains(codec, " vp8/"):
				video = true
			case m.MediaName.Media == "audio" && strings.Contains(codec, " opus/"):
				audio = true
			}
		}
	}
	if !video && !audio {
		return false, false, ErrNothingToReceive
	}
	return video, audio, nil
}

// Follow sets the publishers the viewer shows, in order: the first who
// shares a screen, else the first with a camera, and the first with a
// microphone. It only notes them: the viewer's goroutine moves the
// followers, so Follow may be called under the caller's locks.
func (v *Viewer) Follow(stage []string) {
	v.mu.Lock()
	v.stage = slices.Clone(stage)
	v.mu.Unlock()
	v.peer.kick()
}

// Ended is closed once the viewer's connection has failed or closed.
func (v *Viewer) Ended() <-chan struct{} { return v.ended }

// Close disconnects the viewer.
func (v *Viewer) Close() { v.peer.Close() }

// ID is the viewer's peer id.
func (v *Viewer) ID() string { return v.peer.id }

// run keeps the followers on the stage's tracks until the viewer closes:
// the room wakes it (kick) when tracks come and go, Follow when the stage
// changes.
func (v *Viewer) run() {
	for _, f := range v.followers() {
		go f.readRTCP()
	}
	v.sync()
	for {
		select {
		case <-v.peer.wake:
			v.sync()
		case <-v.peer.done:
			for _, f := range v.followers() {
				f.stop()
			}
			return
		}
	}
}

func (v *Viewer) followers() []*follower {
	var out []*follower
	for _, f := range []*follower{v.video, v.audio} {
		if f != nil {
			out = append(out, f)
		}
	}
	return out
}

// sync points each follower at the track it should show now.
func (v *Viewer) sync() {
	v.mu.Lock()
	stage := slices.Clone(v.stage)
	v.mu.Unlock()
	tracks := v.peer.room.tracksFor(v.peer)
	if v.video != nil {
		up := pickTrack(tracks, stage, protocol.SourceScreen)
		if up == nil {
			up = pickTrack(tracks, stage, protocol.SourceCamera)
		}
		v.video.follow(up)
	}
	if v.audio != nil {
		v.audio.follow(pickTrack(tracks, stage, protocol.SourceMicrophone))
	}
}

// pickTrack is the source track of the first publisher of stage that has
// one, or nil.
func pickTrack(tracks []*upTrack, stage []string, source string) *upTrack {
	for _, id := range stage {
		for _, up := range tracks {
			if up.publisher.id == id && up.source == source {
				return up
			}
		}
	}
	return nil
}
