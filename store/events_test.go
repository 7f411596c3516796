package store

import (
	"context"
	"net/url"
	"testing"
	"time"

	"meet/store/storetest"
)

// eventWait bounds how long a test waits for an event that must come.
const eventWait = 10 * time.Second

// listenTo starts a listener on s whose events arrive on the returned
// channel; it is closed when the test ends.
func listenTo(t *testing.T, s *Store, h EventHandlers) (<-chan Event, *Listener) {
	t.Helper()
	got := make(chan Event, 64)
	h.Event = func(ev Event) { got <- ev }
	l, err := s.Listen(context.Background(), h)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(l.Close)
	return got, l
}

// expectEvent waits for the next event on got and checks it is want.
func expectEvent(t *testing.T, who string, got <-chan Event, want Event) {
	t.Helper()
	select {
	case ev := <-got:
		if ev != want {
			t.Fatalf("%s got %+v, want %+v", who, ev, want)
		}
	case <-time.After(eventWait):
		t.Fatalf("%s got no event within %s, want %+v", who, eventWait, want)
	}
}

// TestEventsReachEveryListener: every listener of a store gets every event
// notified after Listen returned, in order, its own node's included; a
// closed listener stops and the others go on; an event without a kind or
// a room is refused.
func TestEventsReachEveryListener(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		first, l1 := listenTo(t, s, EventHandlers{})
		second, _ := listenTo(t, s, EventHandlers{})
		sent := []Event{
			{Kind: EventRoomChanged, RoomID: "room1", Node: "node-a"},
			{Kind: EventBanChanged, RoomID: "room1", UserID: "user-1", Node: "node-a"},
			{Kind: EventRoomEnded, RoomID: "room1", Node: "node-a"},
			{Kind: EventRoomChanged, RoomID: "room2", Node: "node-a"},
		}
		for _, ev := range sent {
			if err := s.Notify(ev); err != nil {
				t.Fatal(err)
			}
		}
		for _, want := range sent {
			expectEvent(t, "the first listener", first, want)
			expectEvent(t, "the second listener", second, want)
		}
		l1.Close()
		next := Event{Kind: EventRoomChanged, RoomID: "room3", Node: "node-a"}
		if err := s.Notify(next); err != nil {
			t.Fatal(err)
		}
		expectEvent(t, "the listener left", second, next)
		for _, bad := range []Event{{RoomID: "room1"}, {Kind: EventRoomEnded}} {
			if err := s.Notify(bad); err == nil {
				t.Fatalf("Notify(%+v) = nil, want an error", bad)
			}
		}
		if _, err := s.Listen(context.Background(), EventHandlers{}); err == nil {
			t.Fatal("Listen without an event handler = nil error")
		}
	})
}

// TestEventsStopWithTheContext: a listener whose context ends stops, and
// its Close returns.
func TestEventsStopWithTheContext(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		ctx, cancel := context.WithCancel(context.Background())
		l, err := s.Listen(ctx, EventHandlers{Event: func(Event) {}})
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		select {
		case <-l.done:
		case <-time.After(eventWait):
			t.Fatalf("the listener still runs %s after its context ended", eventWait)
		}
		l.Close()
	})
}

// TestEventsBetweenStores: two stores on one PostgreSQL database, as two
// nodes: an event one notifies reaches the other's listener and its own.
func TestEventsBetweenStores(t *testing.T) {
	a, dsn := mustOpen(t, storetest.Dialect{Name: "postgres", NewDSN: storetest.PostgresDSN})
	b, err := Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	onA, _ := listenTo(t, a, EventHandlers{})
	onB, _ := listenTo(t, b, EventHandlers{})
	fromA := Event{Kind: EventRoomEnded, RoomID: "room1", Node: "node-a"}
	if err := a.Notify(fromA); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, "node B", onB, fromA)
	expectEvent(t, "node A itself", onA, fromA)
	fromB := Event{Kind: EventBanChanged, RoomID: "room1", UserID: "u", Node: "node-b"}
	if err := b.Notify(fromB); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, "node A", onA, fromB)
	expectEvent(t, "node B itself", onB, fromB)
}

// TestEventsListenerReconnects: PostgreSQL drops the listener's session;
// the listener reports the loss, connects again, says it is back (the
// events in between are lost), and gets the events sent after that.
func TestEventsListenerReconnects(t *testing.T) {
	s, _ := mustOpen(t, storetest.Dialect{Name: "postgres", NewDSN: storetest.PostgresDSN})
	back := make(chan struct{}, 4)
	lost := make(chan error, 16)
	got, _ := listenTo(t, s, EventHandlers{
		Reconnected: func() { back <- struct{}{} },
		Error:       func(err error) { lost <- err },
	})
	var killed int
	err := s.db.Raw(`SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'listen %'`).Scan(&killed).Error
	if err != nil || killed != 1 {
		t.Fatalf("terminated %d listening sessions (%v), want 1", killed, err)
	}
	select {
	case <-lost:
	case <-time.After(eventWait):
		t.Fatal("the lost connection was not reported")
	}
	select {
	case <-back:
	case <-time.After(eventWait + listenRetry):
		t.Fatal("the listener did not say it is back")
	}
	ev := Event{Kind: EventRoomChanged, RoomID: "room1", Node: "node-a"}
	if err := s.Notify(ev); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, "the listener, back", got, ev)
}

// TestEventsFirstConnectionFails: a listener that cannot connect at all is
// an error from Listen, not a silent retry.
func TestEventsFirstConnectionFails(t *testing.T) {
	s, dsn := mustOpen(t, storetest.Dialect{Name: "postgres", NewDSN: storetest.PostgresDSN})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/no_such_database"
	missing := &Store{db: s.db, postgres: true, dsn: u.String()}
	if l, err := missing.Listen(context.Background(), EventHandlers{Event: func(Event) {}}); err == nil {
		l.Close()
		t.Fatal("Listen on a database that does not exist = nil error")
	}
}
