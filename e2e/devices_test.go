package e2e

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"testing"
	"time"

	"meet/protocol"
)

// devicesWait bounds each wait of the device test.
const devicesWait = 30 * time.Second

// Selectors of the device picker (frontend/room.html, devicesettings.js).
const (
	deviceCamera     = `[data-testid="device-camera"]`
	deviceMicrophone = `[data-testid="device-microphone"]`
	deviceSpeaker    = `[data-testid="device-speaker"]`
	micLevel         = `[data-testid="mic-level"]`
	deviceSettings   = `[data-testid="device-settings"]`
	devicesDialog    = `[data-testid="devices-dialog"]`
	devicesClose     = `[data-testid="devices-close"]`
)

// deviceOption is one <option> of a device select.
type deviceOption struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// TestDevices is issue 12's device choice, in real Chromium with its fake
// devices (three cameras with the device-count=3 flag of chromiumFlags, three
// microphones and three speakers): the pre-join screen lists them and its
// microphone meter moves; in a mesh call one person switches camera and
// microphone in the Devices dialog, and the RTCRtpSenders carry the new
// devices' tracks with no new offer while the other person keeps getting
// frames and the paused microphone stays paused; sound moves to the chosen
// speaker; a camera that ends falls back to the default one with a toast;
// and after a reload the pre-join screen and its preview use the remembered
// devices.
func TestDevices(t *testing.T) {
	srv := startApp(t)
	api := srv.newAPIClient()
	room := api.createRoom("Devices e2e")
	b := newBrowser(t)

	// --- pre-join: the lists, the meter, the preview -------------------
	a := b.newIdentity("Ana")
	a.addInitScript(probeScript)
	a.addInitScript(keepSocketScript)
	a.navigate(srv.roomURL(room.ID, url.Values{"name": {"Ana"}}))
	cams := waitDeviceOptions(a, deviceCamera, 3)
	mics := waitDeviceOptions(a, deviceMicrophone, 2)
	speakers := waitDeviceOptions(a, deviceSpeaker, 2)
	t.Logf("cameras %v\nmicrophones %v\nspeakers %v", cams, mics, speakers)
	if !evalJS[bool](a, `!document.querySelector('[data-testid="device-speaker"]').disabled`) {
		t.Fatalf("the speaker select is disabled in Chromium, which has setSinkId")
	}
	waitFor[string](a, devicesWait, "the pre-join preview plays the camera in use",
		previewDeviceJS+` === document.querySelector('[data-testid="device-camera"]').value && `+previewDeviceJS)
	meter := waitMicMeterMoves(a)
	t.Logf("pre-join mic level: %s", jsonString(meter))
	saveDeviceScreenshots(a, "devices-prejoin")

	// --- two people in a mesh call ---------------------------------------
	a.click(`[data-testid="join"]`)
	bo := b.newIdentity("Bo")
	bo.addInitScript(probeScript)
	bo.navigate(srv.roomURL(room.ID, url.Values{"name": {"Bo"}, "join": {"1"}}))
	for _, p := range []*tab{a, bo} {
		waitFor[bool](p, devicesWait, "the room is in mesh mode",
			`document.querySelector('[data-testid="room"]')?.getAttribute('data-mode') === 'mesh'`)
	}
	aID := waitFor[string](a, devicesWait, "my own tile", `document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)
	boID := waitFor[string](bo, devicesWait, "my own tile", `document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)
	devicesWaitRemoteTile(a, boID)
	devicesWaitRemoteTile(bo, aID)
	waitFramesAdvance(bo, tileSelector(aID), 1, devicesWait)
	waitFramesAdvance(a, tileSelector(boID), 1, devicesWait)

	// The Devices dialog opens from the controls bar; its meter moves.
	saveDeviceScreenshots(a, "devices-room")
	a.click(deviceSettings)
	waitFor[bool](a, devicesWait, "the Devices dialog is open", `document.querySelector('[data-testid="devices-dialog"]').open`)
	meter = waitMicMeterMoves(a)
	t.Logf("in-call mic level: %s", jsonString(meter))
	saveDeviceScreenshots(a, "devices-dialog")
	a.click(devicesClose)
	waitFor[bool](a, devicesWait, "the Devices dialog is closed, its meter stopped",
		`!document.querySelector('[data-testid="devices-dialog"]').open && document.querySelector('[data-testid="mic-level"]').dataset.level === '0.00'`)

	// Ana mutes her microphone, then switches camera and microphone.
	a.click(`[data-testid="toggle-mic"]`)
	api.waitParticipants(room.ID, "Ana's microphone is paused", devicesWait, func(list []protocol.Participant) bool {
		p, ok := find(list, aID)
		return ok && p.Media[protocol.SourceMicrophone] == protocol.TrackPaused
	})
	before := deviceSenders(a)
	t.Logf("senders before: %s", jsonString(before))
	// The probe's WebSocket log keeps only the last 300 lines: count the
	// offers from now on, by their time stamps.
	sinceA, sinceBo := pageNow(a), pageNow(bo)
	negotiationsBefore := devCountNegotiationNeeded(a)
	// The tracks the switch replaces: media.js stops them only once every
	// connection has taken the new ones (replaceTrack, or the removeTrack
	// and addTrack of its renegotiating fallback), so their end is the
	// switch done.
	evalJS[bool](a, `(window.__replacedTracks = window.__e2e.pcs.filter(pc => pc.connectionState !== 'closed')
		.flatMap(pc => pc.getSenders()).map(s => s.track).filter(Boolean)).length > 0`)

	a.click(deviceSettings)
	waitFor[bool](a, devicesWait, "the Devices dialog is open again", `document.querySelector('[data-testid="devices-dialog"]').open`)
	// Chromium's second fake camera (index 1) emulates a depth camera,
	// whose 16-bit frames WebRTC does not encode: take the third.
	newCam := otherDeviceOption(t, cams[2:], evalJS[string](a, `document.querySelector('[data-testid="device-camera"]').value`))
	newMic := otherDeviceOption(t, mics, evalJS[string](a, `document.querySelector('[data-testid="device-microphone"]').value`))
	newSpeaker := otherDeviceOption(t, speakers, evalJS[string](a, `document.querySelector('[data-testid="device-speaker"]').value`))
	pickDevice(a, deviceCamera, newCam.Value)
	pickDevice(a, deviceMicrophone, newMic.Value)
	pickDevice(a, deviceSpeaker, newSpeaker.Value)

	after := waitFor[[]deviceSenderInfo](a, devicesWait, "every connection sends the new camera and microphone",
		fmt.Sprintf(`(() => { const s = %s; return s.length > 0 && s.every(x => x.video === %q && x.audio === %q) && s; })()`,
			deviceSendersJS, newCam.Value, newMic.Value))
	t.Logf("senders after: %s", jsonString(after))
	waitFor[bool](a, devicesWait, "the replaced camera and microphone are stopped: every connection has the new ones",
		`window.__replacedTracks.every(t => t.readyState === 'ended')`)
	// A renegotiation needs a transceiver added, removed or redirected
	// (the fallback's removeTrack and addTrack): once the switch is done,
	// unchanged transceivers show that none is coming.
	after = deviceSenders(a)
	if len(after) != len(before) {
		t.Errorf("%d connections after the switch, %d before", len(after), len(before))
	}
	for i, s := range after {
		if !s.VideoEnabled {
			t.Errorf("connection %d: the camera, live before, is off after the switch", i)
		}
		if s.AudioEnabled {
			t.Errorf("connection %d: the microphone, muted before, is on after the switch", i)
		}
		if i < len(before) && (s.Mids != before[i].Mids) {
			t.Errorf("connection %d: transceivers changed (%s -> %s): the switch renegotiated", i, before[i].Mids, s.Mids)
		}
	}
	waitFor[bool](a, devicesWait, "sound plays on the chosen speaker",
		fmt.Sprintf(`(() => { const a = [...document.querySelectorAll('audio')]; return a.length > 0 && a.every(x => x.sinkId === %q); })()`, newSpeaker.Value))
	// Bo keeps getting Ana's video, and nobody negotiated again: Ana's log
	// holds what she sent, and a marker she sends now reaches Bo after
	// anything she sent before it.
	waitFramesAdvance(bo, tileSelector(aID), 1, devicesWait)
	sendMarker(a, bo, sinceBo)
	if n := countWSSince(a, " out signal offer", sinceA); n != 0 {
		t.Errorf("Ana sent %d offers after the switch: it renegotiated", n)
	}
	if n := countWSSince(bo, " in signal offer", sinceBo); n != 0 {
		t.Errorf("Bo got %d offers after the switch", n)
	}
	if n := devCountNegotiationNeeded(a); n != negotiationsBefore {
		t.Errorf("negotiationneeded fired %d times after the switch (%d before)", n, negotiationsBefore)
	}
	list := api.participants(room.ID)
	if p, ok := find(list, aID); !ok || p.Media[protocol.SourceMicrophone] != protocol.TrackPaused || p.Media[protocol.SourceCamera] != protocol.TrackLive {
		t.Errorf("Ana's media after the switch: %v, want camera live and microphone paused", p.Media)
	}
	waitFor[bool](bo, devicesWait, "Bo sees Ana's microphone still off",
		fmt.Sprintf(`!!document.querySelector(%q)`, tileSelector(aID)+" .tile-mic.is-off"))

	// The camera in use ends (as when unplugged): the default one takes its
	// place on the same senders, with a toast, and Bo still gets frames.
	a.click(devicesClose)
	evalJS[bool](a, `(() => { const s = window.__e2e.pcs.flatMap(pc => pc.getSenders()).find(s => s.track && s.track.kind === 'video'); s.track.dispatchEvent(new Event('ended')); return true; })()`)
	fallback := waitFor[[]deviceSenderInfo](a, devicesWait, "the default camera replaces the one that ended",
		fmt.Sprintf(`(() => { const s = %s; return s.length > 0 && s.every(x => x.video && x.video !== %q) && s; })()`, deviceSendersJS, newCam.Value))
	t.Logf("senders after the fallback: %s", jsonString(fallback))
	waitFor[bool](a, devicesWait, "a toast tells about the fallback",
		`[...document.querySelectorAll('.toast-text')].some(e => e.textContent.includes('camera was disconnected'))`)
	waitFramesAdvance(bo, tileSelector(aID), 1, devicesWait)
	if n := countWSSince(a, " out signal offer", sinceA); n != 0 {
		t.Errorf("Ana sent %d offers after the switch and the fallback", n)
	}

	// --- the choice survives a reload ------------------------------------
	a.navigate(srv.roomURL(room.ID, url.Values{"name": {"Ana"}}))
	waitFor[bool](a, devicesWait, "the pre-join screen shows the remembered devices",
		fmt.Sprintf(`document.querySelector(%q).value === %q && document.querySelector(%q).value === %q && document.querySelector(%q).value === %q`,
			deviceCamera, newCam.Value, deviceMicrophone, newMic.Value, deviceSpeaker, newSpeaker.Value))
	waitFor[bool](a, devicesWait, "the preview plays the remembered camera", fmt.Sprintf(`%s === %q`, previewDeviceJS, newCam.Value))
	stored := evalJS[string](a, `localStorage.getItem('meet.devices')`)
	t.Logf("remembered: %s", stored)

	// The preview follows a camera picked on the pre-join screen.
	pickDevice(a, deviceCamera, cams[0].Value)
	waitFor[bool](a, devicesWait, "the preview follows the camera picked", fmt.Sprintf(`%s === %q`, previewDeviceJS, cams[0].Value))
}

// previewDeviceJS is the deviceId of the camera the pre-join preview plays.
const previewDeviceJS = `(document.getElementById('preview-video').srcObject?.getVideoTracks()[0]?.getSettings().deviceId || '')`

// deviceSenderInfo is what one RTCPeerConnection of the page sends.
type deviceSenderInfo struct {
	Video        string `json:"video"`
	Audio        string `json:"audio"`
	VideoEnabled bool   `json:"videoEnabled"`
	AudioEnabled bool   `json:"audioEnabled"`
	Mids         string `json:"mids"`
}

// deviceSendersJS lists, for each open RTCPeerConnection the probe kept, the
// deviceId of the camera and microphone tracks its senders carry.
const deviceSendersJS = `window.__e2e.pcs.filter(pc => pc.connectionState !== 'closed').map(pc => {
  const s = pc.getSenders();
  const v = s.find(x => x.track && x.track.kind === 'video');
  const a = s.find(x => x.track && x.track.kind === 'audio');
  return {
    video: v ? v.track.getSettings().deviceId : '', audio: a ? a.track.getSettings().deviceId : '',
    videoEnabled: !!(v && v.track.enabled), audioEnabled: !!(a && a.track.enabled),
    mids: pc.getTransceivers().map(t => t.mid + ':' + t.direction).join(','),
  };
})`

func deviceSenders(tb *tab) []deviceSenderInfo {
	tb.t.Helper()
	return evalJS[[]deviceSenderInfo](tb, deviceSendersJS)
}

// waitDeviceOptions waits until the select lists at least min devices, and
// returns them.
func waitDeviceOptions(tb *tab, sel string, min int) []deviceOption {
	tb.t.Helper()
	return waitFor[[]deviceOption](tb, devicesWait, fmt.Sprintf("%s lists at least %d devices", sel, min),
		fmt.Sprintf(`(() => { const o = [...document.querySelectorAll(%q)].map(o => ({value: o.value, label: o.textContent}))
			.filter(o => o.value); return o.length >= %d && o; })()`, sel+" option", min))
}

// otherDeviceOption returns an option other than current.
func otherDeviceOption(t *testing.T, opts []deviceOption, current string) deviceOption {
	t.Helper()
	i := slices.IndexFunc(opts, func(o deviceOption) bool { return o.Value != current && o.Value != "default" })
	if i < 0 {
		t.Fatalf("no device other than %q in %v", current, opts)
	}
	return opts[i]
}

// pickDevice chooses a device in a select as a person does: the value
// changes and the select fires "change".
func pickDevice(tb *tab, sel, value string) {
	tb.t.Helper()
	ok := evalJS[bool](tb, fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q;
		s.dispatchEvent(new Event('change', {bubbles: true})); return s.value === %q; })()`, sel, value, value))
	if !ok {
		tb.t.Fatalf("%s: %s has no option %q", tb.name, sel, value)
	}
}

// micMeterReading is what the mic-level meter showed over a few seconds.
type micMeterReading struct {
	Max      float64 `json:"max"`
	Distinct int     `json:"distinct"`
	Role     string  `json:"role"`
	Aria     string  `json:"aria"`
}

// waitMicMeterMoves waits until the microphone meter, sampled every 50 ms for
// 3 s, rises above silence and takes several values (Chromium's fake
// microphone beeps).
func waitMicMeterMoves(tb *tab) micMeterReading {
	tb.t.Helper()
	return waitFor[micMeterReading](tb, devicesWait, "the microphone level meter moves",
		fmt.Sprintf(`(async () => {
			const m = document.querySelector(%q); const seen = []; let aria = '0';
			for (let i = 0; i < 60; i++) {
				seen.push(parseFloat(m.dataset.level));
				if (m.getAttribute('aria-valuenow') !== '0') aria = m.getAttribute('aria-valuenow');
				await new Promise(r => setTimeout(r, 50));
			}
			const r = { max: Math.max(...seen), distinct: new Set(seen).size, role: m.getAttribute('role'), aria };
			return r.max > 0.05 && r.distinct >= 3 && r.role === 'meter' && r.aria !== '0' && r;
		})()`, micLevel))
}

// pageNow is the page's performance.now(), the clock of the probe's logs.
func pageNow(tb *tab) float64 {
	tb.t.Helper()
	return evalJS[float64](tb, `performance.now()`)
}

// countWSSince counts the probe's WebSocket log lines ("<ms>ms out signal
// offer ...") stamped at or after since that contain what.
func countWSSince(tb *tab, what string, since float64) int {
	tb.t.Helper()
	return evalJS[int](tb, fmt.Sprintf(`window.__e2e.ws.filter(l => l.includes(%q) && parseFloat(l) >= %f).length`, what, since))
}

// devCountNegotiationNeeded counts negotiationneeded events on all the page's
// connections.
func devCountNegotiationNeeded(tb *tab) int {
	tb.t.Helper()
	return evalJS[int](tb, `window.__e2e.pcs.reduce((n, pc) => n + pc.__e2eLog.filter(l => l.endsWith('negotiationneeded')).length, 0)`)
}

// keepSocketScript keeps the WebSocket the page last sent on in
// window.__lastSocket, for the test to send a frame of its own on it.
const keepSocketScript = `(() => {
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) { window.__lastSocket = this; return send.call(this, data); };
})()`

// sendMarker sends a chat message on from's socket (keepSocketScript) and
// waits until to has it. The server handles one participant's frames in
// order and queues each to the others in that order, so once to has the
// marker it has every frame from sent before it: to's log of what it got
// (probeScript) is complete up to there.
func sendMarker(from, to *tab, toSince float64) {
	from.t.Helper()
	evalJS[bool](from, `(window.__lastSocket.send(JSON.stringify({type: 'chat-send', text: 'marker', clientId: 'e2e-marker-' + performance.now()})), true)`)
	waitFor[bool](to, devicesWait, to.name+" got the marker "+from.name+" sent",
		fmt.Sprintf(`window.__e2e.ws.some(l => l.includes(' in chat-message') && parseFloat(l) >= %f)`, toSince))
}

// devicesWaitRemoteTile waits for exactly the remote tile of id.
func devicesWaitRemoteTile(tb *tab, id string) {
	tb.t.Helper()
	waitFor[bool](tb, devicesWait, "the other person's tile is shown",
		fmt.Sprintf(`document.querySelectorAll(%q).length === 1 && !!document.querySelector(%q)`, remoteTiles, tileSelector(id)))
}

// saveDeviceScreenshots saves a screenshot of the tab at desktop and at
// phone width to $MEET_E2E_SCREENSHOTS, when that is set.
func saveDeviceScreenshots(tb *tab, name string) {
	if os.Getenv("MEET_E2E_SCREENSHOTS") == "" {
		return
	}
	tb.saveScreenshot(name)
	tb.setViewport(390, 800)
	time.Sleep(300 * time.Millisecond) // let the layout settle
	tb.saveScreenshot(name + "-phone")
	tb.setViewport(1280, 800)
}
