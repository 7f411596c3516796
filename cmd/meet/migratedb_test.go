package main

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meet/store"
	"meet/store/storetest"
)

// migrateDB runs `meet migrate-db args...` and returns what it printed.
func migrateDB(args ...string) (string, error) {
	var out bytes.Buffer
	err := runMigrateDB(args, &out, io.Discard)
	return out.String(), err
}

// fillSQLite makes a SQLite store with rows in every table and returns
// its path and the id of its room.
func fillSQLite(t *testing.T) (string, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "meet.db")
	src, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	room, err := src.CreateRoomWith("Física 101", "u_owner", "Ana", store.RoomSettings{Classroom: true, PublicStage: true, Visibility: store.VisibilityUnlisted})
	must(t, err)
	_, err = src.CreateRoom("other", "u_owner", "Ana")
	must(t, err)
	for i, text := range []string{"one", "dos", "三"} {
		msg := store.ChatMessage{RoomID: room.ID, SenderID: "p1", UserID: "u1", SenderName: "Bo", Text: text, ClientID: "c" + text}
		if _, err := src.AppendMessage(&msg); err != nil || msg.Seq != int64(i+1) {
			t.Fatalf("append %q: seq %d, %v", text, msg.Seq, err)
		}
	}
	for _, u := range []string{"u2", "u1", "u3"} {
		_, err := src.AddStageMember(room.ID, u, "name "+u)
		must(t, err)
	}
	must(t, src.RecordJoin(store.Attendance{NodeID: "a", RoomID: room.ID, ParticipantID: "p1", UserID: "u1", Name: "Bo", Role: "participant"}))
	must(t, src.RecordJoin(store.Attendance{NodeID: "a", RoomID: room.ID, ParticipantID: "p2", UserID: "u2", Name: "Cy", Role: "participant"}))
	must(t, src.RecordLeave("p1"))
	must(t, src.SetMember(store.Member{RoomID: room.ID, UserID: "u2", Name: "Cy", Standing: store.StandingModerator, InviteID: "iv_1"}))
	must(t, src.CreateAPIKey("ak_aaaaaaaaaaaa", "shop", []byte{1, 2, 3}))
	must(t, src.CreateInvite(store.Invite{ID: "iv_1", RoomID: room.ID, Role: "presenter", CreatedBy: "u_owner", ExpiresAt: time.Now().Add(time.Hour)}))
	must(t, src.CreateRecording(store.Recording{ID: "rec_1", RoomID: room.ID, State: store.RecordingActive, StartedBy: "u_owner", Dir: "/r/rec_1", StartedAt: time.Now()}))
	return path, room.ID
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestMigrateDB copies a SQLite store into an empty database of each
// dialect (PostgreSQL is the point; SQLite runs without a cluster), two
// rows at a time, and the copy serves like the original: same rows and
// ids, and new rows number on after the copied ones.
func TestMigrateDB(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		from, roomID := fillSQLite(t)
		to := d.NewDSN(t)
		out, err := migrateDB("-from", from, "-to", to, "-batch", "2")
		if err != nil {
			t.Fatalf("migrate-db: %v\n%s", err, out)
		}
		if !strings.Contains(out, "chat_messages    3 rows") || !strings.Contains(out, "Copied 14 rows.") {
			t.Fatalf("migrate-db said:\n%s", out)
		}
		dst, err := store.Open(to)
		if err != nil {
			t.Fatal(err)
		}
		defer dst.Close()
		checkCopy(t, dst, roomID)

		// A second copy into the same database is refused, unless told to
		// overwrite it.
		if _, err := migrateDB("-from", from, "-to", to); err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("copy into a full target: err = %v", err)
		}
		if out, err := migrateDB("-from", from, "-to", to, "-overwrite"); err != nil || !strings.Contains(out, "Copied 14 rows.") {
			t.Fatalf("copy with -overwrite: %v\n%s", err, out)
		}
		if rows, _ := dst.MessagesAfter(roomID, 0, 100); len(rows) != 3 {
			t.Fatalf("after -overwrite the room has %d messages, want 3", len(rows))
		}
	})
}

// checkCopy reads back what fillSQLite wrote, then writes new rows.
func checkCopy(t *testing.T, dst *store.Store, roomID string) {
	t.Helper()
	room, err := dst.Room(roomID)
	if err != nil || room.Name != "Física 101" || !room.Classroom || !room.PublicStage || room.Visibility != store.VisibilityUnlisted {
		t.Fatalf("room: %+v, %v", room, err)
	}
	if rooms, _ := dst.Rooms(10); len(rooms) != 2 || rooms[1].ID != roomID {
		t.Fatalf("rooms: %+v", rooms)
	}
	msgs, err := dst.MessagesAfter(roomID, 0, 10)
	if err != nil || len(msgs) != 3 || msgs[2].Text != "三" || msgs[2].Seq != 3 {
		t.Fatalf("messages: %+v, %v", msgs, err)
	}
	if users := stageOf(t, dst, roomID); users != "u2 u1 u3" {
		t.Fatalf("stage: %s", users)
	}
	if m, err := dst.Member(roomID, "u2"); err != nil || m.Standing != store.StandingModerator || m.InviteID != "iv_1" {
		t.Fatalf("member: %+v, %v", m, err)
	}
	if pub, err := dst.APIKeyPublic("ak_aaaaaaaaaaaa"); err != nil || !bytes.Equal(pub, []byte{1, 2, 3}) {
		t.Fatalf("API key: %x, %v", pub, err)
	}
	if inv, err := dst.Invite("iv_1"); err != nil || inv.Role != "presenter" {
		t.Fatalf("invite: %+v, %v", inv, err)
	}
	if rec, err := dst.Recording("rec_1"); err != nil || rec.State != store.RecordingActive || rec.Dir != "/r/rec_1" {
		t.Fatalf("recording: %+v, %v", rec, err)
	}
	att, err := dst.AttendanceOf(roomID)
	if err != nil || len(att) != 2 || att[0].LeftAt == nil || att[1].LeftAt != nil {
		t.Fatalf("attendance: %+v, %v", att, err)
	}

	// New rows: the next seq, and serial ids after the copied ones.
	msg := store.ChatMessage{RoomID: roomID, SenderID: "p9", UserID: "u9", SenderName: "Di", Text: "after"}
	if _, err := dst.AppendMessage(&msg); err != nil || msg.Seq != 4 || msg.ID <= msgs[2].ID {
		t.Fatalf("new message: seq %d id %d, %v", msg.Seq, msg.ID, err)
	}
	if added, err := dst.AddStageMember(roomID, "u9", "Di"); err != nil || !added {
		t.Fatalf("new stage member: %v, %v", added, err)
	}
	if users := stageOf(t, dst, roomID); users != "u2 u1 u3 u9" {
		t.Fatalf("stage after adding: %s", users)
	}
	must(t, dst.RecordJoin(store.Attendance{NodeID: "a", RoomID: roomID, ParticipantID: "p9", UserID: "u9", Name: "Di", Role: "participant"}))
	if att, _ := dst.AttendanceOf(roomID); len(att) != 3 || att[2].ID <= att[1].ID {
		t.Fatalf("attendance after a join: %+v", att)
	}
}

func stageOf(t *testing.T, s *store.Store, roomID string) string {
	t.Helper()
	rows, err := s.StageMembers(roomID)
	must(t, err)
	var users []string
	for _, r := range rows {
		users = append(users, r.UserID)
	}
	return strings.Join(users, " ")
}

func TestMigrateDBRefuses(t *testing.T) {
	from, _ := fillSQLite(t)
	missing := filepath.Join(t.TempDir(), "nothing.db")
	for _, args := range [][]string{
		{},
		{"-from", from},
		{"-to", missing},
		{"-from", from, "-to", from},
		{"-from", missing, "-to", filepath.Join(t.TempDir(), "new.db")},
		{"-from", from, "-to", filepath.Join(t.TempDir(), "new.db"), "-batch", "0"},
		{"-from", from, "-to", filepath.Join(t.TempDir(), "new.db"), "extra"},
	} {
		if _, err := migrateDB(args...); err == nil || errors.Is(err, store.ErrTargetNotEmpty) {
			t.Errorf("migrate-db %q: err = %v", args, err)
		}
	}
}
