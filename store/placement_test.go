package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"meet/store/storetest"
)

// beat writes a heartbeat now for each node, with its participants, and
// returns them as LiveNodes would.
func beat(t *testing.T, s *Store, participants map[string]int) []Node {
	t.Helper()
	now := time.Now().UTC()
	for id, n := range participants {
		if err := s.Heartbeat(Node{ID: id, StartedAt: now, HeartbeatAt: now, Participants: n}); err != nil {
			t.Fatal(err)
		}
	}
	live, err := s.LiveNodes(now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return live
}

func mustPlace(t *testing.T, s *Store, roomID, self string, live []Node) string {
	t.Helper()
	n, err := s.PlaceRoom(roomID, self, live)
	if err != nil {
		t.Fatalf("PlaceRoom(%s, %s): %v", roomID, self, err)
	}
	return n.ID
}

// TestPlaceRoomLeastLoaded: a new room goes to the node with the fewest
// participants, then the fewest rooms, then the first id; once placed on
// a live node it stays there whoever asks.
func TestPlaceRoomLeastLoaded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		live := beat(t, s, map[string]int{"a": 5, "b": 2, "c": 2})
		if got := mustPlace(t, s, "r1", "a", live); got != "b" {
			t.Fatalf("r1 placed on %s, want b (fewest participants, first id)", got)
		}
		if got := mustPlace(t, s, "r2", "a", live); got != "c" {
			t.Fatalf("r2 placed on %s, want c (as few participants as b, fewer rooms)", got)
		}
		// b and c tie on participants and rooms: the asking node wins.
		if got := mustPlace(t, s, "r4", "c", live); got != "c" {
			t.Fatalf("r4 placed from c on %s, want c (a tie, and c asked)", got)
		}
		if got := mustPlace(t, s, "r5", "a", live); got != "b" {
			t.Fatalf("r5 placed from a on %s, want b (fewer rooms than c now)", got)
		}
		// b is now the least loaded by far, but r2 stays where it is.
		live = beat(t, s, map[string]int{"a": 5, "b": 0, "c": 9})
		for _, self := range []string{"a", "b", "c"} {
			if got := mustPlace(t, s, "r2", self, live); got != "c" {
				t.Fatalf("r2 asked again from %s: placed on %s, want c still", self, got)
			}
		}
		p, err := s.Placement("r2")
		if err != nil || p.NodeID != "c" {
			t.Fatalf("Placement(r2) = %+v, %v", p, err)
		}
		if _, err := s.PlaceRoom("r3", "zz", live); !errors.Is(err, ErrSelfNotLive) {
			t.Fatalf("PlaceRoom from a node that is not live: err = %v, want ErrSelfNotLive", err)
		}
		if _, err := s.Placement("r3"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Placement(r3) err = %v, want ErrNotFound", err)
		}
	})
}

// TestPlaceRoomHeartbeatMidCrowd: rooms go live on three nodes, and one
// node's heartbeat comes in the middle, counting the participants of the
// rooms it took so far, while the others' heartbeats still count none.
// The rooms placed since a heartbeat count for its node as one
// participant each, so the rest still spread over all three.
func TestPlaceRoomHeartbeatMidCrowd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		live := beat(t, s, map[string]int{"a": 0, "b": 0, "c": 0})
		perNode := map[string]int{}
		for i := range 6 {
			perNode[mustPlace(t, s, fmt.Sprintf("r%d", i), "a", live)]++
		}
		now := time.Now().UTC()
		if err := s.Heartbeat(Node{ID: "a", StartedAt: now, HeartbeatAt: now, Participants: perNode["a"]}); err != nil {
			t.Fatal(err)
		}
		live, err := s.LiveNodes(now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for i := 6; i < 12; i++ {
			perNode[mustPlace(t, s, fmt.Sprintf("r%d", i), "b", live)]++
		}
		for _, id := range []string{"a", "b", "c"} {
			if perNode[id] != 4 {
				t.Fatalf("rooms per node = %v, want 4 each", perNode)
			}
		}
	})
}

// TestPlaceRoomAfterNodeDies: a room whose node is dead is placed again on
// a live one, and the dead node's late Unplace does not remove it.
func TestPlaceRoomAfterNodeDies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		old := time.Now().UTC().Add(-time.Hour)
		if err := s.Heartbeat(Node{ID: "a", StartedAt: old, HeartbeatAt: old}); err != nil {
			t.Fatal(err)
		}
		if got := mustPlace(t, s, "r1", "a", []Node{{ID: "a"}}); got != "a" {
			t.Fatalf("r1 placed on %s, want a", got)
		}
		// a stopped beating an hour ago; b and c are live, c less loaded.
		live := beat(t, s, map[string]int{"b": 4, "c": 1})
		if got := mustPlace(t, s, "r1", "b", live); got != "c" {
			t.Fatalf("r1 placed again on %s, want c", got)
		}
		if err := s.Unplace("r1", "a"); err != nil {
			t.Fatal(err)
		}
		if p, err := s.Placement("r1"); err != nil || p.NodeID != "c" {
			t.Fatalf("after a's Unplace: Placement(r1) = %+v, %v; want c's", p, err)
		}
		if err := s.Unplace("r1", "c"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Placement("r1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after c's Unplace: Placement(r1) err = %v, want ErrNotFound", err)
		}
		rooms, err := s.PlacementsOf([]string{"r1"})
		if err != nil || len(rooms) != 0 {
			t.Fatalf("PlacementsOf = %v, %v", rooms, err)
		}
	})
}

// TestPlaceRoomRace: 50 rooms going live at once on 3 nodes, each node a
// Store of its own on the same database, every node asking for every
// room. Each room ends with exactly one placement, every caller got that
// node as its answer, and the rooms are spread over the nodes.
func TestPlaceRoomRace(t *testing.T) {
	const rooms = 50
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		first, dsn := mustOpen(t, d)
		live := beat(t, first, map[string]int{"a": 0, "b": 0, "c": 0})
		nodes := map[string]*Store{"a": first}
		for _, id := range []string{"b", "c"} {
			s, err := Open(dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			nodes[id] = s
		}
		var mu sync.Mutex
		answers := map[string]map[string]bool{} // room → the nodes callers were told
		var wg sync.WaitGroup
		start := make(chan struct{})
		for self, s := range nodes {
			for i := range rooms {
				wg.Add(1)
				go func() {
					defer wg.Done()
					room := fmt.Sprintf("room%02d", i)
					<-start
					n, err := s.PlaceRoom(room, self, live)
					if err != nil {
						t.Errorf("PlaceRoom(%s) from %s: %v", room, self, err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					if answers[room] == nil {
						answers[room] = map[string]bool{}
					}
					answers[room][n.ID] = true
				}()
			}
		}
		close(start)
		wg.Wait()
		if t.Failed() {
			return
		}
		checkRacedPlacements(t, first, rooms, answers)
	})
}

// checkRacedPlacements checks TestPlaceRoomRace's outcome in the database.
func checkRacedPlacements(t *testing.T, s *Store, rooms int, answers map[string]map[string]bool) {
	t.Helper()
	var stored []Placement
	if err := s.db.Order("room_id").Find(&stored).Error; err != nil {
		t.Fatal(err)
	}
	if len(stored) != rooms {
		t.Fatalf("%d placements, want %d", len(stored), rooms)
	}
	perNode := map[string]int{}
	for _, p := range stored {
		told := answers[p.RoomID]
		if len(told) != 1 || !told[p.NodeID] {
			t.Errorf("room %s is placed on %s, and its callers were told %v", p.RoomID, p.NodeID, told)
		}
		perNode[p.NodeID]++
	}
	// Placements queue one after another, so each new room went to the
	// node with the fewest so far: 17, 17, 16.
	for _, id := range []string{"a", "b", "c"} {
		if n := perNode[id]; n < rooms/3 || n > rooms/3+1 {
			t.Errorf("rooms per node = %v, want them spread evenly", perNode)
			break
		}
	}
	for _, id := range []string{"a", "b", "c"} {
		on, err := s.PlacedOn(id)
		if err != nil || len(on) != perNode[id] {
			t.Errorf("PlacedOn(%s) = %d rooms, %v; want %d", id, len(on), err, perNode[id])
		}
	}
}
