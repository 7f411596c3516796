package app

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"meet/grant"
	"meet/protocol"
	"meet/store"
)

// inviteOf makes an invite of room as u and returns its token.
func (u *user) inviteOf(roomID, role string, ttl int) (token, id string) {
	u.app.t.Helper()
	var out struct{ URL, ExpiresAt, ID string }
	body, _ := json.Marshal(map[string]any{"role": role, "ttl": ttl})
	if status := u.do("POST", "/api/rooms/"+roomID+"/invites", string(body), &out); status != http.StatusCreated {
		u.app.t.Fatalf("POST invites %s = %d", body, status)
	}
	link, err := url.Parse(out.URL)
	if err != nil || link.Path != "/r/"+roomID || out.ID == "" {
		u.app.t.Fatalf("invite = %+v (%v)", out, err)
	}
	exp, err := time.Parse(time.RFC3339, out.ExpiresAt)
	want := time.Duration(ttl) * time.Second
	if ttl == 0 {
		want = grant.DefaultInviteTTL
	}
	if err != nil || time.Until(exp) > want || time.Until(exp) < want-time.Minute {
		u.app.t.Fatalf("expiresAt = %s, want in %v", out.ExpiresAt, want)
	}
	return link.Query().Get("invite"), out.ID
}

// dialGrant opens a socket as a new guest (no identity token) with extra
// query values, such as an invite or a join token.
func (a *testApp) dialGrant(roomID string, query url.Values) *client {
	a.t.Helper()
	query.Set("room", roomID)
	wsURL := "ws" + strings.TrimPrefix(a.http.URL, "http") + "/ws?" + query.Encode()
	conn, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		a.t.Fatalf("dial: %v", err)
	}
	a.t.Cleanup(func() { conn.Close() })
	return &client{t: a.t, conn: conn}
}

// TestInviteLinks: an invite lets its bearer past the lobby and the
// passcode with the role it names; the hosts list and revoke invites; an
// expired, revoked, forged or other room's invite is refused; a ban
// revokes the invite its identity came with.
func TestInviteLinks(t *testing.T) {
	a := newTestApp(t)
	owner, room, oc := lobbyRoom(t, a, `{"lobby":true,"classroom":true,"passcode":"tulip-42"}`)

	presenter, presenterID := owner.inviteOf(room.ID, "presenter", 3600)
	pc := a.dialGrant(room.ID, url.Values{"invite": {presenter}, "name": {"Guest speaker"}})
	pc.welcomed()
	if pc.self.Role != protocol.RolePresenter || pc.self.Name != "Guest speaker" {
		t.Fatalf("presenter's self = %+v", pc.self)
	}
	// A presenter steps on the stage of a classroom by itself.
	pc.send(protocol.StageSet{Type: protocol.TypeStageSet, On: true})
	oc.waitStage(func(st protocol.Stage) bool { return len(st.Members) == 1 && st.Members[0].UserID == pc.self.UserID })

	viewer, _ := owner.inviteOf(room.ID, "viewer", 0)
	vc := a.dialGrant(room.ID, url.Values{"invite": {viewer}})
	vc.welcomed()
	if vc.self.Role != protocol.RoleSpectator {
		t.Fatalf("viewer's role = %s", vc.self.Role)
	}
	vc.send(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceCamera, Action: protocol.ActionPublished, StreamID: "s"})
	if e := vc.readError(); e.Code != protocol.CodeForbidden {
		t.Fatalf("a viewer publishing: %+v", e)
	}

	// The hosts' list, newest first, with links that still work.
	var list struct {
		Invites []struct {
			ID, Role, URL, CreatedAt, ExpiresAt string
			Revoked, Expired                    bool
		}
	}
	if status := owner.do("GET", "/api/rooms/"+room.ID+"/invites", "", &list); status != http.StatusOK || len(list.Invites) != 2 ||
		list.Invites[1].ID != presenterID || list.Invites[0].Role != "viewer" || list.Invites[0].URL == "" || list.Invites[0].Revoked {
		t.Fatalf("GET invites = %d %+v", status, list)
	}
	var answer apiError
	if status := a.newUser().do("GET", "/api/rooms/"+room.ID+"/invites", "", &answer); status != http.StatusForbidden {
		t.Fatalf("a stranger's GET invites = %d", status)
	}

	// Revoked: refused, while those it let in stay.
	if status := owner.do("DELETE", "/api/rooms/"+room.ID+"/invites/"+presenterID, "", nil); status != http.StatusNoContent {
		t.Fatalf("DELETE invite = %d", status)
	}
	a.dialGrant(room.ID, url.Values{"invite": {presenter}}).refusedWith(protocol.CodeInviteExpired)
	if status := owner.do("DELETE", "/api/rooms/"+room.ID+"/invites/iv_nosuchinvite", "", &answer); status != http.StatusNotFound {
		t.Fatalf("DELETE an unknown invite = %d", status)
	}

	// Expired: signed right, but past its time.
	old := store.Invite{ID: grant.NewInviteID(), RoomID: room.ID, Role: "participant", CreatedBy: owner.id, ExpiresAt: time.Now().Add(-time.Minute)}
	if err := a.store.CreateInvite(old); err != nil {
		t.Fatal(err)
	}
	expired, err := grant.SignInvite(a.srv.secret, grant.Invite{ID: old.ID, RoomID: room.ID, Role: old.Role, ExpiresAt: old.ExpiresAt})
	if err != nil {
		t.Fatal(err)
	}
	a.dialGrant(room.ID, url.Values{"invite": {expired}}).refusedWith(protocol.CodeInviteExpired)
	// Forged, and another room's.
	a.dialGrant(room.ID, url.Values{"invite": {viewer[:len(viewer)-4] + "AAAA"}}).refusedWith(protocol.CodeUnauthorized)
	other := owner.createRoom("other")
	a.dialGrant(other.ID, url.Values{"invite": {viewer}}).refusedWith(protocol.CodeUnauthorized)

	// A ban revokes the invite its identity came with.
	oc.send(protocol.Remove{Type: protocol.TypeRemove, ID: vc.self.ID, Ban: true})
	vc.removedFor(t)
	eventually(t, "the viewer invite is revoked", func() bool {
		owner.do("GET", "/api/rooms/"+room.ID+"/invites", "", &list)
		for _, inv := range list.Invites {
			if inv.Role == "viewer" {
				return inv.Revoked
			}
		}
		return false
	})
	a.dialGrant(room.ID, url.Values{"invite": {viewer}}).refusedWith(protocol.CodeInviteExpired)

	// So does it for a plain participant's invite.
	plain, plainID := owner.inviteOf(room.ID, "participant", 0)
	guest := a.dialGrant(room.ID, url.Values{"invite": {plain}})
	guest.welcomed()
	if guest.self.Role != protocol.RoleParticipant {
		t.Fatalf("a participant invite joined as %s", guest.self.Role)
	}
	oc.send(protocol.Remove{Type: protocol.TypeRemove, ID: guest.self.ID, Ban: true})
	guest.removedFor(t)
	eventually(t, "the participant invite is revoked", func() bool {
		inv, err := a.store.Invite(plainID)
		return err == nil && inv.RevokedAt != nil
	})
}

// TestInviteRequestsAreChecked: bad roles and lifetimes are clear 400s.
func TestInviteRequestsAreChecked(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("checks")
	for _, body := range []string{`{"role":"owner"}`, `{"role":"moderator"}`, `{"role":"viewer","ttl":-5}`, `{"role":"viewer","ttl":99999999}`, `{"role":7}`} {
		var answer apiError
		status := owner.do("POST", "/api/rooms/"+room.ID+"/invites", body, &answer)
		if status != http.StatusBadRequest || answer.Error.Message == "" {
			t.Errorf("POST invites %s = %d %+v, want 400", body, status, answer)
		}
	}
	var list struct{ Invites []any }
	owner.do("GET", "/api/rooms/"+room.ID+"/invites", "", &list)
	if len(list.Invites) != 0 {
		t.Fatalf("refused requests stored %d invites", len(list.Invites))
	}
}

// TestJoinTokenFromAnAPIKey: a token another application signs with its
// API key joins with the name and role it names, as an identity of its
// own; an expired one, another room's, or one of an unknown or revoked
// key is refused.
func TestJoinTokenFromAnAPIKey(t *testing.T) {
	a := newTestApp(t)
	owner, room, oc := lobbyRoom(t, a, `{"lobby":true,"passcode":"tulip-42"}`)
	kid, pub, secret, err := grant.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.CreateAPIKey(kid, "lms", pub); err != nil {
		t.Fatal(err)
	}
	priv, err := grant.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(c grant.Claims) string {
		t.Helper()
		tok, err := grant.SignToken(kid, priv, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	claims := grant.Claims{UserID: "ada@school", Name: "Dr. Ada", RoomID: room.ID, Role: grant.RoleModerator, ExpiresAt: time.Now().Add(time.Hour)}
	ac := a.dialGrant(room.ID, url.Values{"token": {sign(claims)}, "name": {"Ignored"}})
	ac.welcomed()
	if ac.self.Name != "Dr. Ada" || ac.self.Role != protocol.RoleModerator || !strings.HasPrefix(ac.self.UserID, "x_") {
		t.Fatalf("token joiner's self = %+v", ac.self)
	}
	// The same user again (a second tab) is the same identity.
	again := a.dialGrant(room.ID, url.Values{"token": {sign(claims)}})
	again.welcomed()
	if again.self.UserID != ac.self.UserID {
		t.Fatalf("second tab identity %s, want %s", again.self.UserID, ac.self.UserID)
	}
	// A moderator from a token answers the lobby.
	guest := a.newUser().dialWithPasscode(room.ID, passcodeFrame("tulip-42"))
	guest.readInto(protocol.TypeLobbyWait, &protocol.LobbyWait{})
	var q protocol.Lobby
	ac.readUntil(protocol.TypeLobby, func(data []byte) bool {
		q = protocol.Lobby{}
		return json.Unmarshal(data, &q) == nil && len(q.Waiting) == 1
	})
	ac.send(protocol.LobbyAdmit{Type: protocol.TypeLobbyAdmit, ID: q.Waiting[0].ID})
	guest.welcomed()
	_ = oc

	expired := claims
	expired.ExpiresAt = time.Now().Add(-time.Minute)
	a.dialGrant(room.ID, url.Values{"token": {sign(expired)}}).refusedWith(protocol.CodeInviteExpired)
	other := owner.createRoom("other")
	a.dialGrant(other.ID, url.Values{"token": {sign(claims)}}).refusedWith(protocol.CodeUnauthorized)
	if err := a.store.RevokeAPIKey("lms"); err != nil {
		t.Fatal(err)
	}
	a.dialGrant(room.ID, url.Values{"token": {sign(claims)}}).refusedWith(protocol.CodeUnauthorized)
}
