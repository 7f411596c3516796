package store

import (
	"fmt"
	"time"
)

// Attendance records one participant's presence in a room: one row per
// connection, closed when the participant leaves. NodeID is the node the
// participant is connected to: its rows are closed when it stops or dies.
type Attendance struct {
	ID            uint   `gorm:"primaryKey"`
	NodeID        string `gorm:"size:128;not null;default:'';index"`
	RoomID        string `gorm:"size:16;not null;index"`
	ParticipantID string `gorm:"size:64;not null;index"`
	UserID        string `gorm:"size:64;not null;index"`
	Name          string `gorm:"size:400;not null"`
	Role          string `gorm:"size:16;not null"`
	JoinedAt      time.Time
	LeftAt        *time.Time
}

// RecordJoin stores that a participant joined a room now: a's node, room,
// participant, identity, name and role. Joins that come together are
// written together (joinbatch.go); each returns once its row is stored.
func (s *Store) RecordJoin(a Attendance) error {
	row := &Attendance{
		NodeID:        a.NodeID,
		RoomID:        a.RoomID,
		ParticipantID: a.ParticipantID,
		UserID:        a.UserID,
		Name:          a.Name,
		Role:          a.Role,
		JoinedAt:      time.Now().UTC(),
	}
	if err := s.joins.add(row, s.insertAttendance); err != nil {
		return fmt.Errorf("store: record join: %w", err)
	}
	return nil
}

// insertAttendance stores rows in one statement.
func (s *Store) insertAttendance(rows []*Attendance) error {
	return s.db.Create(rows).Error
}

// RecordLeave closes the open attendance row of a participant.
func (s *Store) RecordLeave(participantID string) error {
	err := s.db.Model(&Attendance{}).
		Where("participant_id = ? AND left_at IS NULL", participantID).
		Update("left_at", time.Now().UTC()).Error
	if err != nil {
		return fmt.Errorf("store: record leave: %w", err)
	}
	return nil
}

// CloseOpenAttendance closes the attendance rows still open that no node
// in keep holds: nobody is connected to a node that is not running. A node
// passes the live nodes but itself as it starts and stops, and all the
// live ones after another node died. Rows written before rows named their
// node belong to none.
func (s *Store) CloseOpenAttendance(keep []string) error {
	q := s.db.Model(&Attendance{}).Where("left_at IS NULL")
	if len(keep) > 0 {
		q = q.Where("node_id NOT IN ?", keep)
	}
	if err := q.Update("left_at", time.Now().UTC()).Error; err != nil {
		return fmt.Errorf("store: close open attendance: %w", err)
	}
	return nil
}

// AttendanceOf lists a room's attendance rows in join order.
func (s *Store) AttendanceOf(roomID string) ([]Attendance, error) {
	var rows []Attendance
	err := s.read.Where("room_id = ?", roomID).Order("joined_at, id").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: attendance of %s: %w", roomID, err)
	}
	return rows, nil
}

// RoomsAttended reports which of roomIDs userID has joined at least once.
func (s *Store) RoomsAttended(userID string, roomIDs []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(roomIDs) == 0 {
		return out, nil
	}
	var ids []string
	err := s.read.Model(&Attendance{}).Distinct("room_id").
		Where("user_id = ? AND room_id IN ?", userID, roomIDs).Pluck("room_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("store: rooms attended by %s: %w", userID, err)
	}
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}
