//go:build linux

package sfu

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A sendto costs a system call's entry and exit besides the datagram's own
// path through the kernel: on this project's machines, paravirtualized
// guests, about a seventh of the server's CPU went to the calls themselves
// (docs/BENCHMARKS.md). Datagrams written while another writer is in the
// kernel are therefore gathered and sent together, with one sendmmsg, as a
// database commits a group: the first writer to find nobody sending sends
// at once (no timer, no wait), and whatever the other writers add meanwhile
// goes out when its call returns. With one writer at a time every datagram
// still goes out at once, alone.

const (
	batchSize  = 64   // datagrams per sendmmsg
	maxBatched = 1500 // larger datagrams go out alone
	// sendRounds is how many batches one writer sends in a row before it
	// hands what is left to the socket's flusher: its own subscriber's
	// packets wait while it sends everyone else's.
	sendRounds = 4
)

// mmsghdr is the kernel's struct mmsghdr on 64-bit Linux.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

// sendBatch is up to batchSize datagrams copied out of their writers'
// buffers, which Pion reuses once the write returns.
type sendBatch struct {
	n     int
	data  [batchSize][maxBatched]byte
	addrs [batchSize]unix.RawSockaddrInet4
	iovs  [batchSize]unix.Iovec
	msgs  [batchSize]mmsghdr
}

// batches is the socket's pair of batches: one filling while the other is
// in the kernel.
type batches struct {
	mu       sync.Mutex
	filling  *sendBatch
	spare    *sendBatch    // nil while it is being sent
	sending  bool          // a writer (or the flusher) is sending
	handOver chan struct{} // wakes the flusher
	stop     chan struct{}
	shut     atomic.Bool // Close began: nothing more is batched
}

func (c *sendConn) initBatches() {
	c.filling, c.spare = &sendBatch{}, &sendBatch{}
	c.handOver = make(chan struct{}, 1)
	c.stop = make(chan struct{})
	go c.flusher()
}

// batch adds b for addr to the filling batch and, unless another writer is
// sending, sends until nothing is left.
func (c *sendConn) batch(b []byte, addr netip.AddrPort) (int, error) {
	if c.shut.Load() {
		return c.WriteToUDPAddrPort(b, addr) // the net package's closed error
	}
	c.batches.mu.Lock()
	if c.filling.n == batchSize {
		// Full while its sender is in the kernel: this one goes alone
		// rather than hold its writer.
		c.batches.mu.Unlock()
		return c.sendto(b, addr)
	}
	f := c.filling
	i := f.n
	copy(f.data[i][:], b)
	f.iovs[i] = unix.Iovec{Base: &f.data[i][0]}
	f.iovs[i].SetLen(len(b))
	f.addrs[i] = sockaddrOf(addr)
	f.n++
	if c.sending {
		c.batches.mu.Unlock()
		return len(b), nil
	}
	c.sending = true
	err := c.sendAll(sendRounds)
	return len(b), err
}

// sendAll sends batches until none is left, or hands the rest to the
// flusher after rounds of them. Called with mu held and sending set; it
// returns with mu released.
func (c *sendConn) sendAll(rounds int) error {
	var err error
	for ; c.filling.n > 0; rounds-- {
		if rounds == 0 {
			c.sending = false
			c.batches.mu.Unlock()
			select {
			case c.handOver <- struct{}{}:
			default:
			}
			return err
		}
		out := c.filling
		c.filling, c.spare = c.spare, nil
		c.batches.mu.Unlock()
		if e := c.sendBatch(out); e != nil && err == nil {
			err = e
		}
		out.n = 0
		c.batches.mu.Lock()
		c.spare = out
	}
	c.sending = false
	c.batches.mu.Unlock()
	return err
}

// flusher sends what a writer handed over, until the socket closes.
func (c *sendConn) flusher() {
	for {
		select {
		case <-c.stop:
			return
		case <-c.handOver:
		}
		c.batches.mu.Lock()
		if c.sending || c.filling.n == 0 {
			c.batches.mu.Unlock()
			continue
		}
		c.sending = true
		_ = c.sendAll(-1)
	}
}

// sendBatch sends every datagram of out. What the kernel cannot take at
// once goes through sendto, which waits for room.
func (c *sendConn) sendBatch(out *sendBatch) error {
	for i := range out.n {
		out.msgs[i].hdr = unix.Msghdr{
			Name: (*byte)(unsafe.Pointer(&out.addrs[i])), Namelen: unix.SizeofSockaddrInet4,
			Iov: &out.iovs[i], Iovlen: 1,
		}
	}
	c.open.RLock()
	if c.closed {
		c.open.RUnlock()
		return nil // the datagrams of a closed socket are lost
	}
	sent := 0
	var errno unix.Errno
	for sent < out.n {
		var r uintptr
		r, _, errno = unix.Syscall6(unix.SYS_SENDMMSG, uintptr(c.fd), uintptr(unsafe.Pointer(&out.msgs[sent])), uintptr(out.n-sent), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			break
		}
		sent += int(r)
	}
	c.open.RUnlock()
	if sent == out.n {
		return nil
	}
	if errno != unix.EAGAIN {
		sent++ // the kernel refused that datagram: skip it, as a sendto would have failed
	}
	var err error
	for i := sent; i < out.n; i++ {
		a := out.addrs[i]
		port := (*[2]byte)(unsafe.Pointer(&a.Port))
		addr := netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(port[0])<<8|uint16(port[1]))
		if _, e := c.sendto(out.data[i][:out.iovs[i].Len], addr); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// stopBatches stops the flusher; what waits in the batches is dropped.
func (c *sendConn) stopBatches() {
	c.shut.Store(true)
	close(c.stop)
}
