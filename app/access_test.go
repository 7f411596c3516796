package app

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/gorilla/websocket"

	"meet/protocol"
)

// waitRole reads participant-updated messages until participant id has
// role, and returns its view.
func (c *client) waitRole(id, role string) protocol.Participant {
	c.t.Helper()
	var got protocol.Participant
	c.readUntil(protocol.TypeParticipantUpdated, func(data []byte) bool {
		var m protocol.ParticipantUpdated
		_ = json.Unmarshal(data, &m)
		got = m.Participant
		return m.Participant.ID == id && m.Participant.Role == role
	})
	return got
}

// removedFor reads the participant-left a removed participant gets about
// itself and the close that follows.
func (c *client) removedFor(t *testing.T) {
	t.Helper()
	var left protocol.ParticipantLeft
	c.readUntil(protocol.TypeParticipantLeft, func(data []byte) bool {
		_ = json.Unmarshal(data, &left)
		return left.ID == c.self.ID
	})
	if left.Reason != "removed" {
		t.Fatalf("told %+v, want my own removal", left)
	}
	_, _, err := c.next()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != protocol.CloseRemoved {
		t.Fatalf("after removal: %v, want close %d", err, protocol.CloseRemoved)
	}
}

// ownerBans has the owner ban the target and waits until c sees it leave.
func (e *matrixEnv) ownerBans(c *client) {
	e.ownerC.send(protocol.Remove{Type: protocol.TypeRemove, ID: e.target.self.ID, Ban: true})
	c.readUntil(protocol.TypeParticipantLeft, func(data []byte) bool {
		var m protocol.ParticipantLeft
		return json.Unmarshal(data, &m) == nil && m.ID == e.target.self.ID
	})
}

// inviteRevoked reports whether the invite setup made is revoked.
func (e *matrixEnv) inviteRevoked(t *testing.T) bool {
	t.Helper()
	var list struct {
		Invites []struct {
			ID      string
			Revoked bool
		}
	}
	e.owner.do("GET", "/api/rooms/"+e.room.ID+"/invites", "", &list)
	for _, inv := range list.Invites {
		if inv.ID == e.inviteID {
			return inv.Revoked
		}
	}
	t.Fatalf("invite %s is not listed", e.inviteID)
	return false
}

// accessActions are the permission matrix's actions on roles and bans
// (access.go), allowed to hosts.
func accessActions(hosts map[string]bool) []matrixAction {
	participantRole := func(t *testing.T, e *matrixEnv) {
		var parts struct{ Participants []protocol.Participant }
		e.owner.do("GET", "/api/rooms/"+e.room.ID+"/participants", "", &parts)
		for _, p := range parts.Participants {
			if p.ID == e.target.self.ID && p.Role != protocol.RoleParticipant {
				t.Fatalf("the target's role changed to %s", p.Role)
			}
		}
	}
	noInvites := func(t *testing.T, e *matrixEnv) {
		var list struct{ Invites []any }
		e.owner.do("GET", "/api/rooms/"+e.room.ID+"/invites", "", &list)
		if len(list.Invites) != 0 {
			t.Fatalf("%d invites were made", len(list.Invites))
		}
	}
	stillBanned := func(t *testing.T, e *matrixEnv) {
		e.targetU.dialRaw(e.room.ID, nil).refusedWith(protocol.CodeBanned)
	}
	return []matrixAction{
		{
			name: "make someone a moderator", ref: protocol.TypeRoleSet, allowed: hosts,
			act: func(e *matrixEnv) {
				e.actor.send(protocol.RoleSet{Type: protocol.TypeRoleSet, ID: e.target.self.ID, Role: protocol.RoleModerator})
			},
			done:      func(t *testing.T, e *matrixEnv) { e.target.waitRole(e.target.self.ID, protocol.RoleModerator) },
			unchanged: participantRole,
		},
		{
			name: "make someone a presenter", ref: protocol.TypeRoleSet, allowed: hosts,
			act: func(e *matrixEnv) {
				e.actor.send(protocol.RoleSet{Type: protocol.TypeRoleSet, ID: e.target.self.ID, Role: protocol.RolePresenter})
			},
			done:      func(t *testing.T, e *matrixEnv) { e.target.waitRole(e.target.self.ID, protocol.RolePresenter) },
			unchanged: participantRole,
		},
		{
			name: "ban a participant", ref: protocol.TypeRemove, allowed: hosts,
			act: func(e *matrixEnv) {
				e.actor.send(protocol.Remove{Type: protocol.TypeRemove, ID: e.target.self.ID, Ban: true})
			},
			done: func(t *testing.T, e *matrixEnv) {
				e.target.removedFor(t)
				e.targetU.dialRaw(e.room.ID, nil).refusedWith(protocol.CodeBanned)
			},
			unchanged: func(t *testing.T, e *matrixEnv) {
				e.targetU.dial(e.room.ID, nil) // a second tab still joins
			},
		},
		{
			name: "lift a ban", ref: protocol.TypeUnban, allowed: hosts,
			setup: func(t *testing.T, e *matrixEnv) { e.ownerBans(e.actor) },
			act: func(e *matrixEnv) {
				e.actor.send(protocol.Unban{Type: protocol.TypeUnban, UserID: e.targetU.id})
			},
			done: func(t *testing.T, e *matrixEnv) {
				eventually(t, "the ban is lifted", func() bool {
					var bans struct{ Bans []protocol.Ban }
					e.owner.do("GET", "/api/rooms/"+e.room.ID+"/bans", "", &bans)
					return len(bans.Bans) == 0
				})
				e.targetU.dial(e.room.ID, nil)
			},
			unchanged: stillBanned,
		},
		{
			name: "list the bans", rest: true, allowed: hosts,
			setup: func(t *testing.T, e *matrixEnv) { e.ownerBans(e.actor) },
			act:   func(e *matrixEnv) { e.restAs(e.actorU, "GET", "/bans", "") },
			done: func(t *testing.T, e *matrixEnv) {
				if e.restStatus != http.StatusOK {
					t.Fatalf("GET bans = %d %s", e.restStatus, e.restCode)
				}
			},
		},
		{
			name: "lift a ban over REST", rest: true, allowed: hosts,
			setup: func(t *testing.T, e *matrixEnv) { e.ownerBans(e.actor) },
			act:   func(e *matrixEnv) { e.restAs(e.actorU, "DELETE", "/bans/"+e.targetU.id, "") },
			done: func(t *testing.T, e *matrixEnv) {
				if e.restStatus != http.StatusNoContent {
					t.Fatalf("DELETE ban = %d %s", e.restStatus, e.restCode)
				}
				e.targetU.dial(e.room.ID, nil)
			},
			unchanged: stillBanned,
		},
		{
			name: "make an invite link", rest: true, allowed: hosts,
			act: func(e *matrixEnv) { e.restAs(e.actorU, "POST", "/invites", `{"role":"presenter","ttl":600}`) },
			done: func(t *testing.T, e *matrixEnv) {
				if e.restStatus != http.StatusCreated {
					t.Fatalf("POST invites = %d %s", e.restStatus, e.restCode)
				}
			},
			unchanged: noInvites,
		},
		{
			name: "list the invite links", rest: true, allowed: hosts,
			act: func(e *matrixEnv) { e.restAs(e.actorU, "GET", "/invites", "") },
			done: func(t *testing.T, e *matrixEnv) {
				if e.restStatus != http.StatusOK {
					t.Fatalf("GET invites = %d %s", e.restStatus, e.restCode)
				}
			},
		},
		{
			name: "revoke an invite link", rest: true, allowed: hosts,
			setup: func(t *testing.T, e *matrixEnv) { _, e.inviteID = e.owner.inviteOf(e.room.ID, "viewer", 0) },
			act:   func(e *matrixEnv) { e.restAs(e.actorU, "DELETE", "/invites/"+e.inviteID, "") },
			done: func(t *testing.T, e *matrixEnv) {
				if e.restStatus != http.StatusNoContent || !e.inviteRevoked(t) {
					t.Fatalf("DELETE invite = %d %s", e.restStatus, e.restCode)
				}
			},
			unchanged: func(t *testing.T, e *matrixEnv) {
				if e.inviteRevoked(t) {
					t.Fatal("the invite was revoked")
				}
			},
		},
		{
			name: "make the room wait for its host", ref: protocol.TypeRoomSettings, allowed: hosts,
			act: func(e *matrixEnv) {
				on := true
				e.actor.send(protocol.RoomSettings{Type: protocol.TypeRoomSettings, HostStart: &on})
			},
			done: func(t *testing.T, e *matrixEnv) {
				e.target.readUntil(protocol.TypeRoomUpdated, func(data []byte) bool {
					var m protocol.RoomUpdated
					return json.Unmarshal(data, &m) == nil && m.Room.HostStart
				})
			},
			unchanged: func(t *testing.T, e *matrixEnv) {
				if e.owner.getRoom(e.room.ID).HostStart {
					t.Fatal("host start was turned on")
				}
			},
		},
	}
}

// TestBanFollowsTheIdentity: a ban removes every tab of the identity,
// keeps it out (with banned) through a restart of the live room, lists
// it for hosts, and an unban lets it in again.
func TestBanFollowsTheIdentity(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("bans")
	oc := owner.dial(room.ID, url.Values{"name": {"Teacher"}})
	pupil := a.newUser()
	tab1 := pupil.dial(room.ID, url.Values{"name": {"Pupil"}})
	tab2 := pupil.dial(room.ID, url.Values{"name": {"Pupil"}})
	oc.send(protocol.Remove{Type: protocol.TypeRemove, ID: tab1.self.ID, Ban: true})
	tab1.removedFor(t)
	tab2.removedFor(t)
	if got := owner.getRoom(room.ID).Online; got != 1 {
		t.Fatalf("online = %d after the ban, want 1", got)
	}
	pupil.dialRaw(room.ID, nil).refusedWith(protocol.CodeBanned)

	var bans struct{ Bans []protocol.Ban }
	if status := owner.do("GET", "/api/rooms/"+room.ID+"/bans", "", &bans); status != http.StatusOK ||
		len(bans.Bans) != 1 || bans.Bans[0].UserID != pupil.id || bans.Bans[0].Name != "Pupil" || bans.Bans[0].BannedAt == "" {
		t.Fatalf("GET bans = %d %+v", status, bans)
	}

	// The ban is stored: the room empties and goes live again.
	oc.conn.Close()
	eventually(t, "the room empties", func() bool { return owner.getRoom(room.ID).Online == 0 })
	owner.dial(room.ID, nil)
	pupil.dialRaw(room.ID, nil).refusedWith(protocol.CodeBanned)

	// Unbanning something that is not banned is a clear not_found.
	var answer apiError
	if status := owner.do("DELETE", "/api/rooms/"+room.ID+"/bans/u_nobody", "", &answer); status != http.StatusNotFound || answer.Error.Code != protocol.CodeNotFound {
		t.Fatalf("DELETE an absent ban = %d %+v", status, answer)
	}
	if status := owner.do("DELETE", "/api/rooms/"+room.ID+"/bans/"+pupil.id, "", nil); status != http.StatusNoContent {
		t.Fatalf("DELETE ban = %d", status)
	}
	pupil.dial(room.ID, nil)
}

// TestModeratorIsAHostButNotTheOwner: a moderator gets the lobby's queue
// and answers it, keeps its role in a second tab (the role follows the
// identity), and may neither hand the room over nor end it, nor touch
// the owner.
func TestModeratorIsAHostButNotTheOwner(t *testing.T) {
	a := newTestApp(t)
	owner, room, oc := lobbyRoom(t, a, `{"lobby":true}`)
	mod := a.newUser()
	mc := mod.wait(room.ID, "Mod")
	q := oc.waitLobby("Mod")
	oc.send(protocol.LobbyAdmit{Type: protocol.TypeLobbyAdmit, ID: q.Waiting[0].ID})
	mc.welcomed()
	oc.send(protocol.RoleSet{Type: protocol.TypeRoleSet, ID: mc.self.ID, Role: protocol.RoleModerator})
	mc.waitRole(mc.self.ID, protocol.RoleModerator)
	mc.waitLobby()

	// The moderator sees and answers the queue.
	guest := a.newUser().wait(room.ID, "Guest")
	q = mc.waitLobby("Guest")
	mc.send(protocol.LobbyAdmit{Type: protocol.TypeLobbyAdmit, ID: q.Waiting[0].ID})
	guest.welcomed()

	// A second tab of the moderator is a moderator too, past the lobby.
	mc2 := mod.dial(room.ID, nil)
	if mc2.self.Role != protocol.RoleModerator {
		t.Fatalf("second tab role = %s", mc2.self.Role)
	}
	for _, m := range []any{
		protocol.OwnerSet{Type: protocol.TypeOwnerSet, ID: guest.self.ID},
		protocol.EndRoom{Type: protocol.TypeEndRoom},
		protocol.Remove{Type: protocol.TypeRemove, ID: oc.self.ID, Ban: true},
		protocol.RoleSet{Type: protocol.TypeRoleSet, ID: oc.self.ID, Role: protocol.RoleParticipant},
	} {
		mc.send(m)
		if e := mc.readError(); e.Code != protocol.CodeForbidden {
			t.Fatalf("%T by a moderator: %+v, want forbidden", m, e)
		}
	}
	if r := owner.getRoom(room.ID); r.Status != "live" || r.Owner.ID != owner.id || r.Online != 4 {
		t.Fatalf("room after the refusals = %+v", r)
	}
	// Back to a participant: no more queue, no more powers.
	oc.send(protocol.RoleSet{Type: protocol.TypeRoleSet, ID: mc.self.ID, Role: protocol.RoleParticipant})
	mc.waitRole(mc.self.ID, protocol.RoleParticipant)
	mc.send(protocol.LobbyAdmitAll{Type: protocol.TypeLobbyAdmitAll})
	if e := mc.readError(); e.Code != protocol.CodeForbidden {
		t.Fatalf("admit-all by an ex-moderator: %+v", e)
	}
}

// TestHostStart: with host start on, joiners wait (not_started) until a
// host comes; then they join, or, with the lobby on too, queue in it.
func TestHostStart(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoomWith(`{"name":"class","hostStart":true}`)
	if !room.HostStart {
		t.Fatalf("created room = %+v, want hostStart", room)
	}
	early := func(name string) *client {
		c := a.newUser().dialRaw(room.ID, url.Values{"name": {name}})
		var w protocol.LobbyWait
		c.readInto(protocol.TypeLobbyWait, &w)
		if w.Code != protocol.CodeNotStarted || w.Message == "" {
			t.Fatalf("lobby-wait = %+v, want not_started", w)
		}
		return c
	}
	ana, bo := early("Ana"), early("Bo")
	if got := owner.getRoom(room.ID).Online; got != 0 {
		t.Fatalf("online = %d before the host, want 0", got)
	}
	oc := owner.dial(room.ID, url.Values{"name": {"Host"}})
	ana.welcomed()
	bo.welcomed()
	if len(oc.wel.Participants) != 0 {
		t.Fatalf("the host's welcome lists %d, want nobody before it", len(oc.wel.Participants))
	}
	oc.conn.Close()
	eventually(t, "the room empties", func() bool { return owner.getRoom(room.ID).Online == 2 })

	// Ana and Bo were in since it went live: they come back as they like.
	// A newcomer waits for the host again, then, with the lobby on, for
	// the host's word.
	if status := owner.do("PATCH", "/api/rooms/"+room.ID, `{"lobby":true}`, nil); status != http.StatusOK {
		t.Fatalf("PATCH = %d", status)
	}
	cy := early("Cy")
	oc = owner.dial(room.ID, url.Values{"name": {"Host"}})
	var w protocol.LobbyWait
	cy.readInto(protocol.TypeLobbyWait, &w)
	if w.Code != protocol.CodeInLobby {
		t.Fatalf("Cy's second wait = %+v, want in_lobby", w)
	}
	q := oc.waitLobby("Cy")
	oc.send(protocol.LobbyAdmit{Type: protocol.TypeLobbyAdmit, ID: q.Waiting[0].ID})
	cy.welcomed()
}
