package room

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"meet/protocol"
	"meet/store"
)

// fakeConn is a socket as the room sees it, recording what it was given.
type fakeConn struct {
	mu     sync.Mutex
	frames [][]byte
	closed []int // close codes, in order
}

func (c *fakeConn) Write(msg []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames = append(c.frames, msg)
	return nil
}

func (c *fakeConn) Close(code int, _ string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = append(c.closed, code)
	return nil
}

// types lists the types of the messages written, in order.
func (c *fakeConn) types() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.frames))
	for _, f := range c.frames {
		var m struct{ Type string }
		_ = json.Unmarshal(f, &m)
		out = append(out, m.Type)
	}
	return out
}

// newTestRoom opens a store with one room, owned by u_owner, and a hub
// whose rooms stay in mesh and have no SFU.
func newTestRoom(t *testing.T) (*Hub, *store.Room) {
	db, stored, log := newTestStore(t, "test")
	return NewHub(Config{Store: db, Log: log, Policy: Policy{MeshMax: 10}}), stored
}

// newTestStore opens a store with one room named name, owned by u_owner,
// and a logger that discards.
func newTestStore(t *testing.T, name string) (*store.Store, *store.Room, *slog.Logger) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "meet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	stored, err := db.CreateRoom(name, "u_owner", "Owner")
	if err != nil {
		t.Fatal(err)
	}
	return db, stored, slog.New(slog.NewTextHandler(io.Discard, nil))
}

// enter joins a participant of identity userID on a fake socket.
func enter(t *testing.T, h *Hub, stored *store.Room, id, userID string) (*Room, *Participant, *fakeConn) {
	t.Helper()
	return enterAs(t, h, stored, Profile{ID: id, UserID: userID, Name: id})
}

// enterAs joins a participant of profile who (in stored's room) on a fake
// socket.
func enterAs(t *testing.T, h *Hub, stored *store.Room, who Profile) (*Room, *Participant, *fakeConn) {
	t.Helper()
	conn := &fakeConn{}
	who.RoomID = stored.ID
	p := NewParticipant(who, conn, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r, err := h.Enter(stored.ID, func(r *Room) error {
		if err := r.LoadState(); err != nil {
			return err
		}
		return r.Join(p, stored, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, p, conn
}

// TestOwnerActionsRefuseWithoutASocket: the room answers an action it
// turns down with a *Refusal and writes nothing to the asker's socket;
// what it carries out reaches the sockets through the participants.
func TestOwnerActionsRefuseWithoutASocket(t *testing.T) {
	h, stored := newTestRoom(t)
	r, owner, ownerConn := enter(t, h, stored, "p_owner", "u_owner")
	_, guest, guestConn := enter(t, h, stored, "p_guest", "u_guest")
	if role := r.RoleOf(owner); role != protocol.RoleOwner {
		t.Fatalf("the owner's role is %q", role)
	}

	before := len(guestConn.types())
	_, err := r.Remove(guest, owner.ID(), false)
	var refusal *Refusal
	if !errors.As(err, &refusal) || refusal.Code != protocol.CodeForbidden || refusal.Ref != protocol.TypeRemove ||
		refusal.Message != "Only the room's hosts can remove participants." {
		t.Fatalf("a guest removing the owner: %v, want the owner-only refusal", err)
	}
	if got := guestConn.types(); len(got) != before {
		t.Fatalf("a refusal wrote %v to the guest's socket", got[before:])
	}

	removed, err := r.Remove(owner, guest.ID(), false)
	if err != nil || len(removed) != 1 || removed[0] != guest {
		t.Fatalf("the owner removing the guest: %v, %v", removed, err)
	}
	if got := guestConn.types(); got[len(got)-1] != protocol.TypeParticipantLeft {
		t.Fatalf("the removed guest last got %v, want its participant-left", got)
	}
	if len(guestConn.closed) != 1 || guestConn.closed[0] != protocol.CloseRemoved {
		t.Fatalf("the removed guest's socket closed with %v, want [%d]", guestConn.closed, protocol.CloseRemoved)
	}
	if !guest.Left() {
		t.Fatal("a removed participant is not marked left: it would get a grace to resume")
	}
	if got := ownerConn.types(); got[len(got)-1] != protocol.TypeParticipantLeft {
		t.Fatalf("the owner last got %v, want the guest's participant-left", got)
	}
}

// TestResumeReplaysOnTheNewConn: a participant whose socket dropped
// resumes on a new Conn, which gets resumed and then what it missed, and
// the old Conn, not seen to drop, is closed as replaced.
func TestResumeReplaysOnTheNewConn(t *testing.T) {
	h, stored := newTestRoom(t)
	r, owner, oldConn := enter(t, h, stored, "p_owner", "u_owner")
	seen := uint64(len(oldConn.types())) // the welcome
	if !r.Suspend(owner, time.Hour, func() {}) {
		t.Fatal("suspend refused a participant in the room")
	}
	_, _, _ = enter(t, h, stored, "p_guest", "u_guest") // the owner misses this join

	if _, ok := r.Resume(owner.ID(), "u_other", &fakeConn{}, seen, stored); ok {
		t.Fatal("another identity resumed the owner's stream")
	}
	newConn := &fakeConn{}
	p, ok := r.Resume(owner.ID(), "u_owner", newConn, seen, stored)
	if !ok || p != owner {
		t.Fatalf("resume = %v, %v", p, ok)
	}
	got := newConn.types()
	if len(got) != 2 || got[0] != protocol.TypeResumed || got[1] != protocol.TypeParticipantJoined {
		t.Fatalf("the new socket got %v, want resumed then the missed participant-joined", got)
	}
	if len(oldConn.closed) != 1 || oldConn.closed[0] != protocol.CloseReplaced {
		t.Fatalf("the old socket closed with %v, want [%d]", oldConn.closed, protocol.CloseReplaced)
	}
}
