package app

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"
	"time"

	"meet/protocol"
)

// TestOwnerLeavingKeepsTheRoomWorking: when the owner's only tab leaves,
// the others stay connected, media and hands still work, owner actions
// stay refused, and the owner who comes back is the owner again and sees
// the queue.
func TestOwnerLeavingKeepsTheRoomWorking(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("class")
	oc := owner.dial(room.ID, nil)
	bob := a.newUser().dial(room.ID, nil)
	carol := a.newUser().dial(room.ID, url.Values{"spectator": {"1"}})

	oc.send(protocol.Leave{Type: protocol.TypeLeave})
	var left protocol.ParticipantLeft
	bob.readInto(protocol.TypeParticipantLeft, &left)
	if left.ID != oc.self.ID || left.Reason != "left" {
		t.Fatalf("left = %+v", left)
	}
	if got := owner.getRoom(room.ID); got.Status != "live" || got.Online != 2 {
		t.Fatalf("room after the owner left = %+v", got)
	}
	bob.send(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceMicrophone, Action: protocol.ActionPublished, StreamID: "m"})
	var m protocol.Media
	carol.readInto(protocol.TypeMedia, &m)
	if m.From != bob.self.ID {
		t.Fatalf("media = %+v", m)
	}
	carol.send(protocol.RaiseHand{Type: protocol.TypeHand, Raised: true})
	bob.waitStage(func(st protocol.Stage) bool { return slices.Equal(handIDs(st.Hands), []string{carol.self.ID}) })
	bob.send(protocol.HandAnswer{Type: protocol.TypeHandAnswer, ID: carol.self.ID, Accept: true})
	if e := bob.readError(); e.Code != protocol.CodeForbidden {
		t.Fatalf("a participant answered a hand: %+v", e)
	}

	back := owner.dial(room.ID, nil)
	if back.self.Role != protocol.RoleOwner || !slices.Equal(handIDs(back.wel.Hands), []string{carol.self.ID}) {
		t.Fatalf("owner back: role %s, hands %+v", back.self.Role, back.wel.Hands)
	}
	back.send(protocol.HandAnswer{Type: protocol.TypeHandAnswer, ID: carol.self.ID, Accept: true})
	carol.waitStage(func(st protocol.Stage) bool { return len(st.Members) == 1 && len(st.Hands) == 0 })
}

// TestOwnershipFollowsIdentity hands the room over while the owner has two
// tabs: both of them lose the owner role and every tab of the new owner
// gains it, the store says so, and the permissions follow at once.
func TestOwnershipFollowsIdentity(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("handover")
	laptop := owner.dial(room.ID, url.Values{"name": {"Ana laptop"}})
	phone := owner.dial(room.ID, url.Values{"name": {"Ana phone"}})
	bobU := a.newUser()
	bob := bobU.dial(room.ID, url.Values{"name": {"Bob"}})
	bob2 := bobU.dial(room.ID, url.Values{"name": {"Bob phone"}, "spectator": {"1"}})

	phone.send(protocol.OwnerSet{Type: protocol.TypeOwnerSet, ID: bob.self.ID})
	roles := map[string]string{}
	var upd protocol.RoomUpdated
	bob2.readUntil(protocol.TypeRoomUpdated, func(data []byte) bool {
		_ = json.Unmarshal(data, &upd)
		return true
	})
	if upd.Room.Owner.ID != bobU.id || upd.Room.Owner.Name != "Bob" {
		t.Fatalf("room-updated owner = %+v", upd.Room.Owner)
	}
	// The role changes came before the room-updated; read them from a
	// fresh list instead of the socket.
	var parts struct{ Participants []protocol.Participant }
	owner.do("GET", "/api/rooms/"+room.ID+"/participants", "", &parts)
	for _, p := range parts.Participants {
		roles[p.Name] = p.Role
	}
	want := map[string]string{"Ana laptop": "participant", "Ana phone": "participant", "Bob": "owner", "Bob phone": "owner"}
	for name, role := range want {
		if roles[name] != role {
			t.Fatalf("roles after hand-over = %v, want %v", roles, want)
		}
	}
	if got := owner.getRoom(room.ID).Owner.ID; got != bobU.id {
		t.Fatalf("stored owner = %s", got)
	}
	// The old owner may no longer act as one; the new one may.
	laptop.send(protocol.StageSet{Type: protocol.TypeStageSet, ID: bob.self.ID, On: true})
	if e := laptop.readError(); e.Code != protocol.CodeForbidden {
		t.Fatalf("old owner = %+v", e)
	}
	if status := owner.do("POST", "/api/rooms/"+room.ID+"/end", "", nil); status != 403 {
		t.Fatalf("old owner ends the room: %d", status)
	}
	bob2.send(protocol.StageSet{Type: protocol.TypeStageSet, ID: laptop.self.ID, On: true})
	laptop.waitStage(func(st protocol.Stage) bool { return slices.Equal(memberIDs(st.Members), []string{owner.id}) })
	// Handing it to yourself is refused.
	bob.send(protocol.OwnerSet{Type: protocol.TypeOwnerSet, ID: bob2.self.ID})
	if e := bob.readError(); e.Code != protocol.CodeBadRequest || e.Ref != protocol.TypeOwnerSet {
		t.Fatalf("hand to self = %+v", e)
	}
	if status := bobU.do("POST", "/api/rooms/"+room.ID+"/end", "", nil); status != 200 {
		t.Fatalf("new owner ends the room: %d", status)
	}
}

// TestRemoveAndMuteRefusals covers the owner's requests that make no
// sense: removing yourself or another owner tab, a target not in the
// room, asking to mute a microphone that is off.
func TestRemoveAndMuteRefusals(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("r")
	oc := owner.dial(room.ID, nil)
	tab2 := owner.dial(room.ID, nil)
	bob := a.newUser().dial(room.ID, nil)
	for _, tt := range []struct {
		msg  any
		code string
		ref  string
	}{
		{protocol.Remove{Type: protocol.TypeRemove, ID: oc.self.ID}, protocol.CodeBadRequest, protocol.TypeRemove},
		{protocol.Remove{Type: protocol.TypeRemove, ID: tab2.self.ID}, protocol.CodeForbidden, protocol.TypeRemove},
		{protocol.Remove{Type: protocol.TypeRemove, ID: "p_gone"}, protocol.CodeUnknownPeer, protocol.TypeRemove},
		{protocol.MuteRequest{Type: protocol.TypeMuteRequest, ID: bob.self.ID}, protocol.CodeBadRequest, protocol.TypeMuteRequest},
		{protocol.MuteRequest{Type: protocol.TypeMuteRequest, ID: "p_gone"}, protocol.CodeUnknownPeer, protocol.TypeMuteRequest},
		{protocol.StageSet{Type: protocol.TypeStageSet, ID: "p_gone", On: true}, protocol.CodeUnknownPeer, protocol.TypeStageSet},
		{protocol.StageSet{Type: protocol.TypeStageSet, UserID: "u_nobody", On: false}, protocol.CodeBadRequest, protocol.TypeStageSet},
		{`{"type":"remove"}`, protocol.CodeInvalidMessage, protocol.TypeRemove},
	} {
		oc.send(tt.msg)
		if e := oc.readError(); e.Code != tt.code || e.Ref != tt.ref || e.Message == "" {
			t.Fatalf("%v: error = %+v, want %s", tt.msg, e, tt.code)
		}
	}
	if got := owner.getRoom(room.ID).Online; got != 3 {
		t.Fatalf("online = %d after refusals", got)
	}
	// A camera that is on can be asked to mute.
	bob.send(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceCamera, Action: protocol.ActionPublished})
	oc.readInto(protocol.TypeMedia, &protocol.Media{})
	oc.send(protocol.MuteRequest{Type: protocol.TypeMuteRequest, ID: bob.self.ID, Source: protocol.SourceCamera})
	var mr protocol.MuteRequest
	bob.readInto(protocol.TypeMuteRequest, &mr)
	if mr.Source != protocol.SourceCamera || mr.From != oc.self.ID {
		t.Fatalf("mute-request = %+v", mr)
	}
}

// TestRoomSettingsAPI creates a classroom through the REST API and changes
// its settings with PATCH: only the owner may, bad bodies are refused, and
// the people inside hear of it at once. Turning a room into a classroom
// withdraws the tracks of everyone off the stage.
func TestRoomSettingsAPI(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	var room protocol.Room
	if status := owner.do("POST", "/api/rooms", `{"name":"Maths","classroom":true}`, &room); status != 201 {
		t.Fatalf("create = %d", status)
	}
	if !room.Classroom || room.AllowStage || room.Stage == nil {
		t.Fatalf("created = %+v", room)
	}
	var list struct{ Rooms []protocol.Room }
	owner.do("GET", "/api/rooms", "", &list)
	if len(list.Rooms) != 1 || !list.Rooms[0].Classroom {
		t.Fatalf("list = %+v", list.Rooms)
	}
	plain := owner.createRoom("Plain")
	if plain.Classroom {
		t.Fatal("a room is a classroom by default")
	}

	oc := owner.dial(plain.ID, nil)
	bobU := a.newUser()
	bob := bobU.dial(plain.ID, nil)
	bob.send(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceCamera, Action: protocol.ActionPublished, StreamID: "cam"})
	oc.readInto(protocol.TypeMedia, &protocol.Media{})

	var e errorBody
	for _, tt := range []struct {
		who    *user
		body   string
		status int
		code   string
	}{
		{bobU, `{"classroom":true}`, 403, protocol.CodeForbidden},
		{owner, `{}`, 400, protocol.CodeBadRequest},
		{owner, `{"classroom":"yes"}`, 400, protocol.CodeInvalidJSON},
		{owner, `not json`, 400, protocol.CodeInvalidJSON},
	} {
		if status := tt.who.do("PATCH", "/api/rooms/"+plain.ID, tt.body, &e); status != tt.status || e.Error.Code != tt.code {
			t.Fatalf("PATCH %s = %d %+v, want %d %s", tt.body, status, e, tt.status, tt.code)
		}
	}
	if status := owner.do("PATCH", "/api/rooms/zzzzzzzzzz", `{"classroom":true}`, &e); status != 404 {
		t.Fatalf("PATCH unknown room = %d", status)
	}
	if owner.getRoom(plain.ID).Classroom {
		t.Fatal("a refused PATCH changed the room")
	}

	var got protocol.Room
	if status := owner.do("PATCH", "/api/rooms/"+plain.ID, `{"classroom":true,"allowStage":true}`, &got); status != 200 || !got.Classroom || !got.AllowStage {
		t.Fatalf("PATCH = %d %+v", status, got)
	}
	// Bob is off the stage: his camera is withdrawn for everyone, and he
	// hears that the room is a classroom now.
	var m protocol.Media
	oc.readInto(protocol.TypeMedia, &m)
	if m.From != bob.self.ID || m.Action != protocol.ActionUnpublished || m.Source != protocol.SourceCamera {
		t.Fatalf("media after classroom on = %+v", m)
	}
	var upd protocol.RoomUpdated
	bob.readInto(protocol.TypeRoomUpdated, &upd)
	if !upd.Room.Classroom || !upd.Room.AllowStage || upd.Room.Online != 2 {
		t.Fatalf("room-updated = %+v", upd.Room)
	}
	var parts struct{ Participants []protocol.Participant }
	owner.do("GET", "/api/rooms/"+plain.ID+"/participants", "", &parts)
	for _, p := range parts.Participants {
		if p.ID == bob.self.ID && len(p.Media) != 0 {
			t.Fatalf("bob still publishes %v", p.Media)
		}
	}
	// allowStage lets him step on, and then he publishes again.
	bob.send(protocol.StageSet{Type: protocol.TypeStageSet, On: true})
	bob.waitStage(func(st protocol.Stage) bool { return len(st.Members) == 1 })
	bob.send(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceCamera, Action: protocol.ActionPublished, StreamID: "cam"})
	oc.readInto(protocol.TypeMedia, &m)
	if m.Action != protocol.ActionPublished {
		t.Fatalf("media = %+v", m)
	}

	owner.do("POST", "/api/rooms/"+plain.ID+"/end", "", nil)
	if status := owner.do("PATCH", "/api/rooms/"+plain.ID, `{"classroom":false}`, &e); status != 410 || e.Error.Code != protocol.CodeRoomEnded {
		t.Fatalf("PATCH ended room = %d %+v", status, e)
	}
}

// TestClassroomSFUPublishing runs a classroom through the real SFU with
// Pion peers: a student off the stage cannot publish (the offer is
// refused), on the stage the student's audio reaches a listener, and off
// the stage again the track is withdrawn and no longer forwarded.
func TestClassroomSFUPublishing(t *testing.T) {
	a := newTestAppWith(t, Config{MeshMax: 1})
	owner := a.newUser()
	var room protocol.Room
	owner.do("POST", "/api/rooms", `{"name":"Lecture","classroom":true}`, &room)
	oc := owner.dial(room.ID, nil)
	student := newSFUClient(t, a.newUser(), room.ID)
	listener := newSFUClient(t, a.newUser(), room.ID)
	waitFor(t, func() bool { return listener.lastMode().Mode == protocol.ModeSFU })

	forbidden := func() int {
		student.mu.Lock()
		defer student.mu.Unlock()
		n := 0
		for _, e := range student.errors {
			if e.Code == protocol.CodeForbidden && e.Ref == protocol.TypeSFU {
				n++
			}
		}
		return n
	}
	// An offer that names a track is refused before its SDP is read; the
	// helper's own publishing connection is made once, on the stage.
	offerMic := func() {
		student.write(protocol.SFU{Type: protocol.TypeSFU, PC: protocol.PCPublish, Kind: protocol.KindOffer, SDP: "v=0", Tracks: map[string]string{"0": protocol.SourceMicrophone}})
	}
	offerMic()
	waitFor(t, func() bool { return forbidden() == 1 })

	oc.send(protocol.StageSet{Type: protocol.TypeStageSet, ID: student.c.self.ID, On: true})
	oc.waitStage(func(st protocol.Stage) bool { return len(st.Members) == 1 })
	track := student.publishAudio()
	student.write(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceMicrophone, Action: protocol.ActionPublished})
	key := student.c.self.ID + "|" + protocol.SourceMicrophone
	deadline := time.Now().Add(15 * time.Second)
	for listener.count(key) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the student's audio never reached the listener; errors %v", listener.errors)
		}
		sendAudio(track, 10)
	}

	oc.send(protocol.StageSet{Type: protocol.TypeStageSet, ID: student.c.self.ID, On: false})
	oc.readUntil(protocol.TypeMedia, func(data []byte) bool {
		var m protocol.Media
		_ = json.Unmarshal(data, &m)
		return m.From == student.c.self.ID && m.Action == protocol.ActionUnpublished
	})
	// The server took the track away from the listener's connection: what
	// the listener counts from now on could only come on a track the
	// server gave it again.
	waitFor(t, func() bool { return listener.sfu.Ended(key) })
	before := listener.count(key)
	// The student goes on sending; once the server reports having read it
	// all, none of it may have reached the listener.
	last := sendAudio(track, 200)
	waitFor(t, func() bool {
		seq, ok := student.sfu.ReportedSeq(protocol.SourceMicrophone)
		return ok && int16(seq-last) >= 0
	})
	if after := listener.count(key); after != before {
		t.Fatalf("the listener got %d packets after the student left the stage", after-before)
	}
	offerMic()
	waitFor(t, func() bool { return forbidden() == 2 })
}
