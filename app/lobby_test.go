package app

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"meet/protocol"
)

// lobbyRoom is a room with the lobby on and its owner in it.
func lobbyRoom(t *testing.T, a *testApp, body string) (owner *user, room protocol.Room, oc *client) {
	t.Helper()
	owner = a.newUser()
	room = owner.createRoom("lobby")
	if status := owner.do("PATCH", "/api/rooms/"+room.ID, body, nil); status != http.StatusOK {
		t.Fatalf("PATCH %s = %d", body, status)
	}
	oc = owner.dial(room.ID, url.Values{"name": {"Host"}})
	if !oc.wel.Room.Lobby {
		t.Fatalf("welcome room = %+v, want the lobby on", oc.wel.Room)
	}
	return owner, room, oc
}

// wait dials as u and reads the lobby-wait a waiter is told.
func (u *user) wait(roomID, name string) *client {
	u.app.t.Helper()
	c := u.dialRaw(roomID, url.Values{"name": {name}})
	var w protocol.LobbyWait
	c.readInto(protocol.TypeLobbyWait, &w)
	if w.Code != protocol.CodeInLobby || w.Message == "" {
		u.app.t.Fatalf("lobby-wait = %+v", w)
	}
	return c
}

// waitLobby reads lobby messages until the queue's names are want.
func (c *client) waitLobby(want ...string) protocol.Lobby {
	c.t.Helper()
	var l protocol.Lobby
	c.readUntil(protocol.TypeLobby, func(data []byte) bool {
		l = protocol.Lobby{}
		_ = json.Unmarshal(data, &l)
		names := []string{}
		for _, w := range l.Waiting {
			names = append(names, w.Name)
		}
		return slices.Equal(names, want)
	})
	return l
}

// welcomed reads c's welcome.
func (c *client) welcomed() {
	c.t.Helper()
	c.readInto(protocol.TypeWelcome, &c.wel)
	c.self = c.wel.Self
}

// refusedWith reads a refused join's error and its close.
func (c *client) refusedWith(code string) {
	c.t.Helper()
	e := c.readError()
	if e.Code != code || e.Ref != "join" || e.Message == "" {
		c.t.Fatalf("refusal = %+v, want %s", e, code)
	}
	_, _, err := c.next()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != protocol.CloseRoomGone {
		c.t.Fatalf("after %s: %v, want close %d", code, err, protocol.CloseRoomGone)
	}
}

// TestLobbyAdmitDenyAdmitAll: waiters are outside the room until the owner
// answers; the owner sees the queue in arrival order, live, with each
// waiter's identity and name.
func TestLobbyAdmitDenyAdmitAll(t *testing.T) {
	a := newTestApp(t)
	owner, room, oc := lobbyRoom(t, a, `{"lobby":true}`)
	ana := a.newUser()
	ac := ana.wait(room.ID, "Ana")
	q := oc.waitLobby("Ana")
	if q.Waiting[0].UserID != ana.id || q.Waiting[0].ID == "" {
		t.Fatalf("queue = %+v", q.Waiting)
	}
	// Waiting is not being in the room.
	if got := owner.getRoom(room.ID).Online; got != 1 {
		t.Fatalf("online = %d while Ana waits, want 1", got)
	}
	ac.send(protocol.ChatSend{Type: protocol.TypeChatSend, ClientID: "c1", Text: "let me in"})
	// Nothing answers a waiter; give its read loop the time to drop it.
	time.Sleep(200 * time.Millisecond)

	oc.send(protocol.LobbyAdmit{Type: protocol.TypeLobbyAdmit, ID: q.Waiting[0].ID})
	ac.welcomed()
	if ac.self.ID != q.Waiting[0].ID || len(ac.wel.Participants) != 1 {
		t.Fatalf("Ana's welcome = %+v", ac.wel)
	}
	var joined protocol.ParticipantJoined
	oc.readInto(protocol.TypeParticipantJoined, &joined)
	oc.waitLobby()

	// Denied: a clear refusal, and the socket closes.
	bo := a.newUser().wait(room.ID, "Bo")
	q = oc.waitLobby("Bo")
	oc.send(protocol.LobbyDeny{Type: protocol.TypeLobbyDeny, ID: q.Waiting[0].ID})
	bo.refusedWith(protocol.CodeDenied)
	oc.waitLobby()

	// Admit all, in arrival order; one who gives up leaves the queue.
	cy := a.newUser().wait(room.ID, "Cy")
	oc.waitLobby("Cy")
	gone := a.newUser().wait(room.ID, "Gone")
	oc.waitLobby("Cy", "Gone")
	di := a.newUser().wait(room.ID, "Di")
	oc.waitLobby("Cy", "Gone", "Di")
	gone.conn.Close()
	oc.waitLobby("Cy", "Di")
	oc.send(protocol.LobbyAdmitAll{Type: protocol.TypeLobbyAdmitAll})
	cy.welcomed()
	di.welcomed()
	if len(di.wel.Participants) != 3 || di.wel.Participants[2].ID != cy.self.ID {
		t.Fatalf("Di's welcome lists %+v", di.wel.Participants)
	}
	oc.waitLobby()
	var report struct {
		Attendance []attendanceEntry `json:"attendance"`
	}
	// A join is recorded just after its welcome goes out: wait for Di's.
	waitFor(t, func() bool {
		owner.do("GET", "/api/rooms/"+room.ID+"/attendance", "", &report)
		return len(report.Attendance) >= 4
	})
	if len(report.Attendance) != 4 {
		t.Fatalf("attendance = %+v, want the owner, Ana, Cy and Di", report.Attendance)
	}
	for _, r := range report.Attendance {
		if r.Name == "Bo" || r.Name == "Gone" {
			t.Fatalf("attendance lists %s, who never got in", r.Name)
		}
	}
	// Ana's chat while she waited reached nobody.
	var msgs struct{ Messages []protocol.ChatMessage }
	owner.do("GET", "/api/rooms/"+room.ID+"/messages", "", &msgs)
	if len(msgs.Messages) != 0 {
		t.Fatalf("chat from the lobby was kept: %+v", msgs.Messages)
	}
}

// TestLobbyOwnerAndReturnersBypass: the owner's other tabs never wait, nor
// does an identity admitted before (a reload); a resume after admission
// resumes; turning the lobby off lets the waiters in.
func TestLobbyOwnerAndReturnersBypass(t *testing.T) {
	a := newTestAppWith(t, Config{ReconnectGrace: 5 * time.Second})
	owner, room, oc := lobbyRoom(t, a, `{"lobby":true}`)
	second := owner.dial(room.ID, nil) // reads a welcome, or fails
	if second.self.Role != protocol.RoleOwner {
		t.Fatalf("owner's second tab role = %s", second.self.Role)
	}

	ana := a.newUser()
	ac := ana.wait(room.ID, "Ana")
	q := oc.waitLobby("Ana")
	oc.send(protocol.LobbyAdmit{Type: protocol.TypeLobbyAdmit, ID: q.Waiting[0].ID})
	ac.welcomed()

	// A dropped socket resumes without the lobby.
	ac.conn.Close()
	back := ana.dialRaw(room.ID, resumeQuery(ac.self.ID, 1))
	if typ, data, err := back.next(); err != nil || typ != protocol.TypeResumed {
		t.Fatalf("resume after admission: %s %s %v", typ, data, err)
	}
	// A reload (a fresh join) of an admitted identity skips it too.
	ana.dial(room.ID, url.Values{"name": {"Ana again"}})

	bo := a.newUser().wait(room.ID, "Bo")
	oc.waitLobby("Bo")
	off := false
	oc.send(protocol.RoomSettings{Type: protocol.TypeRoomSettings, Lobby: &off})
	bo.welcomed()
	if owner.getRoom(room.ID).Lobby {
		t.Fatal("the lobby is still on")
	}
}

// TestLockRefusesNewJoins: a locked room refuses newcomers with
// room_locked, but not its owner nor a resume.
func TestLockRefusesNewJoins(t *testing.T) {
	a := newTestAppWith(t, Config{ReconnectGrace: 5 * time.Second})
	owner := a.newUser()
	room := owner.createRoom("locked")
	oc := owner.dial(room.ID, nil)
	ana := a.newUser()
	ac := ana.dial(room.ID, nil)

	on := true
	oc.send(protocol.RoomSettings{Type: protocol.TypeRoomSettings, Locked: &on})
	var upd protocol.RoomUpdated
	ac.readInto(protocol.TypeRoomUpdated, &upd)
	if !upd.Room.Locked || !owner.getRoom(room.ID).Locked {
		t.Fatalf("room-updated = %+v", upd.Room)
	}
	a.newUser().dialRaw(room.ID, nil).refusedWith(protocol.CodeRoomLocked)

	ac.conn.Close()
	back := ana.dialRaw(room.ID, resumeQuery(ac.self.ID, 2))
	if typ, data, err := back.next(); err != nil || typ != protocol.TypeResumed {
		t.Fatalf("resume in a locked room: %s %s %v", typ, data, err)
	}
	owner.dial(room.ID, nil)

	// Locked with the lobby on: newcomers do not even wait.
	if status := owner.do("PATCH", "/api/rooms/"+room.ID, `{"lobby":true}`, nil); status != http.StatusOK {
		t.Fatalf("PATCH lobby = %d", status)
	}
	a.newUser().dialRaw(room.ID, nil).refusedWith(protocol.CodeRoomLocked)

	if status := owner.do("PATCH", "/api/rooms/"+room.ID, `{"locked":false,"lobby":false}`, nil); status != http.StatusOK {
		t.Fatalf("PATCH unlock = %d", status)
	}
	a.newUser().dial(room.ID, nil)
}

// TestLobbyRequestsOfNobody: answering someone who is not waiting is
// unknown_peer, and a waiter's hand-over keeps the queue with the owner.
func TestLobbyRequestsOfNobody(t *testing.T) {
	a := newTestApp(t)
	_, _, oc := lobbyRoom(t, a, `{"lobby":true}`)
	oc.send(protocol.LobbyAdmit{Type: protocol.TypeLobbyAdmit, ID: "p_nobody"})
	if e := oc.readError(); e.Code != protocol.CodeUnknownPeer || e.Ref != protocol.TypeLobbyAdmit {
		t.Fatalf("admit of nobody = %+v", e)
	}
	oc.send(protocol.LobbyDeny{Type: protocol.TypeLobbyDeny, ID: "p_nobody"})
	if e := oc.readError(); e.Code != protocol.CodeUnknownPeer || e.Ref != protocol.TypeLobbyDeny {
		t.Fatalf("deny of nobody = %+v", e)
	}
}
