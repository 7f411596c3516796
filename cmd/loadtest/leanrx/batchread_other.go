//go:build !linux

package leanrx

import (
	"net"
	"net/netip"
)

// batchReader reads one datagram at a time where recvmmsg is not to be had.
type batchReader struct {
	conn *net.UDPConn
	buf  []byte
	n    int
	from netip.AddrPort
}

func newBatchReader(conn *net.UDPConn) (*batchReader, error) {
	return &batchReader{conn: conn, buf: make([]byte, maxDatagram)}, nil
}

// read waits for one datagram.
func (b *batchReader) read() (int, error) {
	n, from, err := b.conn.ReadFromUDPAddrPort(b.buf)
	if err != nil {
		return 0, err
	}
	b.n, b.from = n, from
	return 1, nil
}

// datagram is the datagram of the last read and its sender.
func (b *batchReader) datagram(int) ([]byte, netip.AddrPort) {
	return b.buf[:b.n], b.from
}
