package e2e

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"testing"
	"time"

	"meet/app"
	"meet/protocol"
)

// connectionWait bounds each wait of the connection view test: three tabs
// join, and one switch from mesh to the SFU happens on a small machine.
const connectionWait = 30 * time.Second

// connectionReading is what the connection view of a tile shows: the
// popover's data-path and data-rtt, and its visible texts.
type connectionReading struct {
	Path     string `json:"path"`
	RTT      string `json:"rtt"`
	PathText string `json:"pathText"`
	RTTText  string `json:"rttText"`
}

// connectionButton selects the connection button of a participant's tile.
func connectionButton(participantID string) string {
	return tileSelector(participantID) + ` [data-testid="tile-connection"]`
}

// waitConnectionPath waits until the open connection panel of a
// participant's tile shows path and a round-trip time, and checks that
// time: a finite number of milliseconds, 0 or more, shown as a number.
func waitConnectionPath(p *tab, participantID, path string) connectionReading {
	p.t.Helper()
	r := waitFor[connectionReading](p, connectionWait,
		fmt.Sprintf("the connection panel of %s's tile says %q with a round-trip time", participantID, path),
		fmt.Sprintf(`(() => {
			const panel = document.querySelector(%q);
			if (!panel || !panel.matches(':popover-open')) return null;
			const rtt = panel.getAttribute('data-rtt');
			if (panel.getAttribute('data-path') !== %q || !rtt) return null;
			return {
				path: panel.getAttribute('data-path'),
				rtt,
				pathText: panel.querySelector('[data-testid="connection-path"]').textContent,
				rttText: panel.querySelector('[data-testid="connection-rtt"]').textContent,
			};
		})()`, tileSelector(participantID)+` [data-testid="connection-popover"]`, path))
	ms, err := strconv.ParseFloat(r.RTT, 64)
	if err != nil || math.IsNaN(ms) || math.IsInf(ms, 0) || ms < 0 {
		p.t.Fatalf("%s: the round-trip time to %s is %q, want a finite number of ms >= 0 (%v)", p.name, participantID, r.RTT, err)
	}
	if r.PathText == "" {
		p.t.Errorf("%s: the connection panel of %s's tile has no path text", p.name, participantID)
	}
	if !containsDigit(r.RTTText) {
		p.t.Errorf("%s: the round-trip time to %s shows as %q, want a number", p.name, participantID, r.RTTText)
	}
	return r
}

func containsDigit(s string) bool {
	for _, c := range s {
		if c >= '0' && c <= '9' {
			return true
		}
	}
	return false
}

// TestConnectionView is the connection view of issue's UI, in real
// Chromium with fake cameras, with -mesh-max 2. Two people in mesh: P1
// opens the connection menu on P2's tile, which says the path is direct
// and shows a round-trip time; Escape closes it and gives the focus back to
// its button. P1 opens it again and P3 joins: the room moves to the SFU,
// and the open menu follows P2's tile to the server's connection ("via the
// server"). P3, who joined into the SFU, sees the same on P1's tile.
func TestConnectionView(t *testing.T) {
	srv := startAppWith(t, func(c *app.Config) { c.MeshMax = 2 })
	api := srv.newAPIClient()
	room := api.createRoom("Connection e2e")
	b := startBrowser(t, chromium, browserOptions{})

	open := func(name string) (*tab, string) {
		p := b.newIdentity(name)
		p.addInitScript(smallCameraScript)
		p.navigate(srv.roomURL(room.ID, url.Values{"name": {name}, "join": {"1"}}))
		id := waitFor[string](p, connectionWait, "my own tile is shown",
			`document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)
		return p, id
	}

	// 1. Two in mesh.
	p1, id1 := open("P1")
	p2, id2 := open("P2")
	waitMode(p1, protocol.ModeMesh)
	waitRemoteTiles(p1, []string{id2})
	waitRemoteTiles(p2, []string{id1})
	if evalJS[bool](p1, `!!document.querySelector('[data-local] [data-testid="tile-connection"]')`) {
		t.Error("my own tile has a connection button; only remote tiles should")
	}

	button := connectionButton(id2)
	p1.click(button)
	waitFor[bool](p1, connectionWait, "the button says its menu is open",
		fmt.Sprintf(`document.querySelector(%q).getAttribute('aria-expanded') === 'true' &&
			!!document.querySelector(%q).getAttribute('aria-label')`, button, button))
	r := waitConnectionPath(p1, id2, "direct")
	t.Logf("mesh: P1 -> P2: %s", jsonString(r))
	p1.saveScreenshot("connection-mesh")

	// Escape closes it, and the focus is back on its button.
	p1.pressKey("", keyEscape, false)
	waitFor[bool](p1, 5*time.Second, "Escape closes the menu and the focus returns to its button",
		fmt.Sprintf(`(() => {
			const button = document.querySelector(%q);
			const panel = document.querySelector(%q);
			return !panel.matches(':popover-open') && button.getAttribute('aria-expanded') === 'false' &&
				document.activeElement === button;
		})()`, button, tileSelector(id2)+` [data-testid="connection-popover"]`))

	// 2. Open again, and a third joins: the room moves to the SFU, and the
	// open menu follows P2's tile there.
	p1.click(button)
	waitConnectionPath(p1, id2, "direct")
	p3, _ := open("P3")
	waitMode(p1, protocol.ModeSFU)
	waitMode(p3, protocol.ModeSFU)
	r = waitConnectionPath(p1, id2, "server")
	t.Logf("SFU: P1 -> P2 (the same menu, after the switch): %s", jsonString(r))

	// P3 came straight into the SFU.
	waitRemoteTiles(p3, []string{id1, id2})
	p3.click(connectionButton(id1))
	r = waitConnectionPath(p3, id1, "server")
	t.Logf("SFU: P3 -> P1: %s", jsonString(r))
	p3.saveScreenshot("connection-sfu")
}
