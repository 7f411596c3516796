package e2e

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHarness proves the browser harness without the app, in Chromium and in
// Firefox ESR: the browser in the private namespace opens a page of an httptest server, gets the fake
// camera, connects two RTCPeerConnections over loopback only and plays the
// remote video; it gets a fake screen from getDisplayMedia; and two
// identities have separate cookies while two tabs of one identity share them.
// When this test fails, the environment is at fault, not the app.
func TestHarness(t *testing.T) {
	for _, kind := range []browserKind{chromium, firefox} {
		t.Run(string(kind), func(t *testing.T) { testHarness(t, kind) })
	}
}

func testHarness(t *testing.T, kind browserKind) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, harnessPage)
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("who"); err == nil {
			fmt.Fprint(w, c.Value)
			return
		}
		id := rand.Text()
		http.SetCookie(w, &http.Cookie{Name: "who", Value: id, Path: "/", HttpOnly: true})
		fmt.Fprint(w, id)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)

	b := startBrowser(t, kind, browserOptions{})
	alice := b.newIdentity("alice")
	alice.addInitScript(probeScript)
	alice.navigate(ts.URL + "/")

	// Camera and microphone, and a loopback-only peer connection.
	waitFor[bool](alice, 20*time.Second, "the loopback call is connected",
		`window.state && window.state.connected`)
	cands := evalJS[[]string](alice, `window.state.candidates`)
	if len(cands) == 0 {
		t.Fatal("no ICE candidate was gathered")
	}
	for _, c := range cands {
		if !strings.Contains(c, "127.0.0.1") && !strings.Contains(c, "::1") {
			t.Errorf("candidate %q is not a loopback one", c)
		}
	}
	stats := waitFramesAdvance(alice, `[data-participant-id="camera"]`, 1, 20*time.Second)
	t.Logf("remote camera video: %+v", stats)
	ms := firstRemoteFrameMillis(alice, 5*time.Second)
	t.Logf("loopback call: first remote frame %.0f ms after navigation start", ms)

	// A fake screen from getDisplayMedia, after a real click. Headless
	// Firefox has no screen to capture, fake or real: its getDisplayMedia
	// answers NotFoundError, so screen sharing is tested in Chromium.
	if kind == chromium {
		alice.click(`#share`)
		waitFor[bool](alice, 20*time.Second, "getDisplayMedia gives a screen",
			`window.state.screen || (window.state.screenError && Promise.reject(window.state.screenError))`)
		screen := waitFramesAdvance(alice, `[data-participant-id="screen"]`, 1, 20*time.Second)
		t.Logf("screen video: %+v (label %q)", screen, evalJS[string](alice, `window.state.screenLabel`))
	}

	// Identities: separate browser contexts have separate cookie jars.
	whoami := `fetch('/whoami').then(r => r.text())`
	a1 := evalJS[string](alice, whoami)
	alice2 := alice.newTab("alice-2")
	alice2.navigate(ts.URL + "/whoami")
	a2 := evalJS[string](alice2, whoami)
	bob := b.newIdentity("bob")
	bob.navigate(ts.URL + "/whoami")
	b1 := evalJS[string](bob, whoami)
	if a1 != a2 {
		t.Errorf("two tabs of one identity have different cookies: %q and %q", a1, a2)
	}
	if a1 == b1 {
		t.Errorf("two identities share the cookie %q", a1)
	}
}

const harnessPage = `<!doctype html>
<meta charset="utf-8"><title>harness</title>
<div data-participant-id="camera"><video autoplay playsinline muted></video></div>
<div data-participant-id="screen"><video autoplay playsinline muted></video></div>
<button id="share">share</button>
<script>
const state = window.state = { connected: false, candidates: [] };
(async () => {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
  const pc1 = new RTCPeerConnection(), pc2 = new RTCPeerConnection();
  pc1.onicecandidate = e => { if (e.candidate) { if (e.candidate.candidate) state.candidates.push(e.candidate.candidate); pc2.addIceCandidate(e.candidate); } };
  pc2.onicecandidate = e => { if (e.candidate) pc1.addIceCandidate(e.candidate); };
  pc2.ontrack = e => { document.querySelector('[data-participant-id=camera] video').srcObject = e.streams[0]; };
  pc1.onconnectionstatechange = () => { state.connected = pc1.connectionState === 'connected'; };
  stream.getTracks().forEach(t => pc1.addTrack(t, stream));
  await pc1.setLocalDescription();
  await pc2.setRemoteDescription(pc1.localDescription);
  await pc2.setLocalDescription();
  await pc1.setRemoteDescription(pc2.localDescription);
})().catch(e => { console.error('harness call failed', e); state.error = String(e); });
document.getElementById('share').onclick = async () => {
  try {
    const s = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    state.screenLabel = s.getVideoTracks()[0].label;
    document.querySelector('[data-participant-id=screen] video').srcObject = s;
    state.screen = true;
  } catch (e) {
    console.error('getDisplayMedia failed', e);
    state.screenError = String(e);
  }
};
</script>`
