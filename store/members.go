package store

import (
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// Standings of an identity in a room beyond a plain participant, one per
// identity: a co-host, a presenter, a receive-only viewer, or banned. The
// owner is not a member: it is stored with the room.
const (
	StandingModerator = "moderator"
	StandingPresenter = "presenter"
	StandingViewer    = "viewer"
	StandingBanned    = "banned"
	// StandingInvited is a plain participant who came with an invite:
	// kept so that banning it revokes that invite.
	StandingInvited = "invited"
)

// Member is an identity's standing in a room. It follows the identity in
// every tab and across restarts. InviteID is the invite it came in with,
// if any, which a ban revokes.
type Member struct {
	RoomID    string    `gorm:"primaryKey;size:16"`
	UserID    string    `gorm:"primaryKey;size:64"`
	Name      string    `gorm:"size:400;not null"`
	Standing  string    `gorm:"size:16;not null;index"`
	InviteID  string    `gorm:"size:24;not null;default:''"`
	UpdatedAt time.Time `gorm:"not null"`
}

// Members lists a room's members, oldest change first.
func (s *Store) Members(roomID string) ([]Member, error) {
	var rows []Member
	if err := s.read.Where("room_id = ?", roomID).Order("updated_at, user_id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: members of %s: %w", roomID, err)
	}
	return rows, nil
}

// Member reads one identity's standing in a room; ErrNotFound when it has
// none.
func (s *Store) Member(roomID, userID string) (*Member, error) {
	var m Member
	res := s.read.Where("room_id = ? AND user_id = ?", roomID, userID).Limit(1).Find(&m)
	if res.Error != nil {
		return nil, fmt.Errorf("store: member %s of %s: %w", userID, roomID, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, ErrNotFound
	}
	return &m, nil
}

// SetMember stores an identity's standing in a room, replacing the one it
// had. An empty inviteID keeps the invite recorded before.
func (s *Store) SetMember(m Member) error {
	m.UpdatedAt = time.Now().UTC()
	columns := []string{"name", "standing", "updated_at"}
	if m.InviteID != "" {
		columns = append(columns, "invite_id")
	}
	err := s.db.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "room_id"}, {Name: "user_id"}},
		DoUpdates: clause.AssignmentColumns(columns),
	}).Create(&m).Error
	if err != nil {
		return fmt.Errorf("store: set %s of %s to %s: %w", m.UserID, m.RoomID, m.Standing, err)
	}
	return nil
}

// RemoveMember takes away an identity's standing (it is a plain
// participant again) and reports whether it had one. With standing set,
// only that standing is taken away.
func (s *Store) RemoveMember(roomID, userID, standing string) (bool, error) {
	q := s.db.Where("room_id = ? AND user_id = ?", roomID, userID)
	if standing != "" {
		q = q.Where("standing = ?", standing)
	}
	res := q.Delete(&Member{})
	if res.Error != nil {
		return false, fmt.Errorf("store: remove member %s of %s: %w", userID, roomID, res.Error)
	}
	return res.RowsAffected > 0, nil
}
