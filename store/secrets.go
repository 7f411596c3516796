package store

import (
	"errors"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Secret is one named secret of the deployment, kept in the database so
// that every node sharing it signs and verifies with the same key: a
// cookie one node issued is good on all of them.
type Secret struct {
	Name  string `gorm:"primaryKey;size:64"`
	Value []byte `gorm:"not null"`
}

// Secret returns the value of the secret name. The first caller creates it
// with generate's value; every later caller, on any node, gets that same
// value: the row is inserted with ON CONFLICT DO NOTHING and read back, so
// of two nodes that start together on an empty database one value wins and
// both return it. generate runs only when no row exists yet, and an empty
// value is an error.
func (s *Store) Secret(name string, generate func() ([]byte, error)) ([]byte, error) {
	if name == "" {
		return nil, errors.New("store: a secret without a name")
	}
	value, err := s.readSecret(name)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return value, err
	}
	fresh, err := generate()
	if err != nil {
		return nil, fmt.Errorf("store: generate secret %s: %w", name, err)
	}
	if len(fresh) == 0 {
		return nil, fmt.Errorf("store: generate secret %s: empty value", name)
	}
	err = s.db.Clauses(clause.OnConflict{DoNothing: true}).Create(&Secret{Name: name, Value: fresh}).Error
	if err != nil {
		return nil, fmt.Errorf("store: create secret %s: %w", name, err)
	}
	return s.readSecret(name)
}

func (s *Store) readSecret(name string) ([]byte, error) {
	var row Secret
	err := s.db.Where("name = ?", name).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: secret %s: %w", name, err)
	}
	return row.Value, nil
}
