package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"meet/protocol"
)

// keysWait bounds each wait of the keyboard test.
const keysWait = 30 * time.Second

// pressedJS is the aria-pressed state of a control, by data-testid.
func pressedJS(testid string) string {
	return fmt.Sprintf(`document.querySelector('[data-testid=%q]').getAttribute('aria-pressed')`, testid)
}

// senderEnabledJS is true when the page sends a track of kind and every
// such track is enabled (want true) or none is (want false).
func senderEnabledJS(kind string, want bool) string {
	return fmt.Sprintf(`(() => {
		const tracks = (window.__e2e.pcs || []).filter(pc => pc.connectionState !== 'closed')
			.flatMap(pc => pc.getSenders()).map(s => s.track).filter(t => t && t.kind === %q);
		return tracks.length > 0 && tracks.every(t => t.enabled === %v);
	})()`, kind, want)
}

// spaceRepeatsJS dispatches n auto-repeat keydowns of Space, as a held key
// makes, at the focused element, and returns the mic button's aria-pressed
// after them.
func spaceRepeatsJS(n int) string {
	return fmt.Sprintf(`(() => {
		const target = document.activeElement || document.body;
		for (let i = 0; i < %d; i++) {
			target.dispatchEvent(new KeyboardEvent('keydown', {key: ' ', code: 'Space', repeat: true, bubbles: true, cancelable: true}));
		}
		return %s;
	})()`, n, pressedJS("toggle-mic"))
}

// armClose makes the dialog of testid note when its next close event has
// been dispatched (closedJS). The page gives the focus back from its close
// handlers (a11y.js, shortcuts.js), and Chromium dispatches that event at
// the next animation frame, after open is already false: on a loaded
// machine the test's next steps can come first, and a blur() made then is
// undone by the focus return. The listener, added after the page's own,
// runs after them.
func armClose(tb *tab, testid string) {
	tb.t.Helper()
	evalJS[bool](tb, fmt.Sprintf(`(() => { const d = document.querySelector('[data-testid=%q]');
		d.__e2eClosed = false; d.addEventListener('close', () => { d.__e2eClosed = true; }, {once: true}); return true; })()`, testid))
}

// closedJS is true once the dialog of testid is closed and the close event
// that armClose waits for has been handled.
func closedJS(testid string) string {
	return fmt.Sprintf(`(() => { const d = document.querySelector('[data-testid=%q]'); return !d.open && d.__e2eClosed === true; })()`, testid)
}

// announcedJS is the text of the screen-reader announcer.
const announcedJS = `document.querySelector('[data-testid="announcer"]').textContent`

// activeTestIDJS is the data-testid of the focused element.
const activeTestIDJS = `(document.activeElement ? (document.activeElement.getAttribute('data-testid') || document.activeElement.tagName) : '')`

// TestShortcuts is the keyboard test of issue 12, in real Chromium with real
// key events: in a mesh call of the owner (Olga) and Ana, Ana's M, V, S and
// H press her mic, camera, screen and hand buttons, and Olga sees each
// change; C closes and opens the chat; typing "m" in the chat input types
// it and toggles nothing; ? opens the help dialog, Escape closes it and
// the focus goes back where it was; holding Space while muted unmutes until
// it is let go. Olga's announcer says that Ana joined, raised her hand and
// wrote; Ana's says nothing of her own doing. Escape closes the devices
// dialog, the chat drawer of a narrow window and the owner's member menu,
// and gives the focus back to the button that opened each.
func TestShortcuts(t *testing.T) {
	srv := startApp(t)
	api := srv.newAPIClient()
	b := newBrowser(t)

	// Olga creates the room from her page (so she owns it) and joins.
	olga := b.newIdentity("olga")
	olga.addInitScript(probeScript)
	roomID := createRoomInPage(olga, srv, "Keyboard")
	olga.navigate(srv.roomURL(roomID, url.Values{"name": {"Olga"}, "join": {"1"}}))
	olgaID := waitFor[string](olga, keysWait, "Olga's own tile is shown",
		`document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)

	ana := b.newIdentity("ana")
	ana.addInitScript(probeScript)
	ana.navigate(srv.roomURL(roomID, url.Values{"name": {"Ana"}, "join": {"1"}}))
	anaID := waitFor[string](ana, keysWait, "Ana's own tile is shown",
		`document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)
	waitRemoteTiles(olga, []string{anaID})
	waitRemoteTiles(ana, []string{olgaID})
	waitFramesAdvance(olga, tileSelector(anaID), 1, keysWait)
	waitFor[bool](ana, keysWait, "Ana sends a live microphone", senderEnabledJS("audio", true))
	waitFor[bool](olga, keysWait, "Olga's announcer says that Ana joined",
		announcedJS+`.includes('Ana joined')`)

	// The buttons name their shortcut.
	type keyed struct {
		Key   string `json:"key"`
		Title string `json:"title"`
	}
	for testid, key := range map[string]string{"toggle-mic": "M", "toggle-camera": "V", "toggle-screen": "S", "raise-hand": "H", "chat-toggle": "C", "shortcuts-open": "Shift+?"} {
		k := evalJS[keyed](ana, fmt.Sprintf(`(() => { const b = document.querySelector('[data-testid=%q]');
			return {key: b.getAttribute('aria-keyshortcuts') || '', title: b.title}; })()`, testid))
		if k.Key != key {
			t.Errorf("%s has aria-keyshortcuts %q, want %q", testid, k.Key, key)
		}
		if !strings.HasSuffix(k.Title, "("+strings.TrimPrefix(key, "Shift+")+")") {
			t.Errorf("%s has the title %q, want it to end in (%s)", testid, k.Title, key)
		}
	}

	blur := func() { evalJS[bool](ana, `(document.activeElement && document.activeElement.blur(), true)`) }
	blur()

	// M: the mic goes off and on; Olga's server-side view follows.
	anaMedia := func(what string, ok func(m map[string]string) bool) {
		t.Helper()
		api.waitParticipants(roomID, what, keysWait, func(list []protocol.Participant) bool {
			p, found := find(list, anaID)
			if !found {
				return false
			}
			m := map[string]string{}
			for k, v := range p.Media {
				m[string(k)] = string(v)
			}
			return ok(m)
		})
	}
	ana.pressKey("", "m", false)
	waitFor[bool](ana, keysWait, "M turned the mic button off", pressedJS("toggle-mic")+` === 'false'`)
	waitFor[bool](ana, keysWait, "M disabled the sent audio track", senderEnabledJS("audio", false))
	anaMedia("Ana's microphone is paused", func(m map[string]string) bool { return m["microphone"] == "paused" })
	ana.pressKey("", "m", false)
	waitFor[bool](ana, keysWait, "M turned the mic button on", pressedJS("toggle-mic")+` === 'true'`)
	waitFor[bool](ana, keysWait, "M enabled the sent audio track", senderEnabledJS("audio", true))
	anaMedia("Ana's microphone is live", func(m map[string]string) bool { return m["microphone"] == "live" })

	// V: the camera; Olga sees Ana's tile go paused, then live.
	ana.pressKey("", "v", false)
	waitFor[bool](ana, keysWait, "V turned the camera button off", pressedJS("toggle-camera")+` === 'false'`)
	waitFor[bool](olga, keysWait, "Olga sees Ana's camera off", cameraOffJS(anaID))
	ana.pressKey("", "V", true)
	waitFor[bool](ana, keysWait, "V turned the camera button on", pressedJS("toggle-camera")+` === 'true'`)
	waitFor[bool](olga, keysWait, "Olga sees Ana's camera live",
		fmt.Sprintf(`document.querySelector(%q)?.getAttribute('data-camera') === 'live'`, tileSelector(anaID)))

	// S: a screen share starts (the key is a user activation) and stops.
	ana.pressKey("", "s", false)
	waitFor[bool](ana, keysWait, "S started sharing", pressedJS("toggle-screen")+` === 'true'`)
	anaMedia("Ana's screen is live", func(m map[string]string) bool { return m["screen"] == "live" })
	ana.pressKey("", "s", false)
	waitFor[bool](ana, keysWait, "S stopped sharing", pressedJS("toggle-screen")+` === 'false'`)
	anaMedia("Ana's screen is gone", func(m map[string]string) bool { _, on := m["screen"]; return !on })

	// H: Ana's hand goes up; the owner sees it in the queue and hears it.
	ana.pressKey("", "h", false)
	waitFor[bool](ana, keysWait, "H raised the hand", pressedJS("raise-hand")+` === 'true'`)
	waitFor[bool](olga, keysWait, "Olga's queue holds Ana's hand",
		fmt.Sprintf(`!!document.querySelector('[data-testid="hand-queue"]:not([hidden]) [data-hand-id=%q]')`, anaID))
	waitFor[bool](olga, keysWait, "Olga's announcer says that Ana raised her hand",
		announcedJS+`.includes('Ana raised their hand')`)
	ana.pressKey("", "h", false)
	waitFor[bool](ana, keysWait, "H lowered the hand", pressedJS("raise-hand")+` === 'false'`)
	waitFor[bool](olga, keysWait, "Olga's queue is empty", `document.querySelector('[data-testid="hand-queue"]').hidden`)

	// C: the chat (shown beside the call on this wide window) closes and
	// opens again, with the cursor in its input.
	const chatShown = `document.querySelector('[data-testid="chat-panel"]').getClientRects().length > 0`
	if !evalJS[bool](ana, chatShown) {
		t.Fatal("the chat is not shown on a 1280 px window at first")
	}
	ana.pressKey("", "c", false)
	waitFor[bool](ana, keysWait, "C closed the chat", `!(`+chatShown+`)`)
	ana.pressKey("", "c", false)
	waitFor[bool](ana, keysWait, "C opened the chat", chatShown)
	waitFor[bool](ana, keysWait, "the chat input has the focus", activeTestIDJS+` === 'chat-input'`)

	// Typing m in the chat input types it and leaves the mic alone; Enter
	// sends it, and Olga hears about it. Her hearing it is the proof that
	// the m was handled: a toggle it made would have gone out before the
	// message.
	typedAt := pageNow(ana)
	ana.pressKey(`[data-testid="chat-input"]`, "m", false)
	if v := evalJS[string](ana, `document.querySelector('[data-testid="chat-input"]').value`); v != "m" {
		t.Errorf("the chat input holds %q after typing m, want \"m\"", v)
	}
	ana.pressKey(`[data-testid="chat-input"]`, keyEnter, false)
	waitFor[bool](olga, keysWait, "Olga's announcer reads Ana's message",
		announcedJS+`.includes('New message from Ana: m')`)
	if got := evalJS[string](ana, pressedJS("toggle-mic")); got != "true" {
		t.Errorf("typing m in the chat input toggled the mic: aria-pressed=%s", got)
	}
	if !evalJS[bool](ana, senderEnabledJS("audio", true)) {
		t.Error("typing m in the chat input disabled the sent audio track")
	}
	if n := countWSSince(ana, " out media microphone:", typedAt); n != 0 {
		t.Errorf("typing m in the chat input sent %d microphone changes", n)
	}

	// ?: the help opens as a modal dialog; Escape closes it and the focus
	// goes back to the camera button it came from.
	ana.pressKey(`[data-testid="toggle-camera"]`, "?", true)
	waitFor[bool](ana, keysWait, "? opened the help",
		`(() => { const d = document.querySelector('[data-testid="shortcuts-help"]'); return d.open && d.matches(':modal') && d.contains(document.activeElement); })()`)
	help := evalJS[string](ana, `document.querySelector('[data-testid="shortcuts-help"]').textContent`)
	for _, want := range []string{"Keyboard shortcuts", "Turn the microphone on or off", "Hold to talk"} {
		if !strings.Contains(help, want) {
			t.Errorf("the help lacks %q: %q", want, help)
		}
	}
	// A shortcut does nothing while the help is open.
	ana.pressKey("", "v", false)
	time.Sleep(300 * time.Millisecond) // the dialog's fade-in, for the screenshot
	ana.saveScreenshot("keys-help")
	armClose(ana, "shortcuts-help")
	ana.pressKey("", keyEscape, false)
	waitFor[bool](ana, keysWait, "Escape closed the help", closedJS("shortcuts-help"))
	if got := evalJS[string](ana, activeTestIDJS); got != "toggle-camera" {
		t.Errorf("after the help closed the focus is on %q, want toggle-camera", got)
	}
	if got := evalJS[string](ana, pressedJS("toggle-camera")); got != "true" {
		t.Errorf("V while the help was open toggled the camera: aria-pressed=%s", got)
	}
	if !evalJS[bool](ana, `document.activeElement.matches(':focus-visible')`) {
		t.Error("the focus returned by the keyboard is not :focus-visible")
	}
	ana.saveScreenshot("keys-focus")
	// The help button opens it too, and its close button closes it.
	ana.click(`[data-testid="shortcuts-open"]`)
	waitFor[bool](ana, keysWait, "the help button opened the help", `document.querySelector('[data-testid="shortcuts-help"]').open`)
	armClose(ana, "shortcuts-help")
	ana.click(`[data-testid="shortcuts-close"]`)
	waitFor[bool](ana, keysWait, "the close button closed the help", closedJS("shortcuts-help"))
	if got := evalJS[string](ana, activeTestIDJS); got != "shortcuts-open" {
		t.Errorf("after the help closed the focus is on %q, want shortcuts-open", got)
	}

	// The devices dialog (settings) closes on Escape and gives the focus
	// back to its button too.
	ana.pressKey(`[data-testid="device-settings"]`, keyEnter, false)
	waitFor[bool](ana, keysWait, "the devices dialog is open", `document.querySelector('[data-testid="devices-dialog"]').open`)
	armClose(ana, "devices-dialog")
	ana.pressKey("", keyEscape, false)
	waitFor[bool](ana, keysWait, "Escape closed the devices dialog", closedJS("devices-dialog"))
	if got := evalJS[string](ana, activeTestIDJS); got != "device-settings" {
		t.Errorf("after the devices dialog closed the focus is on %q, want device-settings", got)
	}

	// Space held while muted: the mic is on until it is let go.
	blur()
	ana.pressKey("", "m", false)
	waitFor[bool](ana, keysWait, "M muted", pressedJS("toggle-mic")+` === 'false'`)
	anaMedia("Ana's microphone is paused", func(m map[string]string) bool { return m["microphone"] == "paused" })
	// Space goes to the focused element: on a button it would press that.
	if got := evalJS[string](ana, activeTestIDJS); got != "BODY" {
		t.Fatalf("before Space is held the focus is on %q, want nothing (BODY)", got)
	}
	heldAt := pageNow(ana)
	ana.keyDown(keySpace)
	waitFor[bool](ana, keysWait, "holding Space unmuted", pressedJS("toggle-mic")+` === 'true'`)
	waitFor[bool](ana, keysWait, "holding Space enabled the sent audio track", senderEnabledJS("audio", true))
	anaMedia("Ana's microphone is live while Space is held", func(m map[string]string) bool { return m["microphone"] == "live" })
	// A held key repeats: the system sends keydown after keydown with
	// repeat set (the driver's keyDown sends one). dispatchEvent runs the
	// page's handler before it returns, so the state read after is the
	// page's answer to the repeats.
	if got := evalJS[string](ana, spaceRepeatsJS(3)); got != "true" {
		t.Errorf("the mic went off while Space was still held (repeating): aria-pressed=%s", got)
	}
	ana.keyUp(keySpace)
	waitFor[bool](ana, keysWait, "letting Space go muted again", pressedJS("toggle-mic")+` === 'false'`)
	waitFor[bool](ana, keysWait, "letting Space go disabled the sent audio track", senderEnabledJS("audio", false))
	anaMedia("Ana's microphone is paused again", func(m map[string]string) bool { return m["microphone"] == "paused" })
	// The server has the pause of the let-go, so Ana's log of what she sent
	// is complete up to it: one resume when Space went down, one pause when
	// it came up, and no toggle in between.
	if on, off := countWSSince(ana, " out media microphone:resumed", heldAt), countWSSince(ana, " out media microphone:paused", heldAt); on != 1 || off != 1 {
		t.Errorf("holding Space sent %d resumes and %d pauses of the microphone, want 1 and 1", on, off)
	}

	// Ana's own doings were never announced to her; Olga's presence at
	// Ana's join was not news either.
	if said := evalJS[string](ana, announcedJS); strings.Contains(said, "Ana") || strings.Contains(said, "Olga joined") {
		t.Errorf("Ana's announcer says %q: it must not announce her own actions, nor who was there before her", said)
	}

	// A narrow window: the chat is a drawer. C opens it with the cursor in
	// its input; Escape closes it and the focus goes back to its button.
	ana.setViewport(800, 700)
	blur()
	if evalJS[bool](ana, chatShown) {
		// Opened on the wide window, it stays open as a drawer.
		ana.pressKey("", "c", false)
	}
	waitFor[bool](ana, keysWait, "the chat drawer is closed", `!(`+chatShown+`)`)
	blur()
	ana.pressKey("", "c", false)
	waitFor[bool](ana, keysWait, "C opened the chat drawer", chatShown+` && `+activeTestIDJS+` === 'chat-input'`)
	ana.pressKey("", keyEscape, false)
	waitFor[bool](ana, keysWait, "Escape closed the chat drawer", `!(`+chatShown+`)`)
	if got := evalJS[string](ana, activeTestIDJS); got != "chat-toggle" {
		t.Errorf("after Escape closed the chat drawer the focus is on %q, want chat-toggle", got)
	}

	// The owner's member menu: Escape closes it and the focus goes back
	// to its button.
	olga.click(`[data-testid="member-menu"]`)
	waitFor[bool](olga, keysWait, "the member menu is open", `!!document.querySelector('details.member-menu[open]')`)
	olga.pressKey(`[data-testid="member-stage"]`, keyEscape, false)
	waitFor[bool](olga, keysWait, "Escape closed the member menu", `!document.querySelector('details.member-menu[open]')`)
	if got := evalJS[string](olga, activeTestIDJS); got != "member-menu" {
		t.Errorf("after Escape closed the member menu the focus is on %q, want member-menu", got)
	}
}
