package leanrx

import (
	"bytes"
	"net"
	"runtime"
	"testing"
)

// TestBatchReaderTakesWhatIsQueued: datagrams queued on the socket come out
// of one read, in order, each with its sender; a read with nothing queued
// waits for the next one.
func TestBatchReaderTakesWhatIsQueued(t *testing.T) {
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	batch, err := newBatchReader(rx)
	if err != nil {
		t.Fatal(err)
	}
	sender := tx.LocalAddr().(*net.UDPAddr).AddrPort()

	const queued = 5 // loopback queues each before sendto returns
	for i := range queued {
		if _, err := tx.Write(bytes.Repeat([]byte{byte(i)}, 100+i)); err != nil {
			t.Fatal(err)
		}
	}
	want := queued
	if runtime.GOOS != "linux" {
		want = 1 // one datagram per read without recvmmsg
	}
	n, err := batch.read()
	if err != nil || n != want {
		t.Fatalf("read = %d, %v; want %d datagrams", n, err, want)
	}
	for i := range n {
		pkt, from := batch.datagram(i)
		if len(pkt) != 100+i || pkt[0] != byte(i) || from != sender {
			t.Fatalf("datagram %d: %d bytes of %d from %v, want %d bytes of %d from %v", i, len(pkt), pkt[0], from, 100+i, i, sender)
		}
	}

	done := make(chan int)
	go func() {
		n, _ := batch.read()
		done <- n
	}()
	if _, err := tx.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	if n := <-done; runtime.GOOS == "linux" && n != 1 {
		t.Fatalf("a read that waited got %d datagrams, want 1", n)
	}
	if pkt, _ := batch.datagram(0); string(pkt) != "late" && runtime.GOOS == "linux" {
		t.Fatalf("a read that waited got %q", pkt)
	}
}
