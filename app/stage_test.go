package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"meet/protocol"
	"meet/store"
)

// readUntil skips messages until one of type typ that ok accepts arrives,
// and returns it.
func (c *client) readUntil(typ string, ok func(data []byte) bool) []byte {
	c.t.Helper()
	for {
		got, data, err := c.next()
		if err != nil {
			c.t.Fatalf("waiting for a matching %s: %v", typ, err)
		}
		if got == typ && ok(data) {
			return data
		}
	}
}

// waitStage reads stage messages until ok accepts one.
func (c *client) waitStage(ok func(protocol.Stage) bool) protocol.Stage {
	c.t.Helper()
	var st protocol.Stage
	c.readUntil(protocol.TypeStage, func(data []byte) bool {
		st = protocol.Stage{}
		_ = json.Unmarshal(data, &st)
		return ok(st)
	})
	return st
}

// readError reads the next error message.
func (c *client) readError() protocol.Error {
	c.t.Helper()
	var e protocol.Error
	c.readInto(protocol.TypeError, &e)
	return e
}

func memberIDs(members []protocol.StageMember) []string {
	out := make([]string, 0, len(members))
	for _, m := range members {
		out = append(out, m.UserID)
	}
	return out
}

func handIDs(hands []protocol.Hand) []string {
	out := make([]string, 0, len(hands))
	for _, h := range hands {
		out = append(out, h.ID)
	}
	return out
}

// getRoom reads the room through the REST API.
func (u *user) getRoom(id string) protocol.Room {
	u.app.t.Helper()
	var r protocol.Room
	if status := u.do("GET", "/api/rooms/"+id, "", &r); status != 200 {
		u.app.t.Fatalf("GET room = %d", status)
	}
	return r
}

// matrixEnv is one room for one cell of the permission matrix: the owner,
// the actor (the owner's own connection when the role is owner) and a
// third participant the actions target.
type matrixEnv struct {
	a                      *testApp
	room                   protocol.Room
	owner, actorU, targetU *user
	ownerC, actor, target  *client
	// restStatus and restCode are the answer to the last restAs.
	restStatus int
	restCode   string
	// waiter waits in the lobby (lobbyWaiter), as participant waiterID.
	waiter   *client
	waiterID string
	// inviteID is an invite the owner made (accessActions).
	inviteID string
}

// lobbyWaiter turns the lobby on and has a newcomer wait in it.
func (e *matrixEnv) lobbyWaiter(t *testing.T) {
	if status := e.owner.do("PATCH", "/api/rooms/"+e.room.ID, `{"lobby":true}`, nil); status != http.StatusOK {
		t.Fatalf("PATCH lobby = %d", status)
	}
	e.waiter = e.a.newUser().wait(e.room.ID, "Waiter")
	e.waiterID = e.ownerC.waitLobby("Waiter").Waiting[0].ID
}

// restAs sends a request about the room (its path plus suffix) as u and
// keeps the answer's status and error code.
func (e *matrixEnv) restAs(u *user, method, suffix, body string) {
	var answer apiError
	e.restStatus = u.do(method, "/api/rooms/"+e.room.ID+suffix, body, &answer)
	e.restCode = answer.Error.Code
}

func newMatrixEnv(t *testing.T, role string) *matrixEnv {
	a := newTestApp(t)
	e := &matrixEnv{a: a, owner: a.newUser()}
	e.room = e.owner.createRoom("matrix " + role)
	e.ownerC = e.owner.dial(e.room.ID, url.Values{"name": {"Owner"}})
	switch role {
	case protocol.RoleOwner:
		e.actorU, e.actor = e.owner, e.ownerC
	case protocol.RoleSpectator:
		e.actorU = a.newUser()
		e.actor = e.actorU.dial(e.room.ID, url.Values{"name": {"Actor"}, "spectator": {"1"}})
	default:
		e.actorU = a.newUser()
		e.actor = e.actorU.dial(e.room.ID, url.Values{"name": {"Actor"}})
	}
	if role == protocol.RoleModerator || role == protocol.RolePresenter {
		e.ownerC.send(protocol.RoleSet{Type: protocol.TypeRoleSet, ID: e.actor.self.ID, Role: role})
		e.actor.self = e.actor.waitRole(e.actor.self.ID, role)
	}
	if e.actor.self.Role != role {
		t.Fatalf("actor role = %s, want %s", e.actor.self.Role, role)
	}
	e.targetU = a.newUser()
	e.target = e.targetU.dial(e.room.ID, url.Values{"name": {"Target"}})
	return e
}

// ownerPuts has the owner put a participant on the stage and waits until
// c sees it.
func (e *matrixEnv) ownerPuts(c *client, participantID, userID string) {
	e.ownerC.send(protocol.StageSet{Type: protocol.TypeStageSet, ID: participantID, On: true})
	c.waitStage(func(st protocol.Stage) bool { return slices.Contains(memberIDs(st.Members), userID) })
}

// setClassroom has the owner turn the classroom on and waits until c sees it.
func (e *matrixEnv) setClassroom(c *client) {
	on := true
	e.ownerC.send(protocol.RoomSettings{Type: protocol.TypeRoomSettings, Classroom: &on})
	c.readUntil(protocol.TypeRoomUpdated, func(data []byte) bool {
		var m protocol.RoomUpdated
		return json.Unmarshal(data, &m) == nil && m.Room.Classroom
	})
}

// matrixAction is one action of the permission matrix.
type matrixAction struct {
	name    string
	ref     string
	allowed map[string]bool
	setup   func(t *testing.T, e *matrixEnv)
	act     func(e *matrixEnv)
	// done checks the effect of an allowed action.
	done func(t *testing.T, e *matrixEnv)
	// unchanged checks that a refused action changed nothing.
	unchanged func(t *testing.T, e *matrixEnv)
	// rest: the action is a REST request, whose refusal is its answer
	// (403 forbidden, kept by act in e.restStatus and e.restCode), not
	// a socket error.
	rest bool
}

// TestStagePermissionMatrix drives every stage and owner action, as the
// owner, a participant and a spectator, through the real WebSocket: an
// allowed action has its effect; a refused one is answered with an error
// (forbidden, naming the refused message) and changes nothing.
func TestStagePermissionMatrix(t *testing.T) {
	all := map[string]bool{protocol.RoleOwner: true, protocol.RoleModerator: true, protocol.RolePresenter: true, protocol.RoleParticipant: true, protocol.RoleSpectator: true}
	ownerOnly := map[string]bool{protocol.RoleOwner: true}
	hosts := map[string]bool{protocol.RoleOwner: true, protocol.RoleModerator: true}
	stageEmpty := func(t *testing.T, e *matrixEnv) {
		if st := e.owner.getRoom(e.room.ID).Stage; len(st) != 0 {
			t.Fatalf("stage changed to %+v", st)
		}
	}
	publish := func(e *matrixEnv) {
		e.actor.send(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceCamera, Action: protocol.ActionPublished, StreamID: "s1"})
	}
	published := func(t *testing.T, e *matrixEnv) {
		var m protocol.Media
		e.target.readInto(protocol.TypeMedia, &m)
		if m.From != e.actor.self.ID || m.Action != protocol.ActionPublished {
			t.Fatalf("target saw %+v", m)
		}
	}
	notPublished := func(t *testing.T, e *matrixEnv) {
		e.target.expectNothing(protocol.TypeMedia, 150*time.Millisecond)
	}
	actions := []matrixAction{
		{
			name: "go on stage", ref: protocol.TypeStageSet,
			allowed: map[string]bool{protocol.RoleOwner: true, protocol.RoleModerator: true, protocol.RolePresenter: true},
			act:     func(e *matrixEnv) { e.actor.send(protocol.StageSet{Type: protocol.TypeStageSet, On: true}) },
			done: func(t *testing.T, e *matrixEnv) {
				e.target.waitStage(func(st protocol.Stage) bool { return slices.Equal(memberIDs(st.Members), []string{e.actorU.id}) })
			},
			unchanged: stageEmpty,
		},
		{
			name: "go on stage when the owner allows it", ref: protocol.TypeStageSet, allowed: all,
			setup: func(t *testing.T, e *matrixEnv) {
				on := true
				e.ownerC.send(protocol.RoomSettings{Type: protocol.TypeRoomSettings, AllowStage: &on})
				e.actor.readUntil(protocol.TypeRoomUpdated, func([]byte) bool { return true })
			},
			act: func(e *matrixEnv) { e.actor.send(protocol.StageSet{Type: protocol.TypeStageSet, On: true}) },
			done: func(t *testing.T, e *matrixEnv) {
				e.target.waitStage(func(st protocol.Stage) bool { return slices.Equal(memberIDs(st.Members), []string{e.actorU.id}) })
			},
		},
		{
			name: "put someone else on stage", ref: protocol.TypeStageSet, allowed: hosts,
			act: func(e *matrixEnv) {
				e.actor.send(protocol.StageSet{Type: protocol.TypeStageSet, ID: e.target.self.ID, On: true})
			},
			done: func(t *testing.T, e *matrixEnv) {
				e.target.waitStage(func(st protocol.Stage) bool { return slices.Equal(memberIDs(st.Members), []string{e.targetU.id}) })
			},
			unchanged: stageEmpty,
		},
		{
			name: "take someone else off stage", ref: protocol.TypeStageSet, allowed: hosts,
			setup: func(t *testing.T, e *matrixEnv) { e.ownerPuts(e.actor, e.target.self.ID, e.targetU.id) },
			act: func(e *matrixEnv) {
				e.actor.send(protocol.StageSet{Type: protocol.TypeStageSet, ID: e.target.self.ID, On: false})
			},
			done: func(t *testing.T, e *matrixEnv) {
				e.target.waitStage(func(st protocol.Stage) bool { return len(st.Members) == 0 })
			},
			unchanged: func(t *testing.T, e *matrixEnv) {
				if st := memberIDs(e.owner.getRoom(e.room.ID).Stage); !slices.Equal(st, []string{e.targetU.id}) {
					t.Fatalf("stage = %v", st)
				}
			},
		},
		{
			name: "take an absent identity off stage", ref: protocol.TypeStageSet, allowed: hosts,
			setup: func(t *testing.T, e *matrixEnv) {
				e.ownerPuts(e.actor, e.target.self.ID, e.targetU.id)
				e.target.conn.Close()
				e.actor.readInto(protocol.TypeParticipantLeft, &protocol.ParticipantLeft{})
			},
			act: func(e *matrixEnv) {
				e.actor.send(protocol.StageSet{Type: protocol.TypeStageSet, UserID: e.targetU.id, On: false})
			},
			done: func(t *testing.T, e *matrixEnv) {
				e.actor.waitStage(func(st protocol.Stage) bool { return len(st.Members) == 0 })
			},
			unchanged: func(t *testing.T, e *matrixEnv) {
				if st := memberIDs(e.owner.getRoom(e.room.ID).Stage); !slices.Equal(st, []string{e.targetU.id}) {
					t.Fatalf("stage = %v", st)
				}
			},
		},
		{
			name: "step down from the stage", ref: protocol.TypeStageSet, allowed: all,
			setup: func(t *testing.T, e *matrixEnv) { e.ownerPuts(e.actor, e.actor.self.ID, e.actorU.id) },
			act:   func(e *matrixEnv) { e.actor.send(protocol.StageSet{Type: protocol.TypeStageSet, On: false}) },
			done: func(t *testing.T, e *matrixEnv) {
				e.target.waitStage(func(st protocol.Stage) bool { return len(st.Members) == 0 })
			},
		},
		{
			name: "raise a hand", ref: protocol.TypeHand, allowed: all,
			act: func(e *matrixEnv) { e.actor.send(protocol.RaiseHand{Type: protocol.TypeHand, Raised: true}) },
			done: func(t *testing.T, e *matrixEnv) {
				e.target.waitStage(func(st protocol.Stage) bool { return slices.Equal(handIDs(st.Hands), []string{e.actor.self.ID}) })
			},
		},
		{
			name: "accept a raised hand", ref: protocol.TypeHandAnswer, allowed: hosts,
			setup: func(t *testing.T, e *matrixEnv) {
				e.target.send(protocol.RaiseHand{Type: protocol.TypeHand, Raised: true})
				e.actor.waitStage(func(st protocol.Stage) bool { return len(st.Hands) == 1 })
			},
			act: func(e *matrixEnv) {
				e.actor.send(protocol.HandAnswer{Type: protocol.TypeHandAnswer, ID: e.target.self.ID, Accept: true})
			},
			done: func(t *testing.T, e *matrixEnv) {
				e.target.waitStage(func(st protocol.Stage) bool {
					return slices.Equal(memberIDs(st.Members), []string{e.targetU.id}) && len(st.Hands) == 0
				})
			},
			unchanged: stageEmpty,
		},
		{
			name: "decline a raised hand", ref: protocol.TypeHandAnswer, allowed: hosts,
			setup: func(t *testing.T, e *matrixEnv) {
				e.target.send(protocol.RaiseHand{Type: protocol.TypeHand, Raised: true})
				e.actor.waitStage(func(st protocol.Stage) bool { return len(st.Hands) == 1 })
			},
			act: func(e *matrixEnv) {
				e.actor.send(protocol.HandAnswer{Type: protocol.TypeHandAnswer, ID: e.target.self.ID, Accept: false})
			},
			done: func(t *testing.T, e *matrixEnv) {
				e.target.waitStage(func(st protocol.Stage) bool { return len(st.Members) == 0 && len(st.Hands) == 0 })
			},
			unchanged: func(t *testing.T, e *matrixEnv) {
				// The hand is still up: lowering it reaches everyone.
				e.target.send(protocol.RaiseHand{Type: protocol.TypeHand, Raised: false})
				e.ownerC.waitStage(func(st protocol.Stage) bool { return len(st.Hands) == 0 })
			},
		},
		{
			name: "change the room's settings", ref: protocol.TypeRoomSettings, allowed: hosts,
			act: func(e *matrixEnv) {
				on := true
				e.actor.send(protocol.RoomSettings{Type: protocol.TypeRoomSettings, Classroom: &on})
			},
			done: func(t *testing.T, e *matrixEnv) {
				var m protocol.RoomUpdated
				e.target.readInto(protocol.TypeRoomUpdated, &m)
				if !m.Room.Classroom || !e.owner.getRoom(e.room.ID).Classroom {
					t.Fatalf("room-updated = %+v", m.Room)
				}
			},
			unchanged: func(t *testing.T, e *matrixEnv) {
				if e.owner.getRoom(e.room.ID).Classroom {
					t.Fatal("the room became a classroom")
				}
			},
		},
		{
			name: "remove a participant", ref: protocol.TypeRemove, allowed: hosts,
			act: func(e *matrixEnv) { e.actor.send(protocol.Remove{Type: protocol.TypeRemove, ID: e.target.self.ID}) },
			done: func(t *testing.T, e *matrixEnv) {
				var left protocol.ParticipantLeft
				e.target.readInto(protocol.TypeParticipantLeft, &left)
				if left.ID != e.target.self.ID || left.Reason != "removed" {
					t.Fatalf("target told %+v", left)
				}
				_, _, err := e.target.next()
				var ce *websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != protocol.CloseRemoved {
					t.Fatalf("target's socket: %v, want close %d", err, protocol.CloseRemoved)
				}
				var parts struct{ Participants []protocol.Participant }
				e.owner.do("GET", "/api/rooms/"+e.room.ID+"/participants", "", &parts)
				for _, p := range parts.Participants {
					if p.ID == e.target.self.ID {
						t.Fatal("the removed participant is still listed")
					}
				}
			},
			unchanged: func(t *testing.T, e *matrixEnv) {
				if e.owner.getRoom(e.room.ID).Online != 3 {
					t.Fatal("someone left")
				}
			},
		},
		{
			name: "ask a participant to mute", ref: protocol.TypeMuteRequest, allowed: hosts,
			setup: func(t *testing.T, e *matrixEnv) {
				e.target.send(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceMicrophone, Action: protocol.ActionPublished, StreamID: "m"})
				e.actor.readInto(protocol.TypeMedia, &protocol.Media{})
			},
			act: func(e *matrixEnv) {
				e.actor.send(protocol.MuteRequest{Type: protocol.TypeMuteRequest, ID: e.target.self.ID})
			},
			done: func(t *testing.T, e *matrixEnv) {
				var m protocol.MuteRequest
				e.target.readInto(protocol.TypeMuteRequest, &m)
				if m.From != e.actor.self.ID || m.Source != protocol.SourceMicrophone {
					t.Fatalf("mute-request = %+v", m)
				}
			},
			unchanged: func(t *testing.T, e *matrixEnv) {
				e.target.expectNothing(protocol.TypeMuteRequest, 150*time.Millisecond)
			},
		},
		{
			name: "hand the room to someone else", ref: protocol.TypeOwnerSet, allowed: ownerOnly,
			act: func(e *matrixEnv) { e.actor.send(protocol.OwnerSet{Type: protocol.TypeOwnerSet, ID: e.target.self.ID}) },
			done: func(t *testing.T, e *matrixEnv) {
				var m protocol.RoomUpdated
				e.target.readInto(protocol.TypeRoomUpdated, &m)
				if m.Room.Owner.ID != e.targetU.id || e.owner.getRoom(e.room.ID).Owner.ID != e.targetU.id {
					t.Fatalf("owner after hand-over: %+v", m.Room.Owner)
				}
			},
			unchanged: func(t *testing.T, e *matrixEnv) {
				if got := e.owner.getRoom(e.room.ID).Owner.ID; got != e.owner.id {
					t.Fatalf("owner changed to %s", got)
				}
			},
		},
		{
			name: "end the room", ref: protocol.TypeEndRoom, allowed: ownerOnly,
			act: func(e *matrixEnv) { e.actor.send(protocol.EndRoom{Type: protocol.TypeEndRoom}) },
			done: func(t *testing.T, e *matrixEnv) {
				e.target.readInto(protocol.TypeRoomEnded, &protocol.RoomEnded{})
				if got := e.owner.getRoom(e.room.ID).Status; got != "ended" {
					t.Fatalf("status = %s", got)
				}
			},
			unchanged: func(t *testing.T, e *matrixEnv) {
				if got := e.owner.getRoom(e.room.ID).Status; got != "live" {
					t.Fatalf("status = %s", got)
				}
			},
		},
		{
			name: "ask everyone to mute", ref: protocol.TypeMuteAll, allowed: hosts,
			setup: func(t *testing.T, e *matrixEnv) {
				e.target.send(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceMicrophone, Action: protocol.ActionPublished, StreamID: "m"})
				e.actor.readInto(protocol.TypeMedia, &protocol.Media{})
			},
			act: func(e *matrixEnv) { e.actor.send(protocol.MuteAll{Type: protocol.TypeMuteAll}) },
			done: func(t *testing.T, e *matrixEnv) {
				var m protocol.MuteRequest
				e.target.readInto(protocol.TypeMuteRequest, &m)
				if m.From != e.actor.self.ID || m.Source != protocol.SourceMicrophone {
					t.Fatalf("mute-request = %+v", m)
				}
			},
			unchanged: func(t *testing.T, e *matrixEnv) {
				// The owner asks next: the first request the target
				// gets must be the owner's, not the refused one.
				e.ownerC.send(protocol.MuteRequest{Type: protocol.TypeMuteRequest, ID: e.target.self.ID})
				var m protocol.MuteRequest
				e.target.readInto(protocol.TypeMuteRequest, &m)
				if m.From != e.ownerC.self.ID {
					t.Fatalf("the target was asked by %s, want only the owner %s", m.From, e.ownerC.self.ID)
				}
			},
		},
		{
			name: "lower all hands", ref: protocol.TypeLowerHands, allowed: hosts,
			setup: func(t *testing.T, e *matrixEnv) {
				e.target.send(protocol.RaiseHand{Type: protocol.TypeHand, Raised: true})
				e.actor.waitStage(func(st protocol.Stage) bool { return len(st.Hands) == 1 })
			},
			act: func(e *matrixEnv) { e.actor.send(protocol.LowerHands{Type: protocol.TypeLowerHands}) },
			done: func(t *testing.T, e *matrixEnv) {
				e.target.waitStage(func(st protocol.Stage) bool { return len(st.Hands) == 0 })
			},
			unchanged: func(t *testing.T, e *matrixEnv) {
				// A newcomer's welcome still lists the hand.
				late := e.a.newUser().dial(e.room.ID, nil)
				if got := handIDs(late.wel.Hands); !slices.Equal(got, []string{e.target.self.ID}) {
					t.Fatalf("hands after a refused lower-hands = %v", got)
				}
			},
		},
		{
			name: "react", ref: protocol.TypeReaction, allowed: all,
			act: func(e *matrixEnv) { e.actor.send(protocol.Reaction{Type: protocol.TypeReaction, Emoji: "👏"}) },
			done: func(t *testing.T, e *matrixEnv) {
				var m protocol.Reaction
				e.target.readInto(protocol.TypeReaction, &m)
				if m.From != e.actor.self.ID || m.Emoji != "👏" {
					t.Fatalf("reaction = %+v", m)
				}
			},
		},
		{
			name: "publish", ref: protocol.TypeMedia,
			allowed: map[string]bool{protocol.RoleOwner: true, protocol.RoleModerator: true, protocol.RolePresenter: true, protocol.RoleParticipant: true},
			act:     publish, done: published, unchanged: notPublished,
		},
		{
			name: "publish in a classroom, off the stage", ref: protocol.TypeMedia, allowed: map[string]bool{},
			setup: func(t *testing.T, e *matrixEnv) { e.setClassroom(e.actor) },
			act:   publish, unchanged: notPublished,
		},
		{
			name: "publish in a classroom, on the stage", ref: protocol.TypeMedia, allowed: all,
			setup: func(t *testing.T, e *matrixEnv) {
				e.setClassroom(e.actor)
				e.ownerPuts(e.actor, e.actor.self.ID, e.actorU.id)
			},
			act: publish, done: published,
		},
	}
	stillWaiting := func(t *testing.T, e *matrixEnv) {
		e.waiter.expectNothing(protocol.TypeWelcome, 150*time.Millisecond)
	}
	actions = append(actions,
		matrixAction{
			name: "admit from the lobby", ref: protocol.TypeLobbyAdmit, allowed: hosts,
			setup: func(t *testing.T, e *matrixEnv) { e.lobbyWaiter(t) },
			act:   func(e *matrixEnv) { e.actor.send(protocol.LobbyAdmit{Type: protocol.TypeLobbyAdmit, ID: e.waiterID}) },
			done:  func(t *testing.T, e *matrixEnv) { e.waiter.welcomed() }, unchanged: stillWaiting,
		},
		matrixAction{
			name: "admit everyone from the lobby", ref: protocol.TypeLobbyAdmitAll, allowed: hosts,
			setup: func(t *testing.T, e *matrixEnv) { e.lobbyWaiter(t) },
			act:   func(e *matrixEnv) { e.actor.send(protocol.LobbyAdmitAll{Type: protocol.TypeLobbyAdmitAll}) },
			done:  func(t *testing.T, e *matrixEnv) { e.waiter.welcomed() }, unchanged: stillWaiting,
		},
		matrixAction{
			name: "deny from the lobby", ref: protocol.TypeLobbyDeny, allowed: hosts,
			setup: func(t *testing.T, e *matrixEnv) { e.lobbyWaiter(t) },
			act:   func(e *matrixEnv) { e.actor.send(protocol.LobbyDeny{Type: protocol.TypeLobbyDeny, ID: e.waiterID}) },
			done:  func(t *testing.T, e *matrixEnv) { e.waiter.refusedWith(protocol.CodeDenied) },
			unchanged: func(t *testing.T, e *matrixEnv) {
				e.waiter.expectNothing(protocol.TypeError, 150*time.Millisecond)
			},
		},
		matrixAction{
			name: "lock the room", ref: protocol.TypeRoomSettings, allowed: hosts,
			act: func(e *matrixEnv) {
				on := true
				e.actor.send(protocol.RoomSettings{Type: protocol.TypeRoomSettings, Locked: &on})
			},
			done: func(t *testing.T, e *matrixEnv) {
				e.target.readInto(protocol.TypeRoomUpdated, &protocol.RoomUpdated{})
				e.a.newUser().dialRaw(e.room.ID, nil).refusedWith(protocol.CodeRoomLocked)
			},
			unchanged: func(t *testing.T, e *matrixEnv) {
				if e.owner.getRoom(e.room.ID).Locked {
					t.Fatal("the room was locked")
				}
				e.a.newUser().dial(e.room.ID, nil)
			},
		},
	)
	hasPasscode := func(want bool) func(t *testing.T, e *matrixEnv) {
		return func(t *testing.T, e *matrixEnv) {
			if got := e.owner.getRoom(e.room.ID).HasPasscode; got != want {
				t.Fatalf("hasPasscode = %v, want %v", got, want)
			}
		}
	}
	actions = append(actions,
		matrixAction{
			name: "set the room's passcode", rest: true, allowed: hosts,
			act:  func(e *matrixEnv) { e.restAs(e.actorU, "PATCH", "", `{"passcode":"open sesame"}`) },
			done: hasPasscode(true), unchanged: hasPasscode(false),
		},
		matrixAction{
			name: "remove the room's passcode", rest: true, allowed: hosts,
			setup: func(t *testing.T, e *matrixEnv) {
				if status := e.owner.do("PATCH", "/api/rooms/"+e.room.ID, `{"passcode":"open sesame"}`, nil); status != http.StatusOK {
					t.Fatalf("owner's PATCH = %d", status)
				}
			},
			act:  func(e *matrixEnv) { e.restAs(e.actorU, "PATCH", "", `{"passcode":null}`) },
			done: hasPasscode(false), unchanged: hasPasscode(true),
		},
		matrixAction{
			name: "read the attendance", rest: true, allowed: hosts,
			act: func(e *matrixEnv) { e.restAs(e.actorU, "GET", "/attendance", "") },
			done: func(t *testing.T, e *matrixEnv) {
				if e.restStatus != http.StatusOK {
					t.Fatalf("GET attendance = %d %s", e.restStatus, e.restCode)
				}
			},
		},
	)
	actions = append(actions, accessActions(hosts)...)
	for _, role := range []string{protocol.RoleOwner, protocol.RoleModerator, protocol.RolePresenter, protocol.RoleParticipant, protocol.RoleSpectator} {
		for _, ac := range actions {
			t.Run(role+"/"+ac.name, func(t *testing.T) {
				e := newMatrixEnv(t, role)
				if ac.setup != nil {
					ac.setup(t, e)
				}
				ac.act(e)
				if ac.allowed[role] {
					ac.done(t, e)
					return
				}
				if ac.rest {
					if e.restStatus != http.StatusForbidden || e.restCode != protocol.CodeForbidden {
						t.Fatalf("refusal = %d %s, want 403 forbidden", e.restStatus, e.restCode)
					}
				} else if err := e.actor.readError(); err.Code != protocol.CodeForbidden || err.Ref != ac.ref || err.Message == "" {
					t.Fatalf("refusal = %+v, want forbidden with ref %s", err, ac.ref)
				}
				if ac.unchanged != nil {
					ac.unchanged(t, e)
				}
			})
		}
	}
}

// TestRaiseHandQueueOrder raises hands in a known order and checks that
// everyone sees the queue in that order, that raising again keeps a
// place, that lowering, leaving, declining and accepting each take the
// right hand out, and that an accepted hand goes on the stage.
func TestRaiseHandQueueOrder(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("hands")
	oc := owner.dial(room.ID, nil)
	var cs []*client
	for i := range 4 {
		q := url.Values{"name": {"S" + string(rune('1'+i))}}
		if i%2 == 1 {
			q.Set("spectator", "1")
		}
		cs = append(cs, a.newUser().dial(room.ID, q))
	}
	ids := func(idx ...int) []string {
		out := []string{}
		for _, i := range idx {
			out = append(out, cs[i].self.ID)
		}
		return out
	}
	queueIs := func(want []string) func(protocol.Stage) bool {
		return func(st protocol.Stage) bool { return slices.Equal(handIDs(st.Hands), want) }
	}
	// Up in the order 2, 0, 3, 1; each raise is seen before the next, so
	// the order is the order they were sent in.
	for n, i := range []int{2, 0, 3, 1} {
		cs[i].send(protocol.RaiseHand{Type: protocol.TypeHand, Raised: true})
		oc.waitStage(queueIs(ids([]int{2, 0, 3, 1}[:n+1]...)))
	}
	// Everyone sees the same queue, names included.
	st := cs[3].waitStage(queueIs(ids(2, 0, 3, 1)))
	if st.Hands[1].Name != "S1" || st.Hands[1].UserID != cs[0].self.UserID {
		t.Fatalf("hand = %+v", st.Hands[1])
	}
	// A late joiner learns the queue from its welcome.
	late := a.newUser().dial(room.ID, nil)
	if got := handIDs(late.wel.Hands); !slices.Equal(got, ids(2, 0, 3, 1)) {
		t.Fatalf("welcome hands = %v", got)
	}
	// Raising again keeps the place and announces nothing.
	cs[2].send(protocol.RaiseHand{Type: protocol.TypeHand, Raised: true})
	// Lowering takes that hand out; the rest keep their order.
	cs[0].send(protocol.RaiseHand{Type: protocol.TypeHand, Raised: false})
	oc.waitStage(queueIs(ids(2, 3, 1)))
	// Leaving lowers the hand.
	cs[3].send(protocol.Leave{Type: protocol.TypeLeave})
	oc.waitStage(queueIs(ids(2, 1)))
	// Declining takes the hand out and puts nobody on the stage.
	oc.send(protocol.HandAnswer{Type: protocol.TypeHandAnswer, ID: cs[2].self.ID, Accept: false})
	st = oc.waitStage(queueIs(ids(1)))
	if len(st.Members) != 0 {
		t.Fatalf("decline put %v on the stage", st.Members)
	}
	// Answering a hand that is not up is an error.
	oc.send(protocol.HandAnswer{Type: protocol.TypeHandAnswer, ID: cs[2].self.ID, Accept: true})
	if e := oc.readError(); e.Code != protocol.CodeBadRequest || e.Ref != protocol.TypeHandAnswer {
		t.Fatalf("answer to a lowered hand = %+v", e)
	}
	// Accepting a spectator puts its identity on the stage, and it may
	// publish from then on.
	oc.send(protocol.HandAnswer{Type: protocol.TypeHandAnswer, ID: cs[1].self.ID, Accept: true})
	st = cs[1].waitStage(queueIs([]string{}))
	if !slices.Equal(memberIDs(st.Members), []string{cs[1].self.UserID}) {
		t.Fatalf("stage after accept = %+v", st.Members)
	}
	cs[1].send(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceCamera, Action: protocol.ActionPublished, StreamID: "cam"})
	var m protocol.Media
	oc.readInto(protocol.TypeMedia, &m)
	if m.From != cs[1].self.ID || m.Action != protocol.ActionPublished {
		t.Fatalf("media = %+v", m)
	}
	// On the stage, a hand cannot go up.
	cs[1].send(protocol.RaiseHand{Type: protocol.TypeHand, Raised: true})
	if e := cs[1].readError(); e.Code != protocol.CodeBadRequest || e.Ref != protocol.TypeHand {
		t.Fatalf("raise on stage = %+v", e)
	}
}

// restartableApp is a server whose database file outlives it, so a test
// can stop it and start another on the same file.
func restartableApp(t *testing.T, path string) *testApp {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Store: db, Secret: []byte("0123456789abcdef0123456789abcdef"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	a := &testApp{t: t, srv: srv, http: hs, store: db}
	t.Cleanup(func() { a.stop() })
	return a
}

// stop shuts the server down as cmd/meet does, and closes its database.
func (a *testApp) stop() {
	if a.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = a.srv.Shutdown(ctx)
	a.http.CloseClientConnections()
	a.http.Close()
	a.http = nil
	_ = a.store.Close()
}

// TestStagePersistsAcrossRestart puts people on the stage and changes the
// settings, restarts the server on the same database, and checks that the
// stage (in order), the settings and the owner are all still there, and
// that stage membership still follows the identity on a new connection.
func TestStagePersistsAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meet.db")
	a := restartableApp(t, path)
	owner := a.newUser()
	var room protocol.Room
	if status := owner.do("POST", "/api/rooms", `{"name":"Physics","classroom":true}`, &room); status != 201 || !room.Classroom {
		t.Fatalf("create classroom = %d %+v", status, room)
	}
	oc := owner.dial(room.ID, nil)
	student := a.newUser()
	sc := student.dial(room.ID, url.Values{"spectator": {"1"}})
	oc.send(protocol.StageSet{Type: protocol.TypeStageSet, On: true})
	oc.send(protocol.StageSet{Type: protocol.TypeStageSet, ID: sc.self.ID, On: true})
	on := true
	oc.send(protocol.RoomSettings{Type: protocol.TypeRoomSettings, AllowStage: &on})
	sc.waitStage(func(st protocol.Stage) bool { return len(st.Members) == 2 })
	sc.readUntil(protocol.TypeRoomUpdated, func([]byte) bool { return true })

	a.stop()
	b := restartableApp(t, path)
	owner.app, student.app = b, b

	got := owner.getRoom(room.ID)
	if !got.Classroom || !got.AllowStage || got.Owner.ID != owner.id {
		t.Fatalf("room after restart = %+v", got)
	}
	if ids := memberIDs(got.Stage); !slices.Equal(ids, []string{owner.id, student.id}) {
		t.Fatalf("stage after restart = %v, want owner then student", ids)
	}
	// The student's new connection (a new participant id) is on the stage
	// by its identity, so it may publish in the classroom at once.
	sc2 := student.dial(room.ID, url.Values{"spectator": {"1"}})
	if ids := memberIDs(sc2.wel.Room.Stage); !slices.Equal(ids, []string{owner.id, student.id}) || !sc2.wel.Room.Classroom {
		t.Fatalf("welcome after restart: %+v", sc2.wel.Room)
	}
	oc2 := owner.dial(room.ID, nil)
	sc2.send(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceCamera, Action: protocol.ActionPublished, StreamID: "cam"})
	var m protocol.Media
	oc2.readInto(protocol.TypeMedia, &m)
	if m.From != sc2.self.ID {
		t.Fatalf("media = %+v", m)
	}
	// Someone never put on the stage still may not.
	oc3 := b.newUser().dial(room.ID, nil)
	oc3.send(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceCamera, Action: protocol.ActionPublished})
	if e := oc3.readError(); e.Code != protocol.CodeForbidden {
		t.Fatalf("off-stage publish after restart = %+v", e)
	}
}
