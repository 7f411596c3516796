package store

import (
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// The states of a stored recording.
const (
	RecordingActive      = "recording"
	RecordingDone        = "done"
	RecordingInterrupted = "interrupted"
)

// Recording is a room's recording: the row lists it and says how it
// ended; its files and their manifest are in Dir, on the disk of the node
// that recorded it.
type Recording struct {
	ID     string `gorm:"primaryKey;size:24"`
	RoomID string `gorm:"size:16;not null;index"`
	// NodeID is the node that records it, in its own Dir.
	NodeID    string `gorm:"size:128;not null;default:'';index"`
	State     string `gorm:"size:16;not null;index"`
	StartedBy string `gorm:"size:64;not null"`
	Dir       string `gorm:"size:1024;not null"`
	StartedAt time.Time
	// StoppedAt is nil while it records.
	StoppedAt *time.Time
	// Error says why it stopped on its own or was cut short.
	Error string `gorm:"size:256"`
}

// CreateRecording stores a recording that starts now.
func (s *Store) CreateRecording(rec Recording) error {
	rec.StartedAt = rec.StartedAt.UTC()
	if err := s.db.Create(&rec).Error; err != nil {
		return fmt.Errorf("store: create recording %s: %w", rec.ID, err)
	}
	return nil
}

// FinishRecording marks a recording done (or interrupted), with why it
// stopped when not on request.
func (s *Store) FinishRecording(id, state, reason string, at time.Time) error {
	at = at.UTC()
	err := s.db.Model(&Recording{}).Where("id = ?", id).
		Updates(map[string]any{"state": state, "stopped_at": &at, "error": reason}).Error
	if err != nil {
		return fmt.Errorf("store: finish recording %s: %w", id, err)
	}
	return nil
}

// Recording returns the recording with the given id, or ErrNotFound.
func (s *Store) Recording(id string) (*Recording, error) {
	var rec Recording
	err := s.read.Where("id = ?", id).Take(&rec).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: recording %s: %w", id, err)
	}
	return &rec, nil
}

// Recordings lists a room's recordings, newest first.
func (s *Store) Recordings(roomID string) ([]Recording, error) {
	var recs []Recording
	if err := s.read.Where("room_id = ?", roomID).Order("started_at DESC, id").Find(&recs).Error; err != nil {
		return nil, fmt.Errorf("store: list recordings of room %s: %w", roomID, err)
	}
	return recs, nil
}

// DeleteRecording forgets a recording.
func (s *Store) DeleteRecording(id string) error {
	if err := s.db.Delete(&Recording{}, "id = ?", id).Error; err != nil {
		return fmt.Errorf("store: delete recording %s: %w", id, err)
	}
	return nil
}

// InterruptRecordings marks every recording still running on no node in
// keep as interrupted and returns them: what a node that stopped or died
// left (CloseOpenAttendance says which nodes a caller passes).
func (s *Store) InterruptRecordings(reason string, keep []string) ([]Recording, error) {
	var recs []Recording
	q := s.db.Where("state = ?", RecordingActive)
	if len(keep) > 0 {
		q = q.Where("node_id NOT IN ?", keep)
	}
	if err := q.Find(&recs).Error; err != nil {
		return nil, fmt.Errorf("store: running recordings: %w", err)
	}
	now := time.Now().UTC()
	for i := range recs {
		if err := s.FinishRecording(recs[i].ID, RecordingInterrupted, reason, now); err != nil {
			return nil, err
		}
		recs[i].State, recs[i].StoppedAt, recs[i].Error = RecordingInterrupted, &now, reason
	}
	return recs, nil
}
