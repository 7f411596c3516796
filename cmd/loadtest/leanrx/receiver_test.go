package leanrx

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
	"meet/sfu/codec"
)

// sender is a Pion connection that offers a camera and a microphone, as
// the SFU offers a subscriber its tracks, with Pion's NACK responder and
// reports.
type sender struct {
	pc            *webrtc.PeerConnection
	camera, mic   *webrtc.TrackLocalStaticRTP
	cameraRTCP    chan rtcp.Packet
	cameraSSRC    uint32
	tracksByMid   map[string]string
	answerApplied chan error
	connected     chan struct{}
}

func newSender(t *testing.T) *sender {
	t.Helper()
	media := &webrtc.MediaEngine{}
	if err := codec.Register(media); err != nil {
		t.Fatal(err)
	}
	registry := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(media, registry); err != nil {
		t.Fatal(err)
	}
	var settings webrtc.SettingEngine
	settings.SetIncludeLoopbackCandidate(true)
	settings.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	settings.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	settings.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	api := webrtc.NewAPI(webrtc.WithMediaEngine(media), webrtc.WithInterceptorRegistry(registry), webrtc.WithSettingEngine(settings))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	s := &sender{pc: pc, cameraRTCP: make(chan rtcp.Packet, 64), tracksByMid: map[string]string{}, answerApplied: make(chan error, 4), connected: make(chan struct{})}
	var once sync.Once
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(s.connected) })
		}
	})
	s.camera, _ = webrtc.NewTrackLocalStaticRTP(codec.VP8(), "camera", "s")
	s.mic, _ = webrtc.NewTrackLocalStaticRTP(codec.Opus(), "microphone", "s")
	for _, track := range []*webrtc.TrackLocalStaticRTP{s.camera, s.mic} {
		tr, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			t.Fatal(err)
		}
		if track == s.camera {
			s.cameraSSRC = uint32(tr.Sender().GetParameters().Encodings[0].SSRC)
			go func() {
				for {
					packets, _, err := tr.Sender().ReadRTCP()
					if err != nil {
						return
					}
					for _, p := range packets {
						select {
						case s.cameraRTCP <- p:
						default:
						}
					}
				}
			}()
		}
	}
	return s
}

// offer makes the sender's offer, candidates included, as a protocol
// message naming its mids.
func (s *sender) offer(t *testing.T) protocol.SFU {
	t.Helper()
	offer, err := s.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(s.pc)
	if err := s.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	tracks := map[string]string{}
	for _, tr := range s.pc.GetTransceivers() {
		key := "pub|" + tr.Sender().Track().ID()
		tracks[tr.Mid()] = key
	}
	return protocol.SFU{Type: protocol.TypeSFU, PC: protocol.PCSubscribe, Kind: protocol.KindOffer, SDP: s.pc.LocalDescription().SDP, Tracks: tracks}
}

type received struct {
	key     string
	video   bool
	payload []byte
}

func TestReceiverGetsTracksAndSendsRTCP(t *testing.T) {
	cert, err := NewCertificate()
	if err != nil {
		t.Fatal(err)
	}
	s := newSender(t)
	var (
		mu      sync.Mutex
		got     []received
		iceDone = make(chan struct{})
		done    = make(chan struct{})
	)
	r, err := New(Config{
		Certificate: cert,
		Send: func(m protocol.SFU) error {
			s.answerApplied <- s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
			return nil
		},
		OnPacket: func(key string, video bool, payload []byte) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, received{key, video, append([]byte(nil), payload...)})
		},
		OnICEConnected: func() { close(iceDone) },
		OnConnected:    func() { close(done) },
		OnError:        func(err error) { t.Error(err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Handle(s.offer(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-s.answerApplied; err != nil {
		t.Fatalf("the sender refused the answer: %v", err)
	}
	for _, step := range []chan struct{}{iceDone, done, s.connected} {
		select {
		case <-step:
		case <-time.After(10 * time.Second):
			t.Fatal("the receiver never connected")
		}
	}

	// Twenty camera packets with the 11th never sent: the receiver asks
	// for it; and one microphone packet with padding.
	for seq := uint16(1); seq <= 20; seq++ {
		if seq == 11 {
			continue
		}
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 3000}, Payload: []byte{0x10, byte(seq), 1, 2, 3}}
		if err := s.camera.WriteRTP(pkt); err != nil {
			t.Fatal(err)
		}
	}
	mic := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 7, Timestamp: 960, Padding: true}, Payload: []byte{9, 9}, PaddingSize: 3}
	if err := s.mic.WriteRTP(mic); err != nil {
		t.Fatal(err)
	}

	var nacked, reported bool
	deadline := time.After(5 * time.Second)
	for !nacked || !reported {
		select {
		case p := <-s.cameraRTCP:
			switch p := p.(type) {
			case *rtcp.TransportLayerNack:
				if p.MediaSSRC == s.cameraSSRC && len(p.Nacks) > 0 && p.Nacks[0].PacketID == 11 {
					nacked = true
				}
			case *rtcp.ReceiverReport:
				for _, rep := range p.Reports {
					if rep.SSRC == s.cameraSSRC && rep.LastSequenceNumber&0xffff == 20 {
						reported = true
					}
				}
			}
		case <-deadline:
			t.Fatalf("the sender got no NACK of 11 (%v) or no report up to 20 (%v)", nacked, reported)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	var camera, microphone int
	for _, g := range got {
		switch {
		case g.key == "pub|camera" && g.video && len(g.payload) == 5 && g.payload[0] == 0x10:
			camera++
		case g.key == "pub|microphone" && !g.video && bytes.Equal(g.payload, []byte{9, 9}):
			microphone++
		default:
			t.Errorf("unexpected packet %+v", g)
		}
	}
	if camera != 19 || microphone != 1 {
		t.Errorf("got %d camera and %d microphone packets, want 19 and 1", camera, microphone)
	}
}

func TestTrackStatsCountsLossAcrossTheWrap(t *testing.T) {
	st := newTrackStats(1, offerTrack{clockRate: 90000})
	now := time.Now()
	for _, seq := range []uint16{65533, 65534, 1, 2, 0} { // 65535 lost, 0 late
		st.received(seq, 0, now)
	}
	if got := st.nacks(); len(got) != 1 || got[0] != 65535 {
		t.Fatalf("nacks = %v, want [65535]", got)
	}
	rep := st.report(now)
	if rep.LastSequenceNumber != 1<<16+2 || rep.TotalLost != 1 {
		t.Errorf("report: highest %d lost %d, want %d and 1", rep.LastSequenceNumber, rep.TotalLost, 1<<16+2)
	}
	if rep.FractionLost != 256/6 {
		t.Errorf("fraction lost %d, want %d (1 of 6)", rep.FractionLost, 256/6)
	}
	for range nackTries {
		st.nacks()
	}
	if got := st.nacks(); len(got) != 0 {
		t.Errorf("still asking for %v after %d tries", got, nackTries)
	}
	// A jump is not a loss to repair.
	st.received(2+nackWindow+10, 0, now)
	if got := st.nacks(); len(got) != 0 {
		t.Errorf("a jump asked for %d packets", len(got))
	}
}

// TestMediaBeforeDTLSIsKept: the server sends media as soon as its side of
// DTLS is done, a moment before ours; what comes meanwhile (a new viewer's
// first keyframe) is decrypted once the keys are there, in order.
func TestMediaBeforeDTLSIsKept(t *testing.T) {
	key, salt := make([]byte, 16), make([]byte, 12)
	seal, err := srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	open, err := srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm, srtp.SRTPReplayProtection(replayWindow))
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	r := &Receiver{
		cfg:    Config{OnPacket: func(_ string, _ bool, payload []byte) { got = append(got, payload[0]) }},
		tracks: map[uint32]*trackStats{7: newTrackStats(7, offerTrack{key: "pub|camera", video: true, clockRate: 90000})},
	}
	plain, header := make([]byte, maxDatagram), &rtp.Header{}
	send := func(seq uint16) {
		raw, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 7, SequenceNumber: seq}, Payload: []byte{byte(seq)}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := seal.EncryptRTP(nil, raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.onRTP(sealed, plain, header)
	}
	send(1)
	send(2)
	if len(got) != 0 {
		t.Fatalf("decrypted %v before the keys were there", got)
	}
	r.decrypt.Store(open)
	send(3)
	if !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Fatalf("got payloads %v, want [1 2 3]", got)
	}
}
