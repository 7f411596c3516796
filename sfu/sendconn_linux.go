//go:build linux

package sfu

import (
	"net"
	"net/netip"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendConn is the SFU's UDP socket as Pion's ICE mux sees it, with writes
// that do not take the socket's Go write lock. Every subscriber's writer
// sends on this one socket, and the net package lets one write at a time
// into the kernel: a writer that finds another there parks and is woken
// after it. UDP needs no such order (each sendto is one datagram, whole),
// so writes call sendto on the descriptor directly, from both cores at
// once. Reads, and any write the kernel cannot take at once (a full send
// buffer: EAGAIN), go through the net package as before.
type sendConn struct {
	*net.UDPConn
	fd int
	// open is read-held by every direct write, so that Close does not
	// free the descriptor (which the kernel may then give to another
	// file) under a write in flight.
	open   sync.RWMutex
	closed bool
}

func newSendConn(conn *net.UDPConn) (net.PacketConn, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	c := &sendConn{UDPConn: conn, fd: -1}
	if err := raw.Control(func(fd uintptr) { c.fd = int(fd) }); err != nil {
		return nil, err
	}
	return c, nil
}

// ReadFromAddrPort reads one datagram (Pion's mux reads through it).
func (c *sendConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.ReadFromUDPAddrPort(b)
}

// WriteToAddrPort sends b to addr (Pion's mux writes through it).
func (c *sendConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if len(b) == 0 || !addr.Addr().Unmap().Is4() {
		return c.WriteToUDPAddrPort(b, addr)
	}
	c.open.RLock()
	if c.closed {
		c.open.RUnlock()
		return c.WriteToUDPAddrPort(b, addr) // the net package's closed error
	}
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: addr.Addr().Unmap().As4()}
	port := (*[2]byte)(unsafe.Pointer(&sa.Port))
	port[0], port[1] = byte(addr.Port()>>8), byte(addr.Port())
	var errno unix.Errno
	for {
		_, _, errno = unix.Syscall6(unix.SYS_SENDTO, uintptr(c.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, uintptr(unsafe.Pointer(&sa)), unix.SizeofSockaddrInet4)
		if errno != unix.EINTR {
			break
		}
	}
	c.open.RUnlock()
	switch errno {
	case 0:
		return len(b), nil
	case unix.EAGAIN:
		// The send buffer is full: wait for room as the net package does.
		return c.WriteToUDPAddrPort(b, addr)
	default:
		return 0, &net.OpError{Op: "write", Net: "udp", Source: c.LocalAddr(), Addr: net.UDPAddrFromAddrPort(addr), Err: errno}
	}
}

// Close waits for the direct writes in flight, then closes the socket.
func (c *sendConn) Close() error {
	c.open.Lock()
	c.closed = true
	c.open.Unlock()
	return c.UDPConn.Close()
}
