package store

import (
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// RoomPresence is what one node last said of a room live on it: how many
// are online there and the room's media mode. Each node rewrites its own
// rows with its heartbeat (ReplacePresence), so the room list of every
// node covers the rooms of all of them (PresenceOf).
type RoomPresence struct {
	RoomID    string    `gorm:"primaryKey;size:16"`
	NodeID    string    `gorm:"primaryKey;size:128;index"`
	Online    int       `gorm:"not null"`
	Mode      string    `gorm:"size:16;not null"`
	UpdatedAt time.Time `gorm:"not null"`
}

// TableName is room_presence: one row per room and node.
func (RoomPresence) TableName() string { return "room_presence" }

// ReplacePresence makes rows the presence of node, in one transaction:
// its previous rows go, rooms no longer live on it among them, and rows
// are written stamped now. A reader sees the old rows or the new ones,
// never a mix. Rows name their rooms; their NodeID is set to node.
func (s *Store) ReplacePresence(node string, rows []RoomPresence, now time.Time) error {
	if node == "" {
		return errors.New("store: presence of a node without an id")
	}
	now = now.UTC()
	out := make([]RoomPresence, len(rows))
	for i, r := range rows {
		r.NodeID, r.UpdatedAt = node, now
		out[i] = r
	}
	err := s.db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("node_id = ?", node).Delete(&RoomPresence{}).Error; err != nil {
			return err
		}
		if len(out) == 0 {
			return nil
		}
		return tx.CreateInBatches(out, 500).Error
	})
	if err != nil {
		return fmt.Errorf("store: presence of node %s: %w", node, err)
	}
	return nil
}

// PresenceOf returns, in one query, the presence rows of roomIDs written
// by nodes that are live at now (a heartbeat less than timeout before
// it), by room, each room's rows ordered by node id. Rows of dead nodes,
// and of rooms not asked for, are left out; a room no live node reports is
// missing from the map.
func (s *Store) PresenceOf(roomIDs []string, now time.Time, timeout time.Duration) (map[string][]RoomPresence, error) {
	out := make(map[string][]RoomPresence)
	if len(roomIDs) == 0 {
		return out, nil
	}
	var rows []RoomPresence
	err := s.read.Model(&RoomPresence{}).
		Select("room_presence.*").
		Joins("JOIN nodes ON nodes.id = room_presence.node_id").
		Where("room_presence.room_id IN ? AND nodes.heartbeat_at > ?", roomIDs, now.Add(-timeout).UTC()).
		Order("room_presence.room_id, room_presence.node_id").
		Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: presence of %d rooms: %w", len(roomIDs), err)
	}
	for _, r := range rows {
		out[r.RoomID] = append(out[r.RoomID], r)
	}
	return out, nil
}
