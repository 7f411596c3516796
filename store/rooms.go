package store

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Room statuses. A room is open until someone joins, live while it has been
// used, and ended once its owner ends it; an ended room never reopens.
const (
	StatusOpen  = "open"
	StatusLive  = "live"
	StatusEnded = "ended"
)

// Room is a meeting room. Its ID is the share-link token.
type Room struct {
	ID        string `gorm:"primaryKey;size:16"`
	Name      string `gorm:"size:400;not null"`
	OwnerID   string `gorm:"size:64;not null;index"`
	OwnerName string `gorm:"size:400;not null"`
	Status    string `gorm:"size:8;not null;default:open;index"`
	CreatedAt time.Time
	EndedAt   *time.Time
	// Classroom: only stage members publish; everyone else receives.
	Classroom bool `gorm:"not null;default:false"`
	// AllowStage lets participants other than the owner step on the stage
	// themselves.
	AllowStage bool `gorm:"not null;default:false"`
	// Lobby: joiners wait until the owner admits them.
	Lobby bool `gorm:"not null;default:false"`
	// Locked: nobody new may join.
	Locked bool `gorm:"not null;default:false"`
	// HostStart: joiners wait until a host (the owner or a moderator) is
	// in the room.
	HostStart bool `gorm:"not null;default:false"`
	// PublicStage: the room's stage may be watched without a token over
	// WHEP.
	PublicStage bool `gorm:"not null;default:false"`
	// Visibility is "public" (listed for everyone) or "unlisted" (listed
	// only for its owner and those who joined it).
	Visibility string `gorm:"size:8;not null;default:public"`
	// PasscodeHash is the bcrypt hash of the room's passcode, "" for none;
	// the passcode itself is never stored.
	PasscodeHash string `gorm:"size:100;not null;default:''"`
}

// Visibilities of a room.
const (
	VisibilityPublic   = "public"
	VisibilityUnlisted = "unlisted"
)

// roomIDAlphabet avoids look-alike characters so that a link read aloud or
// copied by hand still works.
const roomIDAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

// roomIDLength gives 32^10 = 2^50 ids: unguessable for a share link, short
// enough to type.
const roomIDLength = 10

// NewRoomID returns a fresh random room id.
func NewRoomID() string {
	var raw [roomIDLength]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic(fmt.Sprintf("store: crypto/rand failed: %v", err))
	}
	out := make([]byte, roomIDLength)
	for i, b := range raw {
		out[i] = roomIDAlphabet[int(b)%len(roomIDAlphabet)]
	}
	return string(out)
}

// ValidRoomID reports whether id has the shape of a room id, so lookups of
// garbage paths never reach the database.
func ValidRoomID(id string) bool {
	if len(id) != roomIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '9') {
			return false
		}
	}
	return true
}

// CreateRoom stores a new open room owned by ownerID, with the default
// settings.
func (s *Store) CreateRoom(name, ownerID, ownerName string) (*Room, error) {
	return s.CreateRoomWith(name, ownerID, ownerName, RoomSettings{})
}

// CreateRoomWith stores a new open room owned by ownerID with settings.
func (s *Store) CreateRoomWith(name, ownerID, ownerName string, settings RoomSettings) (*Room, error) {
	room := &Room{
		ID:          NewRoomID(),
		Name:        name,
		OwnerID:     ownerID,
		OwnerName:   ownerName,
		Status:      StatusOpen,
		Classroom:   settings.Classroom,
		AllowStage:  settings.AllowStage,
		Lobby:       settings.Lobby,
		HostStart:   settings.HostStart,
		PublicStage: settings.PublicStage,

		Visibility:   settings.Visibility,
		PasscodeHash: settings.PasscodeHash,
	}
	if room.Visibility == "" {
		room.Visibility = VisibilityPublic
	}
	if err := s.db.Create(room).Error; err != nil {
		return nil, fmt.Errorf("store: create room: %w", err)
	}
	return room, nil
}

// Room returns the room with the given id, or ErrNotFound.
func (s *Store) Room(id string) (*Room, error) {
	if !ValidRoomID(id) {
		return nil, ErrNotFound
	}
	var room Room
	err := s.read.Where("id = ?", id).Take(&room).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: room %s: %w", id, err)
	}
	return &room, nil
}

// Rooms lists rooms, newest first, at most limit of them.
func (s *Store) Rooms(limit int) ([]Room, error) {
	var rooms []Room
	err := s.read.Order(s.newestFirst()).Limit(limit).Find(&rooms).Error
	if err != nil {
		return nil, fmt.Errorf("store: list rooms: %w", err)
	}
	return rooms, nil
}

// VisibleRooms lists, newest first and at most limit of them, the rooms
// userID may see in the room list: the public ones, those it owns and
// those it has joined.
func (s *Store) VisibleRooms(userID string, limit int) ([]Room, error) {
	var rooms []Room
	joined := s.read.Model(&Attendance{}).Select("room_id").Where("user_id = ?", userID)
	err := s.read.Where("visibility = ? OR owner_id = ? OR id IN (?)", VisibilityPublic, userID, joined).
		Order(s.newestFirst()).Limit(limit).Find(&rooms).Error
	if err != nil {
		return nil, fmt.Errorf("store: list visible rooms: %w", err)
	}
	return rooms, nil
}

// RenameOwner writes an identity's new name into every room it owns, so
// the owner shown is the one of now.
func (s *Store) RenameOwner(ownerID, name string) error {
	err := s.db.Model(&Room{}).Where("owner_id = ? AND owner_name <> ?", ownerID, name).
		Update("owner_name", name).Error
	if err != nil {
		return fmt.Errorf("store: rename owner %s: %w", ownerID, err)
	}
	return nil
}

// MarkLive moves an open room to live. It leaves live and ended rooms alone.
func (s *Store) MarkLive(id string) error {
	err := s.db.Model(&Room{}).Where("id = ? AND status = ?", id, StatusOpen).
		Update("status", StatusLive).Error
	if err != nil {
		return fmt.Errorf("store: mark room %s live: %w", id, err)
	}
	return nil
}

// EndRoom marks a room ended and returns it. Ending an ended room is a no-op
// that keeps the first end time.
func (s *Store) EndRoom(id string) (*Room, error) {
	now := time.Now().UTC()
	err := s.db.Model(&Room{}).Where("id = ? AND status <> ?", id, StatusEnded).
		Updates(map[string]any{"status": StatusEnded, "ended_at": now}).Error
	if err != nil {
		return nil, fmt.Errorf("store: end room %s: %w", id, err)
	}
	return s.Room(id)
}
