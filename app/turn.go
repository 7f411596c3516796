package app

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"meet/protocol"
	"meet/turn"
)

// TURNConfig is the TURN service the browsers are told about: the built-in
// server (package turn), or an external one sharing the secret (coturn's
// use-auth-secret). Two people behind home routers reach each other through
// its STUN, and a network that blocks UDP still reaches everyone through a
// relay over TCP or TLS.
type TURNConfig struct {
	// Enabled runs the built-in server on Port (UDP and TCP).
	Enabled bool
	// Port is the built-in server's port; 0 picks a free one (tests).
	Port int
	// TLSPort, with TLS, adds TURN over TLS; 0 is off.
	TLSPort int
	TLS     *tls.Config
	// ListenIP is where the built-in server listens; zero is every address.
	ListenIP netip.Addr
	// RelayIP is the address announced for relays (the public one behind
	// a 1:1 NAT); zero takes the machine's first address.
	RelayIP netip.Addr
	// Host is the name or address in the URLs the browsers get; empty
	// takes the host of each participant's own request, which the browser
	// could already resolve.
	Host string
	// External are turn:/turns: URLs of a TURN server run elsewhere that
	// checks credentials with Secret; the built-in one is then not run.
	External []string
	// Secret signs the credentials; TTL is how long one lasts (it must
	// outlast the longest meeting: a relay dies with its credential).
	Secret []byte
	TTL    time.Duration
	// AllowPeers are exceptions to the relay's peer filter (tests).
	AllowPeers []netip.Prefix
	// MaxAllocationsPerUser and MaxAllocationsPerIP cap relays; 0 takes
	// the turn package's defaults.
	MaxAllocationsPerUser, MaxAllocationsPerIP int
}

// turnService issues each participant the ICE servers of its welcome.
type turnService struct {
	cfg    TURNConfig
	creds  turn.Credentials
	server *turn.Server // nil when external or off
	port   int          // the built-in server's bound port
}

// startTURN starts the built-in server, if asked. allowed answers whether
// a user is in a live room.
func startTURN(cfg TURNConfig, log *slog.Logger, allowed func(string) bool) (*turnService, error) {
	t := &turnService{cfg: cfg, creds: turn.Credentials{Secret: cfg.Secret, TTL: cfg.TTL}}
	if !cfg.Enabled || len(cfg.External) > 0 {
		return t, nil
	}
	if len(cfg.Secret) == 0 {
		return nil, errors.New("app: the TURN server needs a secret")
	}
	relayIP := cfg.RelayIP
	if !relayIP.IsValid() {
		relayIP = machineAddress()
	}
	server, err := turn.New(turn.Config{
		ListenIP: cfg.ListenIP, Port: cfg.Port,
		TLSConfig: cfg.TLS, TLSPort: cfg.TLSPort,
		RelayIP:     relayIP,
		Credentials: t.creds,
		Allowed:     allowed,
		AllowPeers:  cfg.AllowPeers,

		MaxAllocationsPerUser: cfg.MaxAllocationsPerUser,
		MaxAllocationsPerIP:   cfg.MaxAllocationsPerIP,
		Logger:                log.With("component", "turn"),
	})
	if err != nil {
		return nil, fmt.Errorf("app: start the TURN server: %w", err)
	}
	t.server = server
	t.port = int(server.UDPAddr().Port())
	log.Info("turn listening", "port", t.port, "tls_port", server.TLSAddr().Port(), "relay_ip", relayIP)
	return t, nil
}

// machineAddress is the first IPv4 address of an interface that is up and
// not loopback, where relays are reachable without a public IP set; a
// machine with none (a test's private namespace) gets loopback.
func machineAddress() netip.Addr {
	ifaces, _ := net.Interfaces()
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := iface.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP.To4()); ok && n.IP.To4() != nil {
					return ip
				}
			}
		}
	}
	return netip.MustParseAddr("127.0.0.1")
}

// close stops the built-in server.
func (t *turnService) close() {
	if t != nil && t.server != nil {
		_ = t.server.Close()
	}
}

// iceServers is what a participant whose page asked on requestHost is
// told: the static servers, then STUN and TURN with its own credentials.
func (t *turnService) iceServers(static []protocol.ICEServer, userID, requestHost string) []protocol.ICEServer {
	out := append([]protocol.ICEServer{}, static...)
	if t == nil || len(t.cfg.Secret) == 0 || (t.server == nil && len(t.cfg.External) == 0) {
		return out
	}
	username, password, _ := t.creds.Issue(userID)
	if len(t.cfg.External) > 0 {
		return append(out, protocol.ICEServer{URLs: t.cfg.External, Username: username, Credential: password})
	}
	host := t.cfg.Host
	if host == "" {
		host = requestHost
		if h, _, err := net.SplitHostPort(requestHost); err == nil {
			host = h
		}
	}
	addr := net.JoinHostPort(host, strconv.Itoa(t.port))
	urls := []string{"turn:" + addr + "?transport=udp", "turn:" + addr + "?transport=tcp"}
	if tls := t.server.TLSAddr(); tls.IsValid() {
		urls = append(urls, "turns:"+net.JoinHostPort(host, strconv.Itoa(int(tls.Port())))+"?transport=tcp")
	}
	return append(out,
		protocol.ICEServer{URLs: []string{"stun:" + addr}},
		protocol.ICEServer{URLs: urls, Username: username, Credential: password})
}
