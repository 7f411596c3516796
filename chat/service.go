package chat

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"meet/protocol"
)

// Page sizes.
const (
	DefaultHistoryLimit = 100 // what a joiner gets
	DefaultSyncLimit    = 500 // the most one chat-sync answer carries
)

// Config is what a Service needs. Zero fields take the defaults.
type Config struct {
	Store  Store
	Logger *slog.Logger
	// Burst and Rate shape each member's token bucket.
	Burst int
	Rate  float64 // messages per second
	// HistoryLimit is the number of recent messages sent to a joiner;
	// SyncLimit bounds one chat-sync answer.
	HistoryLimit int
	SyncLimit    int
	// Now stamps messages and drives the rate limit; tests replace it.
	Now func() time.Time
}

// Service runs the chat of every room on this node.
type Service struct {
	store        Store
	log          *slog.Logger
	burst        int
	rate         float64
	historyLimit int
	syncLimit    int
	now          func() time.Time

	mu    sync.Mutex
	rooms map[string]*room
}

// room holds the members of one room. Its lock is held across storing a
// message and queueing it to every member, so that all members see one
// order, the seq order, even when many send at once. Members only queue, so
// the lock is held for the store write plus one enqueue per member.
type room struct {
	id string

	mu      sync.Mutex
	members map[string]*member
	order   []*member // the same members, for a fan-out without map iteration
	// dead is set when the last member left and the room is being dropped
	// from the service; a joiner who finds it dead starts a new one.
	dead bool
}

type member struct {
	id     string
	out    Member
	bucket bucket
}

// New returns a Service. cfg.Store is required.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("chat: Config.Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.HistoryLimit <= 0 {
		cfg.HistoryLimit = DefaultHistoryLimit
	}
	if cfg.SyncLimit <= 0 {
		cfg.SyncLimit = DefaultSyncLimit
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{
		store: cfg.Store, log: cfg.Logger, burst: cfg.Burst, rate: cfg.Rate,
		historyLimit: cfg.HistoryLimit, syncLimit: cfg.SyncLimit, now: cfg.Now,
		rooms: make(map[string]*room),
	}, nil
}

// Join adds a member to a room and sends it the room's recent history. The
// history and the membership start under the room's lock, so the member
// gets every message exactly once: older ones in the history, newer ones
// live. If the history cannot be read the member still joins (it can
// chat-sync later) and the error is returned for the caller to report.
func (s *Service) Join(roomID, memberID string, out Member) error {
	for {
		r := s.roomFor(roomID)
		r.mu.Lock()
		if r.dead {
			r.mu.Unlock()
			s.forget(r)
			continue
		}
		err := s.sendLocked(out, func() (protocol.ChatHistory, error) {
			return Recent(s.store, roomID, s.historyLimit)
		})
		if old, ok := r.members[memberID]; ok {
			// A member joining twice replaces itself: one queue per id.
			old.out = out
		} else {
			m := &member{id: memberID, out: out}
			r.members[memberID] = m
			r.order = append(r.order, m)
		}
		r.mu.Unlock()
		return err
	}
}

// Leave removes a member. Leaving a room one is not in does nothing.
func (s *Service) Leave(roomID, memberID string) {
	s.mu.Lock()
	r := s.rooms[roomID]
	s.mu.Unlock()
	if r == nil {
		return
	}
	r.mu.Lock()
	if _, ok := r.members[memberID]; ok {
		delete(r.members, memberID)
		for i, m := range r.order {
			if m.id == memberID {
				r.order = append(r.order[:i], r.order[i+1:]...)
				break
			}
		}
	}
	empty := len(r.members) == 0
	if empty {
		r.dead = true
	}
	r.mu.Unlock()
	if empty {
		s.forget(r)
	}
}

// Send stamps, stores and broadcasts a message from a member of a room.
// The sender gets the message back like everyone else: that echo, which
// carries its clientId, is the acknowledgement. A resend of a clientId
// already stored is acknowledged to the sender alone and stored once.
//
// Errors: *protocol.DecodeError (empty, too long, malformed), a
// *RateLimitError, ErrNotMember, or a store failure. The message was not
// stored in any of these cases, and the caller should say so to the sender.
func (s *Service) Send(roomID string, from Sender, msg *protocol.ChatSend) error {
	if err := msg.Validate(); err != nil {
		return err
	}
	r := s.lookup(roomID)
	if r == nil {
		return ErrNotMember
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.members[from.ID]
	if m == nil {
		return ErrNotMember
	}
	now := s.now()
	if wait, ok := m.bucket.take(now, s.burst, s.rate); !ok {
		s.log.Debug("chat rate limited", "room", roomID, "participant", from.ID, "retry_after", wait)
		return &RateLimitError{RetryAfter: wait, Burst: s.burst, Rate: s.rate}
	}
	stored, created, err := s.store.Append(Message{
		RoomID:     roomID,
		SenderID:   from.ID,
		UserID:     from.UserID,
		SenderName: from.Name,
		Text:       strings.TrimSpace(msg.Text),
		ClientID:   msg.ClientID,
		// Stored and sent at the precision of the wire format, so that the
		// live message and its history copy say the same time.
		Time: now.UTC().Truncate(time.Millisecond),
	})
	if err != nil {
		m.bucket.refund(s.burst)
		return fmt.Errorf("chat: store message in %s: %w", roomID, err)
	}
	frame, err := encode(Wire(stored))
	if err != nil {
		return err
	}
	if !created {
		m.bucket.refund(s.burst)
		s.log.Debug("chat resend acknowledged", "room", roomID, "participant", from.ID, "seq", stored.Seq)
		m.out.Send(frame)
		return nil
	}
	for _, o := range r.order {
		o.out.Send(frame)
	}
	return nil
}

// Sync answers a member's chat-sync with one chat-history page of the
// messages after seq after. It holds the room's lock so that, once the last
// page has arrived, every later message reaches the member live and in
// order.
func (s *Service) Sync(roomID, memberID string, after int64) error {
	r := s.lookup(roomID)
	if r == nil {
		return ErrNotMember
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.members[memberID]
	if m == nil {
		return ErrNotMember
	}
	return s.sendLocked(m.out, func() (protocol.ChatHistory, error) {
		return After(s.store, roomID, after, s.syncLimit)
	})
}

// sendLocked reads a history page and queues it to out.
func (s *Service) sendLocked(out Member, read func() (protocol.ChatHistory, error)) error {
	page, err := read()
	if err != nil {
		return err
	}
	frame, err := encode(page)
	if err != nil {
		return err
	}
	out.Send(frame)
	return nil
}

// roomFor returns the room with id, creating it if needed.
func (s *Service) roomFor(id string) *room {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[id]
	if r == nil {
		r = &room{id: id, members: make(map[string]*member)}
		s.rooms[id] = r
	}
	return r
}

func (s *Service) lookup(id string) *room {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[id]
}

// forget drops a dead room, unless a new one has already taken its place.
func (s *Service) forget(r *room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.id] == r {
		delete(s.rooms, r.id)
	}
}
