package room

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"meet/protocol"
	"meet/store"
)

// newSFUTestRoom is newTestRoom with rooms on the SFU from their first
// participant (no SFU attached: the test is about the room's messages),
// and a join window that never closes by itself: the test closes it
// (closeJoinWindow), so what is held does not depend on the machine's speed.
func newSFUTestRoom(t *testing.T) (*Hub, *store.Room) {
	db, stored, log := newTestStore(t, "class")
	return NewHub(Config{Store: db, Log: log, Policy: Policy{MeshMax: 0, BackDelay: time.Hour}, JoinWindow: time.Hour}), stored
}

// joinsSeen lists, in order, the joins c was told of: one entry per
// message, the ids it names.
func (c *fakeConn) joinsSeen() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][]string
	for _, f := range c.frames {
		var m struct {
			Type         string
			Participant  protocol.Participant
			Participants []protocol.Participant
		}
		_ = json.Unmarshal(f, &m)
		switch m.Type {
		case protocol.TypeParticipantJoined:
			out = append(out, []string{m.Participant.ID})
		case protocol.TypeParticipantsJoined:
			ids := []string{}
			for _, p := range m.Participants {
				ids = append(ids, p.ID)
			}
			out = append(out, ids)
		}
	}
	return out
}

// TestJoinsInABurstAreAnnouncedTogether covers the class arriving at once:
// in an SFU room, a join after a quiet moment is announced at once, and
// the joins that follow it within the window go out together in one
// participants-joined, to everyone, the held joiners included.
func TestJoinsInABurstAreAnnouncedTogether(t *testing.T) {
	h, stored := newSFUTestRoom(t)
	r, _, first := enter(t, h, stored, "p_a", "u_a")
	r.closeJoinWindow() // the window p_a's own join opened: nothing held, quiet again
	_, _, second := enter(t, h, stored, "p_b", "u_b")
	if got := first.joinsSeen(); len(got) != 1 || !slices.Equal(got[0], []string{"p_b"}) {
		t.Fatalf("p_a was told %v, want p_b at once", got)
	}
	_, _, third := enter(t, h, stored, "p_c", "u_c")
	_, _, fourth := enter(t, h, stored, "p_d", "u_d")
	if got := first.joinsSeen(); len(got) != 1 {
		t.Fatalf("p_a was told %v before the window closed, want p_c and p_d held", got)
	}
	r.closeJoinWindow()
	want := []string{"p_c", "p_d"}
	for name, c := range map[string]*fakeConn{"p_a": first, "p_b": second, "p_c": third, "p_d": fourth} {
		got := c.joinsSeen()
		if len(got) == 0 || !slices.Equal(got[len(got)-1], want) {
			t.Errorf("%s was told %v, want one participants-joined naming %v last", name, got, want)
		}
	}
	if n := len(second.joinsSeen()); n != 1 {
		t.Errorf("p_b was told of joins %d times, want once (the batch)", n)
	}

	// The window that closed on held joins opened another: a join now is
	// held too. Once a window closes with nothing held, the next join is
	// announced at once again.
	_, _, _ = enter(t, h, stored, "p_e", "u_e")
	if got := first.joinsSeen(); len(got) != 2 {
		t.Fatalf("p_a was told %v: p_e came within the next window and should be held", got)
	}
	r.closeJoinWindow()
	r.closeJoinWindow()
	_, _, _ = enter(t, h, stored, "p_f", "u_f")
	got := first.joinsSeen()
	if len(got) != 4 || !slices.Equal(got[2], []string{"p_e"}) || !slices.Equal(got[3], []string{"p_f"}) {
		t.Fatalf("p_a was told %v, want p_e's batch, then p_f at once", got)
	}
}

// TestHeldJoinGoesOutBeforeWhatFollowsIt covers order: whatever the room
// says about a joiner whose announcement is held (its media, its leaving)
// comes after that announcement, and the window's end then sends nothing.
func TestHeldJoinGoesOutBeforeWhatFollowsIt(t *testing.T) {
	h, stored := newSFUTestRoom(t)
	r, _, watcher := enter(t, h, stored, "p_a", "u_a")
	r.closeJoinWindow()
	_, _, _ = enter(t, h, stored, "p_b", "u_b") // at once; the window opens
	_, speaker, _ := enter(t, h, stored, "p_c", "u_c")
	_, leaver, _ := enter(t, h, stored, "p_d", "u_d")
	if err := r.UpdateMedia(speaker, &protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceMicrophone, Action: protocol.ActionPublished}); err != nil {
		t.Fatal(err)
	}
	h.Exit(r, leaver, "left")
	types := watcher.types()
	batch := slices.Index(types, protocol.TypeParticipantsJoined)
	media := slices.Index(types, protocol.TypeMedia)
	left := slices.Index(types, protocol.TypeParticipantLeft)
	if batch < 0 || media < batch || left < batch {
		t.Fatalf("p_a got %v: the batch must come before the media and the leave that follow it", types)
	}
	if got := watcher.joinsSeen(); !slices.Equal(got[len(got)-1], []string{"p_c", "p_d"}) {
		t.Fatalf("the batch named %v, want p_c and p_d", got[len(got)-1])
	}
	before := len(watcher.types())
	r.closeJoinWindow()
	if after := len(watcher.types()); after != before {
		t.Fatalf("the window's end sent %d more messages", after-before)
	}
}

// TestMeshJoinsAreAnnouncedAtOnce: in a mesh room the newcomer offers to
// everyone as soon as its welcome arrives, so the others hear of it first.
func TestMeshJoinsAreAnnouncedAtOnce(t *testing.T) {
	h, stored := newTestRoom(t)
	_, _, first := enter(t, h, stored, "p_a", "u_a")
	for _, id := range []string{"p_b", "p_c", "p_d"} {
		_, _, _ = enter(t, h, stored, id, "u_"+id)
	}
	if got := first.joinsSeen(); len(got) != 3 || !slices.Equal(got[2], []string{"p_d"}) {
		t.Fatalf("p_a was told %v, want three participant-joined at once", got)
	}
}
