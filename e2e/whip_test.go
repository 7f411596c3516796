package e2e

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"

	"meet/protocol"
	"meet/sfu/sfuclient"
)

// TestWHIPStudioOnStage: an encoder publishes a real VP8 picture (made by
// ffmpeg) into a room over WHIP with the owner's token, as a studio
// would; a Chromium participant sees a "Studio" tile whose video keeps
// presenting frames. DELETE on the session ends it and the tile goes.
func TestWHIPStudioOnStage(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		skipOrFail(t, "ffmpeg is missing (make test installs it)")
	}
	frames := vp8Frames(t)
	srv := startApp(t)
	owner := srv.newAPIClient()
	room := owner.createRoom("Studio lesson")
	var me struct {
		Token string `json:"token"`
	}
	owner.call("GET", "/api/me", nil, http.StatusOK, &me)

	b := newBrowser(t)
	viewer := b.newIdentity("Viewer")
	viewer.addInitScript(probeScript)
	viewer.navigate(srv.roomURL(room.ID, url.Values{"name": {"Viewer"}, "join": {"1"}}))
	waitFor[string](viewer, switchWait, "my own tile is shown",
		`document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)

	started := time.Now()
	location, stop := startStudio(t, srv, room.ID, me.Token, frames)
	defer stop()
	session := strings.TrimPrefix(location, "/api/whip/")
	t.Logf("whip_answer_ms=%d", time.Since(started).Milliseconds())

	waitFor[bool](viewer, switchWait, "the studio's tile is shown",
		`!!document.querySelector(`+jsonString(tileSelector(session))+`)`)
	name := evalJS[string](viewer, `document.querySelector(`+jsonString(tileSelector(session))+`).getAttribute('aria-label') || ''`)
	if !strings.Contains(name, "Studio") {
		t.Errorf("the studio's tile is labelled %q", name)
	}
	stats := waitFramesAdvance(viewer, tileSelector(session), 1, switchWait)
	t.Logf("the studio's video on the viewer's page: %s; whip_first_frame_ms=%d", jsonString(stats), time.Since(started).Milliseconds())
	if m := owner.room(room.ID); m.Mode != protocol.ModeSFU || len(m.Stage) != 1 {
		t.Errorf("the room with a studio in it: %+v", m)
	}

	if code := httpDelete(t, srv, location, me.Token); code != http.StatusOK {
		t.Fatalf("WHIP DELETE: %d", code)
	}
	waitFor[bool](viewer, switchWait, "the studio's tile is gone",
		`!document.querySelector(`+jsonString(tileSelector(session))+`)`)
}

// vp8Frames is 4 s of a moving test picture, 640x360 at 30 frames/s, in
// VP8 by ffmpeg (libvpx), a keyframe a second.
func vp8Frames(t *testing.T) [][]byte { return vp8FramesSized(t, "640x360") }

// vp8FramesSized is vp8Frames at another size.
func vp8FramesSized(t *testing.T, size string) [][]byte {
	t.Helper()
	ivf := filepath.Join(t.TempDir(), "studio-"+size+".ivf")
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size="+size+":rate=30", "-t", "4",
		"-c:v", "libvpx", "-g", "30", "-b:v", "600k", "-deadline", "realtime", ivf).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	f, err := os.Open(ivf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := ivfreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, frame)
	}
	return frames
}

// startStudio publishes frames (30 a second, in a loop) into the room over
// WHIP with token, as a studio would, and returns its session's URL and
// what stops it.
func startStudio(t *testing.T, srv *appServer, roomID, token string, frames [][]byte) (location string, stop func()) {
	t.Helper()
	api, err := sfuclient.NewAPI(sfuclient.Options{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	studio, err := sfuclient.NewStudio(api, false)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: httpsTransport(), Timeout: 15 * time.Second}
	req, _ := http.NewRequest("POST", srv.URL+"/api/rooms/"+roomID+"/whip?name=Studio", strings.NewReader(studio.Offer()))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHIP POST: %d %s", resp.StatusCode, answer)
	}
	if err := studio.Answer(string(answer)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Second / 30)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-tick.C:
				_ = studio.Video.WriteSample(media.Sample{Data: frames[i%len(frames)], Duration: time.Second / 30})
			}
		}
	}()
	return resp.Header.Get("Location"), func() { close(done); _ = studio.Close() }
}

// httpDelete sends DELETE path with token as bearer ("": none) and
// returns the status.
func httpDelete(t *testing.T, srv *appServer, path, token string) int {
	t.Helper()
	client := &http.Client{Transport: httpsTransport(), Timeout: 15 * time.Second}
	req, _ := http.NewRequest("DELETE", srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
