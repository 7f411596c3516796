package turn

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	pionturn "github.com/pion/turn/v5"
)

// errTCPRelayUnsupported refuses RFC 6062 TCP relays. Browsers never ask for
// one (WebRTC relays UDP, whatever transport reaches the TURN server), and a
// TCP relay would be one more way to open connections to peers.
var errTCPRelayUnsupported = errors.New("turn: TCP relay allocations are not offered")

// relayAddressGenerator makes the relay socket of each UDP allocation. It is
// where an allocation's slot is taken (pion calls it synchronously, after
// authentication and the quota check, and nothing after it can fail), and
// the socket it returns gives the slot back when pion closes it, which pion
// does for every way an allocation ends: Refresh with lifetime 0, lifetime
// expiry, the client's TCP connection closing, and server shutdown.
type relayAddressGenerator struct {
	bindIP   netip.Addr // the socket's local address
	relayIP  netip.Addr // the address announced to clients
	ledger   *allocationLedger
	counters *counters
	log      *slog.Logger
}

var _ pionturn.RelayAddressGenerator = (*relayAddressGenerator)(nil)

func (g *relayAddressGenerator) Validate() error {
	if !g.bindIP.IsValid() || !g.relayIP.IsValid() {
		return errors.New("turn: relay bind and announced addresses must be set")
	}

	return nil
}

// AllocatePacketConn ignores RequestedPort: it is only set for EVEN-PORT and
// RESERVATION-TOKEN requests, which browsers do not make and which fail
// earlier here (the port probe pion makes for them has no owner).
func (g *relayAddressGenerator) AllocatePacketConn(
	request pionturn.AllocateListenerConfig,
) (net.PacketConn, net.Addr, error) {
	owner, err := parseOwner(request.UserID)
	if err != nil {
		return nil, nil, err
	}
	release, reason, ok := g.ledger.reserve(owner)
	if !ok {
		// Only reached when two requests raced past the quota check.
		g.counters.refuse(reason)
		g.log.Info("turn allocation refused", "user", owner.userID, "client", owner.clientIP, "reason", reason)

		return nil, nil, fmt.Errorf("turn: allocation refused: %s", reason)
	}
	conn, err := net.ListenPacket(request.Network, hostPort(g.bindIP, 0))
	if err != nil {
		release()

		return nil, nil, fmt.Errorf("turn: open relay socket: %w", err)
	}
	port := addrPortOf(conn.LocalAddr()).Port()
	g.counters.allocations.Add(1)
	g.log.Debug("turn allocation", "user", owner.userID, "client", owner.clientIP, "relay_port", port)
	relay := &countingRelayConn{
		PacketConn: conn,
		counters:   g.counters,
		release:    release,
		onClose: func() {
			g.log.Debug("turn allocation released", "user", owner.userID, "client", owner.clientIP,
				"relay_port", port)
		},
	}

	return relay, net.UDPAddrFromAddrPort(netip.AddrPortFrom(g.relayIP, port)), nil
}

func (g *relayAddressGenerator) AllocateListener(pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errTCPRelayUnsupported
}

func (g *relayAddressGenerator) AllocateConn(pionturn.AllocateConnConfig) (net.Conn, error) {
	return nil, errTCPRelayUnsupported
}

// countingRelayConn is an allocation's relay socket. It counts the bytes
// relayed through it with atomic adds (no lock on the packet path) and gives
// the allocation's slot back on the first Close.
type countingRelayConn struct {
	net.PacketConn
	counters *counters
	release  func()
	onClose  func()

	closeOnce sync.Once
}

// ReadFrom receives a datagram from a peer, on its way to the client.
func (c *countingRelayConn) ReadFrom(buf []byte) (int, net.Addr, error) {
	n, from, err := c.PacketConn.ReadFrom(buf)
	if n > 0 {
		c.counters.bytesIn.Add(uint64(n))
	}

	return n, from, err
}

// WriteTo sends a client's datagram to a peer.
func (c *countingRelayConn) WriteTo(payload []byte, to net.Addr) (int, error) {
	n, err := c.PacketConn.WriteTo(payload, to)
	if n > 0 {
		c.counters.bytesOut.Add(uint64(n))
	}

	return n, err
}

// Close may be called more than once by pion (the relay loop's error path
// and the allocation's own Close both lead here); the slot is freed once.
func (c *countingRelayConn) Close() error {
	err := c.PacketConn.Close()
	c.closeOnce.Do(func() {
		c.release()
		c.counters.allocations.Add(-1)
		c.onClose()
	})

	return err
}
