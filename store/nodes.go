package store

import (
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Node is one meet process sharing the database with others: its
// heartbeat and its load, as it last wrote them. A node whose heartbeat is
// older than the deployment's node timeout is dead.
type Node struct {
	// ID names the node (-node-id, the host name by default).
	ID string `gorm:"primaryKey;size:128"`
	// PublicURL is the address browsers reach this node at; empty: the
	// same origin as the page.
	PublicURL string `gorm:"size:400;not null"`
	// InternalURL is the address the other nodes reach this node at to
	// forward a join to the room's host (app/proxy.go); empty: unknown.
	InternalURL string    `gorm:"size:400;not null;default:''"`
	StartedAt   time.Time `gorm:"not null"`
	HeartbeatAt time.Time `gorm:"not null;index"`
	// Participants are those online in the node's live rooms.
	Participants int `gorm:"not null"`
	// DeliveriesPerSecond are the RTP packets its SFU sent to subscribers
	// per second, over the last heartbeat interval.
	DeliveriesPerSecond float64 `gorm:"not null"`
	// CPU is the processor time the process used over the last heartbeat
	// interval, in cores (1.5 is one and a half cores busy).
	CPU float64 `gorm:"not null"`
}

// Heartbeat writes n as the node's latest state: its row is created the
// first time and replaced whole after that.
func (s *Store) Heartbeat(n Node) error {
	if n.ID == "" {
		return errors.New("store: heartbeat of a node without an id")
	}
	if n.HeartbeatAt.IsZero() {
		n.HeartbeatAt = time.Now()
	}
	n.HeartbeatAt = n.HeartbeatAt.UTC()
	n.StartedAt = n.StartedAt.UTC()
	err := s.db.Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "id"}},
		DoUpdates: clause.AssignmentColumns([]string{
			"public_url", "internal_url", "started_at", "heartbeat_at", "participants", "deliveries_per_second", "cpu",
		}),
	}).Create(&n).Error
	if err != nil {
		return fmt.Errorf("store: heartbeat of node %s: %w", n.ID, err)
	}
	return nil
}

// LiveNodes lists the nodes whose last heartbeat is less than timeout
// before now, by id.
func (s *Store) LiveNodes(now time.Time, timeout time.Duration) ([]Node, error) {
	var nodes []Node
	err := s.read.Where("heartbeat_at > ?", now.Add(-timeout).UTC()).Order("id").Find(&nodes).Error
	if err != nil {
		return nil, fmt.Errorf("store: live nodes: %w", err)
	}
	return nodes, nil
}

// Node returns the row of node id, live or not, or ErrNotFound.
func (s *Store) Node(id string) (*Node, error) {
	var n Node
	err := s.read.Where("id = ?", id).Take(&n).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: node %s: %w", id, err)
	}
	return &n, nil
}

// findNode returns the node of nodes named id.
func findNode(nodes []Node, id string) (Node, bool) {
	for _, n := range nodes {
		if n.ID == id {
			return n, true
		}
	}
	return Node{}, false
}
