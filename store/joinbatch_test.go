package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"meet/store/storetest"
)

// TestJoinsArrivingDuringAWriteShareTheNext: while one join's row is being
// written, the joins that come meanwhile wait and are written together in
// one statement; each caller gets its own row's outcome.
func TestJoinsArrivingDuringAWriteShareTheNext(t *testing.T) {
	var b joinBatcher
	release := make(chan struct{})
	var mu sync.Mutex
	var statements [][]string
	write := func(rows []*Attendance) error {
		if rows[0].ParticipantID == "first" {
			<-release // held until the others are queued
		}
		mu.Lock()
		defer mu.Unlock()
		var ids []string
		for _, r := range rows {
			if r.Name == "bad" && len(rows) == 1 {
				return errors.New("refused")
			}
			if r.Name == "bad" {
				return errors.New("refused, with the rest of the statement")
			}
			ids = append(ids, r.ParticipantID)
		}
		statements = append(statements, ids)
		return nil
	}
	const others = 150
	errs := make([]error, others+1)
	var wg sync.WaitGroup
	wg.Go(func() { errs[others] = b.add(&Attendance{ParticipantID: "first"}, write) })
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.writing })
	for i := range others {
		name := "ok"
		if i == 7 {
			name = "bad"
		}
		wg.Go(func() { errs[i] = b.add(&Attendance{ParticipantID: fmt.Sprint(i), Name: name}, write) })
	}
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.next != nil && len(b.next.rows) == others })
	close(release)
	wg.Wait()

	for i, err := range errs {
		if (i == 7) != (err != nil) {
			t.Errorf("join %d: err = %v", i, err)
		}
	}
	// The first row alone, then the 150 in two statements of 100 and 50, the
	// first of them refused for its bad row and written again one by one:
	// every row stored but the bad one.
	stored := 0
	for _, s := range statements {
		stored += len(s)
	}
	if stored != 1+others-1 || len(statements) != 1+99+1 || len(statements[len(statements)-1]) != 50 {
		t.Fatalf("%d rows in %d statements, the last of %d: want 150 in 101, the last of 50", stored, len(statements), len(statements[len(statements)-1]))
	}
	if b.writing || b.next != nil {
		t.Fatal("the batcher did not come to rest")
	}
}

// TestRecordJoinsTogether: joins recorded at once are all stored, each
// once, on both dialects.
func TestRecordJoinsTogether(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		r, _ := s.CreateRoom("r", "u1", "A")
		const n = 120
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if err := s.RecordJoin(Attendance{NodeID: "a", RoomID: r.ID, ParticipantID: fmt.Sprint("p", i), UserID: "u", Name: "N", Role: "participant"}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		rows, err := s.AttendanceOf(r.ID)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, row := range rows {
			seen[row.ParticipantID] = true
		}
		if len(rows) != n || len(seen) != n {
			t.Fatalf("%d rows for %d participants, want %d", len(rows), len(seen), n)
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
