package room

import (
	"errors"
	"sync"

	"meet/protocol"
)

// Hub is the registry of live rooms on this node. Creating a live room and
// removing an empty one happen under one lock, so two people joining a
// new room at the same instant always end up in the same live room.
type Hub struct {
	cfg   Config
	mu    sync.Mutex
	rooms map[string]*Room
	// viewers are the WHEP players of its rooms (viewers.go).
	viewers viewerSet
}

// NewHub returns an empty hub whose rooms all share cfg.
func NewHub(cfg Config) *Hub {
	return &Hub{cfg: cfg, rooms: make(map[string]*Room)}
}

// Enter returns the live room for id, creating it if needed, and runs join
// on it. The hub's lock covers only the look-up: joins into one room are
// ordered by that room's lock, and joins into different rooms never wait
// for each other. A room that emptied and retired between the look-up and
// the join refuses it, and the join goes to the room that replaces it. A
// room that would exceed Config.MaxRooms is not created: ErrServerFull.
func (h *Hub) Enter(id string, join func(*Room) error) (*Room, error) {
	for {
		r, created, err := h.findOrCreate(id)
		if err != nil {
			return nil, err
		}
		err = join(r)
		if errors.Is(err, errRetired) {
			continue
		}
		if err != nil {
			if created {
				h.dropIfEmpty(r)
			}
			return nil, err
		}
		return r, nil
	}
}

func (h *Hub) findOrCreate(id string) (r *Room, created bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r, ok := h.rooms[id]; ok {
		return r, false, nil
	}
	if h.cfg.MaxRooms > 0 && len(h.rooms) >= h.cfg.MaxRooms {
		return nil, false, ErrServerFull
	}
	r = newRoom(id, h)
	h.rooms[id] = r
	return r, true, nil
}

// dropIfEmpty forgets a room nobody managed to join.
func (h *Hub) dropIfEmpty(r *Room) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.retireIfEmpty() && h.rooms[r.id] == r {
		delete(h.rooms, r.id)
	}
}

// Full reports whether no more live rooms can start.
func (h *Hub) Full() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cfg.MaxRooms > 0 && len(h.rooms) >= h.cfg.MaxRooms
}

// Exit removes p from its room, telling the others why (reason), and
// forgets the room once it is empty. It reports whether p was there.
func (h *Hub) Exit(r *Room, p *Participant, reason string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	present, retired := r.leave(p, reason)
	if retired && h.rooms[r.id] == r {
		delete(h.rooms, r.id)
	}
	return present
}

// Room returns the live room for id, if it has participants.
func (h *Hub) Room(id string) (*Room, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.rooms[id]
	return r, ok
}

// Remove forgets a live room, as when it ends.
func (h *Hub) Remove(id string) (*Room, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.rooms[id]
	delete(h.rooms, id)
	return r, ok
}

// All returns every live room.
func (h *Hub) All() []*Room {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Room, 0, len(h.rooms))
	for _, r := range h.rooms {
		out = append(out, r)
	}
	return out
}

// Online returns the number of participants in room id and its mode.
func (h *Hub) Online(id string) (int, string) {
	r, ok := h.Room(id)
	if !ok {
		return 0, protocol.ModeMesh
	}
	return r.Counts()
}

// HasUser reports whether the identity userID is a participant of any live
// room now: the built-in TURN server relays only for those.
func (h *Hub) HasUser(userID string) bool {
	for _, r := range h.All() {
		if r.HasUser(userID) {
			return true
		}
	}
	return false
}
