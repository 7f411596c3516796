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
