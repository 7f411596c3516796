// Package sfu is the app's selective forwarding unit, built on Pion. Each
// participant publishes its tracks once and receives everyone else's; the
// server forwards RTP without decoding it. It knows nothing of rooms'
// policy: app decides who is in an SFU room and relays the signaling.
package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"meet/sfu/codec"
)

// Config sets up the SFU's networking.
type Config struct {
	// UDPPort is the one UDP port all ICE traffic uses. 0 picks a free
	// port (tests).
	UDPPort int
	// ICETCP also listens for ICE over TCP (RFC 6544, passive candidates),
	// for clients whose networks block UDP: schools and offices often do.
	ICETCP bool
	// TCPPort is the TCP port of ICE over TCP when ICETCP is set; 0 takes
	// the UDP port's number.
	TCPPort int
	// PublicIP, when set, is announced instead of the host's addresses
	// (NAT 1:1: Docker, cloud VMs).
	PublicIP string
	Logger   *slog.Logger
	// OnSpeaker, when set, is told each room's dominant speaker whenever
	// it changes (speaker.go), from the room's own goroutine.
	OnSpeaker func(room, peer string)
	// LastN, when above 0, limits each subscriber's videos to those of the
	// room's N most recent speakers (lastn.go).
	LastN int
	// FixedLayers turns the bandwidth estimate off: each viewer gets the
	// layer its tile asks for whatever its link carries (bandwidth.go).
	FixedLayers bool
}

// SFU owns the Pion API and the shared UDP socket.
type SFU struct {
	api  *webrtc.API
	mux  ice.UDPMux
	conn net.PacketConn
	// tcp is the ICE-TCP listener's mux (nil without ICE over TCP).
	tcp     ice.TCPMux
	tcpPort int
	log     *slog.Logger

	mu     sync.Mutex
	rooms  map[string]*Room
	closed bool
	// taps are the rooms whose tracks are tapped (tap.go), by room id.
	taps map[string]TapMaker

	// retired holds the counters of tracks and subscriptions that have
	// ended, so Totals stays monotonic.
	retired counters

	setup *connSetup

	// What every connection is made with; subscribe connections add
	// interceptors of their own (bandwidth.go).
	media    *webrtc.MediaEngine
	settings webrtc.SettingEngine
	// interfaces is the host's network interfaces, read once for many
	// connections (interfaces.go).
	interfaces interfaceSnapshot

	onSpeaker func(room, peer string)
	lastN     int
	// fixedLayers: no subscriber's bandwidth is estimated.
	fixedLayers bool
	// pipedTracks counts the tracks received from other nodes (pipe.go).
	pipedTracks atomic.Uint64
}

// ErrClosed is returned by calls on a closed SFU or room.
var ErrClosed = errors.New("sfu: closed")

// New opens the UDP port (and the TCP one with ICE over TCP) and prepares
// the media engine: the app's codecs (sfu/codec), VP8 and Opus only, so
// that every subscriber can decode what every publisher sends.
func New(cfg Config) (*SFU, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{Port: cfg.UDPPort})
	if err != nil {
		return nil, fmt.Errorf("sfu: listen on UDP port %d: %w", cfg.UDPPort, err)
	}
	// Every participant's media shares this socket: give it room for
	// bursts (the kernel caps this at net.core.rmem_max/wmem_max).
	_ = conn.SetReadBuffer(4 << 20)
	_ = conn.SetWriteBuffer(4 << 20)
	sending, err := newSendConn(conn)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("sfu: UDP port %d: %w", cfg.UDPPort, err)
	}
	s := &SFU{mux: webrtc.NewICEUDPMux(nil, sending), conn: conn, log: cfg.Logger, rooms: map[string]*Room{}, taps: map[string]TapMaker{}, setup: newConnSetup(setupSlotsPerCore*runtime.GOMAXPROCS(0), setupHold), onSpeaker: cfg.OnSpeaker, lastN: cfg.LastN, fixedLayers: cfg.FixedLayers}
	if cfg.ICETCP {
		if err := s.listenTCP(cfg.TCPPort, cfg.UDPPort); err != nil {
			_ = s.mux.Close()
			return nil, err
		}
	}
	if s.api, err = s.newAPI(cfg); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// listenTCP opens the ICE-TCP port: port, or the UDP port's number. When
// the UDP port was any free one (udpPort 0: tests), its number may be
// taken on TCP, and any free TCP port does as well.
func (s *SFU) listenTCP(port, udpPort int) error {
	anyPortWillDo := port == 0 && udpPort == 0
	if port == 0 {
		port = s.Port()
	}
	listener, err := net.ListenTCP("tcp4", &net.TCPAddr{Port: port})
	if err != nil && anyPortWillDo {
		listener, err = net.ListenTCP("tcp4", &net.TCPAddr{})
	}
	if err != nil {
		return fmt.Errorf("sfu: listen on TCP port %d for ICE over TCP: %w", port, err)
	}
	s.tcpPort = listener.Addr().(*net.TCPAddr).Port
	s.tcp = webrtc.NewICETCPMux(nil, listener, tcpReadQueue)
	return nil
}

// tcpReadQueue is how many packets read from one ICE-TCP connection wait
// for its reader. Pion makes this queue for every connection's passive TCP
// candidate, whether a client ever uses TCP or not. It was 8 Ki packets,
// taken for bytes: 458 KB of pointers per connection for the collector to
// clear and scan, 137 MB for a class of 300. A full queue holds the
// connection's reader, and TCP's flow control then holds the sender.
const tcpReadQueue = 64

// newAPI builds the Pion API every connection of the SFU is made with.
func (s *SFU) newAPI(cfg Config) (*webrtc.API, error) {
	media := &webrtc.MediaEngine{}
	if err := codec.Register(media); err != nil {
		return nil, err
	}
	// A simulcast publisher sends each layer as its own stream, named by
	// the RID extension (layers.go).
	for _, uri := range []string{sdp.SDESMidURI, sdp.SDESRTPStreamIDURI, sdp.SDESRepairRTPStreamIDURI} {
		if err := media.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, err
		}
	}
	// Each audio packet's level, for the active speaker (speaker.go).
	if err := media.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	// NACKs to publishers, sender and receiver reports, and TWCC feedback
	// to publishers, all from pion/interceptor. Subscribers' NACKs are
	// answered by the downTracks from each track's one packet cache, not
	// by Pion's responder, which keeps a copy of every packet per
	// subscriber.
	registry := &interceptor.Registry{}
	nackGenerator, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, err
	}
	registry.Add(nackGenerator)
	if err := webrtc.ConfigureRTCPReports(registry); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureTWCCSender(media, registry); err != nil {
		return nil, err
	}

	var settings webrtc.SettingEngine
	settings.SetICEUDPMux(s.mux)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	if s.tcp != nil {
		settings.SetICETCPMux(s.tcp)
		networks = append(networks, webrtc.NetworkTypeTCP4)
	}
	settings.SetNetworkTypes(networks)
	// Loopback candidates let clients on the same host (and the tests, in
	// a network namespace that has only lo) reach the SFU. Not with a
	// public IP: NAT 1:1 maps every host candidate to it, and the loopback
	// one, gathered first, would take the public address's ICE-TCP slot
	// and leave the TCP checks that arrive there unanswered.
	settings.SetIncludeLoopbackCandidate(cfg.PublicIP == "")
	// mDNS candidates would only add a lookup nobody on a server can answer.
	settings.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if cfg.PublicIP != "" {
		settings.SetNAT1To1IPs([]string{cfg.PublicIP}, webrtc.ICECandidateTypeHost)
	}
	// AEAD-GCM costs about a sixth of AES-CM per packet. Taking the DTLS
	// server role where we answer lets our preference decide.
	settings.SetSRTPProtectionProfiles(
		dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AEAD_AES_256_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	if err := settings.SetAnsweringDTLSRole(webrtc.DTLSRoleServer); err != nil {
		return nil, err
	}
	// DTLS's cookie exchange (HelloVerifyRequest) proves that a client owns
	// its source address before the server answers with its certificate,
	// so that a forged address cannot aim that answer at a victim. Over ICE
	// the answer can only go to the selected candidate pair, whose remote
	// address answered a connectivity check signed with the session's ICE
	// password: the exchange would only add a round trip to every join.
	settings.SetDTLSInsecureSkipHelloVerify(true)
	s.media, s.settings = media, settings
	return webrtc.NewAPI(webrtc.WithMediaEngine(media), webrtc.WithInterceptorRegistry(registry), webrtc.WithSettingEngine(settings)), nil
}

// Port is the UDP port the SFU listens on.
func (s *SFU) Port() int {
	return s.conn.LocalAddr().(*net.UDPAddr).Port
}

// TCPPort is the port of ICE over TCP, or 0 without it.
func (s *SFU) TCPPort() int {
	return s.tcpPort
}

// Room returns the SFU room with the given id, creating it if needed.
func (s *SFU) Room(id string) (*Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	r, ok := s.rooms[id]
	if !ok {
		r = newRoom(s, id)
		r.tapMaker = s.taps[id]
		s.rooms[id] = r
		if s.onSpeaker != nil || s.lastN > 0 {
			go r.detectSpeakers(s.onSpeaker)
		}
	}
	return r, nil
}

// forget drops an empty room from the registry.
func (s *SFU) forget(r *Room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.peers) > 0 && !r.closed {
		return // someone joined since the last one left
	}
	r.forgotten = true
	if s.rooms[r.id] == r {
		delete(s.rooms, r.id)
	}
}

// Close ends every room and releases the UDP port (and the TCP one).
func (s *SFU) Close() error {
	s.mu.Lock()
	s.closed = true
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.Close()
	}
	if s.tcp != nil {
		_ = s.tcp.Close()
	}
	return s.mux.Close()
}

// Totals sums the forwarding counters of every room, live and ended, since
// the SFU started. Peers and Tracks count what is live now.
func (s *SFU) Totals() Stats {
	s.mu.Lock()
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	var t Stats
	s.retired.addTo(&t)
	for _, r := range rooms {
		t.Add(r.Stats())
	}
	return t
}

// retireTrack moves an ended track's own counters to the totals; its
// subscriptions retire themselves as they close.
func (s *SFU) retireTrack(up *upTrack) {
	up.setTap(nil)
	up.counters.retire(&s.retired)
}
