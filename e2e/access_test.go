package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"meet/grant"
	"meet/protocol"
)

// Issue 15's bans, invite links and join tokens, in real Chromium with
// fake cameras: what a teacher does to keep a class in order, and what an
// invited guest or another application's user gets.

const accessWait = 45 * time.Second

// accessTab opens a Chromium identity with the frame probe and a small
// camera.
func accessTab(b *browser, name string) *tab {
	p := b.newIdentity(name)
	p.addInitScript(probeScript)
	p.addInitScript(smallCameraScript)
	return p
}

// ownTileID waits for p's own tile and returns its participant id.
func ownTileID(p *tab) string {
	return waitFor[string](p, accessWait, "my own tile is shown",
		`document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)
}

// roleOf reads participant id's role from the API.
func roleOf(t *testing.T, api *apiClient, roomID, id string) string {
	t.Helper()
	for _, p := range api.participants(roomID) {
		if p.ID == id {
			return p.Role
		}
	}
	t.Fatalf("participant %s is not in room %s", id, roomID)
	return ""
}

// refusalText waits until p shows a join refusal and returns its text.
func refusalText(p *tab) string {
	return waitFor[string](p, accessWait, "the refusal shows",
		`(() => { const v = document.querySelector('[data-testid="room-error"]');
			return v && !v.hidden && v.textContent.replace(/\s+/g, ' ').trim(); })()`)
}

// fillDisplayName types the pre-join screen's name, given as a JS literal,
// once the room page has it: the address changes before the new page's
// document is there.
func fillDisplayName(tb *tab, jsValue string) {
	tb.t.Helper()
	waitFor[bool](tb, accessWait, "the pre-join screen asks for a name",
		`(() => { const i = document.querySelector('[data-testid="display-name"]'); if (!i) return false; i.value = `+jsValue+`; return true; })()`)
}

// hostRoom has host create a room from the home page and join it as
// name; it returns the room's id and host's participant id.
func hostRoom(srv *appServer, host *tab, roomName, name string) (roomID, hostID string) {
	host.navigate(srv.URL + "/")
	host.typeText(`[data-testid="create-room-name"]`, roomName)
	host.click(`[data-testid="create-room"]`)
	roomID = waitFor[string](host, accessWait, "the page is the new room's link",
		`(() => { const m = location.pathname.match(/^\/r\/([^/]+)$/); return m && decodeURIComponent(m[1]); })()`)
	fillDisplayName(host, jsonString(name))
	host.click(`[data-testid="join"]`)
	return roomID, ownTileID(host)
}

// TestTrustBanAndUnban: the teacher removes and bans a pupil from the
// member menu; the pupil's page says so, and opening the link again is
// refused as banned; the teacher lifts the ban from the settings' list,
// and the pupil joins again and plays both ways.
func TestTrustBanAndUnban(t *testing.T) {
	srv := startApp(t)
	b := newBrowser(t)
	api := srv.newAPIClient()
	teacher := accessTab(b, "teacher")
	roomID, teacherID := hostRoom(srv, teacher, "Physics 2A", "Teacher")
	pupil := accessTab(b, "pupil")
	join := func() string {
		pupil.navigate(srv.roomURL(roomID, url.Values{"name": {"Pupil"}, "join": {"1"}}))
		return ownTileID(pupil)
	}
	pupilID := join()
	waitFramesAdvance(teacher, tileSelector(pupilID), 1, accessWait)

	// The member menu of the pupil: remove and ban, confirmed.
	// The page asks with window.confirm, which a driven browser would
	// leave open: the teacher says yes.
	evalJS[bool](teacher, `(() => { window.confirm = () => true; return true; })()`)
	teacher.click(`[data-testid="participant-list"] [data-member-id="` + pupilID + `"] [data-testid="member-menu"]`)
	teacher.click(`[data-testid="participant-list"] [data-member-id="` + pupilID + `"] [data-testid="member-ban"]`)
	waitFor[bool](pupil, accessWait, "the pupil's page says it was removed",
		`(() => { const v = document.querySelector('[data-testid="room-removed"]'); return !!v && !v.hidden; })()`)
	api.waitParticipants(roomID, "the pupil is gone", accessWait, func(ps []protocol.Participant) bool { return len(ps) == 1 })
	// The room has no lobby, passcode or lock: the page offers the lobby.
	waitFor[bool](teacher, accessWait, "the teacher is offered the lobby", `!!document.querySelector('[data-testid="offer-lobby"]')`)

	// Opening the link again is refused, with words that say why.
	pupil.navigate(srv.roomURL(roomID, url.Values{"name": {"Pupil"}, "join": {"1"}}))
	if text := refusalText(pupil); !strings.Contains(strings.ToLower(text), "blocked") && !strings.Contains(strings.ToLower(text), "banned") {
		t.Fatalf("the banned pupil's page says %q", text)
	}
	if n := len(api.participants(roomID)); n != 1 {
		t.Fatalf("%d participants after the banned pupil's try, want the teacher alone", n)
	}

	// The teacher lifts the ban from the settings' list.
	waitFor[bool](teacher, accessWait, "the settings list the ban",
		`!!document.querySelector('[data-testid="room-settings"] [data-user-id] [data-testid="unban"]')`)
	teacher.click(`[data-testid="room-settings"] [data-user-id] [data-testid="unban"]`)
	waitFor[bool](teacher, accessWait, "the ban is gone from the list",
		`!document.querySelector('[data-testid="room-settings"] [data-user-id] [data-testid="unban"]')`)
	pupilID = join()
	t.Logf("teacher sees the pupil again: %s", jsonString(waitFramesAdvance(teacher, tileSelector(pupilID), 1, accessWait)))
	t.Logf("pupil sees the teacher: %s", jsonString(waitFramesAdvance(pupil, tileSelector(teacherID), 1, accessWait)))
}

// TestTrustInvites: in a classroom with the lobby on and a passcode, a
// presenter invite joins at once and steps on the stage, and its video
// reaches a viewer; a viewer invite joins receive-only; an expired invite
// is refused.
func TestTrustInvites(t *testing.T) {
	srv := startApp(t)
	b := newBrowser(t)
	owner := srv.newAPIClient()
	var room protocol.Room
	owner.call(http.MethodPost, "/api/rooms", map[string]any{"name": "Seminar", "classroom": true, "lobby": true, "passcode": "tulip-42"}, http.StatusCreated, &room)
	invite := func(role string, ttl int) string {
		var out struct{ URL string }
		owner.call(http.MethodPost, "/api/rooms/"+room.ID+"/invites", map[string]any{"role": role, "ttl": ttl}, http.StatusCreated, &out)
		u, err := url.Parse(out.URL)
		if err != nil {
			t.Fatal(err)
		}
		// The link names the server's host; the browser reaches it as
		// srv.URL does.
		return srv.URL + u.RequestURI()
	}
	expiring := invite("participant", 1)

	speaker := accessTab(b, "speaker")
	speaker.navigate(invite("presenter", 0) + "&name=Speaker&join=1")
	speakerID := ownTileID(speaker)
	if role := roleOf(t, owner, room.ID, speakerID); role != protocol.RolePresenter {
		t.Fatalf("the presenter invite joined as %s", role)
	}
	speaker.click(`[data-testid="go-on-stage"]`)
	owner.waitParticipants(room.ID, "the speaker is on the stage", accessWait, func([]protocol.Participant) bool {
		st := owner.room(room.ID).Stage
		return len(st) == 1
	})

	viewer := accessTab(b, "viewer")
	viewer.navigate(invite("viewer", 0) + "&name=Viewer&join=1")
	viewerID := ownTileID(viewer)
	if role := roleOf(t, owner, room.ID, viewerID); role != protocol.RoleSpectator {
		t.Fatalf("the viewer invite joined as %s", role)
	}
	t.Logf("the viewer sees the speaker: %s", jsonString(waitFramesAdvance(viewer, tileSelector(speakerID), 1, accessWait)))
	// Receive-only: nothing of the viewer's is published.
	for _, p := range owner.participants(room.ID) {
		if p.ID == viewerID && len(p.Media) > 0 {
			t.Fatalf("the viewer publishes %v", p.Media)
		}
	}

	// The one-second invite has expired by now.
	late := accessTab(b, "late")
	late.navigate(expiring + "&name=Late&join=1")
	if text := refusalText(late); !strings.Contains(strings.ToLower(text), "expired") {
		t.Fatalf("the expired invite's page says %q", text)
	}
}

// TestTrustJoinToken: another application signs a join token with an API
// key; its user opens the room with it and joins with the token's name and
// role (a moderator, past the lobby and the passcode).
func TestTrustJoinToken(t *testing.T) {
	srv := startApp(t)
	b := newBrowser(t)
	owner := srv.newAPIClient()
	var room protocol.Room
	owner.call(http.MethodPost, "/api/rooms", map[string]any{"name": "Course 101", "lobby": true, "passcode": "tulip-42"}, http.StatusCreated, &room)
	// meet apikey create lms, done as the command does it.
	kid, pub, secret, err := grant.NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.store.CreateAPIKey(kid, "lms", pub); err != nil {
		t.Fatal(err)
	}
	priv, err := grant.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	token, err := grant.SignToken(kid, priv, grant.Claims{UserID: "prof-17", Name: "Prof. Lovelace", RoomID: room.ID,
		Role: grant.RoleModerator, ExpiresAt: time.Now().Add(10 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	prof := accessTab(b, "prof")
	prof.navigate(srv.roomURL(room.ID, url.Values{"token": {token}, "join": {"1"}}))
	profID := ownTileID(prof)
	var self protocol.Participant
	for _, p := range owner.participants(room.ID) {
		if p.ID == profID {
			self = p
		}
	}
	if self.Name != "Prof. Lovelace" || self.Role != protocol.RoleModerator || !strings.HasPrefix(self.UserID, "x_") {
		t.Fatalf("the token's user joined as %+v", self)
	}
	name := waitFor[string](prof, accessWait, "the own tile shows the token's name",
		`document.querySelector('[data-participant-id][data-local]')?.textContent`)
	if !strings.Contains(name, "Prof. Lovelace") {
		t.Fatalf("the own tile says %q", name)
	}
	// A moderator's page has the host's settings.
	waitFor[bool](prof, accessWait, "the moderator sees the room settings", `!document.querySelector('[data-testid="room-settings"]').hidden`)
}
