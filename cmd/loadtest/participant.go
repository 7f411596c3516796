package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
	"meet/sfu/codec"
	"meet/sfu/sfuclient"
)

// newClientAPI is what every Pion client of the tool uses (sfuclient's):
// VP8 and Opus, NACKs and receiver reports as a browser sends them, GCM
// first, host candidates (loopback included), no mDNS.
func newClientAPI() (*webrtc.API, error) {
	return sfuclient.NewAPI(sfuclient.Options{})
}

// rxStats is what all receivers of a run share.
type rxStats struct {
	measuring atomic.Bool
	latency   histogram
}

// participant is one Pion client in a room: it always subscribes through
// the SFU, and publishes synthetic camera and microphone when asked to.
type participant struct {
	srv    *server
	rx     *rxStats
	ss     *session
	self   protocol.Participant
	client *sfuclient.Client

	joinStart  time.Time
	joinedSFU  bool         // the welcome already said sfu
	firstFrame atomic.Int64 // unix nanoseconds of the first keyframe packet
	// Steps of the join, to tell where join time goes: the welcome, the
	// first subscribe offer, and the subscribe connection connected
	// (ICE+DTLS).
	welcomeAt, offerAt, connectedAt atomic.Int64

	mu     sync.Mutex
	recv   map[string]*seqSet // "participantId|source" → stamps received
	errs   []string
	sfu    chan struct{} // closed once the room is in SFU mode
	sfuOne sync.Once

	video, audio *stream // when publishing
}

// joinParticipant joins roomID with a new identity and answers the SFU's
// subscribe offers from then on.
func joinParticipant(ctx context.Context, srv *server, api *webrtc.API, rx *rxStats, id identity, roomID string, spectator bool) (*participant, error) {
	p := &participant{srv: srv, rx: rx, recv: map[string]*seqSet{}, sfu: make(chan struct{})}
	var err error
	p.client, err = sfuclient.New(sfuclient.Config{
		API:               api,
		Send:              func(m protocol.SFU) error { return p.ss.send(m) },
		OnPacket:          p.onPacket,
		OnKeyframeRequest: p.onKeyframeRequest,
	})
	if err != nil {
		return nil, err
	}
	p.client.Subscriber().OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			p.connectedAt.CompareAndSwap(0, time.Now().UnixNano())
		}
	})
	p.joinStart = time.Now()
	if p.ss, err = srv.join(ctx, id, roomID, spectator); err != nil {
		p.client.Close()
		return nil, err
	}
	p.welcomeAt.Store(time.Now().UnixNano())
	p.self = p.ss.welcome.Self
	if p.ss.welcome.Mode == protocol.ModeSFU {
		p.joinedSFU = true
		p.sfuOne.Do(func() { close(p.sfu) })
	}
	p.ss.serve(handlers{sfu: p.onSFU, mode: p.onMode, error: p.onError})
	return p, nil
}

func (p *participant) onMode(m protocol.Mode) {
	if m.Mode == protocol.ModeSFU {
		p.sfuOne.Do(func() { close(p.sfu) })
	}
}

func (p *participant) onError(e protocol.Error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errs) < 5 {
		p.errs = append(p.errs, fmt.Sprintf("%s (%s): %s", e.Code, e.Ref, e.Message))
	}
}

// onSFU applies one negotiation message from the SFU.
func (p *participant) onSFU(m protocol.SFU) {
	if m.PC == protocol.PCSubscribe && m.Kind == protocol.KindOffer {
		p.offerAt.CompareAndSwap(0, time.Now().UnixNano())
	}
	if err := p.client.Handle(m); err != nil && !errors.Is(err, sfuclient.ErrClosed) {
		p.onError(protocol.Error{Code: "negotiation", Ref: "sfu", Message: err.Error()})
	}
}

// onPacket records each stamp of a subscribed stream, and its latency
// while the run measures.
func (p *participant) onPacket(key string, track *webrtc.TrackRemote, pkt *rtp.Packet) {
	now := time.Now()
	seq, sent, ok := readStamp(pkt.Payload)
	if !ok {
		return
	}
	p.received(key).add(seq)
	// A viewer shows a picture once a keyframe arrives: the first packet
	// of one (VP8: start of partition 0, P bit clear).
	if track.Kind() == webrtc.RTPCodecTypeVideo && pkt.Payload[0] == 0x10 && pkt.Payload[1]&0x01 == 0 {
		p.firstFrame.CompareAndSwap(0, now.UnixNano())
	}
	if p.rx.measuring.Load() {
		p.rx.latency.record(now.Sub(sent))
	}
}

// onKeyframeRequest makes the next camera frame a keyframe, as an encoder
// does when the SFU asks for one for its new subscribers.
func (p *participant) onKeyframeRequest(source string) {
	if source == protocol.SourceCamera && p.video != nil {
		p.video.wantKey.Store(true)
	}
}

func (p *participant) received(key string) *seqSet {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.recv[key]
	if s == nil {
		s = &seqSet{}
		p.recv[key] = s
	}
	return s
}

// has reports whether packets of stream key have arrived.
func (p *participant) has(key string) bool {
	return p.received(key).len() > 0
}

// joinTime is join to the first keyframe, or false if none came.
func (p *participant) joinTime() (time.Duration, bool) { return p.since(&p.firstFrame) }

// since is the time from the join to the step recorded in at.
func (p *participant) since(at *atomic.Int64) (time.Duration, bool) {
	t := at.Load()
	if t == 0 {
		return 0, false
	}
	return time.Unix(0, t).Sub(p.joinStart), true
}

// publish offers a camera and a microphone on the publish connection and
// announces them. The streams are paced by the caller.
func (p *participant) publish() error {
	streamID := "lt-" + p.self.ID
	videoTrack, err := webrtc.NewTrackLocalStaticRTP(codec.VP8(), "camera", streamID)
	if err != nil {
		return err
	}
	audioTrack, err := webrtc.NewTrackLocalStaticRTP(codec.Opus(), "microphone", streamID)
	if err != nil {
		return err
	}
	p.video = newStream(p.self.ID+"|"+protocol.SourceCamera, true, videoTrack)
	p.audio = newStream(p.self.ID+"|"+protocol.SourceMicrophone, false, audioTrack)
	if err := p.client.Publish(map[string]webrtc.TrackLocal{protocol.SourceCamera: videoTrack, protocol.SourceMicrophone: audioTrack}); err != nil {
		return err
	}
	for _, source := range []string{protocol.SourceCamera, protocol.SourceMicrophone} {
		if err := p.ss.send(protocol.Media{Type: protocol.TypeMedia, Source: source, Action: protocol.ActionPublished, StreamID: streamID}); err != nil {
			return err
		}
	}
	return nil
}

// awaitPublished waits until the publish connection is connected and has
// carried a second of media, so that the SFU has the tracks and a keyframe
// to start new subscribers from.
func (p *participant) awaitPublished(ctx context.Context) error {
	for {
		if pc := p.client.Publisher(); pc != nil && pc.ConnectionState() == webrtc.PeerConnectionStateConnected {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("participant %s: the publish connection never connected", p.self.ID)
		case <-time.After(20 * time.Millisecond):
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Second):
		return nil
	}
}

func (p *participant) errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

func (p *participant) close() {
	p.ss.close()
	p.client.Close()
}
