package store

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// ErrTargetNotEmpty is returned by CopyTo when the target already holds
// rows and Overwrite is not set.
var ErrTargetNotEmpty = errors.New("the target database is not empty")

// CopyOptions tune CopyTo.
type CopyOptions struct {
	// BatchSize is how many rows are read and written at a time; 0 is 500.
	BatchSize int
	// Overwrite empties the target's tables first instead of refusing a
	// target that holds rows.
	Overwrite bool
	// Progress, when set, hears of each table once it is copied.
	Progress func(table string, rows int64)
}

// TableCount is how many rows of one table were copied.
type TableCount struct {
	Table string
	Rows  int64
}

// CopyTo copies every table of s into to, ids and all, in batches: both
// were migrated when opened. The writes are one transaction of to, so a
// failed copy leaves it as it was. s should not change meanwhile (stop the
// server). After the copy, PostgreSQL's sequences of serial ids continue
// after the largest copied id.
func (s *Store) CopyTo(to *Store, opts CopyOptions) ([]TableCount, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if !opts.Overwrite {
		for _, m := range models() {
			var n int64
			if err := to.db.Model(m).Count(&n).Error; err != nil {
				return nil, fmt.Errorf("store: count the target's rows: %w", err)
			}
			if n > 0 {
				return nil, fmt.Errorf("store: %w: %s has %d rows", ErrTargetNotEmpty, tableOf(to.db, m), n)
			}
		}
	}
	var counts []TableCount
	err := to.db.Transaction(func(tx *gorm.DB) error {
		for _, m := range models() {
			table := tableOf(tx, m)
			if opts.Overwrite {
				if err := tx.Session(&gorm.Session{AllowGlobalUpdate: true}).Delete(m).Error; err != nil {
					return fmt.Errorf("empty %s: %w", table, err)
				}
			}
			n, err := s.copyTable(tx, m, opts.BatchSize)
			if err != nil {
				return fmt.Errorf("copy %s: %w", table, err)
			}
			if to.postgres {
				if err := resetSequence(tx, m); err != nil {
					return fmt.Errorf("reset the id sequence of %s: %w", table, err)
				}
			}
			counts = append(counts, TableCount{Table: table, Rows: n})
			if opts.Progress != nil {
				opts.Progress(table, n)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return counts, nil
}

// copyTable copies the rows of model m from s into tx, batch rows at a
// time in primary key order, and returns how many it copied.
func (s *Store) copyTable(tx *gorm.DB, m any, batch int) (int64, error) {
	sch := schemaOf(s.db, m)
	var order []string
	for _, f := range sch.PrimaryFields {
		order = append(order, f.DBName)
	}
	var total int64
	for offset := 0; ; offset += batch {
		rows := reflect.New(reflect.SliceOf(sch.ModelType))
		err := s.db.Model(m).Order(strings.Join(order, ", ")).Limit(batch).Offset(offset).Find(rows.Interface()).Error
		if err != nil {
			return total, fmt.Errorf("read: %w", err)
		}
		n := rows.Elem().Len()
		if n == 0 {
			return total, nil
		}
		if err := tx.Create(rows.Interface()).Error; err != nil {
			return total, fmt.Errorf("write: %w", err)
		}
		total += int64(n)
		if n < batch {
			return total, nil
		}
	}
}

// resetSequence moves the sequence behind m's serial id, if it has one,
// past the largest id in the table, so that new rows do not collide with
// copied ones.
func resetSequence(tx *gorm.DB, m any) error {
	sch := schemaOf(tx, m)
	pk := sch.PrioritizedPrimaryField
	if pk == nil || !pk.AutoIncrement {
		return nil
	}
	q := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', '%s'), COALESCE(MAX(%s), 0) + 1, false) FROM %s`,
		sch.Table, pk.DBName, tx.Statement.Quote(pk.DBName), tx.Statement.Quote(sch.Table))
	return tx.Exec(q).Error
}

func schemaOf(db *gorm.DB, m any) *schema.Schema {
	stmt := &gorm.Statement{DB: db}
	if err := stmt.Parse(m); err != nil {
		panic(fmt.Sprintf("store: parse the model %T: %v", m, err))
	}
	return stmt.Schema
}

func tableOf(db *gorm.DB, m any) string {
	return schemaOf(db, m).Table
}
