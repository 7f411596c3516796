package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"meet/store/storetest"
)

// mustOpen opens a fresh database of dialect d for tb, and returns its DSN
// (to open it again).
func mustOpen(tb testing.TB, d storetest.Dialect) (*Store, string) {
	tb.Helper()
	dsn := d.NewDSN(tb)
	s, err := Open(dsn)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	if s.Dialect() != d.Name {
		tb.Fatalf("Open(%s) is a %s store, want %s", Redacted(dsn), s.Dialect(), d.Name)
	}
	return s, dsn
}

// TestOpenUsesWAL: SQLite runs in WAL mode; PostgreSQL has no journal mode
// and answers a ping.
func TestOpenUsesWAL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		mode, err := s.JournalMode()
		if d.Name == "postgres" {
			if err == nil {
				t.Fatalf("PostgreSQL has a journal mode %q", mode)
			}
			if err := s.Ping(); err != nil {
				t.Fatal(err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if mode != "wal" {
			t.Fatalf("journal mode = %q, want wal", mode)
		}
	})
}

func TestCreateAndGetRoom(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		room, err := s.CreateRoom("数学课", "u_owner", "Ana")
		if err != nil {
			t.Fatal(err)
		}
		if !ValidRoomID(room.ID) {
			t.Fatalf("room id %q is not a valid room id", room.ID)
		}
		if room.Status != StatusOpen {
			t.Fatalf("status = %q, want open", room.Status)
		}
		got, err := s.Room(room.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "数学课" || got.OwnerID != "u_owner" || got.OwnerName != "Ana" {
			t.Fatalf("got %+v", got)
		}
		if got.CreatedAt.IsZero() {
			t.Fatal("CreatedAt not set")
		}
	})
}

func TestRoomNotFound(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		for _, id := range []string{"", "abc", "aaaaaaaaaa", "../../etc", strings.Repeat("z", 400), "AAAAAAAAAA"} {
			if _, err := s.Room(id); !errors.Is(err, ErrNotFound) {
				t.Errorf("Room(%q) err = %v, want ErrNotFound", id, err)
			}
		}
	})
}

func TestRoomIDsAreDistinctAndLinkSafe(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		id := NewRoomID()
		if !ValidRoomID(id) {
			t.Fatalf("NewRoomID() = %q is not valid", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q after %d", id, i)
		}
		seen[id] = true
	}
}

func TestRoomsNewestFirst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		var ids []string
		for _, name := range []string{"a", "b", "c"} {
			r, err := s.CreateRoom(name, "u", "U")
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
		}
		rooms, err := s.Rooms(10)
		if err != nil {
			t.Fatal(err)
		}
		if len(rooms) != 3 {
			t.Fatalf("got %d rooms", len(rooms))
		}
		if rooms[0].Name != "c" || rooms[2].Name != "a" {
			t.Fatalf("order = %s %s %s, want c b a", rooms[0].Name, rooms[1].Name, rooms[2].Name)
		}
		limited, _ := s.Rooms(2)
		if len(limited) != 2 {
			t.Fatalf("limit 2 gave %d", len(limited))
		}
	})
}

func TestStatusTransitions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		r, _ := s.CreateRoom("r", "u", "U")
		if err := s.MarkLive(r.ID); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Room(r.ID)
		if got.Status != StatusLive {
			t.Fatalf("after MarkLive status = %q", got.Status)
		}
		ended, err := s.EndRoom(r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ended.Status != StatusEnded || ended.EndedAt == nil {
			t.Fatalf("after EndRoom: %+v", ended)
		}
		first := *ended.EndedAt
		// An ended room never goes live again, and ending it twice keeps the
		// first end time.
		if err := s.MarkLive(r.ID); err != nil {
			t.Fatal(err)
		}
		again, _ := s.EndRoom(r.ID)
		if again.Status != StatusEnded || !again.EndedAt.Equal(first) {
			t.Fatalf("second end changed the room: %+v", again)
		}
	})
}

func TestAttendance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		r, _ := s.CreateRoom("r", "u1", "A")
		if err := s.RecordJoin(Attendance{NodeID: "a", RoomID: r.ID, ParticipantID: "p1", UserID: "u1", Name: "A", Role: "owner"}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordJoin(Attendance{NodeID: "a", RoomID: r.ID, ParticipantID: "p2", UserID: "u2", Name: "B", Role: "participant"}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordJoin(Attendance{NodeID: "b", RoomID: r.ID, ParticipantID: "p3", UserID: "u3", Name: "C", Role: "participant"}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordLeave("p1"); err != nil {
			t.Fatal(err)
		}
		rows, err := s.AttendanceOf(r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 3 || rows[0].ParticipantID != "p1" || rows[0].LeftAt == nil || rows[1].LeftAt != nil {
			t.Fatalf("rows = %+v", rows)
		}
		// Node a stops while node b is live: a's rows close, b's stay.
		if err := s.CloseOpenAttendance([]string{"b"}); err != nil {
			t.Fatal(err)
		}
		rows, _ = s.AttendanceOf(r.ID)
		if rows[1].LeftAt == nil || rows[2].LeftAt != nil {
			t.Fatalf("closing node a's attendance while b lives: rows = %+v", rows)
		}
		if err := s.CloseOpenAttendance(nil); err != nil {
			t.Fatal(err)
		}
		rows, _ = s.AttendanceOf(r.ID)
		if rows[2].LeftAt == nil {
			t.Fatal("CloseOpenAttendance(nil) left a row open")
		}
	})
}

func TestPersistsAcrossReopen(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		path := d.NewDSN(t)
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := s.CreateRoom("Física 101", "u", "U")
		s.Close()

		s2, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		got, err := s2.Room(r.ID)
		if err != nil || got.Name != "Física 101" {
			t.Fatalf("after reopen: %+v, %v", got, err)
		}
	})
}

func TestConcurrentWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.CreateRoom("r", "u", "U"); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent create: %v", err)
		}
		rooms, _ := s.Rooms(100)
		if len(rooms) != 40 {
			t.Fatalf("got %d rooms, want 40", len(rooms))
		}
	})
}

// TestReadsDoNotWaitForAWrite: while a write transaction holds the writer
// (SQLite's one connection), reads are answered from their own pool and
// see what was committed before it; the read pool refuses writes.
func TestReadsDoNotWaitForAWrite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		room, err := s.CreateRoom("held", "u_owner", "Ana")
		if err != nil {
			t.Fatal(err)
		}
		holding, release := make(chan struct{}), make(chan struct{})
		writeDone := make(chan error, 1)
		go func() {
			writeDone <- s.writeTx("hold", func(tx *gorm.DB) error {
				close(holding)
				<-release
				return tx.Model(&Room{}).Where("id = ?", room.ID).Update("name", "renamed").Error
			})
		}()
		<-holding
		read := make(chan error, 1)
		go func() {
			got, err := s.Room(room.ID)
			if err == nil && got.Name != "held" {
				err = fmt.Errorf("read %q before the write committed, want %q", got.Name, "held")
			}
			read <- err
		}()
		select {
		case err := <-read:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			close(release)
			t.Fatal("a read waited for the write transaction")
		}
		close(release)
		if err := <-writeDone; err != nil {
			t.Fatal(err)
		}
		if got, err := s.Room(room.ID); err != nil || got.Name != "renamed" {
			t.Fatalf("after the commit the read pool sees %v, %v; want the new name", got, err)
		}
		if d.Name == "sqlite" {
			if err := s.read.Exec("DELETE FROM rooms").Error; err == nil {
				t.Fatal("the read pool deleted rows")
			}
		}
	})
}
