package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"meet/app"
	"meet/protocol"
)

// switchWait bounds each wait of the switch test.
const switchWait = 30 * time.Second

// maxSwitchGap is the longest freeze of a remote video the switch may add
// to what the same pages freeze without one: the test measures that
// baseline over a quiet stretch of mesh first (steadyGap), and a switch
// fails when its longest gap reaches baseline + maxSwitchGap. The goal is
// under 300 ms on a quiet machine (docs/BENCHMARKS.md has the figures);
// the limit catches a real freeze (a <video> that stops presenting, or a
// topology closed before the other plays, which freezes for the seconds a
// switch takes) without failing on a test machine that starves every tab
// under -race (gaps of 1.1-1.2 s seen there over a 200 ms baseline).
const maxSwitchGap = 1500 * time.Millisecond

// gapLimit is the longest gap a switch may show, given the baseline.
func gapLimit(baselineMs float64) time.Duration {
	return maxSwitchGap + time.Duration(baselineMs*float64(time.Millisecond))
}

// TestSwitchMeshSFUMesh is issue 4's browser test, in real Chromium with
// fake cameras, with -mesh-max 3: three participants start in mesh; a fourth
// joins and all four end in SFU mode, each seeing three remote videos that
// keep playing; over the SFU a camera goes off and on and a screen share
// comes and goes; then two leave and the remaining two go back to mesh, with
// video flowing and their SFU connections closed.
//
// Every remote <video> counts its presented frames with
// requestVideoFrameCallback (probeScript); the longest gap between two
// frames of any remote video during a switch is its freeze. It logs
// parsable lines:
//
//	switch_max_frame_gap_ms=N      mesh->SFU, the three who switch
//	switch_time_ms=N               mesh->SFU, mode message -> every tile on SFU media (slowest page)
//	sfu_join_to_first_frame_ms=N   the fourth: click on Join -> first remote frame
//	back_max_frame_gap_ms=N        SFU->mesh, the two who stay
//	back_switch_time_ms=N          SFU->mesh, mode message -> every tile on mesh media
func TestSwitchMeshSFUMesh(t *testing.T) {
	testSwitch(t, []browserKind{chromium, chromium, chromium, chromium})
}

// TestSwitchMixedFirefox is the same switch, both ways, with P2 in Firefox
// ESR and the others in Chromium: Firefox receives over mesh, the SFU and
// mesh again, and the Chromium pages receive Firefox's camera throughout.
func TestSwitchMixedFirefox(t *testing.T) {
	testSwitch(t, []browserKind{chromium, firefox, chromium, chromium})
}

// testSwitch runs the switch test with participant i in browser kinds[i].
// P1 shares a screen, so it must be Chromium (headless Firefox has none).
func testSwitch(t *testing.T, kinds []browserKind) {
	srv := startAppWith(t, func(c *app.Config) {
		c.MeshMax = 3
		c.BackToMeshDelay = 3 * time.Second
		// Long enough that only the clients' own sfu-close can close
		// their SFU connections within the test.
		c.SFUGrace = 2 * time.Minute
	})
	api := srv.newAPIClient()
	room := api.createRoom("Switch e2e")
	browsers := newBrowsers(t)

	names := []string{"P1", "P2", "P3", "P4"}
	ps := make([]*tab, len(names))
	ids := make([]string, len(names))
	open := func(i int, query url.Values) {
		p := browsers.get(kinds[i]).newIdentity(names[i])
		p.addInitScript(probeScript)
		p.addInitScript(smallCameraScript)
		p.navigate(srv.roomURL(room.ID, query))
		ps[i] = p
	}
	ownTile := func(i int) {
		ids[i] = waitFor[string](ps[i], switchWait, "my own tile is shown",
			`document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)
	}

	// 1. Three in mesh, each seeing the two others play.
	for i := range 3 {
		open(i, url.Values{"name": {names[i]}, "join": {"1"}})
		ownTile(i)
	}
	// The fourth waits on the pre-join screen with its camera running, so
	// that the start of a fourth browser tab on this small machine does not
	// fall into the switch window (the joiner is another computer in life).
	open(3, url.Values{"name": {names[3]}})
	waitFor[bool](ps[3], switchWait, "the pre-join preview plays",
		`(document.getElementById('preview-video')?.__e2eFrames || 0) > 10`)
	for i, p := range ps[:3] {
		waitMode(p, protocol.ModeMesh)
		waitRemoteTiles(p, without(ids[:3], i))
	}
	for _, p := range ps[:3] {
		waitFramesAdvance(p, remoteTiles, 2, switchWait)
	}
	t.Logf("participants: %v", ids[:3])
	// The same measure over a quiet stretch of mesh, with the fourth tab
	// already running: what freezes without any switch, on this machine.
	baseline := steadyGap(ps[:3], 5*time.Second)
	t.Logf("baseline_max_frame_gap_ms=%.0f (mesh, no switch, 5 s)", baseline)

	// 2. The fourth joins: everyone ends in SFU mode.
	joinAt := evalJS[float64](ps[3], `(() => { const t = performance.now(); document.querySelector('[data-testid="join"]').click(); return t; })()`)
	ownTile(3)
	for i, p := range ps {
		waitMode(p, protocol.ModeSFU)
		waitRemoteTiles(p, without(ids, i))
	}
	sw := waitSwitchDone(ps[:3], protocol.ModeSFU, "sfu")
	for _, p := range ps {
		stats := waitFramesAdvance(p, remoteTiles, 3, switchWait)
		t.Logf("%s receives over the SFU: %s", p.name, jsonString(stats))
	}
	// Only the SFU is left: the mesh connections are closed.
	for _, p := range ps {
		waitFor[bool](p, switchWait, "the mesh is closed",
			`(() => { const s = window.meetDebug.switch(); return s.mesh === null && s.sfu && s.sfu.subscribe && s.sfu.subscribe.connection === 'connected'; })()`)
	}
	gap := switchGap(t, ps[:3])
	t.Logf("switch_max_frame_gap_ms=%.0f", gap.ms)
	t.Logf("switch_time_ms=%.0f", sw.slowest)
	t.Logf("mesh->sfu per page: gaps %s; switch times %v", gap.detail, sw.each)
	first := firstRemoteFrameMillis(ps[3], 5*time.Second)
	welcome := evalJS[float64](ps[3], `window.__e2e.welcomeAt || 0`)
	t.Logf("sfu_join_to_first_frame_ms=%.0f", first-joinAt)
	t.Logf("sfu_welcome_to_first_frame_ms=%.0f", first-welcome)
	if limit := gapLimit(baseline); time.Duration(gap.ms*float64(time.Millisecond)) >= limit {
		t.Errorf("a remote video froze for %.0f ms during the mesh->SFU switch (must be under %v: %v over the %.0f ms baseline): %s",
			gap.ms, limit, maxSwitchGap, baseline, gap.detail)
	}
	api.waitParticipants(room.ID, "the room is in SFU mode with four", switchWait, func(list []protocol.Participant) bool {
		return len(list) == 4
	})
	if m := api.room(room.ID).Mode; m != protocol.ModeSFU {
		t.Fatalf("room mode %q, want sfu", m)
	}

	// 3. Over the SFU, media state and screen sharing still work: P2's
	// camera goes off and on again, P1 shares a screen and stops.
	others := func(i int) []*tab { return slices.Concat(ps[:i], ps[i+1:]) }
	ps[1].click(`[data-testid="toggle-camera"]`)
	for _, p := range others(1) {
		waitFor[bool](p, switchWait, "P2's tile shows the camera off", cameraOffJS(ids[1]))
	}
	ps[1].click(`[data-testid="toggle-camera"]`)
	for _, p := range others(1) {
		waitFor[bool](p, switchWait, "P2's tile shows the camera on again", "!"+cameraOffJS(ids[1]))
		waitFramesAdvance(p, tileSelector(ids[1]), 1, switchWait)
	}
	ps[0].click(`[data-testid="toggle-screen"]`)
	for _, p := range others(0) {
		waitFor[bool](p, switchWait, "P1's tile has a second (screen) video",
			fmt.Sprintf(`document.querySelectorAll(%q).length >= 2`, tileSelector(ids[0])+" video"))
		waitFramesAdvance(p, tileSelector(ids[0]), 2, switchWait)
	}
	ps[0].click(`[data-testid="toggle-screen"]`)
	for _, p := range others(0) {
		waitFor[bool](p, switchWait, "P1's screen is gone",
			fmt.Sprintf(`document.querySelectorAll(%q).length === 1`, tileSelector(ids[0])+" video"))
	}

	// 4. Two leave: after the back-to-mesh delay the two others are back in
	// mesh, with video flowing and no SFU connection left.
	ps[2].click(`[data-testid="leave"]`)
	ps[3].click(`[data-testid="leave"]`)
	waitRemoteTiles(ps[0], []string{ids[1]})
	waitRemoteTiles(ps[1], []string{ids[0]})
	for _, p := range ps[:2] {
		waitMode(p, protocol.ModeMesh)
	}
	back := waitSwitchDone(ps[:2], protocol.ModeMesh, "mesh")
	for _, p := range ps[:2] {
		waitFor[bool](p, switchWait, "the SFU connections are closed",
			`(() => { const s = window.meetDebug.switch(); return s.sfu === null && Object.values(s.mesh || {}).length === 1 && Object.values(s.mesh).every(c => c.connection === 'connected'); })()`)
		waitFramesAdvance(p, remoteTiles, 1, switchWait)
	}
	backGap := switchGap(t, ps[:2])
	t.Logf("back_max_frame_gap_ms=%.0f", backGap.ms)
	t.Logf("back_switch_time_ms=%.0f", back.slowest)
	t.Logf("sfu->mesh per page: gaps %s; switch times %v", backGap.detail, back.each)
	if limit := gapLimit(baseline); time.Duration(backGap.ms*float64(time.Millisecond)) >= limit {
		t.Errorf("a remote video froze for %.0f ms during the SFU->mesh switch (must be under %v: %v over the %.0f ms baseline): %s",
			backGap.ms, limit, maxSwitchGap, baseline, backGap.detail)
	}
	if m := api.room(room.ID).Mode; m != protocol.ModeMesh {
		t.Errorf("room mode %q, want mesh", m)
	}
	// The clients said sfu-close: the server has no SFU peer left.
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := srv.metric("meet_sfu_peers")
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server still has %v SFU peers after the return to mesh", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitMode waits until the room page shows the mode in data-mode.
func waitMode(p *tab, mode string) {
	p.t.Helper()
	waitFor[bool](p, switchWait, "the room page is in "+mode+" mode",
		fmt.Sprintf(`document.querySelector('[data-testid="room"]')?.getAttribute('data-mode') === %q`, mode))
}

// switchTimes are the durations of one switch as the pages saw it: from
// the mode message to the moment every tile showed the new topology.
type switchTimes struct {
	slowest float64
	each    []string
}

// waitSwitchDone waits until each page has switched every remote tile to
// topology (after the mode message of mode) and returns the durations.
func waitSwitchDone(ps []*tab, mode, topology string) switchTimes {
	var out switchTimes
	for _, p := range ps {
		p.t.Helper()
		ms := waitFor[float64](p, switchWait, "every tile shows "+topology+" media",
			fmt.Sprintf(`(() => { const s = window.meetDebug.switch();
				const all = Object.values(s.shownFrom).every(t => t === %q);
				return s.mode === %q && !s.switching && s.endedAt > 0 && all && (s.endedAt - s.startedAt); })()`, topology, mode))
		out.slowest = max(out.slowest, ms)
		out.each = append(out.each, fmt.Sprintf("%s=%.0fms", p.name, ms))
	}
	return out
}

// gapReport is the longest freeze of any remote video of some pages.
type gapReport struct {
	ms     float64
	detail string
}

// switchGap reports the longest gap between two frames of any remote video
// of the pages during their last switch: from the mode message until a
// second after the old topology closed (a gap that began before the mode
// message counts from it).
func switchGap(t *testing.T, ps []*tab) gapReport {
	t.Helper()
	type window struct {
		StartedAt float64            `json:"startedAt"`
		ClosedAt  float64            `json:"closedAt"`
		Swaps     map[string]float64 `json:"swaps"`
	}
	type gap struct {
		Tile      string       `json:"tile"`
		Index     int          `json:"index"`
		MaxGapMs  float64      `json:"maxGapMs"`
		MaxGapEnd float64      `json:"maxGapEnd"`
		Frames    int          `json:"frames"`
		Gaps      [][2]float64 `json:"gaps"`
	}
	var r gapReport
	for _, p := range ps {
		w := waitFor[window](p, switchWait, "the old topology is closed",
			`(() => { const s = window.meetDebug.switch(); return s.closedAt > 0 && s; })()`)
		to := w.ClosedAt + 1000
		if wait := time.Duration(to-evalJS[float64](p, `performance.now()`)) * time.Millisecond; wait > 0 {
			time.Sleep(wait)
		}
		gaps := evalJS[[]gap](p, fmt.Sprintf(`window.__e2e.gaps(%f, %f)`, w.StartedAt, to))
		r.detail += p.name + ": "
		for _, g := range gaps {
			r.ms = max(r.ms, g.MaxGapMs)
			// Times from the mode message: the end of the longest gap, and
			// the swap of the tile to the new topology.
			swap, ok := w.Swaps[g.Tile]
			if !ok {
				r.detail += fmt.Sprintf("%s#%d %.0fms (ended +%.0fms, not swapped); ", g.Tile, g.Index, g.MaxGapMs, g.MaxGapEnd-w.StartedAt)
				continue
			}
			// The first frame after the swap: the end of the gap that
			// spans it, if any (gaps under 100 ms are not recorded).
			after := "<100"
			for _, gp := range g.Gaps {
				if gp[0] <= swap && swap <= gp[1] {
					after = fmt.Sprintf("%.0f", gp[1]-swap)
				}
			}
			r.detail += fmt.Sprintf("%s#%d %.0fms (ended +%.0fms, swapped +%.0fms, next frame %sms later); ", g.Tile, g.Index, g.MaxGapMs,
				g.MaxGapEnd-w.StartedAt, swap-w.StartedAt, after)
		}
		r.detail += fmt.Sprintf("closed +%.0fms. ", w.ClosedAt-w.StartedAt)
		if os.Getenv("MEET_E2E_VERBOSE") != "" {
			t.Logf("%s timeline: %s", p.name, evalJS[string](p, fmt.Sprintf(`(() => {
				const t0 = %f, out = [];
				document.querySelectorAll('[data-participant-id]:not([data-local]) video').forEach(v => (v.__e2eGaps || []).forEach(([a, b]) => {
					if (b > t0 - 500 && b - a >= 150) out.push([a - t0, 'gap ' + Math.round(b - a) + 'ms ' + v.closest('[data-participant-id]').getAttribute('data-participant-id')]); }));
				window.__e2e.ws.forEach(l => { const ms = parseFloat(l); if (ms > t0 - 500) out.push([ms - t0, l]); });
				window.__e2e.pcs.forEach((pc, i) => (pc.__e2eLog || []).forEach(l => { const ms = parseFloat(l); if (ms > t0 - 500) out.push([ms - t0, 'pc' + i + ' ' + l]); }));
				const s = window.meetDebug.switch();
				Object.entries(s.swaps).forEach(([id, ms]) => out.push([ms - t0, 'swap ' + id]));
				out.push([s.closedAt - t0, 'closed old']);
				return out.sort((x, y) => x[0] - y[0]).map(([ms, l]) => '+' + Math.round(ms) + ' ' + l).join('\n');
			})()`, w.StartedAt)))
		}
	}
	return r
}

// smallCameraScript asks the fake camera for 640x360 at 15 frames per
// second, whatever the page asks for. Four tabs that each encode up to four
// 720p streams at once (three mesh peers and the SFU, during the switch)
// are more than a 2-core test machine can run, and a starved machine
// freezes video with or without a switch; the switch logic is the same at
// any size.
const smallCameraScript = `(() => {
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) return;
  const gum = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => {
    if (c && c.video) c = { ...c, video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15, max: 15 } } };
    return gum(c);
  };
})();`

var metricLine = regexp.MustCompile(`(?m)^(\w+) ([0-9.eE+-]+)$`)

// metricsText is what the metrics listener serves now.
func (s *appServer) metricsText() string {
	s.t.Helper()
	resp, err := http.Get(s.metricsURL + "/metrics")
	if err != nil {
		s.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// metric reads one unlabelled gauge or counter from the metrics listener.
func (s *appServer) metric(name string) float64 {
	s.t.Helper()
	for _, m := range metricLine.FindAllStringSubmatch(s.metricsText(), -1) {
		if m[1] == name {
			v, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				s.t.Fatalf("metric %s: %v", name, err)
			}
			return v
		}
	}
	s.t.Fatalf("no metric %s in /metrics", name)
	return 0
}

// steadyGap is the longest gap between two frames of any remote video of
// the pages over the next d, with nothing happening.
func steadyGap(ps []*tab, d time.Duration) float64 {
	from := make([]float64, len(ps))
	for i, p := range ps {
		from[i] = evalJS[float64](p, `performance.now()`)
	}
	time.Sleep(d)
	longest := 0.0
	for i, p := range ps {
		longest = max(longest, evalJS[float64](p, fmt.Sprintf(
			`Math.max(0, ...window.__e2e.gaps(%f, performance.now()).map(g => g.maxGapMs))`, from[i])))
	}
	return longest
}
