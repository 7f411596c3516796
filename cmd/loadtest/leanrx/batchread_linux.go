//go:build linux

package leanrx

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchReader reads a receiver's datagrams up to readBatch at a time, in
// one recvmmsg. A video frame comes as several packets back to back, and a
// receiver that a busy machine wakes late finds them all queued: one system
// call, and one wake-up, then serves them all. The buffers, headers and
// addresses are made once; reading allocates nothing.
type batchReader struct {
	raw   syscall.RawConn
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // room for either family's address
	bufs  [][]byte
}

func newBatchReader(conn *net.UDPConn) (*batchReader, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &batchReader{
		raw:   raw,
		hdrs:  make([]unix.Mmsghdr, readBatch),
		iovs:  make([]unix.Iovec, readBatch),
		names: make([]unix.RawSockaddrInet6, readBatch),
		bufs:  make([][]byte, readBatch),
	}
	for i := range readBatch {
		b.bufs[i] = make([]byte, maxDatagram)
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(maxDatagram)
		b.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		b.hdrs[i].Hdr.Iov = &b.iovs[i]
		b.hdrs[i].Hdr.SetIovlen(1)
	}
	return b, nil
}

// read waits for at least one datagram and returns how many it read, each
// then given by datagram. Zero with no error means try again (a signal
// interrupted the call).
func (b *batchReader) read() (int, error) {
	var got int
	var errno syscall.Errno
	err := b.raw.Read(func(fd uintptr) bool {
		for i := range b.hdrs {
			b.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		}
		// The socket does not block: this takes what is queued, up to
		// the batch, and EAGAIN (nothing yet) waits in the poller.
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)), 0, 0, 0)
		if e == unix.EAGAIN {
			return false
		}
		got, errno = int(n), e
		return true
	})
	switch {
	case err != nil:
		return 0, err
	case errno == unix.EINTR:
		return 0, nil
	case errno != 0:
		return 0, errno
	}
	return got, nil
}

// datagram is the i-th datagram of the last read and its sender. It is
// valid until the next read.
func (b *batchReader) datagram(i int) ([]byte, netip.AddrPort) {
	n := min(int(b.hdrs[i].Len), maxDatagram)
	name := &b.names[i]
	var from netip.AddrPort
	switch name.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(name))
		from = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), networkOrder(sa.Port))
	case unix.AF_INET6:
		from = netip.AddrPortFrom(netip.AddrFrom16(name.Addr), networkOrder(name.Port))
	}
	return b.bufs[i][:n], from
}

// networkOrder reads a port as the kernel stores it, big-endian.
func networkOrder(port uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&port))
	return uint16(b[0])<<8 | uint16(b[1])
}
