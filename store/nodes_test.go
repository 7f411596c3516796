package store

import (
	"errors"
	"testing"
	"time"

	"meet/store/storetest"
)

// TestHeartbeatUpserts: the first heartbeat creates the node's row, the
// next replaces it; Node reads it back, and an unknown node is ErrNotFound.
func TestHeartbeatUpserts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		start := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
		n := Node{ID: "a", PublicURL: "https://a.example", StartedAt: start, HeartbeatAt: start, Participants: 3}
		if err := s.Heartbeat(n); err != nil {
			t.Fatal(err)
		}
		n.HeartbeatAt, n.Participants, n.DeliveriesPerSecond, n.CPU = start.Add(time.Second), 7, 1234.5, 0.75
		if err := s.Heartbeat(n); err != nil {
			t.Fatal(err)
		}
		got, err := s.Node("a")
		if err != nil {
			t.Fatal(err)
		}
		if got.PublicURL != n.PublicURL || got.Participants != 7 || got.DeliveriesPerSecond != 1234.5 || got.CPU != 0.75 ||
			!got.StartedAt.Equal(start) || !got.HeartbeatAt.Equal(n.HeartbeatAt) {
			t.Fatalf("Node(a) = %+v, want %+v", got, n)
		}
		if _, err := s.Node("nobody"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Node(nobody) err = %v, want ErrNotFound", err)
		}
	})
}

// TestLiveNodes: a node is live while its last heartbeat is younger than
// the timeout, and listed by id.
func TestLiveNodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		now := time.Now().UTC()
		for _, n := range []Node{
			{ID: "c", HeartbeatAt: now.Add(-time.Second)},
			{ID: "a", HeartbeatAt: now.Add(-9 * time.Second)},
			{ID: "dead", HeartbeatAt: now.Add(-11 * time.Second)},
			{ID: "b", HeartbeatAt: now},
		} {
			n.StartedAt = now.Add(-time.Hour)
			if err := s.Heartbeat(n); err != nil {
				t.Fatal(err)
			}
		}
		live, err := s.LiveNodes(now, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got := nodeIDs(live); got != "a,b,c" {
			t.Fatalf("live nodes = %s, want a,b,c", got)
		}
		// Later, a has missed its heartbeats too.
		live, err = s.LiveNodes(now.Add(2*time.Second), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got := nodeIDs(live); got != "b,c" {
			t.Fatalf("live nodes 2 s later = %s, want b,c", got)
		}
	})
}

func nodeIDs(nodes []Node) string {
	out := ""
	for i, n := range nodes {
		if i > 0 {
			out += ","
		}
		out += n.ID
	}
	return out
}
