package room

import "sync"

// A participant's server messages form one ordered stream that outlives
// its socket. The client counts what it has received since its welcome;
// when its socket drops it reconnects asking to resume with that count,
// and the server replays what came after, from a window of recent
// messages. Meanwhile the participant stays in the room, marked
// reconnecting, so the others see a short "reconnecting" state rather than a
// leave and a join, and its peer connections (mesh and SFU), which do not
// depend on the socket, keep carrying media.

// streamWindow is how many of a participant's latest messages a resume can
// replay. A network blink of a few seconds in a busy room fits; a longer
// absence gets a fresh welcome under the same participant id instead.
const streamWindow = 256

// stream numbers a participant's messages and remembers the latest ones.
// Recording and writing happen under one lock, so the order on the wire is
// the order of the numbers, and a count of received messages says exactly
// which ones arrived.
type stream struct {
	mu     sync.Mutex
	conn   Conn     // nil while the participant has no socket
	seq    uint64   // messages in the stream so far; the welcome is 1
	window [][]byte // message n is at window[(n-1) % streamWindow]
}

// send records msg and hands it to write with the current socket, if any,
// under the stream's lock. write must not block.
func (s *stream) send(msg []byte, write func(Conn)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.window == nil {
		s.window = make([][]byte, streamWindow)
	}
	s.window[s.seq%streamWindow] = msg
	s.seq++
	if s.conn != nil {
		write(s.conn)
	}
}

func (s *stream) current() Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// attach makes c the stream's socket: a fresh join.
func (s *stream) attach(c Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn = c
}

// detach forgets c if it is still the stream's socket, and reports
// whether it was.
func (s *stream) detach(c Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != c {
		return false
	}
	s.conn = nil
	return true
}

// resume moves the stream to c and writes first, then every message after
// seen. It reports false, changing nothing, when some of those messages
// are no longer in the window (or seen is beyond the stream's end).
func (s *stream) resume(c Conn, seen uint64, first []byte) (replayed int, old Conn, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seen > s.seq || s.seq-seen > streamWindow || (s.window == nil && s.seq > 0) {
		return 0, nil, false
	}
	old = s.conn
	s.conn = c
	_ = c.Write(first)
	for n := seen + 1; n <= s.seq; n++ {
		_ = c.Write(s.window[(n-1)%streamWindow])
		replayed++
	}
	return replayed, old, true
}

// restart begins a new stream on c, for a fresh welcome under the same
// participant id. It returns the socket it replaces, if any.
func (s *stream) restart(c Conn) Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.conn
	s.conn = c
	s.seq = 0
	clear(s.window)
	return old
}
