package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"meet/protocol"
)

const trustWait = 30 * time.Second

// TestTrustUnlistedRoom: a room created unlisted from the home page is in
// its owner's "Your rooms", and a stranger's home page never lists it,
// while it lists a public room made at the same time.
func TestTrustUnlistedRoom(t *testing.T) {
	srv := startApp(t)
	public := srv.newAPIClient().createRoom("Open day")
	b := newBrowser(t)

	owner := b.newIdentity("owner")
	owner.navigate(srv.URL + "/")
	owner.typeText(`[data-testid="create-room-name"]`, "Maths 3B")
	evalJS[bool](owner, `(() => { const s = document.querySelector('[data-testid="create-room-visibility"]');
		s.value = 'unlisted'; s.dispatchEvent(new Event('change')); return true; })()`)
	owner.click(`[data-testid="create-room"]`)
	id := waitFor[string](owner, trustWait, "the page is the new room's link",
		`(() => { const m = location.pathname.match(/^\/r\/([^/]+)$/); return m && decodeURIComponent(m[1]); })()`)
	if got := srv.newAPIClient().room(id).Visibility; got != protocol.VisibilityUnlisted {
		t.Fatalf("the room made with the form is %q, want unlisted", got)
	}

	owner.navigate(srv.URL + "/")
	waitFor[bool](owner, trustWait, `the owner's "Your rooms" lists the unlisted room`,
		`!!document.querySelector('#your-rooms:not([hidden]) [data-testid="room-item"][data-room-id="`+cssEscape(id)+`"]')`)

	stranger := b.newIdentity("stranger")
	stranger.navigate(srv.URL + "/")
	waitFor[bool](stranger, trustWait, "the stranger's home page lists the public room",
		`!!document.querySelector('[data-testid="room-item"][data-room-id="`+cssEscape(public.ID)+`"]')`)
	if evalJS[bool](stranger, `!!document.querySelector('[data-room-id="`+cssEscape(id)+`"]')`) {
		t.Fatal("a stranger's home page lists the unlisted room")
	}
	if !evalJS[bool](stranger, `document.getElementById('your-rooms').hidden`) {
		t.Error(`a stranger who owns and joined nothing sees a "Your rooms" section`)
	}
}

// TestTrustPasscodeRoom: a guest opening a room with a passcode gets the
// prompt instead of the room; a wrong passcode is refused with a visible
// message; the right one joins. A second guest follows a share link with
// the passcode in its fragment: no prompt, and the fragment is gone from
// the address bar. Each then sees the other's video play.
func TestTrustPasscodeRoom(t *testing.T) {
	srv := startApp(t)
	var room protocol.Room
	srv.newAPIClient().call(http.MethodPost, "/api/rooms",
		map[string]string{"name": "Passcode class", "passcode": "tulip-42"}, http.StatusCreated, &room)
	b := newBrowser(t)

	ana := b.newIdentity("Ana")
	ana.addInitScript(probeScript)
	ana.navigate(srv.roomURL(room.ID, url.Values{"name": {"Ana"}, "join": {"1"}}))
	waitFor[bool](ana, trustWait, "the passcode prompt, instead of the room",
		`document.body.dataset.currentView === 'passcode' && document.activeElement?.dataset.testid === 'passcode-input'`)
	ana.typeText(`[data-testid="passcode-input"]`, "tulip-43")
	ana.click(`[data-testid="passcode-submit"]`)
	message := waitFor[string](ana, trustWait, "a visible refusal of the wrong passcode",
		`(() => { const e = document.querySelector('[data-testid="passcode-error"]'); return e && !e.hidden && e.offsetParent && e.textContent; })()`)
	t.Logf("wrong passcode: %q", message)
	if view := evalJS[string](ana, `document.body.dataset.currentView`); view != "passcode" {
		t.Fatalf("after a wrong passcode the page shows %q", view)
	}
	evalJS[bool](ana, `(() => { document.querySelector('[data-testid="passcode-input"]').value = ''; return true; })()`)
	ana.typeText(`[data-testid="passcode-input"]`, "tulip-42")
	ana.click(`[data-testid="passcode-submit"]`)
	waitFor[bool](ana, trustWait, "the call view", `document.body.dataset.currentView === 'room'`)

	bo := b.newIdentity("Bo")
	bo.addInitScript(probeScript)
	bo.navigate(srv.roomURL(room.ID, url.Values{"name": {"Bo"}, "join": {"1"}}) + "#pwd=tulip-42")
	waitFor[bool](bo, trustWait, "the call view, without a prompt", `document.body.dataset.currentView === 'room'`)
	if href := evalJS[string](bo, `location.href`); strings.Contains(href, "pwd") || strings.Contains(href, "tulip") {
		t.Fatalf("the passcode is still in the address bar: %s", href)
	}

	anaID := waitFor[string](ana, trustWait, "my own tile", `document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)
	boID := waitFor[string](bo, trustWait, "my own tile", `document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)
	waitFramesAdvance(ana, tileSelector(boID), 1, trustWait)
	waitFramesAdvance(bo, tileSelector(anaID), 1, trustWait)
}
