package e2e

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// axeWait bounds each wait of the accessibility test.
const axeWait = 30 * time.Second

// axePath is axe-core from npm (package.json at the repository root; the
// tests run with the e2e directory as their working directory).
var axePath = filepath.Join("..", "node_modules", "axe-core", "axe.min.js")

// axeRunJS runs axe over the whole document and returns its violations,
// each with the targets of its failing nodes.
const axeRunJS = `axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({
	id: v.id, impact: v.impact || '', help: v.help, helpUrl: v.helpUrl,
	nodes: v.nodes.map(n => ({target: n.target.map(String), summary: n.failureSummary || '', html: n.html})),
})))`

// axeViolation is one rule that fails, as axe reports it.
type axeViolation struct {
	ID      string `json:"id"`
	Impact  string `json:"impact"`
	Help    string `json:"help"`
	HelpURL string `json:"helpUrl"`
	Nodes   []struct {
		Target  []string `json:"target"`
		Summary string   `json:"summary"`
		HTML    string   `json:"html"`
	} `json:"nodes"`
}

// loadAxe reads axe-core, or skips (fails with $CI) without it.
func loadAxe(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(axePath)
	if err != nil {
		skipOrFail(t, "axe-core is not installed (%v): run `npm ci` at the repository root (scripts/test.sh does)", err)
	}
	return string(src)
}

// checkAxe injects axe into the tab's page, runs it, logs every violation
// and fails the test on those of impact serious or critical.
func checkAxe(t *testing.T, tb *tab, axeSrc, what string) {
	t.Helper()
	// The source defines window.axe; evaluating it through the driver is
	// not subject to the page's Content-Security-Policy.
	if !evalJS[bool](tb, `(() => { if (!window.axe) { (0, eval)(`+jsonString(axeSrc)+`); } return !!window.axe; })()`) {
		t.Fatalf("%s: axe did not load", what)
	}
	violations := evalJS[[]axeViolation](tb, axeRunJS)
	var serious int
	for _, v := range violations {
		var b strings.Builder
		fmt.Fprintf(&b, "%s: axe %s (%s): %s (%s)", what, v.ID, v.Impact, v.Help, v.HelpURL)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "\n    %s: %s\n      %s", strings.Join(n.Target, " "), shorten(n.HTML, 200),
				strings.ReplaceAll(strings.TrimSpace(n.Summary), "\n", "\n      "))
		}
		if v.Impact == "serious" || v.Impact == "critical" {
			serious++
			t.Error(b.String())
		} else {
			t.Log(b.String())
		}
	}
	t.Logf("%s: %d axe violations, %d of them serious or critical", what, len(violations), serious)
}

// createRoomInPage creates a room from the tab's page, so that the tab's
// identity owns it, and returns its id. The page is the home page: it waits
// for it to have its identity (its first API calls set the cookie, and a
// call that raced them would be given another identity).
func createRoomInPage(tb *tab, srv *appServer, name string) string {
	tb.t.Helper()
	tb.navigate(srv.URL + "/")
	waitFor[bool](tb, axeWait, "the home page has loaded its rooms", `document.getElementById('rooms-loading').hidden`)
	return evalJS[string](tb, `fetch('/api/me').then(() => fetch('/api/rooms', {method: 'POST',
		headers: {'Content-Type': 'application/json'}, body: JSON.stringify({name: `+jsonString(name)+`})}))
		.then(r => r.json()).then(r => r.id)`)
}

// TestAxe checks the pages with axe-core, in real Chromium: the home page
// with rooms listed, a room's pre-join screen, and a room with three people
// in the call (mesh), as the owner (with a raised hand in the queue and a
// member menu open) and as a participant, and the keyboard shortcuts' help. Any violation of impact
// serious or critical fails it.
func TestAxe(t *testing.T) {
	axeSrc := loadAxe(t)
	srv := startApp(t)
	b := newBrowser(t)

	// (a) The home page with two rooms listed; one of them is ours.
	owner := b.newIdentity("owner")
	owner.addInitScript(probeScript)
	roomID := createRoomInPage(owner, srv, "Reading group")
	srv.newAPIClient().createRoom("Física 101")
	owner.navigate(srv.URL + "/")
	waitFor[bool](owner, axeWait, "the home page lists the two rooms",
		`document.querySelectorAll('[data-testid="room-item"]').length >= 2`)
	checkAxe(t, owner, axeSrc, "home page")

	// (b) The pre-join screen, with the camera preview.
	owner.navigate(srv.roomURL(roomID, nil))
	waitFor[bool](owner, axeWait, "the pre-join screen shows",
		`(() => { const v = document.querySelector('[data-testid="prejoin"]'); return v && !v.hidden && !!document.querySelector('#preview-video').srcObject; })()`)
	checkAxe(t, owner, axeSrc, "pre-join screen")

	// (c) Three people in the call: the owner joins from the pre-join
	// screen, two others by the link.
	evalJS[bool](owner, `(() => { document.querySelector('[data-testid="display-name"]').value = 'Olga'; return true; })()`)
	owner.click(`[data-testid="join"]`)
	var others []*tab
	for _, name := range []string{"Ana", "Ben"} {
		p := b.newIdentity(name)
		p.addInitScript(probeScript)
		p.navigate(srv.roomURL(roomID, url.Values{"name": {name}, "join": {"1"}}))
		others = append(others, p)
	}
	for _, p := range append([]*tab{owner}, others...) {
		// Connected is enough: what is checked is the page, not the media.
		waitFor[bool](p, 2*axeWait, "the call is in mesh mode with the two others connected",
			`document.querySelector('[data-testid="room"]')?.getAttribute('data-mode') === 'mesh' &&
			 document.querySelectorAll('[data-participant-id]:not([data-local])[data-peer-state="connected"]').length === 2`)
	}
	// Ana raises her hand (with its shortcut): the owner's queue shows it.
	others[0].pressKey("", "h", false)
	waitFor[bool](owner, axeWait, "the owner's queue shows a raised hand",
		`!!document.querySelector('[data-testid="hand-queue"]:not([hidden]) [data-testid="hand-accept"]')`)
	// The owner opens the menu of one member.
	owner.click(`[data-testid="member-menu"]`)
	waitFor[bool](owner, axeWait, "the member menu is open", `!!document.querySelector('details.member-menu[open]')`)
	checkAxe(t, owner, axeSrc, "room, owner with a member menu open")
	checkAxe(t, others[0], axeSrc, "room, participant")

	// (d) The keyboard shortcuts' help, over the call.
	others[1].pressKey("", "?", true)
	waitFor[bool](others[1], axeWait, "the shortcuts help is open",
		`(() => { const d = document.querySelector('[data-testid="shortcuts-help"]'); return !!d && d.getClientRects().length > 0; })()`)
	checkAxe(t, others[1], axeSrc, "room, shortcuts help open")
}
