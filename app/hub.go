package app

import (
	"sync"

	"meet/protocol"
)

// hub is the registry of live rooms on this node. Creating a live room and
// removing an empty one happen under one lock, so two people joining a
// new room at the same instant always end up in the same live room.
type hub struct {
	mu      sync.Mutex
	rooms   map[string]*liveRoom
	newRoom func(id string) *liveRoom
	// maxRooms caps the live rooms (-max-rooms); 0 is no cap.
	maxRooms int
}

func newHub(newRoom func(id string) *liveRoom) *hub {
	return &hub{rooms: make(map[string]*liveRoom), newRoom: newRoom}
}

// enter returns the live room for id, creating it if needed, and runs join
// on it while the hub still guarantees that the room is registered. It is
// the only path that puts a participant in a room, so joins are serialized
// and join may check the room's head count. A room that would exceed
// maxRooms is not created: errServerFull.
func (h *hub) enter(id string, join func(*liveRoom) error) (*liveRoom, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	room, ok := h.rooms[id]
	if !ok {
		if h.maxRooms > 0 && len(h.rooms) >= h.maxRooms {
			return nil, errServerFull
		}
		room = h.newRoom(id)
		h.rooms[id] = room
	}
	if err := join(room); err != nil {
		if !ok {
			delete(h.rooms, id)
		}
		return nil, err
	}
	return room, nil
}

// full reports whether no more live rooms can start.
func (h *hub) full() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.maxRooms > 0 && len(h.rooms) >= h.maxRooms
}

// exit removes p from its room and forgets the room once it is empty.
func (h *hub) exit(room *liveRoom, p *participant, reason string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	present, remaining := room.leave(p, reason)
	if remaining == 0 && h.rooms[room.id] == room {
		delete(h.rooms, room.id)
		room.stopTimers()
	}
	return present
}

// room returns the live room for id, if it has participants.
func (h *hub) room(id string) (*liveRoom, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.rooms[id]
	return r, ok
}

// remove forgets a live room, as when it ends.
func (h *hub) remove(id string) (*liveRoom, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.rooms[id]
	delete(h.rooms, id)
	return r, ok
}

// all returns every live room.
func (h *hub) all() []*liveRoom {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*liveRoom, 0, len(h.rooms))
	for _, r := range h.rooms {
		out = append(out, r)
	}
	return out
}

// online returns the number of participants in room id and its mode.
func (h *hub) online(id string) (int, string) {
	r, ok := h.room(id)
	if !ok {
		return 0, protocol.ModeMesh
	}
	return r.counts()
}
