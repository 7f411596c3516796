package e2e

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"meet/app"
	"meet/protocol"
)

// The viewer's controls of issue 16, in Chromium: pausing one person's
// video, showing it in high quality (pinned), the received quality, the
// speaker view, and the speaking ring of a mesh room.

// viewerWait bounds each wait of the viewer tests.
const viewerWait = 45 * time.Second

// ownID waits for a page's own tile and returns its participant id.
func ownID(p *tab) string {
	p.t.Helper()
	return waitFor[string](p, viewerWait, "my own tile is shown",
		`document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)
}

// tileButtonJS reads a viewer's button of a tile: its aria-pressed, and
// the tile's data-paused and data-pinned.
func tileStateJS(participantID string) string {
	return fmt.Sprintf(`(() => {
		const tile = document.querySelector(%q);
		if (!tile) return null;
		return {
			pause: tile.querySelector('[data-testid="tile-pause"]')?.getAttribute('aria-pressed') || '',
			pin: tile.querySelector('[data-testid="tile-pin"]')?.getAttribute('aria-pressed') || '',
			paused: tile.getAttribute('data-paused') || '',
			pinned: tile.getAttribute('data-pinned') || '',
			overlay: !tile.querySelector('[data-testid="tile-paused"]')?.hidden,
			video: getComputedStyle(tile.querySelector('video')).visibility,
		};
	})()`, tileSelector(participantID))
}

type tileState struct {
	Pause   string `json:"pause"`
	Pin     string `json:"pin"`
	Paused  string `json:"paused"`
	Pinned  string `json:"pinned"`
	Overlay bool   `json:"overlay"`
	Video   string `json:"video"`
}

// axeIfInstalled checks the page with axe (axe_test.go) when axe-core is
// installed; without it the viewer's checks still run (TestAxe says so).
func axeIfInstalled(t *testing.T, tb *tab, what string) {
	t.Helper()
	if _, err := os.Stat(axePath); err != nil {
		t.Logf("%s: no accessibility check, axe-core is not installed", what)
		return
	}
	checkAxe(t, tb, loadAxe(t), what)
}

// waitMetric waits until a metric of the server reads want.
func waitMetric(t *testing.T, srv *appServer, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(viewerWait)
	for {
		got := srv.metric(name)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %v, want %v", name, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestViewerPauseVideo: in an SFU room, a viewer pauses the publisher's
// video on its tile. The tile says so (data-paused, the pressed button,
// "Video paused" over the avatar), the server counts the video as
// unwatched and sends none of it for 3 s while the sound flows on; resumed,
// the frames advance again.
func TestViewerPauseVideo(t *testing.T) {
	srv := startAppWith(t, func(c *app.Config) { c.MeshMax = -1 })
	b := newBrowser(t)
	room := srv.newAPIClient().createRoom("Pause a video")
	publisher := b.newIdentity("Publisher")
	publisher.addInitScript(probeScript)
	publisher.addInitScript(smallCameraScript)
	publisher.navigate(srv.roomURL(room.ID, url.Values{"name": {"Publisher"}, "join": {"1"}}))
	pubID := ownID(publisher)
	// The viewer only receives: the only video the SFU sends is to it.
	viewer := b.newIdentity("Viewer")
	viewer.addInitScript(probeScript)
	viewer.navigate(srv.roomURL(room.ID, url.Values{"name": {"Viewer"}, "spectator": {"1"}, "join": {"1"}}))
	waitFramesAdvance(viewer, tileSelector(pubID), 1, viewerWait)
	if evalJS[bool](viewer, `!!document.querySelector('[data-local] [data-testid="tile-pause"]')`) {
		t.Error("my own tile has a pause button; only remote tiles should")
	}

	viewer.click(tileSelector(pubID) + ` [data-testid="tile-pause"]`)
	st := waitFor[tileState](viewer, viewerWait, "the tile shows its video paused",
		`(() => { const s = `+tileStateJS(pubID)+`; return s && s.paused === 'true' && s; })()`)
	if st.Pause != "true" || !st.Overlay || st.Video != "hidden" || st.Pinned != "" {
		t.Errorf("paused tile: %+v, want the pause button pressed, the overlay shown and the video hidden", st)
	}
	viewer.saveScreenshot("viewer-paused")
	axeIfInstalled(t, viewer, "room, a video paused")
	waitMetric(t, srv, "meet_sfu_unwatched_videos", 1)
	time.Sleep(time.Second) // what was queued goes out
	video0, all0 := srv.metric("meet_sfu_forwarded_video_packets_total"), srv.metric("meet_sfu_forwarded_packets_total")
	time.Sleep(3 * time.Second)
	video1, all1 := srv.metric("meet_sfu_forwarded_video_packets_total"), srv.metric("meet_sfu_forwarded_packets_total")
	t.Logf("in 3 s paused: %.0f video packets sent, %.0f packets in all", video1-video0, all1-all0)
	if video1 != video0 {
		t.Errorf("the SFU sent %.0f video packets of a paused video", video1-video0)
	}
	if all1-all0 < 50 {
		t.Errorf("only %.0f packets in 3 s: the sound stopped too", all1-all0)
	}

	// Resume from the overlay's button.
	start := time.Now()
	viewer.click(tileSelector(pubID) + ` [data-testid="tile-resume"]`)
	waitFramesAdvance(viewer, tileSelector(pubID), 1, viewerWait)
	t.Logf("resumed: frames advance again %v after the click", time.Since(start).Round(10*time.Millisecond))
	st = evalJS[tileState](viewer, tileStateJS(pubID))
	if st.Pause != "false" || st.Paused != "" || st.Overlay || st.Video != "visible" {
		t.Errorf("resumed tile: %+v", st)
	}
	waitMetric(t, srv, "meet_sfu_unwatched_videos", 0)
}

// qualityRow is a video's row in a tile's connection panel.
type qualityRow struct {
	Width  float64 `json:"width"`
	Kbps   string  `json:"kbps"`
	Loss   string  `json:"loss"`
	FPS    string  `json:"fps"`
	Text   string  `json:"text"`
	Badge  string  `json:"badge"`
	BadgeW float64 `json:"badgeW"`
}

// qualityRowJS reads the camera row of a tile's connection panel once it
// has rates, with the tile's badge.
func qualityRowJS(participantID string) string {
	return fmt.Sprintf(`(() => {
		const tile = document.querySelector(%q);
		const row = tile && tile.querySelector('[data-testid="connection-quality"][data-source="camera"]');
		if (!row || !row.dataset.kbps) return null;
		const badge = tile.querySelector('[data-testid="tile-quality"]');
		return { width: Number(row.dataset.width), kbps: row.dataset.kbps, loss: row.dataset.loss, fps: row.dataset.fps,
			text: row.textContent, badge: badge.textContent, badgeW: Number(badge.dataset.width) };
	})()`, tileSelector(participantID))
}

// TestViewerPinHighQuality: with a 960x540 publisher in three simulcast
// layers, a viewer whose tile of it is small receives the low layer; the
// viewer pins the tile ("show in high quality") and within a few seconds
// receives a layer over 480 wide, whatever the tile's size, and the tile's
// connection panel says so with a bit rate, loss and frame rate. Unpinned,
// it goes back to the low layer. As in TestSimulcastTileSizes, the
// layers follow the view alone (FixedLayers).
func TestViewerPinHighQuality(t *testing.T) {
	srv := startAppWith(t, func(c *app.Config) { c.MeshMax, c.FixedLayers = -1, true })
	b := newBrowser(t)
	room := srv.newAPIClient().createRoom("Pin a video")
	publisher := b.newIdentity("Publisher")
	publisher.addInitScript(probeScript)
	publisher.addInitScript(qhdCameraScript)
	publisher.addInitScript(fullUplinkScript)
	publisher.navigate(srv.roomURL(room.ID, url.Values{"name": {"Publisher"}, "join": {"1"}}))
	pubID := ownID(publisher)
	viewer := b.newIdentity("Viewer")
	viewer.addInitScript(probeScript)
	viewer.navigate(srv.roomURL(room.ID, url.Values{"name": {"Viewer"}, "spectator": {"1"}, "join": {"1"}}))
	waitFramesAdvance(viewer, tileSelector(pubID), 1, viewerWait)
	// The pin asks for the top layer: wait for the publisher to send it.
	waitThreeLayers(t, publisher)
	evalJS[bool](viewer, gridWidthJS(240))
	low := waitFor[float64](viewer, viewerWait, "the small tile plays the low layer",
		`(() => { const w = `+videoWidthJS(pubID)+`; return w > 0 && w <= 320 && w; })()`)
	waitFramesAdvance(viewer, tileSelector(pubID), 1, viewerWait)

	start := evalJS[float64](viewer, `performance.now()`)
	viewer.click(tileSelector(pubID) + ` [data-testid="tile-pin"]`)
	up := waitFor[float64](viewer, viewerWait, "the pinned tile plays a layer over 480 wide",
		`(() => { const w = `+videoWidthJS(pubID)+`; return w > 480 && performance.now(); })()`)
	high := evalJS[float64](viewer, videoWidthJS(pubID))
	t.Logf("pinned: %.0f wide (from %.0f) %.0f ms after the click, in a tile 240 pixels wide", high, low, up-start)
	if up-start > 5000 {
		t.Errorf("the pinned tile took %.0f ms to play the top layer, want at most 5 s", up-start)
	}
	if st := evalJS[tileState](viewer, tileStateJS(pubID)); st.Pin != "true" || st.Pinned != "true" {
		t.Errorf("pinned tile: %+v, want the pin button pressed and data-pinned", st)
	}

	// The connection panel says what arrives: the top layer, with rates.
	viewer.click(connectionButton(pubID))
	row := waitFor[qualityRow](viewer, viewerWait, "the connection panel shows the received video with its rates",
		fmt.Sprintf(`(() => { const r = %s; return r && r.width > 480 && Number(r.kbps) > 0 && r; })()`, qualityRowJS(pubID)))
	t.Logf("connection panel: %q (width %.0f, %s kbit/s, %s%% lost, %s fps); badge %q", row.Text, row.Width, row.Kbps, row.Loss, row.FPS, row.Badge)
	if row.Loss == "" || row.FPS == "" || !strings.Contains(row.Text, "×") {
		t.Errorf("the quality row lacks loss or frame rate: %+v", row)
	}
	if row.BadgeW != row.Width || !strings.HasSuffix(row.Badge, "p") {
		t.Errorf("the tile's badge says %q (%.0f wide), the panel %.0f wide", row.Badge, row.BadgeW, row.Width)
	}
	viewer.saveScreenshot("viewer-pinned")
	viewer.pressKey("", keyEscape, false)

	// Unpinned: the small tile's layer again.
	viewer.click(tileSelector(pubID) + ` [data-testid="tile-pin"]`)
	back := waitFor[float64](viewer, viewerWait, "the unpinned tile goes back to the low layer",
		`(() => { const w = `+videoWidthJS(pubID)+`; return w > 0 && w <= 320 && w; })()`)
	t.Logf("unpinned: %.0f wide again", back)
	if st := evalJS[tileState](viewer, tileStateJS(pubID)); st.Pin != "false" || st.Pinned != "" {
		t.Errorf("unpinned tile: %+v", st)
	}
}

// TestViewerMeshActiveSpeaker: in a three-person mesh room, where the
// server reads no audio, only one microphone is on (Chromium's fake one,
// a beep): the pages share their levels and that person's tile rings as
// the dominant speaker on the two others' pages; the ring moves when
// another speaks instead. The speaker view then shows the speaker large,
// the others in a strip, on a phone-sized window too.
func TestViewerMeshActiveSpeaker(t *testing.T) {
	srv := startApp(t)
	b := newBrowser(t)
	room := srv.newAPIClient().createRoom("Mesh speakers")
	var tabs []*tab
	var ids []string
	for i := range 3 {
		name := fmt.Sprintf("P%d", i+1)
		p := b.newIdentity(name)
		p.addInitScript(probeScript)
		p.addInitScript(smallCameraScript)
		p.navigate(srv.roomURL(room.ID, url.Values{"name": {name}, "join": {"1"}}))
		ids = append(ids, ownID(p))
		// Every microphone starts muted.
		waitFor[bool](p, viewerWait, "the microphone is on", `document.querySelector('[data-testid="toggle-mic"]').getAttribute('aria-pressed') === 'true'`)
		p.click(`[data-testid="toggle-mic"]`)
		waitFor[bool](p, viewerWait, "the microphone is off", `document.querySelector('[data-testid="toggle-mic"]').getAttribute('aria-pressed') === 'false'`)
		tabs = append(tabs, p)
	}
	for i, p := range tabs {
		waitMode(p, protocol.ModeMesh)
		waitRemoteTiles(p, without(ids, i))
	}
	speaking := func(id string) string {
		return fmt.Sprintf(`!!document.querySelector('[data-participant-id=%q][data-speaking]')`, id)
	}
	// Silence keeps the last speaker: the microphones were on for a moment
	// at the join, so someone may ring already. Each speaker is one that
	// rings on no page before it speaks.
	ringing := func() map[string]bool {
		out := map[string]bool{}
		for _, p := range tabs {
			if id := evalJS[string](p, `document.querySelector('[data-speaking]')?.getAttribute('data-participant-id') || ''`); id != "" {
				out[id] = true
			}
		}
		return out
	}
	last := -1
	for range 2 {
		speaker := -1
		now := ringing()
		for _, i := range []int{1, 2, 0} {
			if i != last && !now[ids[i]] {
				speaker = i
				break
			}
		}
		if speaker < 0 {
			t.Fatalf("every participant rings on some page already: %v", now)
		}
		tabs[speaker].click(`[data-testid="toggle-mic"]`)
		start := time.Now()
		for i, p := range tabs {
			if i == speaker {
				continue
			}
			waitFor[bool](p, viewerWait, ids[speaker]+" rings as the speaker", speaking(ids[speaker]))
			t.Logf("P%d rings as the speaker on P%d's page %v after turning the microphone on (before: %v)", speaker+1, i+1, time.Since(start).Round(10*time.Millisecond), now)
		}
		// Its own page rings it too, as in SFU mode.
		waitFor[bool](tabs[speaker], viewerWait, "the speaker's own page rings it", speaking(ids[speaker]))
		for i, p := range tabs {
			if n := evalJS[float64](p, `document.querySelectorAll('[data-speaking]').length`); n != 1 {
				t.Errorf("P%d's page rings %.0f tiles, want 1", i+1, n)
			}
		}
		tabs[speaker].click(`[data-testid="toggle-mic"]`)
		last = speaker
	}
	loud := ids[last]
	// The levels went through the server, to the others.
	observer := tabs[(last+1)%3]
	sent := evalJS[float64](tabs[last], `window.__e2e.ws.filter(l => / out audio-level/.test(l)).length`)
	heard := evalJS[float64](observer, fmt.Sprintf(`window.__e2e.ws.filter(l => / in audio-level %s/.test(l)).length`, loud))
	t.Logf("the last speaker sent %.0f levels; another page heard %.0f of them (in the last 300 messages)", sent, heard)
	if heard == 0 {
		t.Error("no audio-level message of the last speaker reached another page")
	}

	// The speaker view, on the page of someone who did not speak last: the
	// last speaker large, the two others in the strip.
	p1 := observer
	var stripID string
	for i, id := range ids {
		if i != last && tabs[i] != observer {
			stripID = id
		}
	}
	p1.click(`[data-testid="layout-toggle"]`)
	type layout struct {
		Layout  string  `json:"layout"`
		Pressed string  `json:"pressed"`
		Focus   string  `json:"focus"`
		FocusW  float64 `json:"focusW"`
		StripW  float64 `json:"stripW"`
		InStrip int     `json:"inStrip"`
	}
	layoutJS := fmt.Sprintf(`(() => {
		const focus = document.querySelector('[data-testid="focus-view"] [data-participant-id]');
		const strip = document.querySelector('[data-testid="grid"] [data-participant-id=%q]');
		if (!focus || !strip) return null;
		return {
			layout: document.querySelector('[data-testid="grid"]').getAttribute('data-layout'),
			pressed: document.querySelector('[data-testid="layout-toggle"]').getAttribute('aria-pressed'),
			focus: focus.getAttribute('data-participant-id'),
			focusW: focus.getBoundingClientRect().width,
			stripW: strip.getBoundingClientRect().width,
			inStrip: document.querySelectorAll('[data-testid="grid"] [data-participant-id]').length,
		};
	})()`, stripID)
	l := waitFor[layout](p1, viewerWait, "the speaker view shows the last speaker large", fmt.Sprintf(`(() => { const l = %s; return l && l.focus === %q && l; })()`, layoutJS, loud))
	t.Logf("speaker view: %+v", l)
	if l.Layout != "speaker" || l.Pressed != "true" || l.InStrip != 2 || l.FocusW < 3*l.StripW {
		t.Errorf("speaker view: %+v, want data-layout speaker, the button pressed, two tiles in the strip and the focus far larger", l)
	}
	waitFramesAdvance(p1, tileSelector(loud), 1, viewerWait)
	// A strip tile paused (mesh mode: no longer drawn) shows its state
	// in the small tile too.
	p1.click(tileSelector(stripID) + ` [data-testid="tile-pause"]`)
	if st := waitFor[tileState](p1, viewerWait, "the strip tile shows its video paused",
		`(() => { const s = `+tileStateJS(stripID)+`; return s && s.paused === 'true' && s; })()`); !st.Overlay || st.Video != "hidden" {
		t.Errorf("paused strip tile: %+v", st)
	}
	p1.saveScreenshot("viewer-speaker-view")
	axeIfInstalled(t, p1, "room, speaker view with a video paused")
	p1.click(tileSelector(stripID) + ` [data-testid="tile-resume"]`)
	waitFramesAdvance(p1, tileSelector(stripID), 1, viewerWait)
	// A phone: the focus on top, the strip under it, all on screen.
	p1.setViewport(390, 844)
	phone := waitFor[layout](p1, viewerWait, "the speaker view fits a phone",
		fmt.Sprintf(`(() => { const l = %s; return l && l.focusW <= 390 && l.focusW > 1.8 * l.stripW && l; })()`, layoutJS))
	t.Logf("speaker view on a phone: %+v", phone)
	p1.saveScreenshot("viewer-speaker-view-phone")
	p1.setViewport(1280, 800)
	// Back to the grid: every tile in it.
	p1.click(`[data-testid="layout-toggle"]`)
	waitFor[bool](p1, viewerWait, "the grid again", `document.querySelector('[data-testid="grid"]').getAttribute('data-layout') === 'grid' &&
		document.querySelectorAll('[data-testid="grid"] [data-participant-id]').length === 3 &&
		document.querySelector('[data-testid="focus-view"]').hidden`)
}
