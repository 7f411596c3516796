package store

import (
	"errors"
	"testing"
	"time"

	"meet/store/storetest"
)

func TestInvites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		room, err := s.CreateRoom("Class", "u_owner", "Ana")
		if err != nil {
			t.Fatal(err)
		}
		other, err := s.CreateRoom("Other", "u_owner", "Ana")
		if err != nil {
			t.Fatal(err)
		}
		expires := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
		base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		for i, inv := range []Invite{
			{ID: "iv_first", RoomID: room.ID, Role: "viewer", CreatedBy: "u_owner", ExpiresAt: expires},
			{ID: "iv_second", RoomID: room.ID, Role: "presenter", CreatedBy: "u_mod", ExpiresAt: expires},
			{ID: "iv_elsewhere", RoomID: other.ID, Role: "participant", CreatedBy: "u_owner", ExpiresAt: expires},
		} {
			inv.CreatedAt = base.Add(time.Duration(i) * time.Minute)
			if err := s.CreateInvite(inv); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateInvite(Invite{ID: "iv_first", RoomID: room.ID, Role: "viewer", ExpiresAt: expires}); err == nil {
			t.Fatal("a second invite with the same id was stored")
		}

		got, err := s.Invite("iv_second")
		if err != nil {
			t.Fatal(err)
		}
		if got.RoomID != room.ID || got.Role != "presenter" || got.CreatedBy != "u_mod" || !got.ExpiresAt.Equal(expires) || got.RevokedAt != nil {
			t.Fatalf("Invite = %+v", got)
		}
		if _, err := s.Invite("iv_nothing"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown invite: err = %v", err)
		}

		list, err := s.Invites(room.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != "iv_second" || list[1].ID != "iv_first" {
			t.Fatalf("Invites = %+v, want the room's two, newest first", list)
		}
		if list, _ := s.Invites("nosuchroom"); len(list) != 0 {
			t.Fatalf("invites of no room: %+v", list)
		}

		checkInviteRevocation(t, s, room.ID)
	})
}

// checkInviteRevocation revokes TestInvites' invites: only through their
// own room, once, keeping the first time.
func checkInviteRevocation(t *testing.T, s *Store, roomID string) {
	t.Helper()
	// Another room's id does not reach it.
	if ok, err := s.RevokeInvite(roomID, "iv_elsewhere"); err != nil || ok {
		t.Fatalf("revoke through another room = %v, %v", ok, err)
	}
	if inv, _ := s.Invite("iv_elsewhere"); inv.RevokedAt != nil {
		t.Fatal("another room's invite was revoked")
	}
	if ok, err := s.RevokeInvite(roomID, "iv_nothing"); err != nil || ok {
		t.Fatalf("revoke unknown = %v, %v", ok, err)
	}

	if ok, err := s.RevokeInvite(roomID, "iv_first"); err != nil || !ok {
		t.Fatalf("revoke = %v, %v", ok, err)
	}
	first, _ := s.Invite("iv_first")
	if first.RevokedAt == nil {
		t.Fatal("not revoked")
	}
	// Idempotent: true again, and the first time stays.
	if ok, err := s.RevokeInvite(roomID, "iv_first"); err != nil || !ok {
		t.Fatalf("revoke again = %v, %v", ok, err)
	}
	again, _ := s.Invite("iv_first")
	if !again.RevokedAt.Equal(*first.RevokedAt) {
		t.Fatalf("revoking again moved the time from %s to %s", first.RevokedAt, again.RevokedAt)
	}
	// Listed still, with its revocation.
	list, _ := s.Invites(roomID)
	if len(list) != 2 || list[1].RevokedAt == nil || list[0].RevokedAt != nil {
		t.Fatalf("after revoking: %+v", list)
	}
}

// Without a creation time the store stamps one, and invites made back to
// back still list newest first.
func TestInvitesNewestFirstWithoutTimes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		s, _ := mustOpen(t, d)
		exp := time.Now().Add(time.Hour)
		for _, id := range []string{"iv_a", "iv_b", "iv_c"} {
			if err := s.CreateInvite(Invite{ID: id, RoomID: "abcdefghjk", Role: "viewer", ExpiresAt: exp}); err != nil {
				t.Fatal(err)
			}
		}
		list, err := s.Invites("abcdefghjk")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 3 || list[0].ID != "iv_c" || list[2].ID != "iv_a" || list[0].CreatedAt.IsZero() {
			t.Fatalf("Invites = %+v", list)
		}
	})
}
