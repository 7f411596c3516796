package store

import (
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Invite is a stored invite link. The link itself is a signed token that
// carries the room, the role and the expiry; the row is what lets an owner
// list the room's invites and revoke one before it expires.
type Invite struct {
	ID        string `gorm:"primaryKey;size:24"`
	RoomID    string `gorm:"size:16;not null;index"`
	Role      string `gorm:"size:16;not null"`
	CreatedBy string `gorm:"size:64;not null"`
	CreatedAt time.Time
	ExpiresAt time.Time `gorm:"not null"`
	// RevokedAt is set once the invite is revoked; nil until then.
	RevokedAt *time.Time
}

// CreateInvite stores inv. A zero CreatedAt is now.
func (s *Store) CreateInvite(inv Invite) error {
	inv.ExpiresAt = inv.ExpiresAt.UTC()
	if err := s.db.Create(&inv).Error; err != nil {
		return fmt.Errorf("store: create invite %s: %w", inv.ID, err)
	}
	return nil
}

// Invite returns the invite with the given id, revoked or expired ones
// included, or ErrNotFound.
func (s *Store) Invite(id string) (*Invite, error) {
	var inv Invite
	err := s.read.Where("id = ?", id).Take(&inv).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: invite %s: %w", id, err)
	}
	return &inv, nil
}

// Invites lists a room's invites, newest first, revoked and expired ones
// included: the caller decides what to show.
func (s *Store) Invites(roomID string) ([]Invite, error) {
	var invites []Invite
	err := s.read.Where("room_id = ?", roomID).Order(s.newestFirst()).Find(&invites).Error
	if err != nil {
		return nil, fmt.Errorf("store: list invites of room %s: %w", roomID, err)
	}
	return invites, nil
}

// RevokeInvite revokes invite id of room roomID and reports whether the
// room has such an invite. Revoking it again changes nothing and still
// reports true; an invite of another room is not touched.
func (s *Store) RevokeInvite(roomID, id string) (bool, error) {
	res := s.db.Model(&Invite{}).Where("id = ? AND room_id = ? AND revoked_at IS NULL", id, roomID).
		Update("revoked_at", time.Now().UTC())
	if res.Error != nil {
		return false, fmt.Errorf("store: revoke invite %s: %w", id, res.Error)
	}
	if res.RowsAffected > 0 {
		return true, nil
	}
	var found int64
	if err := s.db.Model(&Invite{}).Where("id = ? AND room_id = ?", id, roomID).Count(&found).Error; err != nil {
		return false, fmt.Errorf("store: invite %s: %w", id, err)
	}
	return found > 0, nil
}
