package store

import (
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ErrNameTaken is returned when a new API key's name is already used, by a
// key in use or a revoked one (a revoked key keeps its name, so that the
// list still tells who it was).
var ErrNameTaken = errors.New("name taken")

// APIKey is an API key that another application's backend signs join
// tokens with. Only its public half is stored: the server can verify a
// token with it but not sign one, so a leaked database mints nothing.
type APIKey struct {
	ID   string `gorm:"primaryKey;size:24"`
	Name string `gorm:"size:100;not null;uniqueIndex"`
	// PublicKey is the Ed25519 public key, standard base64.
	PublicKey string `gorm:"not null"`
	CreatedAt time.Time
	// RevokedAt is set once the key is revoked; nil while it is in use.
	RevokedAt *time.Time
}

// CreateAPIKey stores a new API key's id, name and public key. A name in
// use is ErrNameTaken.
func (s *Store) CreateAPIKey(id, name string, pub []byte) error {
	key := &APIKey{ID: id, Name: name, PublicKey: base64.StdEncoding.EncodeToString(pub)}
	err := s.db.Transaction(func(tx *gorm.DB) error {
		var taken int64
		if err := tx.Model(&APIKey{}).Where("name = ?", name).Count(&taken).Error; err != nil {
			return err
		}
		if taken > 0 {
			return fmt.Errorf("store: API key name %q: %w", name, ErrNameTaken)
		}
		return tx.Create(key).Error
	})
	switch {
	case errors.Is(err, ErrNameTaken):
		return err
	case isUniqueViolation(err, "api_keys", "name"):
		// Another process (a second `meet apikey create`) took it in between.
		return fmt.Errorf("store: API key name %q: %w", name, ErrNameTaken)
	case err != nil:
		return fmt.Errorf("store: create API key %s: %w", id, err)
	}
	return nil
}

// APIKeyPublic returns the public key of API key id, or ErrNotFound for an
// unknown or revoked key.
func (s *Store) APIKeyPublic(id string) ([]byte, error) {
	var key APIKey
	err := s.read.Where("id = ? AND revoked_at IS NULL", id).Take(&key).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: API key %s: %w", id, err)
	}
	pub, err := base64.StdEncoding.DecodeString(key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("store: API key %s: stored public key: %w", id, err)
	}
	return pub, nil
}

// APIKeys lists every API key, revoked ones included, oldest first.
func (s *Store) APIKeys() ([]APIKey, error) {
	var keys []APIKey
	if err := s.read.Order("created_at, " + s.insertionOrder()).Find(&keys).Error; err != nil {
		return nil, fmt.Errorf("store: list API keys: %w", err)
	}
	return keys, nil
}

// RevokeAPIKey revokes the API key with id or name nameOrID (an id is
// looked for first), so that tokens signed with it are refused from now
// on. Revoking a revoked key keeps its first revocation time; an unknown
// one is ErrNotFound.
func (s *Store) RevokeAPIKey(nameOrID string) error {
	var key APIKey
	err := s.db.Where("id = ?", nameOrID).Take(&key).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		err = s.db.Where("name = ?", nameOrID).Take(&key).Error
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: API key %s: %w", nameOrID, err)
	}
	err = s.db.Model(&APIKey{}).Where("id = ? AND revoked_at IS NULL", key.ID).
		Update("revoked_at", time.Now().UTC()).Error
	if err != nil {
		return fmt.Errorf("store: revoke API key %s: %w", key.ID, err)
	}
	return nil
}
