package app

import (
	"fmt"
	"testing"
	"time"

	"meet/protocol"
	"meet/store/storetest"
)

// listedPresence is what the room list through u says of roomID:
// "online/mode", or "" when it is not listed.
func listedPresence(u *user, roomID string) string {
	var list struct {
		Rooms []protocol.Room `json:"rooms"`
	}
	u.do("GET", "/api/rooms", "", &list)
	for _, r := range list.Rooms {
		if r.ID == roomID {
			return fmt.Sprintf("%d/%s", r.Online, r.Mode)
		}
	}
	return ""
}

// TestRoomListCoversAllNodes: the room list of every node counts the
// participants of rooms live on the others. A participant joins through
// node A; A's own list counts them at once (its hub), and B's, where the
// room is not live, once A's heartbeat has written its presence. When the
// room empties B's count follows, and a node that stops takes its rows
// with it.
func TestRoomListCoversAllNodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		dsn := d.NewDSN(t)
		a := newNodeApp(t, dsn, "node-a")
		b := newNodeApp(t, dsn, "node-b")
		ana := a.newUser()
		room := ana.createRoom("counted everywhere")
		quiet := ana.createRoom("nobody here")
		c := ana.dial(room.ID, nil)
		if got := listedPresence(ana, room.ID); got != "1/mesh" {
			t.Fatalf("A's own list says %q of its live room, want 1/mesh at once", got)
		}
		waitFor(t, func() bool { return listedPresence(ana.as(b), room.ID) == "1/mesh" })
		if _, ok := b.srv.hub.Room(room.ID); ok {
			t.Fatal("node B made the room live itself: its count is not A's")
		}
		if got := listedPresence(ana.as(b), quiet.ID); got != "0/mesh" {
			t.Fatalf("B lists the room nobody joined as %q, want 0/mesh", got)
		}

		// The room empties on A: B's count follows with A's next heartbeat.
		c.conn.Close()
		waitFor(t, func() bool { return listedPresence(ana, room.ID) == "0/mesh" })
		waitFor(t, func() bool { return listedPresence(ana.as(b), room.ID) == "0/mesh" })

		// Live again, then A stops: its rows go with it, before its
		// heartbeat is even stale.
		ana.dial(room.ID, nil)
		waitFor(t, func() bool { return listedPresence(ana.as(b), room.ID) == "1/mesh" })
		a.close()
		rows, err := b.store.PresenceOf([]string{room.ID}, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 0 {
			t.Fatalf("node A left presence rows behind as it stopped: %+v", rows)
		}
		if got := listedPresence(ana.as(b), room.ID); got != "0/mesh" {
			t.Fatalf("B lists the room of the stopped node as %q, want 0/mesh", got)
		}
	})
}
