package room

import (
	"meet/protocol"
	"meet/store"
)

// ChangeSettings writes a settings change of room id and applies it to the
// live room if there is one, holding the room's writes lock so changes
// apply in the order they are stored. Without a live room, the room may
// start between the write and the second look-up: its LoadState then
// either read the new values already, or sees the version move and reads
// again. It returns the room as stored.
func (h *Hub) ChangeSettings(id string, change store.SettingsChange) (*store.Room, error) {
	r, wasLive := h.Room(id)
	if wasLive {
		r.writes.Lock()
		defer r.writes.Unlock()
	}
	stored, err := h.cfg.Store.UpdateRoomSettings(id, change)
	if err != nil {
		return nil, err
	}
	if !wasLive {
		if r, ok := h.Room(id); ok {
			r.settingsStored(stored, true)
		}
		return stored, nil
	}
	r.settingsStored(stored, false)
	return stored, nil
}

// settingsStored takes settings just written into the live room, once it
// has loaded its state (a load still to come reads them itself). A room
// that started while they were written may have loaded them already:
// onlyIfChanged leaves it be when it has.
func (r *Room) settingsStored(stored *store.Room, onlyIfChanged bool) {
	r.mu.Lock()
	r.state.version++
	unchanged := r.state.classroom == stored.Classroom && r.state.allowStage == stored.AllowStage &&
		r.state.lobby == stored.Lobby && r.state.locked == stored.Locked && r.state.hostStart == stored.HostStart &&
		r.state.publicStage == stored.PublicStage
	if !r.state.loaded || r.ended || (onlyIfChanged && unchanged) {
		r.mu.Unlock()
		return
	}
	admitted := r.applyRoomLocked(stored)
	r.mu.Unlock()
	runAdmitted(r, admitted)
}

// ChangeSettings handles room-settings, the owner's: the same change as
// PATCH /api/rooms/:id, through the hub, since this room may have retired
// and been replaced since p's message came.
func (r *Room) ChangeSettings(p *Participant, change store.SettingsChange) error {
	if err := r.RequireHost(p, protocol.TypeRoomSettings, "change the room's settings"); err != nil {
		return err
	}
	if _, err := r.hub.ChangeSettings(r.id, change); err != nil {
		r.cfg.Log.Error("change room settings", "room", r.id, "err", err)
		return err
	}
	r.cfg.Log.Info("room settings changed", "room", r.id, "by", p.id)
	return nil
}

// applyRoomLocked takes a stored room that was just written into the live
// room: new roles for a new owner (who gets the lobby's queue, while the
// old one's empties), media revoked from those a classroom now silences,
// and the news for everyone. A lobby turned off lets its waiters in: they
// are returned for runAdmitted once the lock is released.
func (r *Room) applyRoomLocked(stored *store.Room) []waiter {
	before := r.publishersLocked()
	r.state.setRoom(stored)
	r.rolesChangedLocked()
	r.revokeLocked(before)
	r.broadcastLocked(encode(protocol.RoomUpdated{Type: protocol.TypeRoomUpdated, Room: r.liveViewLocked(stored)}), nil)
	return r.lobbyOnLocked()
}
