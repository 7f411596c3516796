package store

import "sync"

// joinBatcher writes together the attendance rows of joins that arrive
// while an earlier write is under way: group commit. When a class joins at
// once, one statement and one commit then serve many joins instead of one
// each. That was a twelfth of the server's CPU, all of it queued on
// SQLite's one writing connection. Every caller still returns only once its
// own row is stored, as before, so that what follows a join (its welcome,
// later its leave) finds the row there.
type joinBatcher struct {
	mu sync.Mutex
	// next gathers the rows that arrive while a write is under way.
	next *joinBatch
	// writing is true while one caller writes; that caller writes next
	// before it returns.
	writing bool
}

// joinBatch is one write's rows and their outcomes, known once done
// closes.
type joinBatch struct {
	rows []*Attendance
	errs []error
	done chan struct{}
}

// joinBatchStatementRows bounds the rows one INSERT carries.
const joinBatchStatementRows = 100

// add stores row, alone or with the rows that came meanwhile. write stores
// at most joinBatchStatementRows rows in one statement, all or none.
func (b *joinBatcher) add(row *Attendance, write func([]*Attendance) error) error {
	b.mu.Lock()
	if b.next == nil {
		b.next = &joinBatch{done: make(chan struct{})}
	}
	mine, index := b.next, len(b.next.rows)
	mine.rows = append(mine.rows, row)
	if b.writing {
		b.mu.Unlock()
		<-mine.done
		return mine.errs[index]
	}
	// No write is under way: this caller writes, and goes on writing
	// what gathered meanwhile until nothing is left, each write taking
	// what came during the one before.
	b.writing = true
	for b.next != nil {
		batch := b.next
		b.next = nil
		b.mu.Unlock()
		batch.errs = writeInStatements(batch.rows, write)
		close(batch.done)
		b.mu.Lock()
	}
	b.writing = false
	b.mu.Unlock()
	return mine.errs[index]
}

// writeInStatements writes rows in statements of at most
// joinBatchStatementRows and returns each row's outcome. A statement that
// fails is written again row by row, so that a row that cannot be stored
// fails only its own join.
func writeInStatements(rows []*Attendance, write func([]*Attendance) error) []error {
	errs := make([]error, len(rows))
	for start := 0; start < len(rows); start += joinBatchStatementRows {
		end := min(start+joinBatchStatementRows, len(rows))
		if err := write(rows[start:end]); err != nil {
			if end-start == 1 {
				errs[start] = err
				continue
			}
			for i := start; i < end; i++ {
				errs[i] = write(rows[i : i+1])
			}
		}
	}
	return errs
}
