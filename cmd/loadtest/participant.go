package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"meet/cmd/loadtest/leanrx"
	"meet/protocol"
	"meet/sfu/codec"
	"meet/sfu/sfuclient"
)

// newClientAPI is what every Pion client of the tool uses (sfuclient's):
// VP8 and Opus, NACKs and receiver reports as a browser sends them, GCM
// first, host candidates (loopback included), no mDNS; with simulcast,
// the MID and RID header extensions a simulcast publisher needs; with
// twcc, transport-wide congestion control feedback on what arrives, as a
// browser sends it (the SFU's bandwidth estimate of each subscriber
// comes from it, and stays at its start value without it).
func newClientAPI(simulcast, twcc bool) (*webrtc.API, error) {
	return sfuclient.NewAPI(sfuclient.Options{Simulcast: simulcast, TWCCFeedback: twcc})
}

// clientKit is what the tool's participants connect with: the Pion API,
// and, unless -pion-receivers or -twcc, the certificate of the lean
// receivers (leanrx) that receive-only viewers subscribe with.
type clientKit struct {
	api     *webrtc.API
	lean    *leanrx.Certificate
	localIP netip.Addr // the lean receivers' candidate, reaching srv
}

func newClientKit(cfg *config, srv *server) (clientKit, error) {
	api, err := newClientAPI(cfg.simulcast, cfg.twcc)
	if err != nil || cfg.pionReceivers || cfg.twcc {
		return clientKit{api: api}, err
	}
	kit := clientKit{api: api}
	if kit.localIP, err = leanrx.LocalIPFor(srv.base.Hostname()); err != nil {
		return kit, fmt.Errorf("no local address reaches %s: %w", srv.base.Host, err)
	}
	kit.lean, err = leanrx.NewCertificate()
	return kit, err
}

// rxStats is what all receivers of a run share.
type rxStats struct {
	measuring atomic.Bool
	latency   histogram
	// What arrived while measuring, retransmissions included: packets and
	// RTP payload bytes.
	packets, bytes atomic.Uint64
}

// videoRx is what one receiver got of one publisher's camera.
type videoRx struct {
	// The size the last keyframe received announced: the layer the
	// receiver gets now.
	width, height int
	// What arrived while measuring, by layer.
	packets, bytes [maxLayers]uint64
}

// participant is one Pion client in a room: it always subscribes through
// the SFU, and publishes synthetic camera and microphone when asked to.
// With -whep a viewer is a WHEP player instead (whep.go): no socket, no
// client, one receive-only connection, its packets counted the same way.
type participant struct {
	srv    *server
	rx     *rxStats
	ss     *session
	self   protocol.Participant
	client *sfuclient.Client // nil for a lean viewer
	lean   *leanrx.Receiver  // a receive-only viewer's subscriber, unless -pion-receivers
	whep   *whepSession      // a WHEP player's session; nil for a participant

	joinStart  time.Time
	joinedSFU  bool         // the welcome already said sfu
	firstFrame atomic.Int64 // unix nanoseconds of the first keyframe packet
	// Steps of the join, to tell where join time goes: the socket's
	// upgrade, the welcome, the first subscribe offer, ICE connected, and
	// the subscribe connection connected (DTLS done too); for a WHEP
	// player, the answer (201) and its connection connected.
	upgradedAt, welcomeAt, offerAt, iceAt, connectedAt, answerAt atomic.Int64

	// lat is the latency of the receivers served by the same node as
	// this one (a classroom across nodes, served.go); nil otherwise.
	lat atomic.Pointer[histogram]

	mu     sync.Mutex
	recv   map[streamID]*seqSet // stamps received of each stream
	videos map[string]*videoRx  // "participantId|camera" → what came of it
	errs   []string
	sfu    chan struct{} // closed once the room is in SFU mode
	sfuOne sync.Once

	// When publishing: the camera's streams (one, or one per simulcast
	// layer, lowest first) and the microphone's.
	video []*stream
	audio *stream
}

// joinParticipant joins roomID with a new identity and answers the SFU's
// subscribe offers from then on.
func joinParticipant(ctx context.Context, srv *server, kit clientKit, rx *rxStats, id identity, roomID string, spectator bool) (*participant, error) {
	p := &participant{srv: srv, rx: rx, recv: map[streamID]*seqSet{}, videos: map[string]*videoRx{}, sfu: make(chan struct{})}
	if err := p.connectWith(kit, spectator); err != nil {
		return nil, err
	}
	p.joinStart = time.Now()
	var err error
	if p.ss, err = srv.join(ctx, id, roomID, spectator); err != nil {
		p.closeMedia()
		return nil, err
	}
	p.upgradedAt.Store(p.ss.upgraded.UnixNano())
	p.welcomeAt.Store(time.Now().UnixNano())
	p.self = p.ss.welcome.Self
	if p.ss.welcome.Mode == protocol.ModeSFU {
		p.joinedSFU = true
		p.sfuOne.Do(func() { close(p.sfu) })
	}
	p.ss.serve(handlers{sfu: p.onSFU, mode: p.onMode, error: p.onError})
	return p, nil
}

// connectWith makes p's media client: a lean receiver for a receive-only
// viewer when kit has one, else an sfuclient that can also publish. The
// join's ICE and DTLS steps are timed on either.
func (p *participant) connectWith(kit clientKit, spectator bool) error {
	iceConnected := func() { p.iceAt.CompareAndSwap(0, time.Now().UnixNano()) }
	connected := func() { p.connectedAt.CompareAndSwap(0, time.Now().UnixNano()) }
	if spectator && kit.lean != nil {
		var err error
		p.lean, err = leanrx.New(leanrx.Config{
			Send:           func(m protocol.SFU) error { return p.ss.send(m) },
			Certificate:    kit.lean,
			LocalIP:        kit.localIP,
			OnPacket:       p.onPacket,
			OnICEConnected: iceConnected,
			OnConnected:    connected,
			OnError:        func(err error) { p.onError(protocol.Error{Code: "negotiation", Ref: "sfu", Message: err.Error()}) },
		})
		return err
	}
	var err error
	p.client, err = sfuclient.New(sfuclient.Config{
		API:  kit.api,
		Send: func(m protocol.SFU) error { return p.ss.send(m) },
		OnPacket: func(key string, track *webrtc.TrackRemote, pkt *rtp.Packet) {
			p.onPacket(key, track.Kind() == webrtc.RTPCodecTypeVideo, pkt.Payload)
		},
		OnKeyframeRequest:      p.onKeyframeRequest,
		OnLayerKeyframeRequest: p.onLayerKeyframeRequest,
	})
	if err != nil {
		return err
	}
	p.client.Subscriber().OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			connected()
		}
	})
	p.client.Subscriber().OnICEConnectionStateChange(func(st webrtc.ICEConnectionState) {
		if st == webrtc.ICEConnectionStateConnected {
			iceConnected()
		}
	})
	return nil
}

// closeMedia closes p's media client.
func (p *participant) closeMedia() {
	if p.lean != nil {
		p.lean.Close()
	} else if p.client != nil {
		p.client.Close()
	}
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
	handle := func(m protocol.SFU) error { return p.client.Handle(m) }
	if p.lean != nil {
		handle = p.lean.Handle
	}
	if err := handle(m); err != nil && !errors.Is(err, sfuclient.ErrClosed) && !errors.Is(err, leanrx.ErrClosed) {
		p.onError(protocol.Error{Code: "negotiation", Ref: "sfu", Message: err.Error()})
	}
}

// onPacket records each stamp of a subscribed stream, what each camera
// brings, and the latency while the run measures.
func (p *participant) onPacket(key string, video bool, payload []byte) {
	now := time.Now()
	seq, sent, layer, ok := readStamp(payload)
	if !ok || layer >= maxLayers {
		return
	}
	measuring := p.rx.measuring.Load()
	p.received(streamID{key, layer}).add(seq)
	if video {
		// A viewer shows a picture once a keyframe arrives, at the size
		// the keyframe announces.
		keyframe, width, height := vp8Frame(payload)
		if keyframe {
			p.firstFrame.CompareAndSwap(0, now.UnixNano())
		}
		p.mu.Lock()
		v := p.videos[key]
		if v == nil {
			v = &videoRx{}
			p.videos[key] = v
		}
		if width > 0 {
			v.width, v.height = width, height
		}
		if measuring {
			v.packets[layer]++
			v.bytes[layer] += uint64(len(payload))
		}
		p.mu.Unlock()
	}
	if measuring {
		p.rx.latency.record(now.Sub(sent))
		if h := p.lat.Load(); h != nil {
			h.record(now.Sub(sent))
		}
		p.rx.packets.Add(1)
		p.rx.bytes.Add(uint64(len(payload)))
	}
}

// onKeyframeRequest makes the next camera frame a keyframe, as an encoder
// does when the SFU asks for one for its new subscribers.
func (p *participant) onKeyframeRequest(source string) {
	if source == protocol.SourceCamera {
		for _, v := range p.video {
			v.wantKey.Store(true)
		}
	}
}

// onLayerKeyframeRequest makes the next frame of one simulcast layer a
// keyframe: the SFU asks for the layer it moves a subscriber to.
func (p *participant) onLayerKeyframeRequest(source, rid string) {
	if source != protocol.SourceCamera {
		return
	}
	for _, v := range p.video {
		if v.shape.RID == rid {
			v.wantKey.Store(true)
		}
	}
}

// owns reports whether s is one of p's own streams.
func (p *participant) owns(s *stream) bool {
	return s == p.audio || slices.Contains(p.video, s)
}

// windowLayer is the one layer that brought packets while measuring: -1
// if none came, and switched when more than one did (the SFU moved the
// subscriber from one to another).
func (v *videoRx) windowLayer() (layer int, switched bool) {
	layer = -1
	for i, n := range v.packets {
		if n == 0 {
			continue
		}
		if layer >= 0 {
			return layer, true
		}
		layer = i
	}
	return layer, false
}

// camera returns what p got of the camera named key, nil if nothing.
func (p *participant) camera(key string) *videoRx {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v := p.videos[key]; v != nil {
		c := *v
		return &c
	}
	return nil
}

func (p *participant) received(id streamID) *seqSet {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.recv[id]
	if s == nil {
		s = &seqSet{}
		p.recv[id] = s
	}
	return s
}

// has reports whether packets of stream id have arrived.
func (p *participant) has(id streamID) bool {
	return p.received(id).len() > 0
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

// publish offers a camera of layers (one plain track, or simulcast
// layers lowest first) and a microphone on the publish connection, and
// announces them. The streams are paced by the caller.
func (p *participant) publish(spec mediaSpec, layers []videoLayer) error {
	streamName := "lt-" + p.self.ID
	audioTrack, err := webrtc.NewTrackLocalStaticRTP(codec.Opus(), "microphone", streamName)
	if err != nil {
		return err
	}
	cameraKey := p.self.ID + "|" + protocol.SourceCamera
	p.audio = newAudioStream(p.self.ID+"|"+protocol.SourceMicrophone, audioTrack)
	tracks := map[string]webrtc.TrackLocal{protocol.SourceMicrophone: audioTrack}
	var layered map[string]*sfuclient.Simulcast
	if len(layers) == 1 {
		videoTrack, err := webrtc.NewTrackLocalStaticRTP(codec.VP8(), "camera", streamName)
		if err != nil {
			return err
		}
		tracks[protocol.SourceCamera] = videoTrack
		p.video = []*stream{newVideoStream(cameraKey, videoTrack, spec, 0, layers[0])}
	} else {
		rids := make([]string, len(layers))
		for i, l := range layers {
			rids[i] = l.RID
		}
		camera, err := sfuclient.NewSimulcast(codec.VP8(), "camera", streamName, rids...)
		if err != nil {
			return err
		}
		layered = map[string]*sfuclient.Simulcast{protocol.SourceCamera: camera}
		p.video = nil
		for i, out := range camera.Layers() {
			p.video = append(p.video, newVideoStream(cameraKey, out, spec, i, layers[i]))
		}
	}
	if err := p.client.PublishSimulcast(tracks, layered); err != nil {
		return err
	}
	for _, source := range []string{protocol.SourceCamera, protocol.SourceMicrophone} {
		if err := p.ss.send(protocol.Media{Type: protocol.TypeMedia, Source: source, Action: protocol.ActionPublished, StreamID: streamName}); err != nil {
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

// close leaves the room; a WHEP player ends its session, and reports
// whether the server took the DELETE.
func (p *participant) close() error {
	if p.whep != nil {
		return p.whep.close()
	}
	p.ss.close()
	p.closeMedia()
	return nil
}
