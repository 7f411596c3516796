package e2e

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// whepPlayerScript plays a room's stage in the page over WHEP, as a web
// player on a hallway screen would: one receive-only connection, one POST
// with the offer, the answer applied; every frame the video presents is
// counted, with the longest time between two and the widths it had.
const whepPlayerScript = `(async (path, token) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', {direction: 'recvonly'});
  pc.addTransceiver('audio', {direction: 'recvonly'});
  const video = document.createElement('video');
  video.muted = true; video.autoplay = true; video.playsInline = true;
  document.body.append(video);
  const w = window.__whep = {frames: 0, last: 0, maxGap: 0, width: 0, widths: []};
  pc.ontrack = (e) => {
    if (e.track.kind !== 'video') return;
    video.srcObject = new MediaStream([e.track]);
    video.play().catch(() => {});
    const tick = (now, meta) => {
      if (w.last) w.maxGap = Math.max(w.maxGap, now - w.last);
      w.last = now; w.frames++;
      if (meta.width !== w.width) { w.width = meta.width; w.widths.push(meta.width); }
      video.requestVideoFrameCallback(tick);
    };
    video.requestVideoFrameCallback(tick);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === 'complete') return done();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && done();
  });
  const res = await fetch(path, {method: 'POST', body: pc.localDescription.sdp,
    headers: {'Content-Type': 'application/sdp', 'Authorization': 'Bearer ' + token}});
  const body = await res.text();
  if (res.status !== 201) return 'POST answered ' + res.status + ': ' + body;
  window.__whepLocation = res.headers.get('Location');
  await pc.setRemoteDescription({type: 'answer', sdp: body});
  return 'ok';
})`

// TestWHEPPlayerFollowsTheStage: Chromium plays a room's stage over WHEP
// while two studios (WHIP, real VP8 pictures of two sizes) are on it: it
// shows the first; when that one leaves, the same track goes on with the
// second, whose picture the player decodes, and the frames keep coming.
func TestWHEPPlayerFollowsTheStage(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		skipOrFail(t, "ffmpeg is missing (make test installs it)")
	}
	large, small := vp8FramesSized(t, "640x360"), vp8FramesSized(t, "320x180")
	srv := startApp(t)
	owner := srv.newAPIClient()
	room := owner.createRoom("Hallway screen")
	var me struct {
		Token string `json:"token"`
	}
	owner.call("GET", "/api/me", nil, http.StatusOK, &me)
	first, stopFirst := startStudio(t, srv, room.ID, me.Token, large)
	defer stopFirst()
	_, stopSecond := startStudio(t, srv, room.ID, me.Token, small)
	defer stopSecond()

	b := newBrowser(t)
	player := b.newIdentity("Hall")
	player.navigate(srv.URL + "/")
	started := time.Now()
	if got := evalJS[string](player, whepPlayerScript+`(`+jsonString("/api/rooms/"+room.ID+"/whep")+`, `+jsonString(me.Token)+`)`); got != "ok" {
		t.Fatalf("the WHEP player: %s", got)
	}
	waitFor[bool](player, switchWait, "the player shows the first studio",
		`window.__whep.frames > 30 && window.__whep.width === 640`)
	t.Logf("whep_first_frames_ms=%d", time.Since(started).Milliseconds())

	evalJS[bool](player, `(window.__whep.maxGap = 0, true)`)
	frames := evalJS[int](player, `window.__whep.frames`)
	moved := time.Now()
	if code := httpDelete(t, srv, first, me.Token); code != http.StatusOK {
		t.Fatalf("DELETE the first studio: %d", code)
	}
	waitFor[bool](player, switchWait, "the player shows the second studio",
		`window.__whep.width === 320 && window.__whep.frames > `+jsonString(frames+30))
	type stats struct {
		Frames int     `json:"frames"`
		MaxGap float64 `json:"maxGap"`
		Widths []int   `json:"widths"`
	}
	st := evalJS[stats](player, `window.__whep`)
	t.Logf("whep_switch_ms=%d longest frame gap across it %.0f ms, widths %v, frames %d",
		time.Since(moved).Milliseconds(), st.MaxGap, st.Widths, st.Frames)
	if st.MaxGap > 1500 {
		t.Errorf("the player's picture stopped for %.0f ms as the stage changed", st.MaxGap)
	}

	location := evalJS[string](player, `window.__whepLocation`)
	if !strings.HasPrefix(location, "/api/whep/") {
		t.Fatalf("Location %q", location)
	}
	if code := httpDelete(t, srv, location, ""); code != http.StatusOK {
		t.Fatalf("DELETE the WHEP session: %d", code)
	}
}
