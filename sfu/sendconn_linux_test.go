//go:build linux

package sfu

import (
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
)

// TestSendConnWritesFromManyAtOnce: datagrams written at once by many
// goroutines, without the socket's write lock, all arrive whole; writes
// racing Close neither fail oddly nor reach a reused descriptor, and a
// write after Close is refused.
func TestSendConnWritesFromManyAtOnce(t *testing.T) {
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	_ = rx.SetReadBuffer(4 << 20)
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := newSendConn(udp)
	if err != nil {
		t.Fatal(err)
	}
	w := conn.(ice.AddrPortReaderWriter)
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()

	// Few and small, to fit the receive buffer's default size (212 KB):
	// nothing reads until all are sent.
	const writers, each, size = 8, 20, 100
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			pkt := make([]byte, size)
			for i := range each {
				binary.BigEndian.PutUint32(pkt, uint32(g*each+i))
				if n, err := w.WriteToAddrPort(pkt, to); n != len(pkt) || err != nil {
					t.Errorf("write = %d, %v", n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	seen := map[uint32]bool{}
	buf := make([]byte, 2000)
	_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(seen) < writers*each {
		n, from, err := rx.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("%d of %d datagrams arrived: %v", len(seen), writers*each, err)
		}
		if n != size || from != udp.LocalAddr().(*net.UDPAddr).AddrPort() {
			t.Fatalf("a datagram of %d bytes from %v", n, from)
		}
		seen[binary.BigEndian.Uint32(buf)] = true
	}

	// Close while writers write: each write either went out or was
	// refused as closed.
	stop := make(chan struct{})
	for range writers {
		wg.Go(func() {
			pkt := make([]byte, 100)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := w.WriteToAddrPort(pkt, to); err != nil {
					return
				}
			}
		})
	}
	time.Sleep(10 * time.Millisecond)
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if _, err := w.WriteToAddrPort([]byte("late"), to); err == nil {
		t.Fatal("a write after Close succeeded")
	}
}

// TestSendBatchGathersWhileOneSends: media datagrams written while another
// writer is in the kernel wait in the batch and go out, in order, with
// that writer's next sendmmsg; one that finds the batch full goes alone,
// at once, as do a writer alone and anything that is not media; a batch
// handed to the flusher goes out too.
func TestSendBatchGathersWhileOneSends(t *testing.T) {
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := newSendConn(udp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := conn.(*sendConn)
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
	buf := make([]byte, 2000)
	expect := func(what string, from, to uint32) {
		t.Helper()
		_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
		for want := from; want <= to; want++ {
			n, _, err := rx.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("%s: datagram %d did not arrive: %v", what, want, err)
			}
			if got := binary.BigEndian.Uint32(buf[1:]); n != 5 || got != want {
				t.Fatalf("%s: datagram %d (%d bytes) arrived, want %d", what, got, n, want)
			}
		}
	}
	rtpLike := func(i uint32) []byte { return binary.BigEndian.AppendUint32([]byte{0x80}, i) }
	write := func(i uint32) {
		t.Helper()
		if n, err := c.WriteToAddrPort(rtpLike(i), to); n != 5 || err != nil {
			t.Fatalf("write %d = %d, %v", i, n, err)
		}
	}
	pending := func() int {
		c.batches.mu.Lock()
		defer c.batches.mu.Unlock()
		return c.filling.n
	}

	write(1)
	expect("a writer alone", 1, 1)

	// Another writer is in the kernel: these wait for it.
	c.batches.mu.Lock()
	c.sending = true
	c.batches.mu.Unlock()
	for i := uint32(2); i < 2+batchSize; i++ {
		write(i)
	}
	if n := pending(); n != batchSize {
		t.Fatalf("%d datagrams wait, want %d", n, batchSize)
	}
	write(1000) // the batch is full
	expect("one that found the batch full", 1000, 1000)
	// Not media (a STUN message's first byte): at once.
	if _, err := c.WriteToAddrPort([]byte{0, 1, 0, 0, 0}, to); err != nil {
		t.Fatal(err)
	}
	if n, _, err := rx.ReadFromUDPAddrPort(buf); err != nil || n != 5 || buf[0] != 0 {
		t.Fatalf("the STUN-like datagram: %d bytes, %v", n, err)
	}
	c.batches.mu.Lock()
	if err := c.sendAll(sendRounds); err != nil { // that writer's call returns
		t.Fatal(err)
	}
	expect("gathered while another sent", 2, 1+batchSize)

	// Handed over: the flusher sends them.
	c.batches.mu.Lock()
	c.sending = true
	c.batches.mu.Unlock()
	write(100)
	write(101)
	c.batches.mu.Lock()
	c.sendAll(0) // no rounds left: hands over
	expect("handed to the flusher", 100, 101)
}
