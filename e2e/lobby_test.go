package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// lobbyWait bounds each wait of the lobby test.
const lobbyWait = 45 * time.Second

// TestLobby is issue 15's lobby and lock, in real Chromium with fake
// cameras. The host turns the lobby on in the room's settings; a guest who
// joins waits in the lobby view and is not in the room; the host sees the
// guest in the lobby queue, admits it, and video flows both ways. A second
// joiner is denied and says so; then the host locks the room and a third
// joiner is refused with the locked message.
func TestLobby(t *testing.T) {
	srv := startApp(t)
	browsers := newBrowsers(t)
	api := srv.newAPIClient()
	open := func(name string) *tab {
		p := browsers.get(chromium).newIdentity(name)
		p.addInitScript(probeScript)
		p.addInitScript(smallCameraScript)
		return p
	}
	selfID := func(p *tab) string {
		return waitFor[string](p, lobbyWait, "my own tile is shown",
			`document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)
	}
	join := func(p *tab, roomID, name string) {
		p.navigate(srv.roomURL(roomID, url.Values{"name": {name}, "join": {"1"}}))
	}
	const lobbyShown = `!document.querySelector('[data-testid="lobby"]').hidden`
	const queueItem = `[data-testid="lobby-queue"] [data-participant-id]`
	// waiter waits until the host's queue lists exactly one joiner named
	// name, and returns its participant id.
	waiter := func(host *tab, name string) string {
		js := `(() => { const items = [...document.querySelectorAll(` + jsonString(queueItem) + `)];
			return items.length === 1 && items[0].textContent.includes(` + jsonString(name) + `) && items[0].getAttribute('data-participant-id'); })()`
		return waitFor[string](host, lobbyWait, name+" is in the lobby queue", js)
	}
	// refused waits until p shows a refusal whose text says want.
	refused := func(p *tab, want string) string {
		js := `(() => { const v = document.querySelector('[data-testid="room-error"]');
			return v && !v.hidden && v.textContent.replace(/\s+/g, ' ').trim(); })()`
		text := waitFor[string](p, lobbyWait, "the refusal shows", js)
		if !strings.Contains(text, want) {
			t.Fatalf("%s's refusal says %q, want %q", p.name, text, want)
		}
		return text
	}

	// 1. The host creates the room, joins it and turns the lobby on.
	host := open("host")
	host.navigate(srv.URL + "/")
	host.typeText(`[data-testid="create-room-name"]`, "Lobby check")
	host.click(`[data-testid="create-room"]`)
	roomID := waitFor[string](host, lobbyWait, "the page is the new room's link",
		`(() => { const m = location.pathname.match(/^\/r\/([^/]+)$/); return m && decodeURIComponent(m[1]); })()`)
	fillDisplayName(host, `'Host'`)
	host.click(`[data-testid="join"]`)
	hostID := selfID(host)
	host.click(`[data-testid="setting-lobby"]`)
	waitFor[bool](host, lobbyWait, "the lobby setting is on", `document.querySelector('[data-testid="setting-lobby"]').checked`)
	if room := api.room(roomID); !room.Lobby {
		t.Fatalf("the room's lobby is off after the host turned it on: %+v", room)
	}

	// 2. A guest waits in the lobby, outside the room.
	guest := open("guest")
	join(guest, roomID, "Guest")
	waitFor[bool](guest, lobbyWait, "the guest sees the lobby view", lobbyShown)
	status := evalJS[string](guest, `document.querySelector('[data-testid="lobby"] [role="status"]').textContent`)
	if !strings.Contains(status, "Waiting for the host to let you in") {
		t.Fatalf("the lobby view says %q", status)
	}
	guestID := waiter(host, "Guest")
	if n := len(api.participants(roomID)); n != 1 {
		t.Fatalf("%d participants while the guest waits, want the host alone", n)
	}

	// 3. The host admits the guest; video flows both ways.
	host.click(queueItem + ` [data-testid="admit"]`)
	waitFor[bool](guest, lobbyWait, "the guest is in the call", `!document.querySelector('[data-testid="room"]').hidden`)
	if id := selfID(guest); id != guestID {
		t.Fatalf("the guest joined as %s, the queue named %s", id, guestID)
	}
	waitFor[bool](host, lobbyWait, "the queue is empty", `document.querySelector('[data-testid="lobby-queue"]').hidden`)
	t.Logf("host sees the guest: %s", jsonString(waitFramesAdvance(host, tileSelector(guestID), 1, lobbyWait)))
	t.Logf("guest sees the host: %s", jsonString(waitFramesAdvance(guest, tileSelector(hostID), 1, lobbyWait)))

	// 4. A second joiner is denied.
	second := open("second")
	join(second, roomID, "Second")
	waitFor[bool](second, lobbyWait, "the second joiner sees the lobby view", lobbyShown)
	waiter(host, "Second")
	host.click(queueItem + ` [data-testid="deny"]`)
	refused(second, "The host did not let you in")

	// 5. The host locks the room; a third joiner is refused.
	host.click(`[data-testid="lock-room"]`)
	waitFor[bool](host, lobbyWait, "the lock shows pressed", `document.querySelector('[data-testid="lock-room"]').getAttribute('aria-pressed') === 'true'`)
	if room := api.room(roomID); !room.Locked {
		t.Fatalf("the room is not locked: %+v", room)
	}
	third := open("third")
	join(third, roomID, "Third")
	refused(third, "This room is locked")
	if n := len(api.participants(roomID)); n != 2 {
		t.Fatalf("%d participants at the end, want the host and the guest", n)
	}
	// The call goes on: the guest still plays for the host.
	waitFramesAdvance(host, tileSelector(guestID), 1, lobbyWait)
}
