package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"meet/app"
	"meet/tlsconf"
)

// networkFlags are the ways through networks that are not loopback: the
// built-in TURN server (STUN for people behind home routers, relays for
// networks that block UDP) and ICE over TCP on the SFU.
type networkFlags struct {
	turnPort       int
	turnsPort      int
	turnSecret     string
	turnTTL        time.Duration
	turnExternal   string
	turnAllowPeers string
	// tcpPort is the SFU's ICE-TCP port: -1 the UDP port's number, 0 off.
	tcpPort int
}

func (n *networkFlags) define(fs *flag.FlagSet) {
	fs.IntVar(&n.turnPort, "turn-port", 3478, "port (UDP and TCP) of the built-in STUN/TURN server; 0 turns it off")
	fs.IntVar(&n.turnsPort, "turns-port", 0, "also serve TURN over TLS on this TCP port (e.g. 5349 or 443 on another address); needs a certificate flag; 0 is off")
	fs.StringVar(&n.turnSecret, "turn-secret", "", "shared secret of the TURN credentials (TURN REST, coturn's use-auth-secret); default: generated once into the data directory")
	fs.DurationVar(&n.turnTTL, "turn-ttl", 12*time.Hour, "how long a TURN credential lasts; a relay ends with its credential, so longer than the longest meeting")
	fs.StringVar(&n.turnExternal, "turn-external", "", "turn:/turns: URLs (comma-separated) of an outside TURN server, such as coturn with use-auth-secret and the same -turn-secret, used instead of the built-in one")
	fs.StringVar(&n.turnAllowPeers, "turn-allow-peers", "", "CIDRs (comma-separated) the TURN relay may reach although private or loopback; for tests and closed networks only")
	fs.IntVar(&n.tcpPort, "tcp-port", -1, "TCP port of ICE over TCP on the SFU, for networks that block UDP; -1 (default) is the -udp-port number, 0 turns it off")
}

func (n *networkFlags) check() error {
	for name, v := range map[string]int{"turn-port": n.turnPort, "turns-port": n.turnsPort} {
		if v < 0 || v > 65535 {
			return fmt.Errorf("-%s must be 0-65535, got %d", name, v)
		}
	}
	if n.tcpPort < -1 || n.tcpPort > 65535 {
		return fmt.Errorf("-tcp-port must be -1 (the UDP port's number), 0 (off) or a port, got %d", n.tcpPort)
	}
	if n.turnTTL < time.Minute {
		return fmt.Errorf("-turn-ttl must be at least a minute, got %s", n.turnTTL)
	}
	if n.turnSecret != "" && len(n.turnSecret) < 16 {
		return errors.New("-turn-secret must be at least 16 characters")
	}
	for _, u := range list(n.turnExternal) {
		if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			return fmt.Errorf("-turn-external: %q is not a turn: or turns: URL", u)
		}
	}
	if n.turnExternal != "" && n.turnSecret == "" {
		return errors.New("-turn-external needs -turn-secret, the secret the outside server checks credentials with")
	}
	_, err := n.allowPeers()
	return err
}

func (n *networkFlags) allowPeers() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, raw := range list(n.turnAllowPeers) {
		p, err := netip.ParsePrefix(raw)
		if err != nil {
			return nil, fmt.Errorf("-turn-allow-peers: %q is not a CIDR", raw)
		}
		out = append(out, p)
	}
	return out, nil
}

// iceTCP maps -tcp-port to the app's two fields.
func (n *networkFlags) iceTCP() (on bool, port int) {
	switch n.tcpPort {
	case 0:
		return false, 0
	case -1:
		return true, 0
	default:
		return true, n.tcpPort
	}
}

// turnConfig is the app's TURN service from the flags. The URLs browsers
// get name the first -public-host, or else the host each page was opened
// on; relays are announced on -public-ip when set.
func (n *networkFlags) turnConfig(dataDir string, c *config, cert *tlsconf.Server) (app.TURNConfig, error) {
	tc := app.TURNConfig{
		Enabled: n.turnPort != 0 || n.turnExternal != "",
		Port:    n.turnPort, TLSPort: n.turnsPort, TTL: n.turnTTL,
		External: list(n.turnExternal),
	}
	if !tc.Enabled {
		return tc, nil
	}
	if hosts := list(c.tls.publicHost); len(hosts) > 0 {
		tc.Host = hosts[0]
	}
	if c.publicIP != "" {
		tc.RelayIP, _ = netip.ParseAddr(c.publicIP)
	}
	if n.turnsPort != 0 {
		if cert == nil {
			return tc, errors.New("-turns-port needs a certificate: -tls-cert/-tls-key, -tls-self-signed or -acme-domain")
		}
		tc.TLS = cert.TLS
	}
	tc.AllowPeers, _ = n.allowPeers()
	secret, err := n.secret(dataDir)
	tc.Secret = secret
	return tc, err
}

// secret is -turn-secret, or the one kept in the data directory, made on
// first start like the identity secret.
func (n *networkFlags) secret(dataDir string) ([]byte, error) {
	if n.turnSecret != "" {
		return []byte(n.turnSecret), nil
	}
	path := filepath.Join(dataDir, "turn-secret.key")
	if data, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(data)); len(s) >= 16 {
			return []byte(s), nil
		}
		return nil, fmt.Errorf("%s holds a secret shorter than 16 characters", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read the TURN secret: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(raw)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write the TURN secret: %w", err)
	}
	return []byte(secret), nil
}
