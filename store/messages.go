package store

import (
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ChatMessage is one chat message of a room. Seq numbers a room's messages
// 1, 2, 3, ... in the order everyone in the room saw them: clients resync
// with "everything after the last seq I have", so a seq is never reused and
// never skipped.
type ChatMessage struct {
	ID     uint   `gorm:"primaryKey"`
	RoomID string `gorm:"size:16;not null;uniqueIndex:idx_chat_room_seq,priority:1;uniqueIndex:idx_chat_client,priority:1"`
	Seq    int64  `gorm:"not null;uniqueIndex:idx_chat_room_seq,priority:2"`
	// SenderID is the participant (one connection); UserID is the identity
	// behind it, which survives reconnects.
	SenderID   string `gorm:"size:64;not null"`
	UserID     string `gorm:"size:64;not null;uniqueIndex:idx_chat_client,priority:2"`
	SenderName string `gorm:"size:400;not null"`
	Text       string `gorm:"not null"`
	// ClientID is chosen by the sending client so that a message resent
	// after a reconnect is recognised instead of stored twice. Empty means
	// the client did not ask for that, and the partial index ignores it.
	ClientID  string    `gorm:"size:64;not null;uniqueIndex:idx_chat_client,priority:3,where:client_id <> ''"`
	CreatedAt time.Time `gorm:"not null"`
}

// AppendMessage stores msg as the next message of its room: it sets msg.ID
// and msg.Seq, and msg.CreatedAt when it is zero. If msg carries a ClientID
// that the same user already sent in this room, nothing is stored: msg is
// replaced by the stored message and created is false.
func (s *Store) AppendMessage(msg *ChatMessage) (created bool, err error) {
	if msg.CreatedAt.IsZero() {
		msg.CreatedAt = time.Now().UTC()
	}
	err = s.writeTx(msg.RoomID, func(tx *gorm.DB) error {
		if msg.ClientID != "" {
			var prev ChatMessage
			err := tx.Where("room_id = ? AND user_id = ? AND client_id = ?", msg.RoomID, msg.UserID, msg.ClientID).
				Take(&prev).Error
			if err == nil {
				*msg = prev
				return nil
			}
			if !errors.Is(err, gorm.ErrRecordNotFound) {
				return err
			}
		}
		var next int64
		err := tx.Model(&ChatMessage{}).Where("room_id = ?", msg.RoomID).
			Select("COALESCE(MAX(seq), 0) + 1").Scan(&next).Error
		if err != nil {
			return err
		}
		msg.ID = 0
		msg.Seq = next
		if err := tx.Create(msg).Error; err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: append message to %s: %w", msg.RoomID, err)
	}
	return created, nil
}

// MessagesAfter returns up to limit messages of a room with a seq greater
// than after, oldest first.
func (s *Store) MessagesAfter(roomID string, after int64, limit int) ([]ChatMessage, error) {
	var rows []ChatMessage
	err := s.read.Where("room_id = ? AND seq > ?", roomID, after).
		Order("seq").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: messages of %s after %d: %w", roomID, after, err)
	}
	return rows, nil
}

// RecentMessages returns the last limit messages of a room, oldest first,
// as a joiner's history shows them.
func (s *Store) RecentMessages(roomID string, limit int) ([]ChatMessage, error) {
	var rows []ChatMessage
	err := s.read.Where("room_id = ?", roomID).Order("seq DESC").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: recent messages of %s: %w", roomID, err)
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	return rows, nil
}
