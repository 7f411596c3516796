package app

import (
	"errors"
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

// errRoomRetired refuses a join into a room that emptied and that the hub
// forgot after the joiner found it; enter retries in its successor.
var errRoomRetired = errors.New("app: the live room retired")

func newHub(newRoom func(id string) *liveRoom) *hub {
	return &hub{rooms: make(map[string]*liveRoom), newRoom: newRoom}
}

// enter returns the live room for id, creating it if needed, and runs join
// on it. The hub's lock covers only the look-up: joins into one room are
// ordered by that room's lock, and joins into different rooms never wait
// for each other. A room that emptied and retired between the look-up and
// the join refuses it with errRoomRetired, and the join goes to the room
// that replaces it. A room that would exceed maxRooms is not created:
// errServerFull.
func (h *hub) enter(id string, join func(*liveRoom) error) (*liveRoom, error) {
	for {
		room, created, err := h.findOrCreate(id)
		if err != nil {
			return nil, err
		}
		err = join(room)
		if errors.Is(err, errRoomRetired) {
			continue
		}
		if err != nil {
			if created {
				h.dropIfEmpty(room)
			}
			return nil, err
		}
		return room, nil
	}
}

func (h *hub) findOrCreate(id string) (room *liveRoom, created bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room, ok := h.rooms[id]; ok {
		return room, false, nil
	}
	if h.maxRooms > 0 && len(h.rooms) >= h.maxRooms {
		return nil, false, errServerFull
	}
	room = h.newRoom(id)
	h.rooms[id] = room
	return room, true, nil
}

// dropIfEmpty forgets a room nobody managed to join.
func (h *hub) dropIfEmpty(room *liveRoom) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room.retireIfEmpty() && h.rooms[room.id] == room {
		delete(h.rooms, room.id)
	}
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
	present, retired := room.leave(p, reason)
	if retired && h.rooms[room.id] == room {
		delete(h.rooms, room.id)
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
