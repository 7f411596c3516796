package store

import (
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// RoomSettings are the choices a room's owner makes at creation and may
// change later.
type RoomSettings struct {
	Classroom  bool
	AllowStage bool
	Lobby      bool
	HostStart  bool
	// PublicStage: the stage may be watched without a token over WHEP.
	PublicStage bool
	Visibility  string // "" is public
	// PasscodeHash is a bcrypt hash, never the passcode; "" for none.
	PasscodeHash string
}

// SettingsChange names the settings to change; nil leaves one as it is.
type SettingsChange struct {
	Classroom  *bool
	AllowStage *bool
	Lobby      *bool
	Locked     *bool
	HostStart  *bool
	// PublicStage: the stage may be watched without a token over WHEP.
	PublicStage *bool
	// PasscodeHash: a bcrypt hash sets the passcode, "" removes it.
	PasscodeHash *string
}

// StageMember is one identity on a room's stage. Membership follows the
// identity, not a connection, so it survives reconnects and restarts. ID
// orders the stage: the first to step on is shown first.
type StageMember struct {
	ID      uint      `gorm:"primaryKey"`
	RoomID  string    `gorm:"size:16;not null;uniqueIndex:idx_stage_room_user,priority:1"`
	UserID  string    `gorm:"size:64;not null;uniqueIndex:idx_stage_room_user,priority:2"`
	Name    string    `gorm:"size:400;not null"`
	AddedAt time.Time `gorm:"not null"`
}

// UpdateRoomSettings applies change to the room and returns it. An unknown
// room is ErrNotFound.
func (s *Store) UpdateRoomSettings(id string, change SettingsChange) (*Room, error) {
	updates := map[string]any{}
	if change.Classroom != nil {
		updates["classroom"] = *change.Classroom
	}
	if change.AllowStage != nil {
		updates["allow_stage"] = *change.AllowStage
	}
	if change.Lobby != nil {
		updates["lobby"] = *change.Lobby
	}
	if change.Locked != nil {
		updates["locked"] = *change.Locked
	}
	if change.HostStart != nil {
		updates["host_start"] = *change.HostStart
	}
	if change.PublicStage != nil {
		updates["public_stage"] = *change.PublicStage
	}
	if change.PasscodeHash != nil {
		updates["passcode_hash"] = *change.PasscodeHash
	}
	if len(updates) > 0 {
		res := s.db.Model(&Room{}).Where("id = ?", id).Updates(updates)
		if res.Error != nil {
			return nil, fmt.Errorf("store: update settings of room %s: %w", id, res.Error)
		}
	}
	return s.Room(id)
}

// SetRoomOwner hands the room to another identity and returns it.
func (s *Store) SetRoomOwner(id, ownerID, ownerName string) (*Room, error) {
	err := s.db.Model(&Room{}).Where("id = ?", id).
		Updates(map[string]any{"owner_id": ownerID, "owner_name": ownerName}).Error
	if err != nil {
		return nil, fmt.Errorf("store: set owner of room %s: %w", id, err)
	}
	return s.Room(id)
}

// StageMembers lists a room's stage in the order its members stepped on.
func (s *Store) StageMembers(roomID string) ([]StageMember, error) {
	var rows []StageMember
	if err := s.read.Where("room_id = ?", roomID).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: stage of %s: %w", roomID, err)
	}
	return rows, nil
}

// StageMembersOf lists the stages of several rooms at once, for a room
// list, keyed by room id.
func (s *Store) StageMembersOf(roomIDs []string) (map[string][]StageMember, error) {
	out := make(map[string][]StageMember, len(roomIDs))
	if len(roomIDs) == 0 {
		return out, nil
	}
	var rows []StageMember
	if err := s.read.Where("room_id IN ?", roomIDs).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: stages of %d rooms: %w", len(roomIDs), err)
	}
	for _, r := range rows {
		out[r.RoomID] = append(out[r.RoomID], r)
	}
	return out, nil
}

// AddStageMember puts an identity on a room's stage. Adding a member again
// keeps its place and its first name, and reports false.
func (s *Store) AddStageMember(roomID, userID, name string) (bool, error) {
	row := &StageMember{RoomID: roomID, UserID: userID, Name: name, AddedAt: time.Now().UTC()}
	res := s.db.Clauses(clause.OnConflict{DoNothing: true}).Create(row)
	if res.Error != nil {
		return false, fmt.Errorf("store: add %s to the stage of %s: %w", userID, roomID, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// RemoveStageMember takes an identity off a room's stage and reports
// whether it was on it.
func (s *Store) RemoveStageMember(roomID, userID string) (bool, error) {
	res := s.db.Where("room_id = ? AND user_id = ?", roomID, userID).Delete(&StageMember{})
	if res.Error != nil {
		return false, fmt.Errorf("store: remove %s from the stage of %s: %w", userID, roomID, res.Error)
	}
	return res.RowsAffected > 0, nil
}
