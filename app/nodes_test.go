package app

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"meet/protocol"
	"meet/store"
	"meet/store/storetest"
)

// testNodeTimeout is the node timeout of these tests: short, so that a
// stopped node is dead soon, and long enough for heartbeats every third of
// it to keep a node live on a busy machine.
const testNodeTimeout = time.Second

// nodeApp is one node of a test cluster: a server on a database it shares.
type nodeApp struct {
	*testApp
	closeOnce sync.Once
}

// newNodeApp starts a server named id on the database dsn names.
func newNodeApp(t *testing.T, dsn, id string) *nodeApp {
	t.Helper()
	db, err := store.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Store: db, Secret: []byte("0123456789abcdef0123456789abcdef"),
		ReconnectGrace: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		NodeID: id, PublicURL: "http://" + id + ".example", NodeTimeout: testNodeTimeout,
	})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	srv.passcodeCost = bcrypt.MinCost
	hs := httptest.NewServer(srv.Handler())
	// The other nodes forward joins here (proxy.go): the public URL is
	// made up, as a load balancer's would be out of reach.
	if err := srv.SetInternalURL(hs.URL); err != nil {
		t.Fatal(err)
	}
	n := &nodeApp{testApp: &testApp{t: t, srv: srv, http: hs, store: db}}
	t.Cleanup(func() {
		n.close()
		hs.Close()
		db.Close()
	})
	return n
}

// close stops the node as cmd/meet does: its participants are told, and
// its heartbeats stop.
func (n *nodeApp) close() {
	n.closeOnce.Do(func() {
		n.http.CloseClientConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = n.srv.Shutdown(ctx)
	})
}

// as is u, the same identity, talking to node n.
func (u *user) as(n *nodeApp) *user {
	return &user{app: n.testApp, token: u.token, id: u.id}
}

// hostOf is the node GET /api/rooms/:id through u names, "" for none.
func hostOf(u *user, roomID string) string {
	var got protocol.Room
	u.do("GET", "/api/rooms/"+roomID, "", &got)
	if got.Node == nil {
		return ""
	}
	return got.Node.ID + " " + got.Node.URL
}

// listedHost is the node the room list through u names for roomID.
func listedHost(u *user, roomID string) string {
	var list struct {
		Rooms []protocol.Room `json:"rooms"`
	}
	u.do("GET", "/api/rooms", "", &list)
	for _, r := range list.Rooms {
		if r.ID == roomID && r.Node != nil {
			return r.Node.ID + " " + r.Node.URL
		}
	}
	return ""
}

func liveIDs(t *testing.T, s *store.Store) map[string]bool {
	t.Helper()
	live, err := s.LiveNodes(time.Now(), testNodeTimeout)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, n := range live {
		out[n.ID] = true
	}
	return out
}

// TestNodesShareOneDatabase: two servers on one database, as two nodes.
// Both beat from the start; a room joined on node A is placed there and
// node B says so; a room that empties is no longer placed; a node that
// stops is dead after the node timeout, and its room goes to a live node.
func TestNodesShareOneDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		dsn := d.NewDSN(t)
		a := newNodeApp(t, dsn, "node-a")
		b := newNodeApp(t, dsn, "node-b")
		// Written before either served a request.
		if live := liveIDs(t, b.store); !live["node-a"] || !live["node-b"] {
			t.Fatalf("live nodes = %v, want node-a and node-b", live)
		}
		ana := a.newUser()
		room := ana.createRoom("across nodes")
		if got := hostOf(ana.as(b), room.ID); got != "" {
			t.Fatalf("a room nobody joined is hosted by %q", got)
		}
		c := ana.dial(room.ID, nil)
		const hostA = "node-a http://node-a.example"
		waitFor(t, func() bool { return hostOf(ana.as(b), room.ID) == hostA })
		waitFor(t, func() bool { return listedHost(ana.as(b), room.ID) == hostA })
		// A's heartbeat carries its participant.
		waitFor(t, func() bool {
			n, err := b.store.Node("node-a")
			return err == nil && n.Participants == 1
		})
		// The room empties: it is no longer placed.
		c.conn.Close()
		waitFor(t, func() bool { return hostOf(ana.as(b), room.ID) == "" })

		// A room live on A when A stops: A is dead after the timeout, the
		// room is no longer shown on it, and a join on B places it there.
		// (Once A's heartbeat says it is empty again, A and B tie on load,
		// and a tie goes to the node that asks.)
		waitFor(t, func() bool {
			n, err := b.store.Node("node-a")
			return err == nil && n.Participants == 0
		})
		room2 := ana.createRoom("survives its node")
		ana.dial(room2.ID, nil)
		waitFor(t, func() bool { return hostOf(ana.as(b), room2.ID) == hostA })
		a.close()
		waitForLong(t, 3*testNodeTimeout, func() bool { return !liveIDs(t, b.store)["node-a"] })
		if !liveIDs(t, b.store)["node-b"] {
			t.Fatal("node-b is not live")
		}
		if got := hostOf(ana.as(b), room2.ID); got != "" {
			t.Fatalf("a room placed on a dead node is hosted by %q", got)
		}
		ana.as(b).dial(room2.ID, nil)
		waitFor(t, func() bool { return hostOf(ana.as(b), room2.ID) == "node-b http://node-b.example" })
	})
}

// waitForLong is waitFor with a deadline of its own.
func waitForLong(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d + 5*time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d+5*time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNodesCloseOnlyTheirAttendance: each node's attendance rows are its
// own. A node that dies (its heartbeats stop) has its open rows closed by
// the live nodes once they count it dead, and the live node's rows stay
// open.
func TestNodesCloseOnlyTheirAttendance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		dsn := d.NewDSN(t)
		a := newNodeApp(t, dsn, "node-a")
		b := newNodeApp(t, dsn, "node-b")
		ana, bob := a.newUser(), b.newUser()
		onA, onB := ana.createRoom("stays on a"), bob.createRoom("dies with b")
		ana.dial(onA.ID, nil)
		waitFor(t, func() bool { return hostOf(ana, onA.ID) == "node-a http://node-a.example" })
		bob.dial(onB.ID, nil)
		waitFor(t, func() bool { return hostOf(bob, onB.ID) == "node-b http://node-b.example" })
		open := func(roomID string) int {
			rows, err := a.store.AttendanceOf(roomID)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, r := range rows {
				if r.LeftAt == nil {
					n++
				}
			}
			return n
		}
		waitFor(t, func() bool { return open(onA.ID) == 1 && open(onB.ID) == 1 })

		// B dies without a word: its heartbeats stop, its sockets stay.
		b.srv.stopHeartbeats()
		waitForLong(t, 3*testNodeTimeout, func() bool { return open(onB.ID) == 0 })
		if n := open(onA.ID); n != 1 {
			t.Fatalf("node-a's participant has %d open attendance rows after node-b died, want 1", n)
		}
	})
}
