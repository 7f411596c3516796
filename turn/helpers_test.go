package turn

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
)

// testSecret is the shared secret of every test server.
var testSecret = []byte("test-shared-secret")

// testTimeout bounds every wait in these tests; on loopback each step takes
// milliseconds, so reaching it means something is broken.
const testTimeout = 5 * time.Second

// participants are the users the test servers' Allowed accepts.
var participants = []string{"alice", "bob", "carol", "dave"}

// newTestServer starts a server on 127.0.0.1 with ephemeral ports that
// accepts participants and may relay to 127.0.0.1 (the tests' peers live
// there); adjust changes the config before the server starts.
func newTestServer(t *testing.T, adjust func(*Config)) *Server {
	t.Helper()
	cfg := Config{
		ListenIP:    netip.MustParseAddr("127.0.0.1"),
		Credentials: Credentials{Secret: testSecret},
		Allowed:     func(userID string) bool { return slices.Contains(participants, userID) },
		AllowPeers:  []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Logger:      testLogger(t),
	}
	if adjust != nil {
		adjust(&cfg)
	}
	server, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = server.Close() })

	return server
}

// testLogger logs into a buffer that is printed if the test fails. Not
// t.Output: pion closes allocations on its own goroutines after Close
// returns, and logging to a finished test is a race.
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})

	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.String()
}

// credentialFor issues a valid credential for userID.
func credentialFor(userID string) (username, password string) {
	username, password, _ = Credentials{Secret: testSecret}.Issue(userID)

	return username, password
}

// dialTURN connects a pion TURN client to server over transport ("udp",
// "tcp" or "tls"; tlsConfig is used for "tls" only) and returns it listening.
// The returned closer closes the client's own socket, which for TCP and TLS
// is the control connection whose end releases the allocation.
func dialTURN(t *testing.T, server *Server, transport, username, password string,
	tlsConfig *tls.Config,
) (*pionturn.Client, func()) {
	t.Helper()
	var conn net.PacketConn
	serverAddr := server.UDPAddr().String()
	switch transport {
	case "udp":
		udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("client socket: %v", err)
		}
		conn = udp
	case "tcp":
		tcp, err := net.DialTimeout("tcp", server.TCPAddr().String(), testTimeout)
		if err != nil {
			t.Fatalf("dial tcp: %v", err)
		}
		conn = pionturn.NewSTUNConn(tcp)
	case "tls":
		dialer := &net.Dialer{Timeout: testTimeout}
		tlsConn, err := tls.DialWithDialer(dialer, "tcp", server.TLSAddr().String(), tlsConfig)
		if err != nil {
			t.Fatalf("dial tls: %v", err)
		}
		conn = pionturn.NewSTUNConn(tlsConn)
		serverAddr = server.TLSAddr().String()
	default:
		t.Fatalf("unknown transport %q", transport)
	}
	client, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: serverAddr,
		TURNServerAddr: serverAddr,
		Conn:           conn,
		Username:       username,
		Password:       password,
		LoggerFactory:  slogLoggerFactory{log: testLogger(t)},
	})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	if err := client.Listen(); err != nil {
		t.Fatalf("client Listen: %v", err)
	}
	closeConn := func() { _ = conn.Close() }
	t.Cleanup(func() {
		client.Close()
		closeConn()
	})

	return client, closeConn
}

// allocateAs dials over UDP with a fresh credential for userID and allocates.
func allocateAs(t *testing.T, server *Server, userID string) (net.PacketConn, error) {
	t.Helper()
	username, password := credentialFor(userID)
	client, _ := dialTURN(t, server, "udp", username, password, nil)

	return client.Allocate()
}

// mustAllocateAs is allocateAs for allocations that must succeed.
func mustAllocateAs(t *testing.T, server *Server, userID string) net.PacketConn {
	t.Helper()
	relay, err := allocateAs(t, server, userID)
	if err != nil {
		t.Fatalf("allocate as %s: %v", userID, err)
	}
	t.Cleanup(func() { _ = relay.Close() })

	return relay
}

// turnErrorCode is the STUN error code a pion client call failed with, or 0.
func turnErrorCode(err error) int {
	var pointer *stun.TurnError
	if errors.As(err, &pointer) {
		return int(pointer.ErrorCodeAttr.Code)
	}
	var value stun.TurnError
	if errors.As(err, &value) {
		return int(value.ErrorCodeAttr.Code)
	}

	return 0
}

// wantTURNError fails unless err carries the STUN error code want.
func wantTURNError(t *testing.T, err error, want int) {
	t.Helper()
	if got := turnErrorCode(err); got != want {
		t.Fatalf("error = %v (code %d), want STUN error %d", err, got, want)
	}
}

// waitFor polls condition until it holds; what it waits on (a counter the
// server updates after a reply or a close) has no event to block on.
func waitFor(t *testing.T, what string, condition func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !condition() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitForAllocations(t *testing.T, server *Server, want int64) {
	t.Helper()
	waitFor(t, "live allocations to reach the expected count", func() bool {
		return server.Stats().Allocations == want
	})
}
