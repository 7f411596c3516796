package app

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"meet/protocol"
)

// The rules of rooms one can trust with a class: visibility, passcodes,
// the owner's attendance report, clear identity errors.

// createRoomWith creates a room from a raw JSON body, expecting 201.
func (u *user) createRoomWith(body string) protocol.Room {
	u.app.t.Helper()
	var room protocol.Room
	if status := u.do("POST", "/api/rooms", body, &room); status != http.StatusCreated {
		u.app.t.Fatalf("create room %s = %d", body, status)
	}
	return room
}

// listed returns the rooms GET /api/rooms shows u, by id.
func (u *user) listed() map[string]protocol.Room {
	u.app.t.Helper()
	var list struct {
		Rooms []protocol.Room `json:"rooms"`
	}
	if status := u.do("GET", "/api/rooms", "", &list); status != http.StatusOK {
		u.app.t.Fatalf("GET /api/rooms = %d", status)
	}
	out := map[string]protocol.Room{}
	for _, r := range list.Rooms {
		out[r.ID] = r
	}
	return out
}

// dialWithPasscode opens a socket to roomID and sends first frame (a
// passcode message, or anything else), before any welcome.
func (u *user) dialWithPasscode(roomID string, first any) *client {
	u.app.t.Helper()
	c := u.dialRaw(roomID, nil)
	c.send(first)
	return c
}

// refusal reads the join refusal of c: its error and the close code.
func (c *client) refusal() (protocol.Error, int) {
	c.t.Helper()
	var e protocol.Error
	c.readInto(protocol.TypeError, &e)
	_, _, err := c.next()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		c.t.Fatalf("after a refused join: %v, want a close frame", err)
	}
	return e, ce.Code
}

// eventually polls ok for up to 2 s, for what is stored just after the
// message a test waits for.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
	}
}

func passcodeFrame(p string) protocol.Passcode {
	return protocol.Passcode{Type: protocol.TypePasscode, Passcode: p}
}

func TestVisibilityListing(t *testing.T) {
	a := newTestApp(t)
	owner, stranger, guest := a.newUser(), a.newUser(), a.newUser()
	public := owner.createRoom("Open day")
	unlisted := owner.createRoomWith(`{"name":"Maths 3B","visibility":"unlisted"}`)
	if public.Visibility != protocol.VisibilityPublic || unlisted.Visibility != protocol.VisibilityUnlisted {
		t.Fatalf("visibility = %q and %q", public.Visibility, unlisted.Visibility)
	}

	seen := stranger.listed()
	if _, ok := seen[unlisted.ID]; ok {
		t.Fatal("a stranger's list shows an unlisted room")
	}
	if r, ok := seen[public.ID]; !ok || r.Yours {
		t.Fatalf("a stranger's list: public room %+v (listed %v), want listed, not theirs", r, ok)
	}
	mine := owner.listed()
	if !mine[unlisted.ID].Yours || !mine[public.ID].Yours {
		t.Fatalf("the owner's list = %+v, want both rooms as theirs", mine)
	}

	// The link is the way in: a guest who joined has it in their list.
	if status := guest.do("GET", "/api/rooms/"+unlisted.ID, "", nil); status != http.StatusOK {
		t.Fatalf("GET an unlisted room by its link = %d", status)
	}
	c := guest.dial(unlisted.ID, nil)
	c.conn.Close()
	// The join is recorded just after the welcome.
	eventually(t, "a guest who joined has the unlisted room listed as theirs", func() bool {
		r, ok := guest.listed()[unlisted.ID]
		return ok && r.Yours
	})
	if _, ok := stranger.listed()[unlisted.ID]; ok {
		t.Fatal("another's join made the unlisted room show to a stranger")
	}

	var refused apiError
	if status := owner.do("POST", "/api/rooms", `{"name":"x","visibility":"secret"}`, &refused); status != http.StatusBadRequest || refused.Error.Code != protocol.CodeBadRequest {
		t.Fatalf("visibility secret = %d %+v, want 400 bad_request", status, refused)
	}
}

func TestPasscodeIsStoredAsBcryptOnly(t *testing.T) {
	a := newTestApp(t)
	owner, stranger := a.newUser(), a.newUser()
	const plain = "tulip-42"
	status, body := owner.raw("POST", "/api/rooms", "application/json", []byte(`{"name":"Class","passcode":"  `+plain+` "}`))
	if status != http.StatusCreated {
		t.Fatalf("create with a passcode = %d %s", status, body)
	}
	var room protocol.Room
	_ = json.Unmarshal(body, &room)
	if !room.HasPasscode || strings.Contains(string(body), plain) || strings.Contains(string(body), "$2") {
		t.Fatalf("created room = %s, want hasPasscode and neither passcode nor hash", body)
	}
	stored, err := a.store.Room(room.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bcrypt.Cost([]byte(stored.PasscodeHash)); err != nil || stored.PasscodeHash == plain {
		t.Fatalf("stored %q is not a bcrypt hash: %v", stored.PasscodeHash, err)
	}
	if bcrypt.CompareHashAndPassword([]byte(stored.PasscodeHash), []byte(plain)) != nil {
		t.Fatal("the hash is not of the trimmed passcode")
	}
	for _, path := range []string{"/api/rooms/" + room.ID, "/api/rooms"} {
		for _, u := range []*user{owner, stranger} {
			_, got := u.raw("GET", path, "application/json", nil)
			if strings.Contains(string(got), plain) || strings.Contains(string(got), stored.PasscodeHash) {
				t.Fatalf("GET %s reveals the passcode: %s", path, got)
			}
		}
	}
	if !stranger.getRoom(room.ID).HasPasscode {
		t.Fatal("hasPasscode is not shown to a stranger")
	}

	// The owner changes it, removes it with null and with "".
	var patched protocol.Room
	if status := owner.do("PATCH", "/api/rooms/"+room.ID, `{"passcode":"daisy-7"}`, &patched); status != http.StatusOK || !patched.HasPasscode {
		t.Fatalf("PATCH passcode = %d %+v", status, patched)
	}
	changed, _ := a.store.Room(room.ID)
	if bcrypt.CompareHashAndPassword([]byte(changed.PasscodeHash), []byte("daisy-7")) != nil {
		t.Fatal("PATCH did not store the new passcode's hash")
	}
	if status := owner.do("PATCH", "/api/rooms/"+room.ID, `{"passcode":null}`, &patched); status != http.StatusOK || patched.HasPasscode {
		t.Fatalf("PATCH passcode null = %d %+v", status, patched)
	}
	owner.do("PATCH", "/api/rooms/"+room.ID, `{"passcode":"daisy-7"}`, &patched)
	if status := owner.do("PATCH", "/api/rooms/"+room.ID, `{"passcode":""}`, &patched); status != http.StatusOK || patched.HasPasscode {
		t.Fatalf(`PATCH passcode "" = %d %+v`, status, patched)
	}
	for _, bad := range []string{`{"passcode":"abc"}`, `{"passcode":5}`, `{"passcode":"` + strings.Repeat("x", 65) + `"}`, `{"passcode":"a\u0007bcd"}`} {
		var refused apiError
		if status := owner.do("PATCH", "/api/rooms/"+room.ID, bad, &refused); status != http.StatusBadRequest {
			t.Fatalf("PATCH %s = %d %+v, want 400", bad, status, refused)
		}
	}
	var refused apiError
	if status := stranger.do("PATCH", "/api/rooms/"+room.ID, `{"passcode":"mine-now"}`, &refused); status != http.StatusForbidden || refused.Error.Code != protocol.CodeForbidden {
		t.Fatalf("a stranger's PATCH = %d %+v, want 403 forbidden", status, refused)
	}
}

func TestPasscodeJoinOverWebSocket(t *testing.T) {
	a := newTestApp(t)
	owner, guest := a.newUser(), a.newUser()
	room := owner.createRoomWith(`{"name":"Class","passcode":"tulip-42"}`)

	// The owner needs none, and sends nothing first.
	ownerC := owner.dial(room.ID, nil)

	cases := []struct {
		name  string
		first any
		code  string
	}{
		{"no passcode frame", protocol.Leave{Type: protocol.TypeLeave}, protocol.CodePasscodeRequired},
		{"empty passcode", passcodeFrame(""), protocol.CodePasscodeRequired},
		{"not JSON", "tulip-42", protocol.CodePasscodeRequired},
		{"wrong passcode", passcodeFrame("tulip-43"), protocol.CodeBadPasscode},
	}
	for _, tc := range cases {
		e, code := guest.dialWithPasscode(room.ID, tc.first).refusal()
		if e.Code != tc.code || e.Ref != "join" || e.Message == "" || code != protocol.CloseRoomGone {
			t.Fatalf("%s: refusal %+v, close %d; want %s, close %d", tc.name, e, code, tc.code, protocol.CloseRoomGone)
		}
	}
	ownerC.expectNothing(protocol.TypeParticipantJoined, 100*time.Millisecond)

	c := guest.dialWithPasscode(room.ID, passcodeFrame(" tulip-42 "))
	var w protocol.Welcome
	c.readInto(protocol.TypeWelcome, &w)
	if !w.Room.HasPasscode || w.Self.Role != protocol.RoleParticipant {
		t.Fatalf("welcome = %+v", w)
	}
	// A passcode frame after the welcome is ignored.
	c.send(passcodeFrame("tulip-42"))
	c.expectNothing(protocol.TypeError, 100*time.Millisecond)

	// A socket that sends nothing is refused when its time is up.
	a.srv.passcodeWait = 50 * time.Millisecond
	e, code := guest.dialRaw(room.ID, nil).refusal()
	if e.Code != protocol.CodePasscodeRequired || code != protocol.CloseRoomGone {
		t.Fatalf("a silent socket: %+v, close %d", e, code)
	}
}

func TestPasscodeAttemptsAreLimited(t *testing.T) {
	a := newTestApp(t)
	owner, guest := a.newUser(), a.newUser()
	room := owner.createRoomWith(`{"name":"Class","passcode":"tulip-42"}`)
	other := owner.createRoomWith(`{"name":"Other","passcode":"tulip-42"}`)
	for i := range passcodeFailuresPerMinute {
		if e, _ := guest.dialWithPasscode(room.ID, passcodeFrame("guess")).refusal(); e.Code != protocol.CodeBadPasscode {
			t.Fatalf("guess %d: %+v", i+1, e)
		}
	}
	// Now even the right one waits, over the socket and over REST.
	e, code := guest.dialWithPasscode(room.ID, passcodeFrame("tulip-42")).refusal()
	if e.Code != protocol.CodeRateLimited || code != protocol.CloseRateLimited || !strings.Contains(e.Message, "passcode") {
		t.Fatalf("after %d wrong guesses: %+v, close %d", passcodeFailuresPerMinute, e, code)
	}
	var refused apiError
	if status := guest.do("POST", "/api/rooms/"+room.ID+"/passcode", `{"passcode":"tulip-42"}`, &refused); status != http.StatusTooManyRequests || refused.Error.Code != protocol.CodeRateLimited {
		t.Fatalf("REST check after the limit = %d %+v", status, refused)
	}
	// Another room is counted apart, and the owner is never asked.
	guest.dialWithPasscode(other.ID, passcodeFrame("tulip-42")).readInto(protocol.TypeWelcome, &protocol.Welcome{})
	owner.dial(room.ID, nil)
}

func TestPasscodeCheckOverREST(t *testing.T) {
	a := newTestApp(t)
	owner, guest := a.newUser(), a.newUser()
	room := owner.createRoomWith(`{"name":"Class","passcode":"tulip-42"}`)
	open := owner.createRoom("Open")
	check := func(u *user, roomID, body string) (int, string) {
		var refused apiError
		status := u.do("POST", "/api/rooms/"+roomID+"/passcode", body, &refused)
		return status, refused.Error.Code
	}
	for _, tc := range []struct {
		u      *user
		room   string
		body   string
		status int
		code   string
	}{
		{guest, room.ID, `{"passcode":"tulip-42"}`, http.StatusNoContent, ""},
		{guest, room.ID, `{"passcode":"nope"}`, http.StatusForbidden, protocol.CodeBadPasscode},
		{guest, room.ID, `{}`, http.StatusForbidden, protocol.CodePasscodeRequired},
		{owner, room.ID, `{}`, http.StatusNoContent, ""},
		{guest, open.ID, `{}`, http.StatusNoContent, ""},
		{guest, "zzzzzzzzzz", `{"passcode":"x"}`, http.StatusNotFound, protocol.CodeNotFound},
	} {
		if status, code := check(tc.u, tc.room, tc.body); status != tc.status || code != tc.code {
			t.Fatalf("check %s %s = %d %q, want %d %q", tc.room, tc.body, status, code, tc.status, tc.code)
		}
	}

	// Its chat and participants are the owner's and the joined guests'.
	for _, path := range []string{"/participants", "/messages"} {
		var refused apiError
		if status := guest.do("GET", "/api/rooms/"+room.ID+path, "", &refused); status != http.StatusForbidden || refused.Error.Code != protocol.CodePasscodeRequired {
			t.Fatalf("a stranger's GET %s = %d %+v", path, status, refused)
		}
		if status := owner.do("GET", "/api/rooms/"+room.ID+path, "", nil); status != http.StatusOK {
			t.Fatalf("the owner's GET %s = %d", path, status)
		}
	}
	guest.dialWithPasscode(room.ID, passcodeFrame("tulip-42")).readInto(protocol.TypeWelcome, &protocol.Welcome{})
	eventually(t, "a joined guest may read the messages", func() bool {
		return guest.do("GET", "/api/rooms/"+room.ID+"/messages", "", nil) == http.StatusOK
	})
}

func TestAttendanceReport(t *testing.T) {
	a := newTestApp(t)
	owner, guest, stranger := a.newUser(), a.newUser(), a.newUser()
	room := owner.createRoom("Physics")
	ownerC := owner.dial(room.ID, url.Values{"name": {"Ms Ana"}})
	const tricky = `=cmd|"x", Jo`
	g := guest.dial(room.ID, url.Values{"name": {tricky}})
	g.send(protocol.Leave{Type: protocol.TypeLeave})
	ownerC.readInto(protocol.TypeParticipantLeft, &protocol.ParticipantLeft{})

	var report struct {
		Room       string            `json:"room"`
		Attendance []attendanceEntry `json:"attendance"`
	}
	// The leave is stored just after the others are told.
	eventually(t, "the attendance has both rows, the guest's closed", func() bool {
		if status := owner.do("GET", "/api/rooms/"+room.ID+"/attendance", "", &report); status != http.StatusOK {
			t.Fatalf("GET attendance = %d", status)
		}
		return len(report.Attendance) == 2 && report.Attendance[1].LeftAt != nil
	})
	if report.Room != room.ID {
		t.Fatalf("attendance = %+v", report)
	}
	first, second := report.Attendance[0], report.Attendance[1]
	if first.UserID != owner.id || first.Name != "Ms Ana" || first.Role != protocol.RoleOwner || first.LeftAt != nil || first.ParticipantID != ownerC.self.ID {
		t.Fatalf("the owner's row = %+v", first)
	}
	if second.UserID != guest.id || second.Name != tricky || second.Role != protocol.RoleParticipant || second.LeftAt == nil || second.DurationSeconds < 0 {
		t.Fatalf("the guest's row = %+v", second)
	}
	if _, err := time.Parse(time.RFC3339, second.JoinedAt); err != nil {
		t.Fatalf("joinedAt %q: %v", second.JoinedAt, err)
	}

	req, _ := http.NewRequest("GET", a.http.URL+"/api/rooms/"+room.ID+"/attendance", nil)
	req.Header.Set("Authorization", "Bearer "+owner.token)
	req.Header.Set("Accept", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="attendance-`+room.ID+`.csv"` {
		t.Fatalf("CSV headers = %v", resp.Header)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v", err)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(attendanceHeader, ",") {
		t.Fatalf("CSV rows = %q", rows)
	}
	if rows[2][1] != guest.id || rows[2][2] != "'"+tricky || rows[2][5] == "" {
		t.Fatalf("the guest's CSV row = %q", rows[2])
	}

	var refused apiError
	if status := stranger.do("GET", "/api/rooms/"+room.ID+"/attendance", "", &refused); status != http.StatusForbidden || refused.Error.Code != protocol.CodeForbidden {
		t.Fatalf("a stranger's GET attendance = %d %+v", status, refused)
	}
	if status := owner.do("GET", "/api/rooms/zzzzzzzzzz/attendance", "", &refused); status != http.StatusNotFound || refused.Error.Code != protocol.CodeNotFound {
		t.Fatalf("GET attendance of an unknown room = %d %+v", status, refused)
	}
}

func TestTamperedTokenIsUnauthorized(t *testing.T) {
	a := newTestApp(t)
	u := a.newUser()
	room := u.createRoom("Class")
	tampered := &user{app: a, token: u.token[:len(u.token)-3] + "abc"}
	for _, path := range []string{"/api/me", "/api/rooms", "/api/rooms/" + room.ID} {
		var refused apiError
		if status := tampered.do("GET", path, "", &refused); status != http.StatusUnauthorized || refused.Error.Code != protocol.CodeUnauthorized || refused.Error.Message == "" {
			t.Fatalf("GET %s with a tampered token = %d %+v, want 401 unauthorized", path, status, refused)
		}
	}
	// The socket is refused before the upgrade; with no token at all a
	// new guest is made, as ever.
	wsURL := "ws" + strings.TrimPrefix(a.http.URL, "http") + "/ws?" + url.Values{"room": {room.ID}, "token": {tampered.token}}.Encode()
	_, resp, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a socket with a tampered token: %v, %+v", err, resp)
	}
	fresh := &user{app: a}
	var me meResponse
	if status := fresh.do("GET", "/api/me", "", &me); status != http.StatusOK || me.ID == "" || me.ID == u.id {
		t.Fatalf("no token = %d %+v, want a new guest", status, me)
	}
}

func TestOwnerNameFollowsRename(t *testing.T) {
	a := newTestApp(t)
	owner, guest := a.newUser(), a.newUser()
	room := owner.createRoom("Class")
	if status := owner.do("PUT", "/api/me", `{"name":"Prof. Ana"}`, nil); status != http.StatusOK {
		t.Fatalf("PUT /api/me = %d", status)
	}
	if got := guest.getRoom(room.ID).Owner.Name; got != "Prof. Ana" {
		t.Fatalf("owner name after PUT /api/me = %q", got)
	}
	if got := guest.listed()[room.ID].Owner.Name; got != "Prof. Ana" {
		t.Fatalf("owner name in the list = %q", got)
	}

	c := owner.dial(room.ID, nil)
	c.send(protocol.Rename{Type: protocol.TypeRename, Name: "Ana Lima"})
	c.readInto(protocol.TypeParticipantUpdated, &protocol.ParticipantUpdated{})
	eventually(t, "the stored owner name follows a rename in the room", func() bool {
		return guest.getRoom(room.ID).Owner.Name == "Ana Lima"
	})
	if w := guest.dial(room.ID, nil).wel; w.Room.Owner.Name != "Ana Lima" {
		t.Fatalf("a newcomer's welcome shows the owner as %q", w.Room.Owner.Name)
	}
}
