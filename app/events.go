package app

import (
	"context"
	"fmt"

	"meet/store"
)

// Events between the nodes (issue 18). A REST call may reach any node,
// and most of them only change the database, which every node reads. Some
// changes also concern the live room, which exists on its host alone: a
// PATCH of the settings, the end of the room, a ban. The node that made
// such a change publishes an event after the commit (store.Notify:
// pg_notify on PostgreSQL, in process on SQLite), and every node listens
// (store.Listen). The host of the live room applies an event from another
// node as the local call would have: it reads the stored room again and
// applies it (the same Hub.ChangeSettings a PATCH goes through), or ends
// the live room (endLiveRoom, as finishRoom does). A node ignores its own
// events, and events about rooms not live here: a room that goes live
// later reads the store as it starts.
//
// The calls whose answer depends on the live room itself (a recording
// started or stopped, a ban lifted) are forwarded to the host instead
// (toRoomHost); their events are for a host that could not be reached.
//
// A listener that lost its connection misses what was sent meanwhile: when
// it is back, each live room here reads its stored room again
// (resyncLiveRooms).

// startEvents listens to the events of every node until stopEvents. It
// returns once the listener listens.
func (s *Server) startEvents() error {
	l, err := s.store.Listen(context.Background(), store.EventHandlers{
		Event:       s.onEvent,
		Reconnected: s.resyncLiveRooms,
		Error: func(err error) {
			s.log.Warn("listen to the other nodes' events", "node", s.node.id, "err", err)
		},
	})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	s.node.events = l
	return nil
}

// stopEvents stops the listener and waits for its handler to return.
func (s *Server) stopEvents() {
	if s.node.events != nil {
		s.node.events.Close()
	}
}

// publish tells every node of a change of room roomID this node has
// committed. A failure is logged: the change itself stands, and the host
// sees it the next time the room starts.
func (s *Server) publish(kind store.EventKind, roomID, userID string) {
	ev := store.Event{Kind: kind, RoomID: roomID, UserID: userID, Node: s.node.id}
	if err := s.store.Notify(ev); err != nil {
		s.log.Error("publish an event to the other nodes", "kind", kind, "room", roomID, "node", s.node.id, "err", err)
	}
}

// onEvent applies another node's change to the live room it concerns, if
// that room is live here. It runs on the listener's goroutine, one event
// after another.
func (s *Server) onEvent(ev store.Event) {
	if ev.Node == s.node.id {
		return
	}
	if _, live := s.hub.Room(ev.RoomID); !live {
		return
	}
	s.log.Info("event from another node", "kind", ev.Kind, "room", ev.RoomID, "from", ev.Node, "node", s.node.id)
	switch ev.Kind {
	case store.EventRoomChanged:
		s.reloadSettings(ev.RoomID)
	case store.EventRoomEnded:
		s.reloadEnded(ev.RoomID)
	case store.EventBanChanged:
		if err := s.hub.ReloadStanding(ev.RoomID, ev.UserID); err != nil {
			s.log.Error("apply a standing changed on another node", "room", ev.RoomID, "user", ev.UserID, "node", s.node.id, "err", err)
		}
	default:
		s.log.Warn("event of an unknown kind from another node", "kind", ev.Kind, "room", ev.RoomID, "from", ev.Node)
	}
}

// reloadSettings applies the stored settings of room id to its live room:
// Hub.ChangeSettings with no change reads the stored room under the room's
// writes lock, as a PATCH here would, and tells the participants
// (room-updated), letting in the lobby's waiters if the lobby went off.
func (s *Server) reloadSettings(id string) {
	if _, err := s.hub.ChangeSettings(id, store.SettingsChange{}); err != nil {
		s.log.Error("apply the stored settings to the live room", "room", id, "node", s.node.id, "err", err)
	}
}

// reloadEnded ends the live room of room id if the store says it has
// ended.
func (s *Server) reloadEnded(id string) {
	stored, err := s.store.Room(id)
	if err != nil {
		s.log.Error("read an ended room", "room", id, "node", s.node.id, "err", err)
		return
	}
	if stored.Status != store.StatusEnded {
		return
	}
	s.endLiveRoom(stored)
	s.log.Info("live room ended from another node", "room", id, "node", s.node.id)
}

// resyncLiveRooms reads the stored room of every room live here again,
// after the listener missed events: an ended room ends, the others take
// their stored settings.
func (s *Server) resyncLiveRooms() {
	s.log.Info("events listener back: rereading the live rooms", "node", s.node.id)
	for _, live := range s.hub.All() {
		stored, err := s.store.Room(live.ID())
		if err != nil {
			s.log.Error("reread a live room", "room", live.ID(), "node", s.node.id, "err", err)
			continue
		}
		if stored.Status == store.StatusEnded {
			s.endLiveRoom(stored)
			continue
		}
		s.reloadSettings(stored.ID)
	}
}
