package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
)

// Events between the nodes sharing one database (issue 18). A change that
// one node commits (a room's settings, its end, a ban lifted) may concern
// a live room another node hosts: the node that made it notifies an Event
// after the commit, and every node's listener gets it, the sender's own
// included (the app tells its own apart by Event.Node).
//
// PostgreSQL: pg_notify on one channel (EventsChannel) with the event as
// JSON, and a listener on a connection of its own (pgxlisten), which
// reconnects by itself. Notifications sent while it was away are lost: it
// says when it is back (EventHandlers.Reconnected), so that the app can
// read again what it holds. SQLite has one node: Notify hands the event to
// the store's own listeners, in the same process.

// EventKind says what changed.
type EventKind string

const (
	// EventRoomChanged: the room's stored settings (or passcode) changed.
	EventRoomChanged EventKind = "room-changed"
	// EventRoomEnded: the room is stored as ended.
	EventRoomEnded EventKind = "room-ended"
	// EventBanChanged: the standing of UserID in the room changed (a ban
	// set or lifted).
	EventBanChanged EventKind = "ban-changed"
)

// Event is one change a node made, for the others.
type Event struct {
	Kind   EventKind `json:"kind"`
	RoomID string    `json:"room"`
	// UserID is the identity concerned, when there is one (ban-changed).
	UserID string `json:"user,omitempty"`
	// Node is the id of the node that sent the event.
	Node string `json:"node"`
}

// EventsChannel is the PostgreSQL channel the events travel on.
const EventsChannel = "meet_events"

const (
	// listenRetry is how long the listener waits before connecting again
	// after it lost its connection or could not make one.
	listenRetry = 2 * time.Second
	// listenConnectTimeout bounds one attempt to connect the listener.
	listenConnectTimeout = 10 * time.Second
)

// listenKeepAlive probes the listener's idle connection, which otherwise
// only reads: a database gone without closing it (a host down, a network
// cut) is noticed within about 25 s, and the listener connects again.
var listenKeepAlive = net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 5 * time.Second, Count: 3}

// EventHandlers is what a listener calls. Each runs on the listener's one
// goroutine, in the order the events were sent (as PostgreSQL delivers
// them), so a slow handler holds up the next event; none may call the
// listener's Close.
type EventHandlers struct {
	// Event is given every event; required.
	Event func(Event)
	// Reconnected, when set, is called after the listener lost its
	// connection and listens again: events sent meanwhile are lost.
	Reconnected func()
	// Error, when set, is told of what the listener recovers from: a lost
	// connection, a payload that does not parse.
	Error func(error)
}

// Listener is a running Listen; Close stops it.
type Listener struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Close stops the listener and waits until no handler runs.
func (l *Listener) Close() {
	l.cancel()
	<-l.done
}

// Notify sends ev to every listener of every node on this database, this
// one's included. Call it after the change it tells of has committed: a
// listener may read the store as soon as it gets the event.
func (s *Store) Notify(ev Event) error {
	if ev.Kind == "" || ev.RoomID == "" {
		return fmt.Errorf("store: notify %+v: an event needs a kind and a room", ev)
	}
	if !s.postgres {
		s.bus.publish(ev)
		return nil
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("store: notify %s: %w", ev.Kind, err)
	}
	if err := s.db.Exec("SELECT pg_notify(?, ?)", EventsChannel, string(payload)).Error; err != nil {
		return fmt.Errorf("store: notify %s of room %s: %w", ev.Kind, ev.RoomID, err)
	}
	return nil
}

// Listen starts a listener of every node's events. It returns once the
// listener listens: an event notified after that reaches it. It stops with
// ctx or Close. On PostgreSQL a first connection that fails is an error;
// later losses are retried every few seconds, reported to h.Error and,
// once it listens again, h.Reconnected.
func (s *Store) Listen(ctx context.Context, h EventHandlers) (*Listener, error) {
	if h.Event == nil {
		return nil, errors.New("store: listen for events: no event handler")
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &Listener{cancel: cancel, done: make(chan struct{})}
	if !s.postgres {
		s.bus.listen(ctx, l.done, h.Event)
		return l, nil
	}
	if err := s.listenPostgres(ctx, l.done, h); err != nil {
		l.Close()
		return nil, fmt.Errorf("store: listen for events on %s: %w", redact(s.dsn), err)
	}
	return l, nil
}

// listenPostgres runs a pgxlisten.Listener on EventsChannel until ctx
// ends, closing done then. It returns once the channel is listened to, or
// the first connection's error.
func (s *Store) listenPostgres(ctx context.Context, done chan struct{}, h EventHandlers) error {
	handler := &pgEvents{h: h, ready: make(chan struct{})}
	first := make(chan error, 1)
	ln := &pgxlisten.Listener{
		Connect:        s.listenConn,
		ReconnectDelay: listenRetry,
		LogError: func(ctx context.Context, err error) {
			switch {
			case ctx.Err() != nil:
				// Closing: the wait for a notification was cancelled.
			case !handler.listening:
				select {
				case first <- err:
				default:
				}
			case h.Error != nil:
				h.Error(err)
			}
		},
	}
	ln.Handle(EventsChannel, handler)
	go func() {
		defer close(done)
		_ = ln.Listen(ctx)
	}()
	select {
	case <-handler.ready:
		return nil
	case err := <-first:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// listenConn opens the listener's own connection to the store's database,
// outside the pool: LISTEN belongs to a session, and the session waits.
func (s *Store) listenConn(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(s.dsn)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: listenConnectTimeout, KeepAliveConfig: listenKeepAlive}
	cfg.DialFunc = dialer.DialContext
	ctx, cancel := context.WithTimeout(ctx, listenConnectTimeout)
	defer cancel()
	return pgx.ConnectConfig(ctx, cfg)
}

// pgEvents is the listener's handler of EventsChannel. pgxlisten calls it
// on its one goroutine only, so its fields need no lock.
type pgEvents struct {
	h EventHandlers
	// ready is closed once the channel is first listened to; listening
	// says so to the listener's goroutine.
	ready     chan struct{}
	listening bool
}

// HandleBacklog is called after each LISTEN, the first one and each one
// after a reconnection: the events sent in between are lost.
func (p *pgEvents) HandleBacklog(context.Context, string, *pgx.Conn) error {
	if !p.listening {
		p.listening = true
		close(p.ready)
		return nil
	}
	if p.h.Reconnected != nil {
		p.h.Reconnected()
	}
	return nil
}

// HandleNotification decodes one event and hands it on.
func (p *pgEvents) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	var ev Event
	if err := json.Unmarshal([]byte(n.Payload), &ev); err != nil {
		return fmt.Errorf("event %q: %w", n.Payload, err)
	}
	p.h.Event(ev)
	return nil
}

// eventBus delivers a SQLite store's events to its own listeners: one
// node, one process. Its zero value is ready.
type eventBus struct {
	mu   sync.Mutex
	subs map[*busSub]struct{}
}

// busSub is one listener's queue: Notify never waits for a handler, and
// the handler sees the events in order.
type busSub struct {
	mu    sync.Mutex
	queue []Event
	wake  chan struct{} // one pending wake-up at most
}

func (b *eventBus) publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for sub := range b.subs {
		sub.mu.Lock()
		sub.queue = append(sub.queue, ev)
		sub.mu.Unlock()
		select {
		case sub.wake <- struct{}{}:
		default:
		}
	}
}

// listen registers a listener now and hands its events to handle on a
// goroutine of its own until ctx ends, closing done then.
func (b *eventBus) listen(ctx context.Context, done chan struct{}, handle func(Event)) {
	sub := &busSub{wake: make(chan struct{}, 1)}
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[*busSub]struct{}{}
	}
	b.subs[sub] = struct{}{}
	b.mu.Unlock()
	go func() {
		defer close(done)
		defer func() {
			b.mu.Lock()
			delete(b.subs, sub)
			b.mu.Unlock()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.wake:
			}
			sub.mu.Lock()
			batch := sub.queue
			sub.queue = nil
			sub.mu.Unlock()
			for _, ev := range batch {
				if ctx.Err() != nil {
					return
				}
				handle(ev)
			}
		}
	}()
}
