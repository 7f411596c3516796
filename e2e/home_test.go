package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestHomeCreateRoom is issue 2's "Done when", in Chromium and in Firefox
// ESR: on the home page, a user types a room name with accents and CJK,
// clicks create (a same-origin POST that passes the server's origin check)
// and lands on the room's share link /r/<id>; another identity's home page
// then lists the room with its name.
func TestHomeCreateRoom(t *testing.T) {
	for _, kind := range []browserKind{chromium, firefox} {
		t.Run(string(kind), func(t *testing.T) { testHomeCreateRoom(t, kind) })
	}
}

func testHomeCreateRoom(t *testing.T, kind browserKind) {
	srv := startApp(t)
	b := startBrowser(t, kind, browserOptions{})
	const name = "Física 101 数学课"

	alice := b.newIdentity("alice")
	alice.navigate(srv.URL + "/")
	alice.typeText(`[data-testid="create-room-name"]`, name)
	if got := evalJS[string](alice, `document.querySelector('[data-testid="create-room-name"]').value`); got != name {
		t.Fatalf("the name field holds %q after typing %q", got, name)
	}
	alice.click(`[data-testid="create-room"]`)

	id := waitFor[string](alice, 20*time.Second, "the page is a room's share link /r/<id>",
		`(() => { const m = location.pathname.match(/^\/r\/([^/]+)$/); return m && decodeURIComponent(m[1]); })()`)
	t.Logf("created room %s, now at %s", id, alice.location())

	api := srv.newAPIClient()
	room := api.room(id)
	if room.Name != name {
		t.Errorf("GET /api/rooms/%s: name %q, want %q", id, room.Name, name)
	}
	aliceMe := evalJS[struct {
		ID string `json:"id"`
	}](alice, `fetch('/api/me').then(r => r.json())`)
	if room.Owner.ID != aliceMe.ID {
		t.Errorf("the room's owner is %q, want the creator %q", room.Owner.ID, aliceMe.ID)
	}

	bob := b.newIdentity("bob")
	bob.navigate(srv.URL + "/")
	item := `document.querySelector('[data-testid="room-item"][data-room-id="' + CSS.escape(` + jsonString(id) + `) + '"]')`
	text := waitFor[string](bob, 20*time.Second, "the home page lists room "+id,
		`(() => { const a = `+item+`; return a && a.textContent; })()`)
	if !strings.Contains(text, name) {
		t.Errorf("the listed room shows %q, want its name %q in it", strings.TrimSpace(text), name)
	}
	bobMe := evalJS[struct {
		ID string `json:"id"`
	}](bob, `fetch('/api/me').then(r => r.json())`)
	if bobMe.ID == "" || bobMe.ID == aliceMe.ID {
		t.Errorf("bob's identity %q is not a new one (alice is %q)", bobMe.ID, aliceMe.ID)
	}

	// The listed item is the share link.
	bob.click(`[data-testid="room-item"][data-room-id="` + cssEscape(id) + `"]`)
	waitFor[bool](bob, 20*time.Second, "bob follows the link to /r/"+id,
		`location.pathname === `+jsonString("/r/"+id))
}

// cssEscape escapes a value for a double-quoted CSS attribute selector.
func cssEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}
