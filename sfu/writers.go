package sfu

import (
	"runtime"
	"sync"
)

// Writers (issue 19). Each subscription (downTrack) has its own bounded
// queue, so a subscriber that falls behind only ever fills its own. What
// empties the queues is a small pool of writer goroutines, one per core,
// not a goroutine per subscription: a packet fanned out to 500 viewers
// used to wake 500 goroutines, and the scheduler took a fifth of the
// server's time. Now a subscription with packets waiting is put on the
// pool's ready list once, and a writer sends what it has queued; when
// the writers are busy, which is when it matters, nothing is woken at all.
//
// A writer that finds the ready list empty flushes the socket's pending
// batch (batchconn.go) before it waits: the packets of one fan-out go out
// together, and none waits for more work that may not come.

// readyCapacity bounds the ready list: a subscription is on it at most
// once, and no node serves this many.
const readyCapacity = 1 << 16

// maxServeBurst is the most packets a writer sends for one subscription
// before it moves on to the next ready one: a subscription that keeps
// receiving does not keep a writer to itself.
const maxServeBurst = 32

// writerPool is the SFU's writer goroutines and their ready list.
type writerPool struct {
	ready chan *downTrack
	flush func()
	stop  chan struct{}
	once  sync.Once
}

func newWriterPool(n int, flush func()) *writerPool {
	w := &writerPool{ready: make(chan *downTrack, readyCapacity), flush: flush, stop: make(chan struct{})}
	for range n {
		go w.run()
	}
	return w
}

// writers returns the SFU's writer pool, started on first use.
func (s *SFU) writers() *writerPool {
	s.writersOnce.Do(func() {
		flush := func() {}
		if s.batch != nil {
			flush = s.batch.Flush
		}
		s.pool = newWriterPool(runtime.GOMAXPROCS(0), flush)
	})
	return s.pool
}

// schedule puts d on the ready list unless it is there already or being
// served; the writer serving it then sees what was queued meanwhile. It
// never blocks.
func (w *writerPool) schedule(d *downTrack) {
	if !d.scheduled.CompareAndSwap(false, true) {
		return
	}
	if own := d.own.Load(); own != nil {
		select {
		case *own <- struct{}{}:
		default:
		}
		return
	}
	w.put(d)
}

// ownWriter gives d a writer goroutine of its own, outside the pool: its
// subscriber receives over ICE-TCP, where a write blocks while the
// subscriber's TCP window is full, and a pool writer blocked there would
// hold up everyone else's packets. It is called before d is first
// scheduled.
func (d *downTrack) ownWriter() {
	wake := make(chan struct{}, 1)
	if !d.own.CompareAndSwap(nil, &wake) {
		return
	}
	go func() {
		for range wake {
			for d.serve(maxServeBurst) {
			}
			if d.closed.Load() {
				return
			}
		}
	}()
}

func (w *writerPool) put(d *downTrack) {
	select {
	case w.ready <- d:
	default:
		go func() { // more subscriptions waiting than readyCapacity
			select {
			case w.ready <- d:
			case <-w.stop:
			}
		}()
	}
}

// close stops the writers.
func (w *writerPool) close() {
	w.once.Do(func() { close(w.stop) })
}

// run serves ready subscriptions until the pool closes.
func (w *writerPool) run() {
	for {
		var d *downTrack
		select {
		case d = <-w.ready:
		default:
			// Nothing ready: what this round queued on the socket goes
			// out now, then the writer waits.
			w.flush()
			select {
			case d = <-w.ready:
			case <-w.stop:
				return
			}
		}
		if d.serve(maxServeBurst) {
			w.put(d) // more to send: back of the line, still scheduled
		}
	}
}
