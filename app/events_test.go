package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"meet/protocol"
	"meet/store"
	"meet/store/storetest"
)

// roomUpdatedUntil reads room-updated messages until ok accepts one.
func (c *client) roomUpdatedUntil(ok func(protocol.Room) bool) protocol.Room {
	c.t.Helper()
	var m protocol.RoomUpdated
	c.readUntil(protocol.TypeRoomUpdated, func(data []byte) bool {
		m = protocol.RoomUpdated{}
		return json.Unmarshal(data, &m) == nil && ok(m.Room)
	})
	return m.Room
}

// endedNow reads the room-ended c is told.
func (c *client) endedNow() {
	c.t.Helper()
	var m protocol.RoomEnded
	c.readInto(protocol.TypeRoomEnded, &m)
	if m.Room.Status != store.StatusEnded {
		c.t.Fatalf("room-ended tells of %+v", m.Room)
	}
}

// TestEventsReachTheHost: two nodes on one PostgreSQL database, a room
// live on node A with its owner and a waiter in its lobby, and every
// change made through node B's REST API: a PATCH reaches the live room on
// A (the participants are told, the lobby turned off lets its waiter in),
// a ban lifted through B is lifted in A's live room and a recording
// started through B is answered by it (those calls go to A), and the end through B ends the room on A for everyone in it.
func TestEventsReachTheHost(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	a := newNodeApp(t, dsn, "node-a")
	b := newNodeApp(t, dsn, "node-b")
	owner, room, oc := lobbyRoom(t, a.testApp, `{"lobby":true}`)
	bobU := a.newUser()
	bob := bobU.wait(room.ID, "Bob")
	oc.waitLobby("Bob")

	var patched protocol.Room
	if status := owner.as(b).do("PATCH", "/api/rooms/"+room.ID, `{"classroom":true,"lobby":false}`, &patched); status != http.StatusOK || !patched.Classroom {
		t.Fatalf("PATCH through B = %d %+v", status, patched)
	}
	oc.roomUpdatedUntil(func(r protocol.Room) bool { return r.Classroom && !r.Lobby })
	bob.welcomed()
	if !bob.wel.Room.Classroom || bob.wel.Room.Lobby {
		t.Fatalf("Bob let in from the lobby into %+v", bob.wel.Room)
	}
	if _, ok := b.srv.hub.Room(room.ID); ok {
		t.Fatal("node B made the room live")
	}

	// Banned on A, unbanned through B: Bob may join A's live room again.
	oc.send(protocol.Remove{Type: protocol.TypeRemove, ID: bob.self.ID, Ban: true})
	bob.removedFor(t)
	bobU.dialRaw(room.ID, nil).refusedWith(protocol.CodeBanned)
	if status := owner.as(b).do("DELETE", "/api/rooms/"+room.ID+"/bans/"+bobU.id, "", nil); status != http.StatusNoContent {
		t.Fatalf("DELETE ban through B = %d", status)
	}
	bob = bobU.dial(room.ID, url.Values{"name": {"Bob"}})

	// A recording started through B is A's live room's to answer: this
	// test's nodes do not record, which only the live room says (B alone
	// would find nobody in the room).
	var refused errorBody
	if status := owner.as(b).do("POST", "/api/rooms/"+room.ID+"/recording", `{"action":"start"}`, &refused); status != http.StatusInternalServerError || refused.Error.Code != protocol.CodeRecordingFailed {
		t.Fatalf("recording through B = %d %+v, want the live room's refusal", status, refused)
	}

	if status := owner.as(b).do("POST", "/api/rooms/"+room.ID+"/end", "", nil); status != http.StatusOK {
		t.Fatalf("end through B = %d", status)
	}
	oc.endedNow()
	bob.endedNow()
	waitFor(t, func() bool {
		_, live := a.srv.hub.Room(room.ID)
		return !live && hostOf(owner.as(b), room.ID) == ""
	})
}

// TestEventFromAnotherNode: one node and the events another node would
// send it (on SQLite, which carries no event between processes): its own
// events change nothing, another node's settings reach the live room, and
// another node's end ends it.
func TestEventFromAnotherNode(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("events")
	c := owner.dial(room.ID, nil)
	classroom := true
	if _, err := a.store.UpdateRoomSettings(room.ID, store.SettingsChange{Classroom: &classroom}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.EndRoom(room.ID); err != nil {
		t.Fatal(err)
	}
	// onEvent runs on the listener's goroutine; here, on the test's.
	a.srv.onEvent(store.Event{Kind: store.EventRoomEnded, RoomID: room.ID, Node: a.srv.NodeID()})
	if _, live := a.srv.hub.Room(room.ID); !live {
		t.Fatal("the node's own event ended its live room")
	}
	a.srv.onEvent(store.Event{Kind: store.EventRoomChanged, RoomID: room.ID, Node: "node-z"})
	c.roomUpdatedUntil(func(r protocol.Room) bool { return r.Classroom })
	a.srv.onEvent(store.Event{Kind: store.EventRoomEnded, RoomID: room.ID, Node: "node-z"})
	c.endedNow()
	if _, live := a.srv.hub.Room(room.ID); live {
		t.Fatal("the room is still live after another node ended it")
	}
}

// TestResyncAfterMissedEvents: a listener that was away rereads the live
// rooms: stored settings it missed reach the live room, and so does an
// end.
func TestResyncAfterMissedEvents(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("missed")
	c := owner.dial(room.ID, nil)
	allowStage := true
	if _, err := a.store.UpdateRoomSettings(room.ID, store.SettingsChange{AllowStage: &allowStage}); err != nil {
		t.Fatal(err)
	}
	a.srv.resyncLiveRooms()
	c.roomUpdatedUntil(func(r protocol.Room) bool { return r.AllowStage })
	if _, err := a.store.EndRoom(room.ID); err != nil {
		t.Fatal(err)
	}
	a.srv.resyncLiveRooms()
	c.endedNow()
}
