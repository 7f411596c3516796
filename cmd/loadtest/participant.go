package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

// newClientAPI is what every Pion client of the tool uses: VP8 and Opus,
// NACKs and receiver reports as a browser sends them, GCM first, host
// candidates (loopback included), no mDNS.
func newClientAPI() (*webrtc.API, error) {
	return newPionAPI([]webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}, false)
}

// newPionAPI builds a Pion API for loopback tests with the given video
// feedback, and TWCC on the sending side when twccSender is set.
func newPionAPI(videoFeedback []webrtc.RTCPFeedback, twccSender bool) (*webrtc.API, error) {
	media := &webrtc.MediaEngine{}
	if err := media.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFeedback},
		PayloadType:        96,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	if err := media.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		PayloadType:        111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	registry := &interceptor.Registry{}
	if err := webrtc.ConfigureNack(media, registry); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureRTCPReports(registry); err != nil {
		return nil, err
	}
	if twccSender {
		if err := webrtc.ConfigureTWCCSender(media, registry); err != nil {
			return nil, err
		}
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AEAD_AES_256_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	return webrtc.NewAPI(webrtc.WithMediaEngine(media), webrtc.WithInterceptorRegistry(registry), webrtc.WithSettingEngine(se)), nil
}

// rxStats is what all receivers of a run share.
type rxStats struct {
	measuring atomic.Bool
	latency   histogram
}

// participant is one Pion client in a room: it always subscribes through
// the SFU, and publishes synthetic camera and microphone when asked to.
type participant struct {
	srv  *server
	api  *webrtc.API
	rx   *rxStats
	ss   *session
	self protocol.Participant

	sub *webrtc.PeerConnection
	pub *webrtc.PeerConnection

	joinStart  time.Time
	joinedSFU  bool         // the welcome already said sfu
	firstFrame atomic.Int64 // unix nanoseconds of the first keyframe packet
	// Steps of the join, to tell where join time goes: the first
	// subscribe offer, and the subscribe connection connected (ICE+DTLS).
	offerAt, connectedAt atomic.Int64

	mu     sync.Mutex
	tracks map[string]string  // subscribe mid → "participantId|source"
	recv   map[string]*seqSet // "participantId|source" → stamps received
	errs   []string
	sfu    chan struct{} // closed once the room is in SFU mode
	sfuOne sync.Once

	video, audio *stream // when publishing
}

// joinParticipant joins roomID with a new identity and answers the SFU's
// subscribe offers from then on.
func joinParticipant(ctx context.Context, srv *server, api *webrtc.API, rx *rxStats, id identity, roomID string, spectator bool) (*participant, error) {
	p := &participant{srv: srv, api: api, rx: rx, tracks: map[string]string{}, recv: map[string]*seqSet{}, sfu: make(chan struct{})}
	var err error
	if p.sub, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return nil, err
	}
	p.sub.OnICECandidate(func(c *webrtc.ICECandidate) { p.trickle(protocol.PCSubscribe, c) })
	p.sub.OnTrack(p.onTrack)
	p.sub.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			p.connectedAt.CompareAndSwap(0, time.Now().UnixNano())
		}
	})
	p.joinStart = time.Now()
	p.ss, err = srv.join(ctx, id, roomID, spectator, handlers{sfu: p.onSFU, mode: p.onMode, error: p.onError})
	if err != nil {
		_ = p.sub.Close()
		return nil, err
	}
	p.self = p.ss.welcome.Self
	if p.ss.welcome.Mode == protocol.ModeSFU {
		p.joinedSFU = true
		p.sfuOne.Do(func() { close(p.sfu) })
	}
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

func (p *participant) trickle(pc string, c *webrtc.ICECandidate) {
	msg := protocol.SFU{Type: protocol.TypeSFU, PC: pc, Kind: protocol.KindCandidate}
	if c != nil {
		init := c.ToJSON()
		msg.Candidate = &protocol.Candidate{Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex}
	}
	_ = p.ss.send(msg)
}

// onSFU applies one negotiation message from the SFU.
func (p *participant) onSFU(m protocol.SFU) {
	pc := p.sub
	if m.PC == protocol.PCPublish {
		p.mu.Lock()
		pc = p.pub
		p.mu.Unlock()
		if pc == nil {
			p.onError(protocol.Error{Code: "unexpected", Ref: "sfu", Message: "publish message before an offer"})
			return
		}
	}
	switch m.Kind {
	case protocol.KindOffer:
		p.offerAt.CompareAndSwap(0, time.Now().UnixNano())
		p.mu.Lock()
		for mid, what := range m.Tracks {
			p.tracks[mid] = what
		}
		p.mu.Unlock()
		err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP})
		var answer webrtc.SessionDescription
		if err == nil {
			answer, err = pc.CreateAnswer(nil)
		}
		if err == nil {
			err = pc.SetLocalDescription(answer)
		}
		if err != nil {
			p.onError(protocol.Error{Code: "negotiation", Ref: "sfu", Message: err.Error()})
			return
		}
		_ = p.ss.send(protocol.SFU{Type: protocol.TypeSFU, PC: protocol.PCSubscribe, Kind: protocol.KindAnswer, SDP: answer.SDP})
	case protocol.KindAnswer:
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
			p.onError(protocol.Error{Code: "negotiation", Ref: "sfu", Message: err.Error()})
		}
	case protocol.KindCandidate:
		if m.Candidate != nil {
			_ = pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex})
		}
	}
}

// onTrack reads one subscribed track until it ends, recording each stamp,
// and its latency while the run measures.
func (p *participant) onTrack(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	var key string
	for _, tr := range p.sub.GetTransceivers() {
		if tr.Receiver() == recv {
			p.mu.Lock()
			key = p.tracks[tr.Mid()]
			p.mu.Unlock()
		}
	}
	set := p.received(key)
	video := track.Kind() == webrtc.RTPCodecTypeVideo
	buf := make([]byte, 1500)
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		now := time.Now()
		payload := rtpPayload(buf[:n])
		seq, sent, ok := readStamp(payload)
		if !ok {
			continue
		}
		set.add(seq)
		// A viewer shows a picture once a keyframe arrives: the first
		// packet of one (VP8: start of partition 0, P bit clear).
		if video && payload[0] == 0x10 && payload[1]&0x01 == 0 {
			p.firstFrame.CompareAndSwap(0, now.UnixNano())
		}
		if p.rx.measuring.Load() {
			p.rx.latency.record(now.Sub(sent))
		}
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
	pub, err := p.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.pub = pub
	p.mu.Unlock()
	pub.OnICECandidate(func(c *webrtc.ICECandidate) { p.trickle(protocol.PCPublish, c) })
	streamID := "lt-" + p.self.ID
	videoTrack, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "camera", streamID)
	if err != nil {
		return err
	}
	audioTrack, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "microphone", streamID)
	if err != nil {
		return err
	}
	p.video = newStream(p.self.ID+"|"+protocol.SourceCamera, true, videoTrack)
	p.audio = newStream(p.self.ID+"|"+protocol.SourceMicrophone, false, audioTrack)
	videoSender, err := pub.AddTrack(videoTrack)
	if err != nil {
		return err
	}
	if _, err := pub.AddTrack(audioTrack); err != nil {
		return err
	}
	go func() {
		// The SFU asks for keyframes for its new subscribers: the next
		// frame is one, as an encoder would do.
		for {
			pkts, _, err := videoSender.ReadRTCP()
			if err != nil {
				return
			}
			for _, pkt := range pkts {
				switch pkt.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					p.video.wantKey.Store(true)
				}
			}
		}
	}()
	offer, err := pub.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := pub.SetLocalDescription(offer); err != nil {
		return err
	}
	labels := map[string]string{}
	for _, tr := range pub.GetTransceivers() {
		switch tr.Sender().Track() {
		case videoTrack:
			labels[tr.Mid()] = protocol.SourceCamera
		case audioTrack:
			labels[tr.Mid()] = protocol.SourceMicrophone
		}
	}
	if err := p.ss.send(protocol.SFU{Type: protocol.TypeSFU, PC: protocol.PCPublish, Kind: protocol.KindOffer, SDP: offer.SDP, Tracks: labels}); err != nil {
		return err
	}
	for _, source := range []string{protocol.SourceCamera, protocol.SourceMicrophone} {
		if err := p.ss.send(protocol.Media{Type: protocol.TypeMedia, Source: source, Action: protocol.ActionPublished, StreamID: streamID}); err != nil {
			return err
		}
	}
	return nil
}

func (p *participant) errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

func (p *participant) close() {
	p.ss.close()
	_ = p.sub.Close()
	p.mu.Lock()
	pub := p.pub
	p.mu.Unlock()
	if pub != nil {
		_ = pub.Close()
	}
}
