//go:build !linux

package sfu

import "net"

// newSendConn leaves the socket as it is where sendto cannot be called
// directly (sendconn_linux.go says why it is on Linux).
func newSendConn(conn *net.UDPConn) (net.PacketConn, error) {
	return conn, nil
}
