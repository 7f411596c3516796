package store

import (
	"fmt"
	"testing"
	"time"

	"meet/store/storetest"
)

// presenceString writes what PresenceOf returned as room:node=online/mode
// items, rooms in the order asked, for comparing.
func presenceString(got map[string][]RoomPresence, rooms ...string) string {
	out := ""
	for _, room := range rooms {
		for _, r := range got[room] {
			if out != "" {
				out += " "
			}
			out += fmt.Sprintf("%s:%s=%d/%s", r.RoomID, r.NodeID, r.Online, r.Mode)
		}
	}
	return out
}

func mustBeat(t *testing.T, s *Store, id string, at time.Time) {
	t.Helper()
	if err := s.Heartbeat(Node{ID: id, StartedAt: at.Add(-time.Hour), HeartbeatAt: at}); err != nil {
		t.Fatal(err)
	}
}

// TestReplacePresence: a node's rows are replaced whole: a room no longer
// live there goes, a changed count is the new one, and another node's rows
// stay; an empty replacement clears the node's rows.
func TestReplacePresence(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		now := time.Now().UTC()
		mustBeat(t, s, "a", now)
		mustBeat(t, s, "b", now)
		write := func(node string, rows ...RoomPresence) {
			t.Helper()
			if err := s.ReplacePresence(node, rows, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		write("a", RoomPresence{RoomID: "r1", Online: 2, Mode: "mesh"}, RoomPresence{RoomID: "r2", Online: 5, Mode: "sfu"})
		write("b", RoomPresence{RoomID: "r3", Online: 1, Mode: "mesh"})
		// r1 emptied on a, r2 grew, r4 went live; b's row stays.
		write("a", RoomPresence{RoomID: "r2", Online: 7, Mode: "sfu"}, RoomPresence{RoomID: "r4", Online: 1, Mode: "mesh", NodeID: "ignored"})
		rooms := []string{"r1", "r2", "r3", "r4"}
		got, err := s.PresenceOf(rooms, time.Now(), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if want := "r2:a=7/sfu r3:b=1/mesh r4:a=1/mesh"; presenceString(got, rooms...) != want {
			t.Fatalf("presence = %q, want %q", presenceString(got, rooms...), want)
		}
		if at := got["r2"][0].UpdatedAt; time.Since(at) > time.Minute || time.Since(at) < 0 {
			t.Fatalf("r2 updated at %v, want now", at)
		}
		write("a")
		got, err = s.PresenceOf(rooms, time.Now(), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if want := "r3:b=1/mesh"; presenceString(got, rooms...) != want {
			t.Fatalf("presence after a emptied = %q, want %q", presenceString(got, rooms...), want)
		}
		if err := s.ReplacePresence("", nil, now); err == nil {
			t.Fatal("presence of a node without an id was written")
		}
	})
}

// TestPresenceOfLiveNodes: only the rows of live nodes count, a room two
// nodes report has a row of each (by node id), rooms not asked for are
// left out, and no rooms asked is no query.
func TestPresenceOfLiveNodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		now := time.Now().UTC()
		mustBeat(t, s, "b", now.Add(-time.Second))
		mustBeat(t, s, "a", now.Add(-9*time.Second))
		mustBeat(t, s, "dead", now.Add(-11*time.Second))
		for node, rows := range map[string][]RoomPresence{
			"a":    {{RoomID: "shared", Online: 3, Mode: "sfu"}, {RoomID: "only-a", Online: 1, Mode: "mesh"}},
			"b":    {{RoomID: "shared", Online: 4, Mode: "sfu"}, {RoomID: "unasked", Online: 9, Mode: "mesh"}},
			"dead": {{RoomID: "only-dead", Online: 6, Mode: "mesh"}, {RoomID: "shared", Online: 8, Mode: "sfu"}},
			// A node that never beat is not live either.
			"ghost": {{RoomID: "only-a", Online: 2, Mode: "mesh"}},
		} {
			if err := s.ReplacePresence(node, rows, now); err != nil {
				t.Fatal(err)
			}
		}
		rooms := []string{"shared", "only-a", "only-dead", "none"}
		got, err := s.PresenceOf(rooms, now, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if want := "shared:a=3/sfu shared:b=4/sfu only-a:a=1/mesh"; presenceString(got, rooms...) != want {
			t.Fatalf("presence = %q, want %q", presenceString(got, rooms...), want)
		}
		if len(got) != 2 {
			t.Fatalf("presence lists %d rooms, want shared and only-a: %v", len(got), got)
		}
		// Two seconds later a has missed its heartbeats too.
		got, err = s.PresenceOf(rooms, now.Add(2*time.Second), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if want := "shared:b=4/sfu"; presenceString(got, rooms...) != want {
			t.Fatalf("presence 2 s later = %q, want %q", presenceString(got, rooms...), want)
		}
		if got, err := s.PresenceOf(nil, now, 10*time.Second); err != nil || len(got) != 0 {
			t.Fatalf("presence of no rooms = %v, %v", got, err)
		}
	})
}
