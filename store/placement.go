package store

import (
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Placement names the node that hosts a live room. There is at most one
// per room (the primary key), and PlaceRoom only moves it away from a node
// that is dead, so two live nodes never both host a room.
type Placement struct {
	RoomID   string    `gorm:"primaryKey;size:16"`
	NodeID   string    `gorm:"size:128;not null;index"`
	PlacedAt time.Time `gorm:"not null"`
}

// ErrSelfNotLive is returned by PlaceRoom when the calling node is not
// among the live nodes it was given: it writes its own heartbeat first.
var ErrSelfNotLive = errors.New("the placing node is not among the live nodes")

// placementLock is the key of the write transaction every change of
// placements takes (writeTx): on PostgreSQL the placements of the whole
// cluster queue one after another, so each sees the ones before it and
// the rooms spread by count as well as by load. Rooms go live and empty
// seldom next to chat messages; the queue is short.
const placementLock = "meet:placements"

// PlaceRoom returns the node that hosts roomID, placing the room first when
// it must. live are the live nodes (LiveNodes), self among them. In one
// transaction: a placement whose node is live stands, unchanged; a room
// with none, or whose node is dead, goes to the least loaded live node:
// fewest participants, then fewest rooms placed on it, then self (no hop
// between equals), then the first id. A node's participants are those of
// its last heartbeat plus one for each room placed on it since: each
// brings at least its first joiner, and a crowd of rooms going live at
// once outruns the heartbeats (a node whose heartbeat came in the middle
// would otherwise look busier than nodes that had taken as many rooms
// just before theirs, and get none of the rest).
//
// Every caller that races to place one room gets the same answer. The
// transaction is serialised with every other change of placements
// (writeTx: SQLite's one writer; a PostgreSQL advisory lock), and the
// write itself only replaces a placement whose node is not live (INSERT
// ... ON CONFLICT DO UPDATE ... WHERE), so even a writer outside that
// queue could not take a room from a live node. What the row says after
// the write is the answer.
func (s *Store) PlaceRoom(roomID, self string, live []Node) (Node, error) {
	if _, ok := findNode(live, self); !ok {
		return Node{}, fmt.Errorf("store: place room %s from %s: %w", roomID, self, ErrSelfNotLive)
	}
	var host Node
	err := s.writeTx(placementLock, func(tx *gorm.DB) error {
		var cur Placement
		err := tx.Where("room_id = ?", roomID).Take(&cur).Error
		switch {
		case err == nil:
			if n, ok := findNode(live, cur.NodeID); ok {
				host = n
				return nil
			}
		case !errors.Is(err, gorm.ErrRecordNotFound):
			return err
		}
		rooms, err := roomsPerNode(tx)
		if err != nil {
			return err
		}
		load, err := participantsNow(tx, live)
		if err != nil {
			return err
		}
		pick := leastLoaded(live, load, rooms, self)
		ids := make([]string, len(live))
		for i, n := range live {
			ids[i] = n.ID
		}
		row := Placement{RoomID: roomID, NodeID: pick.ID, PlacedAt: time.Now().UTC()}
		err = tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "room_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"node_id", "placed_at"}),
			Where:     clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: "placements.node_id NOT IN ?", Vars: []any{ids}}}},
		}).Create(&row).Error
		if err != nil {
			return err
		}
		if err := tx.Where("room_id = ?", roomID).Take(&cur).Error; err != nil {
			return err
		}
		n, ok := findNode(live, cur.NodeID)
		if !ok {
			return fmt.Errorf("placed on %s, which is not live", cur.NodeID)
		}
		host = n
		return nil
	})
	if err != nil {
		return Node{}, fmt.Errorf("store: place room %s: %w", roomID, err)
	}
	return host, nil
}

// roomsPerNode counts the rooms placed on each node.
func roomsPerNode(tx *gorm.DB) (map[string]int, error) {
	var rows []struct {
		NodeID string
		Rooms  int
	}
	err := tx.Model(&Placement{}).Select("node_id, COUNT(*) AS rooms").Group("node_id").Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.NodeID] = r.Rooms
	}
	return out, nil
}

// participantsNow estimates each live node's participants: those of its
// last heartbeat, and one for each room placed on it since.
func participantsNow(tx *gorm.DB, live []Node) (map[string]int, error) {
	out := make(map[string]int, len(live))
	for _, n := range live {
		var since int64
		err := tx.Model(&Placement{}).Where("node_id = ? AND placed_at > ?", n.ID, n.HeartbeatAt).Count(&since).Error
		if err != nil {
			return nil, err
		}
		out[n.ID] = n.Participants + int(since)
	}
	return out, nil
}

// leastLoaded picks of live (not empty) the node with the fewest
// participants (load), then the fewest rooms, then self, then the first
// id.
func leastLoaded(live []Node, load, rooms map[string]int, self string) Node {
	best := live[0]
	for _, n := range live[1:] {
		if lessLoaded(n, best, load, rooms, self) {
			best = n
		}
	}
	return best
}

// lessLoaded reports whether a comes before b in leastLoaded's order.
func lessLoaded(a, b Node, load, rooms map[string]int, self string) bool {
	switch {
	case load[a.ID] != load[b.ID]:
		return load[a.ID] < load[b.ID]
	case rooms[a.ID] != rooms[b.ID]:
		return rooms[a.ID] < rooms[b.ID]
	case a.ID == self || b.ID == self:
		return a.ID == self
	}
	return a.ID < b.ID
}

// Unplace removes the placement of roomID if it still names node: a room
// that emptied there. A placement another node has taken since stays.
func (s *Store) Unplace(roomID, node string) error {
	err := s.writeTx(placementLock, func(tx *gorm.DB) error {
		return tx.Where("room_id = ? AND node_id = ?", roomID, node).Delete(&Placement{}).Error
	})
	if err != nil {
		return fmt.Errorf("store: unplace room %s from %s: %w", roomID, node, err)
	}
	return nil
}

// Placement returns the placement of roomID, or ErrNotFound.
func (s *Store) Placement(roomID string) (*Placement, error) {
	var p Placement
	err := s.read.Where("room_id = ?", roomID).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: placement of %s: %w", roomID, err)
	}
	return &p, nil
}

// PlacementsOf returns the node each of roomIDs is placed on, live or not;
// a room without a placement is missing from the map.
func (s *Store) PlacementsOf(roomIDs []string) (map[string]string, error) {
	out := make(map[string]string, len(roomIDs))
	if len(roomIDs) == 0 {
		return out, nil
	}
	var rows []Placement
	if err := s.read.Where("room_id IN ?", roomIDs).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: placements of %d rooms: %w", len(roomIDs), err)
	}
	for _, p := range rows {
		out[p.RoomID] = p.NodeID
	}
	return out, nil
}

// PlacedOn lists the placements of the rooms placed on node.
func (s *Store) PlacedOn(node string) ([]Placement, error) {
	var rows []Placement
	if err := s.read.Where("node_id = ?", node).Order("room_id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: rooms placed on %s: %w", node, err)
	}
	return rows, nil
}
