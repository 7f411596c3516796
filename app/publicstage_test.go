package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"meet/protocol"
)

// TestPublicStageSetting: the room setting publicStage (the stage may be
// watched without a token over WHEP) is off by default, may be chosen at
// creation, and only a host may change it, with PATCH or room-settings;
// everyone in the room hears of a change.
func TestPublicStageSetting(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()

	// At creation.
	if plain := owner.createRoom("plain"); plain.PublicStage {
		t.Fatalf("a room's stage is public by default: %+v", plain)
	}
	created := owner.createRoomWith(`{"name":"open","publicStage":true}`)
	if !created.PublicStage || created.HostStart {
		t.Fatalf("created room = %+v, want publicStage only", created)
	}
	if !owner.getRoom(created.ID).PublicStage {
		t.Fatal("GET does not show the publicStage chosen at creation")
	}
	var e errorBody
	if status := owner.do("POST", "/api/rooms", `{"name":"bad","publicStage":"yes"}`, &e); status != http.StatusBadRequest {
		t.Fatalf("create with publicStage of the wrong type = %d %+v", status, e)
	}

	// PATCH by the owner.
	room := owner.createRoom("stage")
	var got protocol.Room
	if status := owner.do("PATCH", "/api/rooms/"+room.ID, `{"publicStage":true}`, &got); status != http.StatusOK || !got.PublicStage {
		t.Fatalf("owner's PATCH = %d %+v", status, got)
	}
	if r := owner.getRoom(room.ID); !r.PublicStage || r.HostStart || r.Lobby {
		t.Fatalf("GET after PATCH = %+v, want publicStage only", r)
	}

	// PATCH by a participant who is not a host: refused, nothing changes.
	oc := owner.dial(room.ID, url.Values{"name": {"Host"}})
	guestU := a.newUser()
	guest := guestU.dial(room.ID, url.Values{"name": {"Guest"}})
	e = errorBody{}
	if status := guestU.do("PATCH", "/api/rooms/"+room.ID, `{"publicStage":false}`, &e); status != http.StatusForbidden || e.Error.Code != protocol.CodeForbidden {
		t.Fatalf("non-host's PATCH = %d %+v, want 403", status, e)
	}
	if !owner.getRoom(room.ID).PublicStage {
		t.Fatal("a refused PATCH turned publicStage off")
	}

	// An empty PATCH names the setting among those it could change.
	e = errorBody{}
	if status := owner.do("PATCH", "/api/rooms/"+room.ID, `{}`, &e); status != http.StatusBadRequest || !strings.Contains(e.Error.Message, `"publicStage"`) {
		t.Fatalf("empty PATCH = %d %+v", status, e)
	}

	// room-settings over the socket: a non-host is refused, the owner's
	// change reaches everyone.
	off := false
	guest.send(protocol.RoomSettings{Type: protocol.TypeRoomSettings, PublicStage: &off})
	if m := guest.readError(); m.Code != protocol.CodeForbidden || m.Ref != protocol.TypeRoomSettings {
		t.Fatalf("non-host's room-settings = %+v, want forbidden", m)
	}
	if !owner.getRoom(room.ID).PublicStage {
		t.Fatal("a refused room-settings turned publicStage off")
	}
	oc.send(protocol.RoomSettings{Type: protocol.TypeRoomSettings, PublicStage: &off})
	guest.readUntil(protocol.TypeRoomUpdated, func(data []byte) bool {
		var m protocol.RoomUpdated
		return json.Unmarshal(data, &m) == nil && !m.Room.PublicStage
	})
	if owner.getRoom(room.ID).PublicStage {
		t.Fatal("GET still shows publicStage after the owner's room-settings")
	}

	// PATCH while the room is live: the news carries the setting.
	if status := owner.do("PATCH", "/api/rooms/"+room.ID, `{"publicStage":true}`, nil); status != http.StatusOK {
		t.Fatalf("owner's second PATCH = %d", status)
	}
	guest.readUntil(protocol.TypeRoomUpdated, func(data []byte) bool {
		var m protocol.RoomUpdated
		return json.Unmarshal(data, &m) == nil && m.Room.PublicStage
	})
}
