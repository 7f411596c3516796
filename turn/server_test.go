package turn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// TestRelaysOverUDPAndTCP allocates with a good credential over each client
// transport and relays a datagram each way between the client and a peer.
func TestRelaysOverUDPAndTCP(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			server := newTestServer(t, nil)
			username, password := credentialFor("alice")
			client, _ := dialTURN(t, server, transport, username, password, nil)
			relay, err := client.Allocate()
			if err != nil {
				t.Fatalf("Allocate: %v", err)
			}
			t.Cleanup(func() { _ = relay.Close() })

			wantRelayIP := netip.MustParseAddr("127.0.0.1")
			if got := addrPortOf(relay.LocalAddr()).Addr(); got != wantRelayIP {
				t.Fatalf("relayed address %v, want the relay IP %v", relay.LocalAddr(), wantRelayIP)
			}
			if got := server.Stats().Allocations; got != 1 {
				t.Fatalf("Stats().Allocations = %d, want 1", got)
			}
			exchangeThroughRelay(t, server, relay)
		})
	}
}

// TestRelaysOverTLS does the same over TURN-over-TLS with a certificate made
// here, so the TLS listener, its handshake and pion's *tls.Conn path run.
func TestRelaysOverTLS(t *testing.T) {
	serverTLS, clientTLS := selfSignedTLS(t)
	server := newTestServer(t, func(cfg *Config) { cfg.TLSConfig = serverTLS })
	if !server.TLSAddr().IsValid() || server.TLSAddr().Port() == server.TCPAddr().Port() {
		t.Fatalf("TLSAddr = %v, want its own port beside TCP %v", server.TLSAddr(), server.TCPAddr())
	}
	username, password := credentialFor("alice")
	client, _ := dialTURN(t, server, "tls", username, password, clientTLS)
	relay, err := client.Allocate()
	if err != nil {
		t.Fatalf("Allocate over TLS: %v", err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	exchangeThroughRelay(t, server, relay)
}

// exchangeThroughRelay sends a datagram from the client through relay to a
// peer socket on 127.0.0.1, answers it from the peer, and checks both
// payloads, their addresses and the server's byte counters.
func exchangeThroughRelay(t *testing.T, server *Server, relay net.PacketConn) {
	t.Helper()
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("peer socket: %v", err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	outbound, inbound := []byte("client to peer, via the relay"), []byte("peer answers")

	if _, err := relay.WriteTo(outbound, peer.LocalAddr()); err != nil {
		t.Fatalf("relay WriteTo peer: %v", err)
	}
	got, from := readWithin(t, peer)
	if !bytes.Equal(got, outbound) {
		t.Fatalf("peer received %q, want %q", got, outbound)
	}
	if addrPortOf(from) != addrPortOf(relay.LocalAddr()) {
		t.Fatalf("peer heard from %v, want the relayed address %v", from, relay.LocalAddr())
	}

	if _, err := peer.WriteTo(inbound, from); err != nil {
		t.Fatalf("peer reply: %v", err)
	}
	got, from = readWithin(t, relay)
	if !bytes.Equal(got, inbound) {
		t.Fatalf("client received %q, want %q", got, inbound)
	}
	if addrPortOf(from) != addrPortOf(peer.LocalAddr()) {
		t.Fatalf("client heard from %v, want the peer %v", from, peer.LocalAddr())
	}

	waitFor(t, "relayed byte counters", func() bool {
		stats := server.Stats()
		return stats.RelayedBytesOut == uint64(len(outbound)) && stats.RelayedBytesIn == uint64(len(inbound))
	})
}

func readWithin(t *testing.T, conn net.PacketConn) ([]byte, net.Addr) {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatalf("SetReadDeadline: %v", err)
	}
	buf := make([]byte, 1500)
	n, from, err := conn.ReadFrom(buf)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}

	return buf[:n], from
}

// selfSignedTLS makes a certificate for 127.0.0.1 and the server and client
// TLS configs that use and trust it.
func selfSignedTLS(t *testing.T) (serverConfig, clientConfig *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "turn test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		IsCA:         true,

		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	certificate, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(certificate)

	serverConfig = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: certificate}},
	}
	clientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, ServerName: "127.0.0.1"}

	return serverConfig, clientConfig
}

// TestCloseEndsClientConnectionsAndAllocations checks that Close closes the
// TCP connections already accepted (pion's own Close leaves them serving)
// and that every allocation's slot is given back.
func TestCloseEndsClientConnectionsAndAllocations(t *testing.T) {
	server := newTestServer(t, nil)
	mustAllocateAs(t, server, "alice")
	username, password := credentialFor("bob")
	tcpClient, _ := dialTURN(t, server, "tcp", username, password, nil)
	if _, err := tcpClient.Allocate(); err != nil {
		t.Fatalf("Allocate over TCP: %v", err)
	}
	waitForAllocations(t, server, 2)
	idle := servedTCPConnection(t, server)

	if err := server.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitForAllocations(t, server, 0)
	if err := server.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// The server's end of the connection is closed: the read ends at once
	// with EOF or a reset, not at the deadline.
	if err := idle.SetReadDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatalf("SetReadDeadline: %v", err)
	}
	_, err := idle.Read(make([]byte, 64))
	var netErr net.Error
	if err == nil || (errors.As(err, &netErr) && netErr.Timeout()) {
		t.Fatalf("read on a client connection after Close = %v, want it closed by the server", err)
	}
}

// servedTCPConnection opens a TCP connection to server and makes one STUN
// binding round trip on it, so the server has certainly accepted it.
func servedTCPConnection(t *testing.T, server *Server) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", server.TCPAddr().String(), testTimeout)
	if err != nil {
		t.Fatalf("dial tcp: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	request := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if _, err := conn.Write(request.Raw); err != nil {
		t.Fatalf("write binding request: %v", err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatalf("SetReadDeadline: %v", err)
	}
	buf := make([]byte, 1500)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read binding response: %v", err)
	}
	response := &stun.Message{Raw: buf[:n]}
	if err := response.Decode(); err != nil || response.Type != stun.BindingSuccess {
		t.Fatalf("binding response %v (%v), want a binding success", response.Type, err)
	}

	return conn
}

// TestNewRefusesIncompleteConfig covers the configuration New must refuse
// rather than run with.
func TestNewRefusesIncompleteConfig(t *testing.T) {
	allowAll := func(string) bool { return true }
	loopback := netip.MustParseAddr("127.0.0.1")
	creds := Credentials{Secret: testSecret}
	tests := map[string]Config{
		"no secret":               {ListenIP: loopback, Allowed: allowAll},
		"no Allowed":              {ListenIP: loopback, Credentials: creds},
		"unspecified, no RelayIP": {Credentials: creds, Allowed: allowAll},
		"relay family mismatch": {ListenIP: loopback, RelayIP: netip.MustParseAddr("2001:db8::1"),
			Credentials: creds, Allowed: allowAll},
		"negative cap":   {ListenIP: loopback, Credentials: creds, Allowed: allowAll, MaxAllocationsPerIP: -1},
		"port too large": {ListenIP: loopback, Credentials: creds, Allowed: allowAll, Port: 70000},
		"TLS without certificate": {ListenIP: loopback, Credentials: creds, Allowed: allowAll,
			TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			cfg.Logger = testLogger(t)
			server, err := New(cfg)
			if err == nil {
				_ = server.Close()
				t.Fatalf("New accepted %s", name)
			}
		})
	}
}
