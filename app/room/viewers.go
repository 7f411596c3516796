package room

import (
	"slices"
	"sync"

	"meet/protocol"
	"meet/sfu"
)

// WHEP viewers (issue 17): players, embeds and hallway screens that watch
// a room's stage without being in it. They are no participants: nobody
// sees them in the roster, and they outlive the live room, since a screen
// in a hallway is switched on before the class starts. So the hub keeps
// them by room id, and each live room tells its viewers whom to show
// whenever its stage or its participants change. A room keeps to the SFU
// while anyone watches it this way: a viewer can only be served there.
//
// Whom they show: the participants whose identity is on the stage, in the
// stage's order; with nobody on the stage, the hosts in the room.

// viewerSet is the hub's viewers, by room id. Its lock is a leaf: taken
// under a room's lock, it never takes one.
type viewerSet struct {
	mu sync.Mutex
	m  map[string][]*sfu.Viewer
}

func (s *viewerSet) add(roomID string, v *sfu.Viewer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]*sfu.Viewer{}
	}
	s.m[roomID] = append(s.m[roomID], v)
}

// remove forgets v, reporting whether it was there.
func (s *viewerSet) remove(roomID string, v *sfu.Viewer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.m[roomID]
	i := slices.Index(list, v)
	if i < 0 {
		return false
	}
	list = slices.Delete(list, i, i+1)
	if len(list) == 0 {
		delete(s.m, roomID)
	} else {
		s.m[roomID] = list
	}
	return true
}

func (s *viewerSet) of(roomID string) []*sfu.Viewer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.m[roomID])
}

func (s *viewerSet) count(roomID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m[roomID])
}

// AddViewer registers a WHEP viewer of room id. A live room shows it its
// stage and, if it is in mesh, moves to the SFU; a room that goes live
// later does both as it starts.
func (h *Hub) AddViewer(id string, v *sfu.Viewer) {
	h.viewers.add(id, v)
	if r, ok := h.Room(id); ok {
		r.mu.Lock()
		if !r.ended && !r.retired {
			v.Follow(r.stageIDsLocked())
			r.moveToSFULocked()
		}
		r.mu.Unlock()
	}
}

// RemoveViewer forgets a WHEP viewer, as it ends; a live room may then
// head back to mesh. It reports whether the viewer was there.
func (h *Hub) RemoveViewer(id string, v *sfu.Viewer) bool {
	if !h.viewers.remove(id, v) {
		return false
	}
	if r, ok := h.Room(id); ok {
		r.mu.Lock()
		r.reconsiderModeLocked()
		r.mu.Unlock()
	}
	return true
}

// Viewers counts the WHEP viewers of room id.
func (h *Hub) Viewers(id string) int { return h.viewers.count(id) }

// StageIDs are the participants a WHEP viewer of room id shows now; nil
// when the room is not live.
func (h *Hub) StageIDs(id string) []string {
	r, ok := h.Room(id)
	if !ok {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stageIDsLocked()
}

// stageIDsLocked are the participants the room's viewers show: those on
// the stage, in its order, else the hosts here.
func (r *Room) stageIDsLocked() []string {
	var ids []string
	for _, m := range r.state.members {
		for _, p := range r.participants {
			if p.userID == m.UserID {
				ids = append(ids, p.id)
			}
		}
	}
	if len(ids) > 0 {
		return ids
	}
	for _, p := range r.participants {
		if isHost(p.role) {
			ids = append(ids, p.id)
		}
	}
	return ids
}

// followStageLocked tells the room's viewers whom to show, after a change
// of the stage, of its participants or of their roles. Follow only notes
// it: each viewer's goroutine moves its tracks.
func (r *Room) followStageLocked() {
	viewers := r.hub.viewers.of(r.id)
	if len(viewers) == 0 {
		return
	}
	ids := r.stageIDsLocked()
	for _, v := range viewers {
		v.Follow(ids)
	}
}

// closeViewersLocked disconnects the viewers of a room that has ended.
// Closing a connection waits on Pion, so it happens off the lock.
func (r *Room) closeViewersLocked() {
	for _, v := range r.hub.viewers.of(r.id) {
		go v.Close()
	}
}

// moveToSFULocked moves a mesh room with participants to the SFU, through
// the make-before-break switch, as when it starts recording or a viewer
// comes; then the mode policy decides when it may go back.
func (r *Room) moveToSFULocked() {
	if r.mode == protocol.ModeMesh && len(r.participants) > 0 {
		r.switchToSFULocked(nil)
		// SFU connections left from the last SFU period may be closed
		// on the client's side already: everyone starts afresh.
		for _, q := range r.participants {
			r.disconnectSFULocked(q)
		}
		for _, q := range r.participants {
			r.connectSFULocked(q)
		}
	}
	r.reconsiderModeLocked()
}
