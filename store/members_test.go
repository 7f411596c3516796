package store

import (
	"errors"
	"testing"

	"meet/store/storetest"
)

// TestMemberStandingIsOnePerIdentity: a standing replaces the last one,
// keeps the invite it came with unless a new one is named, is per room,
// and a removal can be limited to one standing (an unban never takes a
// moderator's standing away).
func TestMemberStandingIsOnePerIdentity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		r, _ := s.CreateRoom("r", "owner", "A")
		other, _ := s.CreateRoom("other", "owner", "A")
		if _, err := s.Member(r.ID, "u1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("member before any standing: %v, want ErrNotFound", err)
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(s.SetMember(Member{RoomID: r.ID, UserID: "u1", Name: "Pupil", Standing: StandingPresenter, InviteID: "inv1"}))
		must(s.SetMember(Member{RoomID: r.ID, UserID: "u1", Name: "Pupil 2", Standing: StandingBanned}))
		must(s.SetMember(Member{RoomID: other.ID, UserID: "u1", Name: "Pupil", Standing: StandingModerator}))
		m, err := s.Member(r.ID, "u1")
		if err != nil || m.Standing != StandingBanned || m.Name != "Pupil 2" || m.InviteID != "inv1" || m.UpdatedAt.IsZero() {
			t.Fatalf("member = %+v, %v; want banned, renamed, invite kept", m, err)
		}
		rows, err := s.Members(r.ID)
		if err != nil || len(rows) != 1 {
			t.Fatalf("members = %+v, %v", rows, err)
		}
		if removed, err := s.RemoveMember(other.ID, "u1", StandingBanned); err != nil || removed {
			t.Fatalf("unban of a moderator: %v, %v; want nothing removed", removed, err)
		}
		if removed, err := s.RemoveMember(r.ID, "u1", StandingBanned); err != nil || !removed {
			t.Fatalf("unban: %v, %v", removed, err)
		}
		if removed, err := s.RemoveMember(r.ID, "u1", ""); err != nil || removed {
			t.Fatalf("second removal: %v, %v; want nothing left", removed, err)
		}
		if m, err := s.Member(other.ID, "u1"); err != nil || m.Standing != StandingModerator {
			t.Fatalf("the other room's standing = %+v, %v", m, err)
		}
	})
}
