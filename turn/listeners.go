package turn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
)

// samePortAttempts bounds the retries when Port is 0 and the TCP port with
// the number the kernel gave the UDP socket happens to be taken.
const samePortAttempts = 20

// listenUDPAndTCP binds a UDP socket and a TCP listener on the same port
// number, as TURN clients expect of "turn:host:port" and
// "turn:host:port?transport=tcp". Port 0 picks a free number for both.
func listenUDPAndTCP(ip netip.Addr, port int) (net.PacketConn, net.Listener, error) {
	for attempt := 0; ; attempt++ {
		udp, err := net.ListenPacket(network("udp", ip), hostPort(ip, port))
		if err != nil {
			return nil, nil, fmt.Errorf("turn: listen udp: %w", err)
		}
		boundPort := addrPortOf(udp.LocalAddr()).Port()
		tcp, err := net.Listen(network("tcp", ip), hostPort(ip, int(boundPort)))
		if err == nil {
			return udp, newTrackingListener(tcp), nil
		}
		_ = udp.Close()
		if port != 0 || !errors.Is(err, syscall.EADDRINUSE) || attempt+1 >= samePortAttempts {
			return nil, nil, fmt.Errorf("turn: listen tcp on the udp port %d: %w", boundPort, err)
		}
	}
}

// listenTLS binds the TURN-over-TLS listener. The tracking listener sits
// under the TLS layer, so that pion still sees *tls.Conn (it reads the
// connection state from it) and Close still reaches the raw sockets.
func listenTLS(ip netip.Addr, port int, config *tls.Config) (net.Listener, error) {
	tcp, err := net.Listen(network("tcp", ip), hostPort(ip, port))
	if err != nil {
		return nil, fmt.Errorf("turn: listen tls: %w", err)
	}

	return tls.NewListener(newTrackingListener(tcp), config), nil
}

// network pins a socket to the listen address's family. Go would otherwise
// make a dual-stack socket for 0.0.0.0, and IPv6 clients would reach a
// server whose relays are all IPv4.
func network(base string, ip netip.Addr) string {
	if ip.Is4() {
		return base + "4"
	}

	return base + "6"
}

func hostPort(ip netip.Addr, port int) string {
	return net.JoinHostPort(ip.String(), strconv.Itoa(port))
}

// trackingListener remembers the connections it accepted and closes them
// when it is closed. pion's Server.Close closes listeners but not the TCP
// connections already accepted from them, so without this a client could
// keep its allocation, and even make new ones, after the server was closed.
type trackingListener struct {
	net.Listener

	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

func newTrackingListener(inner net.Listener) *trackingListener {
	return &trackingListener{Listener: inner, conns: make(map[*trackedConn]struct{})}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tracked := &trackedConn{Conn: conn, owner: l}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = conn.Close()

		return nil, net.ErrClosed
	}
	l.conns[tracked] = struct{}{}

	return tracked, nil
}

// Close stops accepting and closes every connection still open.
func (l *trackingListener) Close() error {
	err := l.Listener.Close()

	l.mu.Lock()
	l.closed = true
	open := make([]*trackedConn, 0, len(l.conns))
	for conn := range l.conns {
		open = append(open, conn)
	}
	l.mu.Unlock()

	// Closed outside the lock: trackedConn.Close takes it to forget itself.
	for _, conn := range open {
		_ = conn.Close()
	}

	return err
}

func (l *trackingListener) forget(conn *trackedConn) {
	l.mu.Lock()
	delete(l.conns, conn)
	l.mu.Unlock()
}

// trackedConn removes itself from its listener's set when closed, so the set
// holds only open connections.
type trackedConn struct {
	net.Conn
	owner *trackingListener
}

func (c *trackedConn) Close() error {
	c.owner.forget(c)

	return c.Conn.Close()
}
