package e2e

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"meet/app"
)

// simulcastWait bounds each wait of the simulcast tests.
const simulcastWait = 45 * time.Second

// qhdCameraScript asks for a 960x540 camera at 15 frames a second: the
// smallest size at which Chromium sends all three simulcast layers
// (960, 480 and 240 wide), and cheap enough for this machine.
const qhdCameraScript = `(() => {
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) return;
  const gum = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => {
    if (c && c.video) c = { ...c, video: { width: { exact: 960 }, height: { exact: 540 }, frameRate: { ideal: 15, max: 15 } } };
    return gum(c);
  };
})();`

// videoWidthJS reads the width of the video a tile plays, 0 if none.
func videoWidthJS(participantID string) string {
	return fmt.Sprintf(`(() => { const v = document.querySelector(%q + ' video'); return v ? v.videoWidth : 0; })()`, tileSelector(participantID))
}

// gridWidthJS sets the width of the page's grid, which sizes its tiles;
// 0 lets it fill the page again.
func gridWidthJS(px int) string {
	w := "''"
	if px > 0 {
		w = fmt.Sprintf("'%dpx'", px)
	}
	return `(() => { const g = document.querySelector('[data-testid="grid"]'); g.style.maxWidth = ` + w + `; g.style.width = ` + w + `; return true; })()`
}

// fullUplinkScript makes a publishing Chromium send at 2 Mbit/s or more
// whatever its own bandwidth estimate says (x-google-min-bitrate on the
// video codecs of every answer it is given). The tests of the SFU's
// choice among layers need all the layers; the publisher's uplink is not
// what they test, and on two busy cores Chromium's estimate of it can
// stay at the low layer for minutes.
const fullUplinkScript = `(() => {
  const set = RTCPeerConnection.prototype.setRemoteDescription;
  RTCPeerConnection.prototype.setRemoteDescription = function (desc, ...rest) {
    if (desc && desc.type === 'answer' && typeof desc.sdp === 'string') {
      const lines = desc.sdp.split('\r\n');
      const out = [];
      for (const line of lines) {
        out.push(line);
        const m = /^a=rtpmap:(\d+) VP8\/90000/.exec(line);
        if (m && !lines.some(l => l.startsWith('a=fmtp:' + m[1] + ' ')))
          out.push('a=fmtp:' + m[1] + ' x-google-min-bitrate=2000;x-google-start-bitrate=2000');
      }
      desc = { type: desc.type, sdp: out.join('\r\n') };
    }
    return set.call(this, desc, ...rest);
  };
})()`

// publisherRampWait is how long a publishing browser may take to send
// all its simulcast layers.
const publisherRampWait = 90 * time.Second

// sentLayer is a video layer p's browser is sending.
type sentLayer struct {
	RID       string  `json:"rid"`
	Width     float64 `json:"width"`
	FPS       float64 `json:"fps"`
	LimitedBy string  `json:"limitedBy"`
}

// sentLayers lists the video layers p's browser sends at a frame a
// second or more, with what limits their quality.
func sentLayers(p *tab) []sentLayer {
	return evalJS[[]sentLayer](p, `(async () => {
		const out = [];
		for (const pc of window.__e2e.pcs) {
			if (pc.connectionState === 'closed') continue;
			(await pc.getStats()).forEach(s => {
				if (s.type === 'outbound-rtp' && s.kind === 'video' && (s.framesPerSecond || 0) >= 1)
					out.push({ rid: s.rid || '', width: s.frameWidth || 0, fps: s.framesPerSecond, limitedBy: s.qualityLimitationReason || '' });
			});
		}
		return out;
	})()`)
}

// waitThreeLayers waits for p's browser to send three simulcast layers.
func waitThreeLayers(t *testing.T, p *tab) {
	t.Helper()
	var sent []sentLayer
	for deadline := time.Now().Add(publisherRampWait); len(sent) < 3; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the publisher's browser sends %+v after %s, not three layers", sent, publisherRampWait)
		}
		sent = sentLayers(p)
	}
}

// TestSimulcastTileSizes is issue 16's first check, in Chromium with a
// 960x540 fake camera, in a room that always uses the SFU. The publisher
// sends three layers; a viewer who shows it in a small tile receives the
// low layer (at most 320 wide), while a viewer with a large tile receives
// the top layer. The small tile grows: within 2 s its video is the top
// layer, and no frame gap over 500 ms happened on the way. The layers
// follow the tiles alone (FixedLayers): four Chromium tabs and a -race
// server on two cores starve the viewers' browsers into losing packets,
// which the bandwidth estimate rightly answers by holding layers down;
// e2e/bandwidth_test.go tests the estimate.
func TestSimulcastTileSizes(t *testing.T) {
	srv := startAppWith(t, func(c *app.Config) { c.MeshMax, c.FixedLayers = -1, true })
	b := newBrowser(t)
	api := srv.newAPIClient()
	room := api.createRoom("Simulcast")
	open := func(name, script string) *tab {
		p := b.newIdentity(name)
		p.addInitScript(probeScript)
		p.addInitScript(script)
		p.navigate(srv.roomURL(room.ID, url.Values{"name": {name}, "join": {"1"}}))
		return p
	}
	publisher := open("Publisher", qhdCameraScript+";"+fullUplinkScript)
	pubID := waitFor[string](publisher, simulcastWait, "my own tile is shown",
		`document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)
	small := open("Small", smallCameraScript)
	large := open("Large", smallCameraScript)
	for _, p := range []*tab{small, large} {
		waitFramesAdvance(p, tileSelector(pubID), 1, simulcastWait)
	}
	// What follows tests the SFU's choice among the layers, so it waits
	// for the publisher's browser to send all three: on two busy cores
	// its bandwidth estimate can keep it on the low layer for most of a
	// minute.
	waitThreeLayers(t, publisher)
	evalJS[bool](small, gridWidthJS(240))
	// Three tiles side by side on a wide screen: each over 530 pixels
	// wide, more than the middle layer (480) covers.
	large.setViewport(1920, 1080)
	lowWidth := waitFor[float64](small, simulcastWait, "the small tile plays the low layer",
		`(() => { const w = `+videoWidthJS(pubID)+`; return w > 0 && w <= 320 && w; })()`)
	// The top layer is 960 wide, unless the publisher's browser scales it
	// down for lack of CPU (four tabs on two cores): the large tile plays
	// a layer over the middle layer's 480, or the widest one sent.
	var topWidth float64
	var sent []sentLayer
	for deadline := time.Now().Add(simulcastWait); ; time.Sleep(200 * time.Millisecond) {
		topWidth, sent = evalJS[float64](large, videoWidthJS(pubID)), sentLayers(publisher)
		widest := 0.0
		for _, l := range sent {
			widest = max(widest, l.Width)
		}
		if topWidth > 480 || (widest > 0 && topWidth >= widest) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the large tile plays a layer %.0f wide after %s; the publisher sends %+v", topWidth, simulcastWait, sent)
		}
	}
	t.Logf("small tile: %.0f wide; large tile: %.0f wide; the publisher sends %+v", lowWidth, topWidth, sent)
	waitFramesAdvance(small, tileSelector(pubID), 1, simulcastWait)

	// The small tile grows: the top layer within 2 s, without a freeze.
	// The window grows first, and the measure starts once the small tile
	// plays on in it: what is measured is the tile's growth alone.
	small.setViewport(1920, 1080)
	waitFramesAdvance(small, tileSelector(pubID), 1, simulcastWait)
	start := evalJS[float64](small, `performance.now()`)
	evalJS[bool](small, gridWidthJS(0))
	// Switched up: at least twice the low layer's width (the same
	// allowance for the publisher's CPU as above).
	up := waitFor[float64](small, simulcastWait, "the grown tile plays a higher layer",
		fmt.Sprintf(`(() => { const w = `+videoWidthJS(pubID)+`; return w >= %f && performance.now(); })()`, 2*lowWidth))
	time.Sleep(time.Second)
	type gap struct {
		Tile     string  `json:"tile"`
		MaxGapMs float64 `json:"maxGapMs"`
	}
	var worst float64
	for _, g := range evalJS[[]gap](small, fmt.Sprintf(`window.__e2e.gaps(%f, performance.now())`, start)) {
		if g.Tile == pubID {
			worst = max(worst, g.MaxGapMs)
		}
	}
	t.Logf("layer switch up: %.0f ms after the resize; longest frame gap %.0f ms", up-start, worst)
	if up-start > 2000 {
		t.Errorf("the grown tile took %.0f ms to play a higher layer, want at most 2 s", up-start)
	}
	if worst > 500 {
		t.Errorf("a frame gap of %.0f ms during the switch up, want at most 500 ms", worst)
	}
	st := srv.metric("meet_sfu_layer_switches_total")
	t.Logf("layer switches counted: %.0f", st)
}

// TestAudioOnlyReceivesNoVideo is issue 16's audio-only check: in an SFU
// room, a listener who turns on audio only gets no video packet from the
// server (its counters stand still while the sound's go on, and the video
// counts as unwatched), and gets the video back when it turns it off.
func TestAudioOnlyReceivesNoVideo(t *testing.T) {
	srv := startAppWith(t, func(c *app.Config) { c.MeshMax = -1 })
	b := newBrowser(t)
	room := srv.newAPIClient().createRoom("Data saver")
	publisher := b.newIdentity("Publisher")
	publisher.addInitScript(probeScript)
	publisher.addInitScript(smallCameraScript)
	publisher.navigate(srv.roomURL(room.ID, url.Values{"name": {"Publisher"}, "join": {"1"}}))
	pubID := waitFor[string](publisher, simulcastWait, "my own tile is shown",
		`document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)
	// The listener only receives: the only video the SFU sends is to it.
	listener := b.newIdentity("Listener")
	listener.addInitScript(probeScript)
	listener.navigate(srv.roomURL(room.ID, url.Values{"name": {"Listener"}, "spectator": {"1"}, "join": {"1"}}))
	waitFramesAdvance(listener, tileSelector(pubID), 1, simulcastWait)

	// Audio only is a box in the Devices dialog.
	toggleAudioOnly := func() {
		listener.click(`[data-testid="device-settings"]`)
		listener.click(`[data-testid="audio-only"]`)
		listener.click(`[data-testid="devices-close"]`)
	}
	toggleAudioOnly()
	waitFor[bool](listener, simulcastWait, "the audio-only box is ticked",
		`document.querySelector('[data-testid="audio-only"]').checked`)
	deadline := time.Now().Add(simulcastWait)
	for srv.metric("meet_sfu_unwatched_videos") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the server never counted the listener's video as unwatched")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // what was queued goes out
	video0, all0 := srv.metric("meet_sfu_forwarded_video_packets_total"), srv.metric("meet_sfu_forwarded_packets_total")
	time.Sleep(3 * time.Second)
	video1, all1 := srv.metric("meet_sfu_forwarded_video_packets_total"), srv.metric("meet_sfu_forwarded_packets_total")
	t.Logf("in 3 s of audio only: %.0f video packets sent, %.0f packets in all", video1-video0, all1-all0)
	if video1 != video0 {
		t.Errorf("the SFU sent %.0f video packets to an audio-only listener", video1-video0)
	}
	if all1-all0 < 50 {
		t.Errorf("only %.0f packets in 3 s: the sound stopped too", all1-all0)
	}
	if visible := evalJS[string](listener, `getComputedStyle(document.querySelector(`+jsonString(tileSelector(pubID)+` video`)+`)).visibility`); visible != "hidden" {
		t.Errorf("the audio-only tile's video is %s, want hidden", visible)
	}

	toggleAudioOnly()
	waitFramesAdvance(listener, tileSelector(pubID), 1, simulcastWait)
	if n := srv.metric("meet_sfu_unwatched_videos"); n != 0 {
		t.Errorf("%.0f videos still unwatched after audio only went off", n)
	}
}

// TestActiveSpeaker is issue 16's active speaker and last-N: in a
// five-person SFU room where only one microphone is on (Chromium's fake
// one, a tone), that person's tile rings as the dominant speaker on
// everyone's page, and the ring moves when another speaks instead. With
// -last-n 2, each page then plays exactly the videos of the two who spoke
// last, shows the two others as avatars, and the server counts those as
// held back.
func TestActiveSpeaker(t *testing.T) {
	srv := startAppWith(t, func(c *app.Config) { c.MeshMax, c.LastN = -1, 2 })
	b := newBrowser(t)
	room := srv.newAPIClient().createRoom("Who speaks")
	var tabs []*tab
	var ids []string
	for i := range 5 {
		name := fmt.Sprintf("P%d", i+1)
		p := b.newIdentity(name)
		p.addInitScript(probeScript)
		p.addInitScript(smallCameraScript)
		p.navigate(srv.roomURL(room.ID, url.Values{"name": {name}, "join": {"1"}}))
		ids = append(ids, waitFor[string](p, simulcastWait, "my own tile is shown",
			`document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`))
		// Every microphone starts muted.
		waitFor[bool](p, simulcastWait, "the microphone is on", `document.querySelector('[data-testid="toggle-mic"]').getAttribute('aria-pressed') === 'true'`)
		p.click(`[data-testid="toggle-mic"]`)
		waitFor[bool](p, simulcastWait, "the microphone is off", `document.querySelector('[data-testid="toggle-mic"]').getAttribute('aria-pressed') === 'false'`)
		tabs = append(tabs, p)
	}
	for _, p := range tabs {
		waitFor[bool](p, simulcastWait, "the room uses the SFU", `document.querySelector('[data-testid="room"]')?.getAttribute('data-mode') === 'sfu'`)
	}
	speaking := func(p *tab, id string) string {
		return fmt.Sprintf(`!!document.querySelector('[data-participant-id=%q][data-speaking]')`, id)
	}
	for _, speaker := range []int{2, 4} {
		tabs[speaker].click(`[data-testid="toggle-mic"]`)
		start := time.Now()
		observer := tabs[(speaker+1)%5]
		waitFor[bool](observer, simulcastWait, ids[speaker]+" rings as the speaker", speaking(observer, ids[speaker]))
		t.Logf("P%d became the active speaker %v after turning the microphone on", speaker+1, time.Since(start).Round(10*time.Millisecond))
		for i, p := range tabs {
			if i != speaker {
				waitFor[bool](p, simulcastWait, "everyone sees the same speaker", speaking(p, ids[speaker]))
			}
		}
		tabs[speaker].click(`[data-testid="toggle-mic"]`)
	}

	// Last-N 2: P1 plays P5's and P3's videos, the last two speakers, and
	// holds P2's and P4's.
	p1 := tabs[0]
	for _, i := range []int{1, 3} {
		waitFor[bool](p1, simulcastWait, fmt.Sprintf("P%d shows as held back", i+1),
			fmt.Sprintf(`!!document.querySelector('[data-participant-id=%q][data-held]')`, ids[i]))
	}
	for _, i := range []int{2, 4} {
		if evalJS[bool](p1, fmt.Sprintf(`!!document.querySelector('[data-participant-id=%q][data-held]')`, ids[i])) {
			t.Errorf("P%d, a recent speaker, is held back on P1's page", i+1)
		}
		waitFramesAdvance(p1, tileSelector(ids[i]), 1, simulcastWait)
	}
	for _, i := range []int{1, 3} {
		before := videoStats(p1, tileSelector(ids[i]))
		time.Sleep(time.Second)
		if problem := framesProblem(before, videoStats(p1, tileSelector(ids[i])), 1); problem == "" {
			t.Errorf("P%d's video still plays on P1's page while held back", i+1)
		}
	}
	// Each of the five receives two of the four videos: ten held back.
	deadline := time.Now().Add(simulcastWait)
	for {
		held := srv.metric("meet_sfu_last_n_held_videos")
		if held == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server holds back %.0f videos, want 10", held)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
