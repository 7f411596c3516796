// Package turn is the app's built-in TURN server (RFC 8656), for the
// participants whose networks block the direct UDP path to the SFU: it
// relays their media over UDP, TCP or TLS to port 3478 (5349 for TLS).
//
// It is pion/turn with the policy a public relay needs:
//
//   - Ephemeral credentials in the TURN REST scheme (see Credentials), so an
//     external coturn with the same secret accepts the same credentials.
//   - Only live participants: a well-signed credential is still refused
//     unless Config.Allowed says its user is in a live room right now. This
//     is asked on every authenticated request, so a user who left loses the
//     relay at its next refresh.
//   - A peer filter. A TURN server relays to whatever address the client
//     names, so without one it is a proxy from the internet into the
//     server's own loopback, its private network and the cloud metadata
//     service. Permissions and channels to any address that is not public
//     unicast are refused (see peerForbidden), except Config.AllowPeers.
//   - Caps on live allocations per user and per client IP, so that one
//     participant cannot exhaust the server's ports.
//   - Counters (Stats) of allocations, refusals and relayed bytes.
//
// Only UDP relays are offered (what WebRTC uses), in the family of
// Config.ListenIP.
package turn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
)

// DefaultPort is the IANA port for TURN over UDP and TCP; DefaultTLSPort is
// the one for TURN over TLS. Config uses neither implicitly: there, 0 means
// "any free port", which is what tests want.
const (
	DefaultPort    = 3478
	DefaultTLSPort = 5349
)

// DefaultRealm is the realm when Config.Realm is empty. The realm only salts
// the long-term key; clients learn it from the server.
const DefaultRealm = "meet"

// Config configures a Server.
type Config struct {
	// ListenIP is the address the UDP, TCP and TLS listeners and the relay
	// sockets bind to; the zero value means 0.0.0.0.
	ListenIP netip.Addr
	// Port is the port of both the UDP and the TCP listener; 0 picks a free
	// one (see UDPAddr). The app's default is DefaultPort.
	Port int
	// TLSConfig turns on TURN over TLS (on TCP) at TLSPort when not nil.
	TLSConfig *tls.Config
	// TLSPort is the TLS listener's port; 0 picks a free one.
	TLSPort int
	// Realm defaults to DefaultRealm.
	Realm string
	// RelayIP is the address announced for relays (the public IP behind a
	// 1:1 NAT). It defaults to ListenIP, and must be set when ListenIP is
	// unspecified.
	RelayIP netip.Addr
	// Credentials checks the TURN username and password; Secret is required.
	Credentials Credentials
	// Allowed reports whether a user id may use the relay now (for the app:
	// is it a participant of a live room). Required. It is called for every
	// authenticated request on pion's read loop, one goroutine for all UDP
	// clients, so it must be quick and must not block.
	Allowed func(userID string) bool
	// AllowPeers are exceptions to the peer filter (tests allow 127.0.0.1/32).
	AllowPeers []netip.Prefix
	// MaxAllocationsPerUser caps a user's live allocations; 0 means
	// DefaultMaxAllocationsPerUser.
	MaxAllocationsPerUser int
	// MaxAllocationsPerIP caps the live allocations of one client IPv4
	// address or IPv6 /64; 0 means DefaultMaxAllocationsPerIP.
	MaxAllocationsPerIP int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Server is a running TURN server.
type Server struct {
	pion        *pionturn.Server
	udp         net.PacketConn
	tcp         net.Listener
	tls         net.Listener // nil without TLS
	credentials Credentials
	allowed     func(userID string) bool
	allowPeers  []netip.Prefix
	realm       string
	ledger      *allocationLedger
	counters    *counters
	log         *slog.Logger

	closeOnce sync.Once
	closeErr  error
}

// New binds the listeners and starts serving.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	server := &Server{
		credentials: cfg.Credentials,
		allowed:     cfg.Allowed,
		allowPeers:  cfg.AllowPeers,
		realm:       cfg.Realm,
		ledger:      newAllocationLedger(cfg.MaxAllocationsPerUser, cfg.MaxAllocationsPerIP),
		counters:    newCounters(),
		log:         cfg.Logger,
	}
	if server.udp, server.tcp, err = listenUDPAndTCP(cfg.ListenIP, cfg.Port); err != nil {
		return nil, err
	}
	if cfg.TLSConfig != nil {
		if server.tls, err = listenTLS(cfg.ListenIP, cfg.TLSPort, cfg.TLSConfig); err != nil {
			server.closeListeners()

			return nil, err
		}
	}
	relays := &relayAddressGenerator{
		bindIP:   cfg.ListenIP,
		relayIP:  cfg.RelayIP,
		ledger:   server.ledger,
		counters: server.counters,
		log:      server.log,
	}
	if server.pion, err = pionturn.NewServer(server.pionConfig(relays)); err != nil {
		server.closeListeners()

		return nil, fmt.Errorf("turn: start server: %w", err)
	}
	server.log.Info("turn server listening", "udp", server.UDPAddr(), "tcp", server.TCPAddr(),
		"tls", server.TLSAddr(), "relay_ip", cfg.RelayIP, "realm", cfg.Realm)

	return server, nil
}

func (cfg Config) withDefaults() (Config, error) {
	if len(cfg.Credentials.Secret) == 0 {
		return cfg, errors.New("turn: Credentials.Secret is required")
	}
	if cfg.Allowed == nil {
		return cfg, errors.New("turn: Allowed is required")
	}
	if cfg.MaxAllocationsPerUser < 0 || cfg.MaxAllocationsPerIP < 0 {
		return cfg, errors.New("turn: allocation caps must not be negative")
	}
	if !validPort(cfg.Port) || !validPort(cfg.TLSPort) {
		return cfg, errors.New("turn: ports must be within 0-65535")
	}
	if cfg.TLSConfig != nil && len(cfg.TLSConfig.Certificates) == 0 &&
		cfg.TLSConfig.GetCertificate == nil && cfg.TLSConfig.GetConfigForClient == nil {
		return cfg, errors.New("turn: TLSConfig has no certificate")
	}
	if !cfg.ListenIP.IsValid() {
		cfg.ListenIP = netip.IPv4Unspecified()
	}
	cfg.ListenIP = cfg.ListenIP.Unmap()
	if !cfg.RelayIP.IsValid() {
		cfg.RelayIP = cfg.ListenIP
	}
	cfg.RelayIP = cfg.RelayIP.Unmap()
	if cfg.RelayIP.IsUnspecified() {
		return cfg, errors.New("turn: RelayIP is required when listening on all addresses")
	}
	if cfg.RelayIP.Is4() != cfg.ListenIP.Is4() {
		return cfg, errors.New("turn: RelayIP and ListenIP must be of the same address family")
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultRealm
	}
	if cfg.MaxAllocationsPerUser == 0 {
		cfg.MaxAllocationsPerUser = DefaultMaxAllocationsPerUser
	}
	if cfg.MaxAllocationsPerIP == 0 {
		cfg.MaxAllocationsPerIP = DefaultMaxAllocationsPerIP
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}

	return cfg, nil
}

func validPort(port int) bool { return port >= 0 && port <= 65535 }

func (s *Server) pionConfig(relays *relayAddressGenerator) pionturn.ServerConfig {
	config := pionturn.ServerConfig{
		PacketConnConfigs: []pionturn.PacketConnConfig{{
			PacketConn: s.udp, RelayAddressGenerator: relays, PermissionHandler: s.permitPeer,
		}},
		ListenerConfigs: []pionturn.ListenerConfig{{
			Listener: s.tcp, RelayAddressGenerator: relays, PermissionHandler: s.permitPeer,
		}},
		LoggerFactory: slogLoggerFactory{log: s.log},
		Realm:         s.realm,
		AuthHandler:   s.authenticate,
		QuotaHandler:  s.quotaAllows,
		EventHandler:  pionturn.EventHandler{OnAuth: s.onAuthVerdict},
	}
	if s.tls != nil {
		config.ListenerConfigs = append(config.ListenerConfigs, pionturn.ListenerConfig{
			Listener: s.tls, RelayAddressGenerator: relays, PermissionHandler: s.permitPeer,
		})
	}

	return config
}

// Close stops the listeners and closes every client connection; pion then
// closes the allocations, each relay socket freeing its slot as it goes.
// Calling Close again returns the first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		// pion's Close closes the UDP socket and every listener, and closing
		// our tracking listeners closes their accepted connections too.
		s.closeErr = s.pion.Close()
	})

	return s.closeErr
}

// closeListeners undoes a New that failed half way.
func (s *Server) closeListeners() {
	for _, closer := range []interface{ Close() error }{s.udp, s.tcp, s.tls} {
		if closer != nil {
			_ = closer.Close()
		}
	}
}

// UDPAddr is the bound address of the UDP listener.
func (s *Server) UDPAddr() netip.AddrPort { return addrPortOf(s.udp.LocalAddr()) }

// TCPAddr is the bound address of the TCP listener (same port as UDPAddr).
func (s *Server) TCPAddr() netip.AddrPort { return addrPortOf(s.tcp.Addr()) }

// TLSAddr is the bound address of the TLS listener, or the zero AddrPort
// without TLS.
func (s *Server) TLSAddr() netip.AddrPort {
	if s.tls == nil {
		return netip.AddrPort{}
	}

	return addrPortOf(s.tls.Addr())
}

// Stats returns the current counters.
func (s *Server) Stats() Stats { return s.counters.snapshot() }

func addrPortOf(addr net.Addr) netip.AddrPort {
	switch a := addr.(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	case *net.TCPAddr:
		return a.AddrPort()
	default:
		return netip.AddrPort{}
	}
}

// authenticate is pion's AuthHandler, called for every authenticated request
// (Allocate, Refresh, CreatePermission, ChannelBind). It returns the key the
// request's MESSAGE-INTEGRITY must match and, as pion's "user id", the
// allocation owner (client IP and user id; see allocationOwner). Refusals
// are counted for Allocate requests only, since those are what Stats counts.
func (s *Server) authenticate(request *pionturn.RequestAttributes) (string, []byte, bool) {
	isAllocate := request.Method == stun.MethodAllocate
	userID, key, err := s.credentials.longTermKey(request.Username, s.realm)
	if err != nil {
		reason := RefusedBadCredential
		if errors.Is(err, ErrExpiredCredential) {
			reason = RefusedExpired
		}
		s.refuseAuth(isAllocate, reason, request, "err", err)

		return "", nil, false
	}
	if !s.allowed(userID) {
		s.refuseAuth(isAllocate, RefusedNotAllowed, request, "user", userID)

		return "", nil, false
	}
	clientIP, ok := addrIP(request.SrcAddr)
	if !ok {
		return "", nil, false
	}

	return allocationOwner{clientIP: clientIP, userID: userID}.String(), key, true
}

func (s *Server) refuseAuth(isAllocate bool, reason RefusalReason, request *pionturn.RequestAttributes, attrs ...any) {
	if isAllocate {
		s.counters.refuse(reason)
	}
	s.log.Debug("turn request refused", append([]any{"reason", reason, "method", request.Method.String(),
		"client", request.SrcAddr.String()}, attrs...)...)
}

// onAuthVerdict counts wrong passwords: the AuthHandler only hands pion the
// expected key, and pion reports the failed MESSAGE-INTEGRITY check here.
func (s *Server) onAuthVerdict(srcAddr, _ net.Addr, _, username, _, method string, verdict bool) {
	if verdict {
		return
	}
	isAllocate := method == stun.MethodAllocate.String()
	if isAllocate {
		s.counters.refuse(RefusedBadCredential)
	}
	s.log.Debug("turn request refused", "reason", RefusedBadCredential, "method", method,
		"client", srcAddr.String(), "username", username)
}

// quotaAllows is pion's QuotaHandler: the early, non-binding cap check that
// lets the client hear 486 (Allocation Quota Reached). The binding one is
// relayAddressGenerator.AllocatePacketConn.
func (s *Server) quotaAllows(ownerText, _ string, _ net.Addr) bool {
	owner, err := parseOwner(ownerText)
	if err != nil {
		return false
	}
	reason, ok := s.ledger.admits(owner)
	if !ok {
		s.counters.refuse(reason)
		s.log.Info("turn allocation refused", "reason", reason, "user", owner.userID, "client", owner.clientIP)
	}

	return ok
}

// permitPeer is pion's PermissionHandler for CreatePermission, ChannelBind
// and Connect. Browsers routinely ask for permissions to the other side's
// private host candidates, so a refusal here is normal ICE behaviour, not
// necessarily an attack; it is logged at Debug.
func (s *Server) permitPeer(clientAddr net.Addr, peerIP net.IP) bool {
	peer, _ := netip.AddrFromSlice(peerIP)
	if peerForbidden(peer, s.allowPeers) {
		s.counters.peersRefused.Add(1)
		s.log.Debug("turn peer refused", "client", clientAddr.String(), "peer", peerIP.String())

		return false
	}

	return true
}
