package protocol

import (
	"errors"
	"testing"
)

// TestDecodeAccessMessages: role-set takes only the roles a host may
// give, unban needs an identity, and remove carries its ban flag.
func TestDecodeAccessMessages(t *testing.T) {
	for _, raw := range []string{
		`{"type":"role-set","id":"p_1","role":"owner"}`,
		`{"type":"role-set","id":"p_1","role":"spectator"}`,
		`{"type":"role-set","id":"p_1"}`,
		`{"type":"role-set","role":"moderator"}`,
		`{"type":"unban"}`,
		`{"type":"unban","userId":"bad id\n"}`,
		`{"type":"room-settings"}`,
	} {
		_, err := Decode([]byte(raw))
		var de *DecodeError
		if !errors.As(err, &de) || de.Code != CodeInvalidMessage || de.Message == "" {
			t.Errorf("%s: %v, want invalid_message", raw, err)
		}
	}
	msg, err := Decode([]byte(`{"type":"role-set","id":"p_1","role":"presenter"}`))
	if rs, ok := msg.(*RoleSet); err != nil || !ok || rs.ID != "p_1" || rs.Role != RolePresenter {
		t.Fatalf("role-set = %#v, %v", msg, err)
	}
	msg, err = Decode([]byte(`{"type":"unban","userId":"u_abc"}`))
	if u, ok := msg.(*Unban); err != nil || !ok || u.UserID != "u_abc" {
		t.Fatalf("unban = %#v, %v", msg, err)
	}
	msg, err = Decode([]byte(`{"type":"remove","id":"p_1","ban":true}`))
	if r, ok := msg.(*Remove); err != nil || !ok || !r.Ban {
		t.Fatalf("remove = %#v, %v", msg, err)
	}
	msg, err = Decode([]byte(`{"type":"room-settings","hostStart":false}`))
	if rs, ok := msg.(*RoomSettings); err != nil || !ok || rs.HostStart == nil || *rs.HostStart {
		t.Fatalf("room-settings = %#v, %v", msg, err)
	}
}
