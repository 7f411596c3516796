package sfu

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
)

// Batched I/O on the SFU's UDP socket (issue 19). Every packet the SFU
// sends and receives passes one socket, behind Pion's ICE mux, and a
// system call per packet per subscriber was a third of a delivery's cost.
// The mux reads and writes through batchConn instead:
//
//   - Writes are copied into a pending batch and leave in one sendmmsg
//     (ipv4.PacketConn.WriteBatch): when the batch is full, when a writer
//     of the pool (writers.go) runs out of work, which ends each fan-out,
//     or flushDelay after the batch's first packet, for writes from
//     elsewhere (RTCP, DTLS, ICE). Batches leave in the order they filled,
//     so one subscriber's packets stay in order.
//   - Reads take what recvmmsg brought, one datagram per call.

const (
	// maxBatch is the most packets one sendmmsg carries.
	maxBatch = 64
	// maxDatagram is the largest packet a batch copies; a larger one
	// (none the SFU sends) goes out alone.
	maxDatagram = 1500
	// flushDelay bounds how long a packet waits for its batch: far below
	// anything a viewer could notice.
	flushDelay = 200 * time.Microsecond
	// readBatch and readSize shape the receive side's batch.
	readBatch = 32
	readSize  = 8192
	// maxCachedAddrs bounds the addresses kept in their net.Addr form:
	// far more than the subscribers one node serves.
	maxCachedAddrs = 1 << 14
)

// batchConn is the SFU's UDP socket as the ICE mux sees it.
type batchConn struct {
	*net.UDPConn
	pc *ipv4.PacketConn

	// sendMu orders the batches' sends; mu guards the pending batch.
	sendMu  sync.Mutex
	mu      sync.Mutex
	pending *sendBatch
	// addrs are the destinations in the form ipv4.Message takes, made once
	// per address rather than once per packet.
	addrs map[netip.AddrPort]*net.UDPAddr
	free  sync.Pool // *sendBatch
	kick  chan struct{}
	done  chan struct{}
	once  sync.Once

	// The receive side: the last batch read, and the next datagram of it.
	rmu   sync.Mutex
	rmsgs []ipv4.Message
	rnext int
	rn    int

	// batches and packets count the sendmmsg calls and what they carried.
	batches, packets atomic.Uint64
}

// sendBatch is packets copied for one sendmmsg, with their buffers.
type sendBatch struct {
	msgs []ipv4.Message
	vecs [maxBatch][1][]byte
	bufs [maxBatch][maxDatagram]byte
}

func newBatchConn(conn *net.UDPConn) *batchConn {
	c := &batchConn{
		UDPConn: conn, pc: ipv4.NewPacketConn(conn),
		addrs: map[netip.AddrPort]*net.UDPAddr{},
		kick:  make(chan struct{}, 1), done: make(chan struct{}),
		rmsgs: make([]ipv4.Message, readBatch),
	}
	for i := range c.rmsgs {
		c.rmsgs[i].Buffers = [][]byte{make([]byte, readSize)}
	}
	c.free.New = func() any { return &sendBatch{msgs: make([]ipv4.Message, 0, maxBatch)} }
	c.pending = c.free.Get().(*sendBatch)
	go c.flusher()
	return c
}

// ReadFromAddrPort returns the next datagram received, reading a batch
// when none is left: the mux's one reader calls it.
func (c *batchConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for c.rnext >= c.rn {
		n, err := c.pc.ReadBatch(c.rmsgs, 0)
		if err != nil {
			return 0, netip.AddrPort{}, err
		}
		c.rnext, c.rn = 0, n
	}
	m := &c.rmsgs[c.rnext]
	c.rnext++
	udp, _ := m.Addr.(*net.UDPAddr)
	if udp == nil {
		return 0, netip.AddrPort{}, nil
	}
	return copy(b, m.Buffers[0][:m.N]), udp.AddrPort(), nil
}

// ReadFrom implements net.PacketConn over ReadFromAddrPort.
func (c *batchConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(addr), nil
}

// WriteTo queues b for addr; see WriteToAddrPort.
func (c *batchConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	udp, ok := addr.(*net.UDPAddr)
	if !ok {
		return c.UDPConn.WriteTo(b, addr)
	}
	return c.WriteToAddrPort(b, udp.AddrPort())
}

// WriteToAddrPort copies b into the pending batch for addr. It reports b
// written: UDP promises no more than that, and b is the caller's again.
func (c *batchConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if len(b) > maxDatagram {
		return c.UDPConn.WriteToUDPAddrPort(b, addr)
	}
	for {
		c.mu.Lock()
		bt := c.pending
		i := len(bt.msgs)
		if i == maxBatch {
			c.mu.Unlock()
			c.Flush()
			continue
		}
		n := copy(bt.bufs[i][:], b)
		bt.vecs[i][0] = bt.bufs[i][:n]
		bt.msgs = append(bt.msgs, ipv4.Message{Buffers: bt.vecs[i][:], Addr: c.addrLocked(addr)})
		c.mu.Unlock()
		switch {
		case i+1 == maxBatch:
			c.Flush()
		case i == 0:
			select {
			case c.kick <- struct{}{}:
			default:
			}
		}
		return len(b), nil
	}
}

// Flush sends the pending batch now.
func (c *batchConn) Flush() {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	c.mu.Lock()
	bt := c.pending
	if len(bt.msgs) == 0 {
		c.mu.Unlock()
		return
	}
	c.pending = c.free.Get().(*sendBatch)
	c.mu.Unlock()
	c.send(bt)
}

// flusher sends a batch flushDelay after its first packet, unless a
// writer sent it before.
func (c *batchConn) flusher() {
	for {
		select {
		case <-c.done:
			return
		case <-c.kick:
		}
		time.Sleep(flushDelay)
		c.Flush()
	}
}

// send writes a batch, skipping a packet the kernel refuses, and returns
// its buffers to the pool. The caller holds sendMu.
func (c *batchConn) send(bt *sendBatch) {
	c.batches.Add(1)
	c.packets.Add(uint64(len(bt.msgs)))
	msgs := bt.msgs
	for len(msgs) > 0 {
		n, err := c.pc.WriteBatch(msgs, 0)
		if err != nil || n <= 0 {
			n = 1 // the first packet failed: drop it and go on
		}
		msgs = msgs[min(n, len(msgs)):]
	}
	clear(bt.msgs)
	bt.msgs = bt.msgs[:0]
	c.free.Put(bt)
}

// addrLocked is addr as a *net.UDPAddr, made once. The caller holds mu.
func (c *batchConn) addrLocked(addr netip.AddrPort) *net.UDPAddr {
	if a, ok := c.addrs[addr]; ok {
		return a
	}
	if len(c.addrs) >= maxCachedAddrs {
		clear(c.addrs)
	}
	a := net.UDPAddrFromAddrPort(addr)
	c.addrs[addr] = a
	return a
}

// Close sends what is pending, stops the flusher and closes the socket.
func (c *batchConn) Close() error {
	c.Flush()
	c.once.Do(func() { close(c.done) })
	return c.UDPConn.Close()
}
