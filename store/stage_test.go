package store

import (
	"testing"

	"meet/store/storetest"
)

func stageUsers(t *testing.T, s *Store, roomID string) []string {
	t.Helper()
	rows, err := s.StageMembers(roomID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r.UserID)
	}
	return out
}

func TestStageMembersKeepOrderAndAreIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		r, _ := s.CreateRoom("r", "u1", "A")
		other, _ := s.CreateRoom("other", "u1", "A")
		for _, u := range []string{"u2", "u1", "u3"} {
			added, err := s.AddStageMember(r.ID, u, "name "+u)
			if err != nil || !added {
				t.Fatalf("add %s: %v, %v", u, added, err)
			}
		}
		// Again: no second row, and the first place is kept.
		if added, err := s.AddStageMember(r.ID, "u2", "renamed"); err != nil || added {
			t.Fatalf("second add of u2: %v, %v", added, err)
		}
		if _, err := s.AddStageMember(other.ID, "u9", "elsewhere"); err != nil {
			t.Fatal(err)
		}
		if got := stageUsers(t, s, r.ID); len(got) != 3 || got[0] != "u2" || got[1] != "u1" || got[2] != "u3" {
			t.Fatalf("stage = %v, want [u2 u1 u3]", got)
		}
		rows, _ := s.StageMembers(r.ID)
		if rows[0].Name != "name u2" {
			t.Fatalf("name of u2 = %q, want the first one", rows[0].Name)
		}

		if removed, err := s.RemoveStageMember(r.ID, "u1"); err != nil || !removed {
			t.Fatalf("remove u1: %v, %v", removed, err)
		}
		if removed, err := s.RemoveStageMember(r.ID, "u1"); err != nil || removed {
			t.Fatalf("second remove of u1: %v, %v", removed, err)
		}
		if got := stageUsers(t, s, r.ID); len(got) != 2 || got[0] != "u2" || got[1] != "u3" {
			t.Fatalf("stage after remove = %v", got)
		}

		byRoom, err := s.StageMembersOf([]string{r.ID, other.ID, "nosuchroom"})
		if err != nil {
			t.Fatal(err)
		}
		if len(byRoom[r.ID]) != 2 || len(byRoom[other.ID]) != 1 || len(byRoom["nosuchroom"]) != 0 {
			t.Fatalf("StageMembersOf = %+v", byRoom)
		}
	})
}

func TestRoomSettingsAndOwner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		plain, _ := s.CreateRoom("plain", "u1", "A")
		if plain.Classroom || plain.AllowStage {
			t.Fatalf("default settings: %+v", plain)
		}
		r, err := s.CreateRoomWith("class", "u1", "A", RoomSettings{Classroom: true})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := s.Room(r.ID)
		if !got.Classroom || got.AllowStage {
			t.Fatalf("created classroom = %+v", got)
		}
		yes, no := true, false
		got, err = s.UpdateRoomSettings(r.ID, SettingsChange{AllowStage: &yes})
		if err != nil || !got.Classroom || !got.AllowStage {
			t.Fatalf("after allowStage: %+v, %v", got, err)
		}
		got, err = s.UpdateRoomSettings(r.ID, SettingsChange{Classroom: &no})
		if err != nil || got.Classroom || !got.AllowStage {
			t.Fatalf("after classroom off: %+v, %v", got, err)
		}
		if _, err := s.UpdateRoomSettings("aaaaaaaaaa", SettingsChange{Classroom: &yes}); err != ErrNotFound {
			t.Fatalf("unknown room: %v", err)
		}
		got, err = s.SetRoomOwner(r.ID, "u2", "B")
		if err != nil || got.OwnerID != "u2" || got.OwnerName != "B" {
			t.Fatalf("after owner change: %+v, %v", got, err)
		}
	})
}

func TestStageAndSettingsSurviveReopen(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		path := d.NewDSN(t)
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := s.CreateRoomWith("class", "u1", "A", RoomSettings{Classroom: true, AllowStage: true})
		s.AddStageMember(r.ID, "u1", "A")
		s.AddStageMember(r.ID, "u7", "G")
		s.SetRoomOwner(r.ID, "u7", "G")
		s.Close()

		s2, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		got, err := s2.Room(r.ID)
		if err != nil || !got.Classroom || !got.AllowStage || got.OwnerID != "u7" {
			t.Fatalf("room after reopen: %+v, %v", got, err)
		}
		if users := stageUsers(t, s2, r.ID); len(users) != 2 || users[0] != "u1" || users[1] != "u7" {
			t.Fatalf("stage after reopen = %v", users)
		}
	})
}

func TestPublicStageSetting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		plain, _ := s.CreateRoom("plain", "u1", "A")
		if plain.PublicStage {
			t.Fatalf("default publicStage: %+v", plain)
		}
		r, err := s.CreateRoomWith("open stage", "u1", "A", RoomSettings{PublicStage: true})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Room(r.ID); !got.PublicStage || got.HostStart {
			t.Fatalf("created with publicStage: %+v", got)
		}
		yes, no := true, false
		got, err := s.UpdateRoomSettings(r.ID, SettingsChange{PublicStage: &no, HostStart: &yes})
		if err != nil || got.PublicStage || !got.HostStart {
			t.Fatalf("after publicStage off: %+v, %v", got, err)
		}
		got, err = s.UpdateRoomSettings(plain.ID, SettingsChange{PublicStage: &yes})
		if err != nil || !got.PublicStage {
			t.Fatalf("after publicStage on: %+v, %v", got, err)
		}
		// Another setting leaves it as it is.
		got, err = s.UpdateRoomSettings(plain.ID, SettingsChange{Lobby: &yes})
		if err != nil || !got.PublicStage || !got.Lobby {
			t.Fatalf("after lobby on: %+v, %v", got, err)
		}
	})
}

// TestPublicStageMigration: a database from before the setting gets its
// column when opened, false for the rooms it already has.
func TestPublicStageMigration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		path := d.NewDSN(t)
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		old, _ := s.CreateRoomWith("old", "u1", "A", RoomSettings{HostStart: true})
		if err := s.db.Exec("ALTER TABLE rooms DROP COLUMN public_stage").Error; err != nil {
			t.Fatalf("drop the column: %v", err)
		}
		if s.db.Migrator().HasColumn(&Room{}, "PublicStage") {
			t.Fatal("public_stage still there after the drop")
		}
		s.Close()

		s2, err := Open(path)
		if err != nil {
			t.Fatalf("open the old database: %v", err)
		}
		defer s2.Close()
		if !s2.db.Migrator().HasColumn(&Room{}, "PublicStage") {
			t.Fatal("Open did not add public_stage")
		}
		got, err := s2.Room(old.ID)
		if err != nil || got.PublicStage || !got.HostStart {
			t.Fatalf("old room after migration: %+v, %v", got, err)
		}
		yes := true
		if got, err = s2.UpdateRoomSettings(old.ID, SettingsChange{PublicStage: &yes}); err != nil || !got.PublicStage {
			t.Fatalf("publicStage on after migration: %+v, %v", got, err)
		}
		fresh, err := s2.CreateRoom("new", "u1", "A")
		if err != nil || fresh.PublicStage {
			t.Fatalf("new room after migration: %+v, %v", fresh, err)
		}
	})
}
