package app

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"meet/protocol"
)

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func TestIdentityIsIssuedAndKept(t *testing.T) {
	a := newTestApp(t)
	resp, err := http.Get(a.http.URL + "/api/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get(tokenHeader) == "" {
		t.Fatal("no X-Meet-Token on a request without identity")
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == tokenCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly {
		t.Fatalf("identity cookie missing or not HttpOnly: %+v", cookie)
	}

	u := a.newUser()
	var me meResponse
	u.do("GET", "/api/me", "", &me)
	if me.ID != u.id {
		t.Fatalf("same token gave id %s, want %s", me.ID, u.id)
	}
	// A forged token is not trusted, nor silently replaced: 401.
	forged := &user{app: a, token: u.token[:len(u.token)-2] + "xx"}
	var refused apiError
	if status := forged.do("GET", "/api/me", "", &refused); status != http.StatusUnauthorized || refused.Error.Code != protocol.CodeUnauthorized {
		t.Fatalf("a token with a bad signature = %d %+v, want 401 unauthorized", status, refused)
	}
}

func TestRenameKeepsOwnership(t *testing.T) {
	a := newTestApp(t)
	u := a.newUser()
	room := u.createRoom("Class")
	var me meResponse
	if status := u.do("PUT", "/api/me", `{"name":"  Profa. Ana  "}`, &me); status != http.StatusOK {
		t.Fatalf("PUT /api/me = %d", status)
	}
	if me.Name != "Profa. Ana" || me.ID != u.id {
		t.Fatalf("me = %+v", me)
	}
	u.token = me.Token
	if status := u.do("POST", "/api/rooms/"+room.ID+"/end", "", nil); status != http.StatusOK {
		t.Fatalf("owner with a renamed token could not end the room: %d", status)
	}
}

func TestCreateRoom(t *testing.T) {
	a := newTestApp(t)
	u := a.newUser()
	for _, name := range []string{"Física 101", "数学课", "  padded  ", strings.Repeat("é", 100), "Team 👩‍👩‍👧 sync"} {
		var room protocol.Room
		body, _ := json.Marshal(map[string]string{"name": name})
		if status := u.do("POST", "/api/rooms", string(body), &room); status != http.StatusCreated {
			t.Fatalf("create %q = %d", name, status)
		}
		if room.ID == "" || room.Name != strings.TrimSpace(name) || room.Status != "open" || room.Mode != "mesh" || room.Online != 0 {
			t.Fatalf("room = %+v", room)
		}
		if room.Owner.ID != u.id {
			t.Fatalf("owner = %+v, want %s", room.Owner, u.id)
		}
	}
}

func TestCreateRoomWithoutIdentity(t *testing.T) {
	a := newTestApp(t)
	resp, err := http.Post(a.http.URL+"/api/rooms", "application/json", strings.NewReader(`{"name":"Math"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var room protocol.Room
	_ = json.NewDecoder(resp.Body).Decode(&room)
	if resp.StatusCode != http.StatusCreated || room.ID == "" || room.Owner.ID == "" {
		t.Fatalf("status %d room %+v", resp.StatusCode, room)
	}
	if resp.Header.Get(tokenHeader) == "" {
		t.Fatal("the new owner was not given a token")
	}
}

func TestBadInput(t *testing.T) {
	a := newTestApp(t)
	u := a.newUser()
	room := u.createRoom("existing")
	big := `{"name":"` + strings.Repeat("a", 70<<10) + `"}`
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"malformed json", "POST", "/api/rooms", `{"name":`, 400, protocol.CodeInvalidJSON},
		{"not an object", "POST", "/api/rooms", `"Math"`, 400, protocol.CodeInvalidJSON},
		{"two objects", "POST", "/api/rooms", `{"name":"a"}{"name":"b"}`, 400, protocol.CodeInvalidJSON},
		{"empty body", "POST", "/api/rooms", ``, 400, protocol.CodeInvalidJSON},
		{"wrong type", "POST", "/api/rooms", `{"name":42}`, 400, protocol.CodeInvalidJSON},
		{"null name", "POST", "/api/rooms", `{"name":null}`, 400, protocol.CodeInvalidName},
		{"missing name", "POST", "/api/rooms", `{}`, 400, protocol.CodeInvalidName},
		{"empty name", "POST", "/api/rooms", `{"name":""}`, 400, protocol.CodeInvalidName},
		{"blank name", "POST", "/api/rooms", `{"name":"   \t "}`, 400, protocol.CodeInvalidName},
		{"too long", "POST", "/api/rooms", `{"name":"` + strings.Repeat("x", 101) + `"}`, 400, protocol.CodeInvalidName},
		{"10k name", "POST", "/api/rooms", `{"name":"` + strings.Repeat("数", 10000) + `"}`, 400, protocol.CodeInvalidName},
		{"control char", "POST", "/api/rooms", `{"name":"a\u0007b"}`, 400, protocol.CodeInvalidName},
		{"newline", "POST", "/api/rooms", `{"name":"a\nb"}`, 400, protocol.CodeInvalidName},
		{"bidi override", "POST", "/api/rooms", `{"name":"abc\u202Edef"}`, 400, protocol.CodeInvalidName},
		{"body too large", "POST", "/api/rooms", big, 413, protocol.CodeTooLarge},
		{"unknown room", "GET", "/api/rooms/zzzzzzzzzz", "", 404, protocol.CodeNotFound},
		{"garbage room id", "GET", "/api/rooms/..%2F..%2Fetc", "", 404, protocol.CodeNotFound},
		{"unknown room participants", "GET", "/api/rooms/zzzzzzzzzz/participants", "", 404, protocol.CodeNotFound},
		{"end unknown room", "POST", "/api/rooms/zzzzzzzzzz/end", "", 404, protocol.CodeNotFound},
		{"odd api path", "GET", "/api/nope", "", 404, protocol.CodeNotFound},
		{"odd nested path", "GET", "/api/rooms/" + room.ID + "/nope/deeper", "", 404, protocol.CodeNotFound},
		{"wrong method", "DELETE", "/api/rooms", "", 405, protocol.CodeMethod},
		{"bad display name", "PUT", "/api/me", `{"name":"` + strings.Repeat("n", 51) + `"}`, 400, protocol.CodeInvalidName},
		{"display name wrong type", "PUT", "/api/me", `{"name":true}`, 400, protocol.CodeInvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e apiError
			status := u.do(tt.method, tt.path, tt.body, &e)
			if status != tt.status || e.Error.Code != tt.code || e.Error.Message == "" {
				t.Fatalf("%s %s = %d %+v, want %d %s", tt.method, tt.path, status, e, tt.status, tt.code)
			}
		})
	}
	// Nothing the bad requests sent created a room.
	var list struct{ Rooms []protocol.Room }
	u.do("GET", "/api/rooms", "", &list)
	if len(list.Rooms) != 1 {
		t.Fatalf("bad input changed the room list: %d rooms", len(list.Rooms))
	}
}

func TestListAndGetRooms(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	r1 := owner.createRoom("first")
	r2 := owner.createRoom("second")
	other := a.newUser()
	var list struct{ Rooms []protocol.Room }
	if status := other.do("GET", "/api/rooms", "", &list); status != 200 {
		t.Fatalf("list = %d", status)
	}
	if len(list.Rooms) != 2 || list.Rooms[0].ID != r2.ID || list.Rooms[1].ID != r1.ID {
		t.Fatalf("list = %+v", list.Rooms)
	}
	if list.Rooms[0].Owner.ID != owner.id || list.Rooms[0].CreatedAt == "" {
		t.Fatalf("room = %+v", list.Rooms[0])
	}
	var got protocol.Room
	if status := other.do("GET", "/api/rooms/"+r1.ID, "", &got); status != 200 || got.Name != "first" {
		t.Fatalf("get = %d %+v", status, got)
	}
	// The list is JSON with an empty array, not null, when there are no rooms.
	empty := newTestApp(t).newUser()
	status, body := empty.raw("GET", "/api/rooms", "", nil)
	if status != 200 || !strings.Contains(string(body), `"rooms":[]`) {
		t.Fatalf("empty list = %d %s", status, body)
	}
}

func TestEndRoomOwnerOnly(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("r")
	other := a.newUser()
	var e apiError
	if status := other.do("POST", "/api/rooms/"+room.ID+"/end", "", &e); status != 403 || e.Error.Code != protocol.CodeForbidden {
		t.Fatalf("non-owner end = %d %+v", status, e)
	}
	var got protocol.Room
	owner.do("GET", "/api/rooms/"+room.ID, "", &got)
	if got.Status != "open" {
		t.Fatalf("refused end changed the status to %s", got.Status)
	}
	if status := owner.do("POST", "/api/rooms/"+room.ID+"/end", "", &got); status != 200 || got.Status != "ended" || got.EndedAt == "" {
		t.Fatalf("owner end = %d %+v", status, got)
	}
}

func TestPagesAndHeaders(t *testing.T) {
	a := newTestApp(t)
	room := a.newUser().createRoom("r")
	for _, tt := range []struct {
		path   string
		status int
		ctype  string
	}{
		{"/", 200, "text/html"},
		{"/r/" + room.ID, 200, "text/html"},
		{"/r/zzzzzzzzzz", 404, "text/html"},
		{"/static/js/protocol.js", 200, "text/javascript"},
		{"/static/js/", 404, ""},
		{"/healthz", 200, "application/json"},
	} {
		resp, err := http.Get(a.http.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.ctype) {
			t.Errorf("%s = %d %s, want %d %s", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), tt.status, tt.ctype)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self';") {
			t.Errorf("%s: CSP %q allows inline script", tt.path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", tt.path)
		}
	}
}
