package sfu

import (
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"
)

func listenLoopback(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadBuffer(8 << 20)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestBatchConnWrites: writers on many goroutines hand the batching socket
// numbered packets for one receiver. Every packet arrives once and whole,
// each writer's in the order it wrote them (batches leave in the order
// they filled), in far fewer system calls than packets; and a lone packet
// with no writer to flush it is not held back.
func TestBatchConnWrites(t *testing.T) {
	rx := listenLoopback(t)
	conn := newBatchConn(listenLoopback(t))
	defer conn.Close()
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()

	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pkt := make([]byte, 200)
			for i := range each {
				binary.BigEndian.PutUint32(pkt, uint32(w))
				binary.BigEndian.PutUint32(pkt[4:], uint32(i))
				pkt[199] = byte(w) // a byte at the end, to catch a short copy
				if _, err := conn.WriteToAddrPort(pkt, to); err != nil {
					t.Error(err)
					return
				}
			}
			conn.Flush() // a pool writer out of work
		}()
	}
	next := make([]int, writers)
	buf := make([]byte, 2048)
	_ = rx.SetReadDeadline(time.Now().Add(20 * time.Second))
	for got := 0; got < writers*each; got++ {
		n, _, err := rx.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d packets: %v", got, err)
		}
		w, i := int(binary.BigEndian.Uint32(buf)), int(binary.BigEndian.Uint32(buf[4:]))
		if n != 200 || w >= writers || buf[199] != byte(w) {
			t.Fatalf("packet %d: %d bytes from writer %d, last byte %d", got, n, w, buf[199])
		}
		if i != next[w] {
			t.Fatalf("writer %d: packet %d arrived when %d was next", w, i, next[w])
		}
		next[w]++
	}
	wg.Wait()
	if calls := conn.batches.Load(); calls*4 > writers*each {
		t.Errorf("%d packets took %d sendmmsg calls: hardly batched", conn.packets.Load(), calls)
	}
	t.Logf("%d packets in %d sendmmsg calls", conn.packets.Load(), conn.batches.Load())

	if _, err := conn.WriteToAddrPort([]byte("last"), to); err != nil {
		t.Fatal(err)
	}
	n, _, err := rx.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "last" {
		t.Fatalf("the lone packet: %q, %v", buf[:n], err)
	}
}

// TestBatchConnReads: a burst sent to the batching socket is read back one
// datagram per call, in order, whole, with its sender's address.
func TestBatchConnReads(t *testing.T) {
	tx := listenLoopback(t)
	conn := newBatchConn(listenLoopback(t))
	defer conn.Close()
	to := conn.LocalAddr().(*net.UDPAddr)
	const burst = 3*readBatch + 5
	for i := range burst {
		pkt := make([]byte, 100+i)
		binary.BigEndian.PutUint32(pkt, uint32(i))
		if _, err := tx.WriteToUDP(pkt, to); err != nil {
			t.Fatal(err)
		}
	}
	from := tx.LocalAddr().(*net.UDPAddr).AddrPort()
	buf := make([]byte, 2048)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range burst {
		n, addr, err := conn.ReadFromAddrPort(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if got := int(binary.BigEndian.Uint32(buf)); got != i || n != 100+i || addr != from {
			t.Fatalf("datagram %d: got number %d, %d bytes, from %v (want %v)", i, got, n, addr, from)
		}
	}
}
