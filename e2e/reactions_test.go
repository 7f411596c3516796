package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"meet/protocol"
)

// reactionsWait bounds each wait of the reactions test.
const reactionsWait = 45 * time.Second

// floatRecorderScript records in window.__floats every reaction-float the
// page adds, with the tile it went into, so that a test reading several
// pages one after another sees floats that were only up for a moment.
const floatRecorderScript = `(() => {
  window.__floats = [];
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) {
      if (!(n instanceof Element) || n.getAttribute('data-testid') !== 'reaction-float') continue;
      const tile = n.parentElement && n.parentElement.closest('[data-participant-id]');
      window.__floats.push({ emoji: n.getAttribute('data-emoji'), tile: tile ? tile.getAttribute('data-participant-id') : '',
        shown: n.getClientRects().length > 0, text: n.textContent });
    }
  }).observe(document, { childList: true, subtree: true });
})();`

// floatSeenJS is true once the page has floated emoji over the tile of
// participantID, visibly, with the emoji as its text.
func floatSeenJS(participantID, emoji string) string {
	return fmt.Sprintf(`(window.__floats || []).some(f => f.tile === %q && f.emoji === %q && f.text === %q && f.shown)`, participantID, emoji, emoji)
}

// TestReactions is issue 12's browser test, in real Chromium with fake
// cameras and microphones: the owner and two others in a mesh room.
//
//  1. Bea sends 🎉 from the reaction picker; all three pages float a
//     reaction-float with that emoji over Bea's tile.
//  2. The owner clicks mute-all: Bea's and Carl's microphones go off (their
//     own mic buttons, the owner's view of their tiles, the server's media
//     state) while the owner's stays on.
//  3. Carl renames himself with the rename control: a name that is too
//     long is refused in the dialog and changes nothing; a good one shows
//     on his tile and in the list on every page.
func TestReactions(t *testing.T) {
	srv := startApp(t)
	api := srv.newAPIClient()
	b := newBrowser(t)

	open := func(name string) *tab {
		p := b.newIdentity(name)
		p.addInitScript(probeScript)
		p.addInitScript(smallCameraScript)
		p.addInitScript(floatRecorderScript)
		return p
	}
	selfID := func(p *tab) string {
		return waitFor[string](p, reactionsWait, "my own tile is shown",
			`document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)
	}

	// The owner makes the room from its own page (it owns what it creates)
	// and joins; the two others join by the link.
	// (From a page that makes no request of its own, so that no other
	// answer sets the identity cookie meanwhile.)
	owner := open("Owner")
	owner.navigate(srv.URL + "/healthz")
	roomID := evalJS[string](owner, `fetch('/api/me').then(() => fetch('/api/rooms', {method: 'POST', headers: {'Content-Type': 'application/json'},
		body: JSON.stringify({name: 'Reactions e2e'})})).then(r => r.json()).then(r => r.id)`)
	owner.navigate(srv.roomURL(roomID, url.Values{"name": {"Olga"}, "join": {"1"}}))
	ownerID := selfID(owner)
	bea := open("Bea")
	bea.navigate(srv.roomURL(roomID, url.Values{"name": {"Bea"}, "join": {"1"}}))
	beaID := selfID(bea)
	carl := open("Carl")
	carl.navigate(srv.roomURL(roomID, url.Values{"name": {"Carl"}, "join": {"1"}}))
	carlID := selfID(carl)
	everyone := []*tab{owner, bea, carl}
	ids := []string{ownerID, beaID, carlID}
	for i, p := range everyone {
		waitTilesOfOthers(p, without(ids, i), reactionsWait)
	}
	api.waitParticipants(roomID, "the three are in, microphones on", reactionsWait, func(list []protocol.Participant) bool {
		return len(list) == 3 && all(list, func(p protocol.Participant) bool {
			return p.Media[protocol.SourceMicrophone] == protocol.TrackLive
		})
	})
	waitFor[bool](owner, reactionsWait, "the owner's page knows it owns the room",
		`!!document.querySelector('[data-participant-id][data-local] .badge-owner')`)

	// 1. Bea reacts with 🎉 from the picker.
	bea.click(`[data-testid="reaction"]`)
	waitFor[bool](bea, reactionsWait, "the picker is open", `(() => {
		const o = document.querySelector('[data-testid="reaction-option"][data-emoji="🎉"]');
		return !!o && o.getClientRects().length > 0 && document.querySelector('[data-testid="reaction"]').getAttribute('aria-expanded') === 'true';
	})()`)
	bea.saveScreenshot("react-picker")
	bea.click(`[data-testid="reaction-option"][data-emoji="🎉"]`)
	float := fmt.Sprintf(`%s [data-testid="reaction-float"][data-emoji="🎉"]`, tileSelector(beaID))
	waitFor[bool](owner, reactionsWait, "a 🎉 floats over Bea's tile", `!!document.querySelector(`+jsonString(float)+`)`)
	owner.saveScreenshot("react-float")
	for _, p := range everyone {
		waitFor[bool](p, reactionsWait, "a 🎉 floated over Bea's tile", floatSeenJS(beaID, "🎉"))
	}
	// It floated over Bea's tile only, once, and goes away by itself.
	for _, p := range everyone {
		if n := evalJS[int](p, `window.__floats.length`); n != 1 {
			t.Errorf("%s floated %d reactions (%s), want the one over Bea's tile", p.name, n, jsonString(evalJS[any](p, `window.__floats`)))
		}
		waitFor[bool](p, 10*time.Second, "the reaction is gone after a few seconds", `!document.querySelector('[data-testid="reaction-float"]')`)
	}
	// Pressing Escape closes the picker.
	bea.pressKey("", keyEscape, false)
	waitFor[bool](bea, reactionsWait, "the picker closed", `document.querySelector('[data-testid="reaction"]').getAttribute('aria-expanded') === 'false'`)

	// 2. The owner asks everyone to mute.
	waitFor[bool](owner, reactionsWait, "mute-all is enabled for the owner", `(() => {
		const b = document.querySelector('[data-testid="mute-all"]');
		return !!b && !b.disabled && b.getClientRects().length > 0;
	})()`)
	for _, p := range []*tab{bea, carl} {
		if shown := evalJS[bool](p, `(() => { const b = document.querySelector('[data-testid="mute-all"]'); return !!b && b.getClientRects().length > 0; })()`); shown {
			t.Errorf("%s, not the owner, sees the mute-all control", p.name)
		}
	}
	owner.click(`[data-testid="mute-all"]`)
	for _, p := range []*tab{bea, carl} {
		waitFor[bool](p, reactionsWait, "my microphone is off after the owner's mute-all",
			`document.querySelector('[data-testid="toggle-mic"]').getAttribute('aria-pressed') === 'false'`)
	}
	for _, id := range []string{beaID, carlID} {
		waitFor[bool](owner, reactionsWait, "the owner sees the microphone off on the tile",
			`!!document.querySelector(`+jsonString(tileSelector(id)+" .tile-mic.is-off")+`)`)
	}
	list := api.waitParticipants(roomID, "Bea's and Carl's microphones are paused", reactionsWait, func(list []protocol.Participant) bool {
		b, _ := find(list, beaID)
		c, _ := find(list, carlID)
		return b.Media[protocol.SourceMicrophone] == protocol.TrackPaused && c.Media[protocol.SourceMicrophone] == protocol.TrackPaused
	})
	if o, _ := find(list, ownerID); o.Media[protocol.SourceMicrophone] != protocol.TrackLive {
		t.Errorf("the owner's microphone is %q after mute-all, want live", o.Media[protocol.SourceMicrophone])
	}
	if on := evalJS[string](owner, `document.querySelector('[data-testid="toggle-mic"]').getAttribute('aria-pressed')`); on != "true" {
		t.Errorf("the owner's own mic button is aria-pressed=%s after mute-all", on)
	}

	// The owner lowers every raised hand at once.
	for _, p := range []*tab{bea, carl} {
		p.click(`[data-testid="raise-hand"]`)
	}
	waitFor[bool](owner, reactionsWait, "two hands are in the owner's queue, with lower-hands",
		`document.querySelectorAll('[data-testid="hand"]').length === 2 && document.querySelector('[data-testid="lower-hands"]').getClientRects().length > 0`)
	owner.saveScreenshot("react-hands")
	owner.click(`[data-testid="lower-hands"]`)
	waitFor[bool](owner, reactionsWait, "the queue is empty and hidden",
		`document.querySelector('[data-testid="hand-queue"]').hidden && document.querySelectorAll('[data-testid="hand"]').length === 0`)
	for _, p := range []*tab{bea, carl} {
		waitFor[bool](p, reactionsWait, "my hand is down",
			`document.querySelector('[data-testid="raise-hand"]').getAttribute('aria-pressed') === 'false'`)
	}

	// 3. Carl renames himself: too long first, then a good name.
	carl.click(`[data-testid="rename"]`)
	waitFor[bool](carl, reactionsWait, "the rename dialog is open with my name",
		`document.querySelector('[data-testid="rename-dialog"]').open && document.querySelector('[data-testid="rename-input"]').value === 'Carl'`)
	setInput := func(value string) {
		evalJS[bool](carl, `(() => { const i = document.querySelector('[data-testid="rename-input"]'); i.value = ''; return true; })()`)
		carl.typeText(`[data-testid="rename-input"]`, value)
	}
	setInput(strings.Repeat("x", 51))
	carl.click(`[data-testid="rename-save"]`)
	refusal := waitFor[string](carl, reactionsWait, "the dialog says the name is too long", `(() => {
		const e = document.querySelector('[data-testid="rename-error"]');
		return e && !e.hidden && e.textContent;
	})()`)
	t.Logf("a 51-character name: %q", refusal)
	carl.saveScreenshot("react-rename-error")
	if !evalJS[bool](carl, `document.querySelector('[data-testid="rename-dialog"]').open`) {
		t.Error("a refused name closed the dialog")
	}
	const newName = "Carlos Ñandú 数学"
	setInput(newName)
	carl.click(`[data-testid="rename-save"]`)
	waitFor[bool](carl, reactionsWait, "the dialog closed", `!document.querySelector('[data-testid="rename-dialog"]').open`)
	for _, p := range everyone {
		waitFor[bool](p, reactionsWait, "Carl's tile and list entry show the new name", fmt.Sprintf(`(() => {
			const tile = document.querySelector(%q);
			const item = document.querySelector(%q);
			return !!tile && !!item && tile.querySelector('.tile-name').textContent.includes(%q) && item.textContent.includes(%q);
		})()`, tileSelector(carlID), fmt.Sprintf(`[data-member-id=%q]`, carlID), newName, newName))
	}
	api.waitParticipants(roomID, "the server has the new name", reactionsWait, func(list []protocol.Participant) bool {
		c, ok := find(list, carlID)
		return ok && c.Name == newName
	})
	// The too-long name never reached anyone.
	for _, p := range everyone {
		if evalJS[bool](p, `document.body.textContent.includes('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')`) {
			t.Errorf("%s shows the refused name", p.name)
		}
	}

	// How it looks on a phone: the picker and a reaction.
	bea.setViewport(390, 800)
	bea.click(`[data-testid="reaction"]`)
	waitFor[bool](bea, reactionsWait, "the picker is open on a phone", `(() => {
		const p = document.getElementById('reaction-picker');
		if (!p || p.hidden) return false;
		const r = p.getBoundingClientRect();
		return r.left >= 0 && r.right <= innerWidth && r.top >= 0;
	})()`)
	bea.click(`[data-testid="reaction-option"][data-emoji="👏"]`)
	waitFor[bool](bea, reactionsWait, "👏 floats over my own tile", `!!document.querySelector(`+jsonString(tileSelector(beaID)+` [data-testid="reaction-float"][data-emoji="👏"]`)+`)`)
	bea.saveScreenshot("react-phone")
	waitFor[bool](carl, reactionsWait, "Carl saw Bea's 👏 too", floatSeenJS(beaID, "👏"))
}

// waitTilesOfOthers waits until the tab shows a remote tile for each of
// ids and for no one else.
func waitTilesOfOthers(p *tab, ids []string, timeout time.Duration) {
	p.t.Helper()
	want := jsonString(ids)
	waitFor[bool](p, timeout, fmt.Sprintf("the remote tiles are %v", ids),
		fmt.Sprintf(`(() => { const want = %s.sort(); const got = [...document.querySelectorAll(%q)]
			.map(e => e.getAttribute('data-participant-id')).sort(); return JSON.stringify(got) === JSON.stringify(want); })()`, want, remoteTiles))
}
