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

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"

	"meet/protocol"
	"meet/sfu/codec"
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

	api, err := sfuclient.NewAPI(sfuclient.Options{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	track, err := webrtc.NewTrackLocalStaticSample(codec.VP8(), "video", "studio")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	client := &http.Client{Transport: httpsTransport(), Timeout: 15 * time.Second}
	req, _ := http.NewRequest("POST", srv.URL+"/api/rooms/"+room.ID+"/whip?name=Studio", strings.NewReader(pc.LocalDescription().SDP))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+me.Token)
	started := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHIP POST: %d %s", resp.StatusCode, answer)
	}
	location := resp.Header.Get("Location")
	session := strings.TrimPrefix(location, "/api/whip/")
	t.Logf("whip_answer_ms=%d", time.Since(started).Milliseconds())
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(time.Second / 30)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = track.WriteSample(media.Sample{Data: frames[i%len(frames)], Duration: time.Second / 30})
			}
		}
	}()

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

	req, _ = http.NewRequest("DELETE", srv.URL+location, nil)
	req.Header.Set("Authorization", "Bearer "+me.Token)
	if resp, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("WHIP DELETE: %d", resp.StatusCode)
	}
	waitFor[bool](viewer, switchWait, "the studio's tile is gone",
		`!document.querySelector(`+jsonString(tileSelector(session))+`)`)
}

// vp8Frames is 4 s of a moving test picture, 640x360 at 30 frames/s, in
// VP8 by ffmpeg (libvpx), a keyframe a second.
func vp8Frames(t *testing.T) [][]byte {
	t.Helper()
	ivf := filepath.Join(t.TempDir(), "studio.ivf")
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=30", "-t", "4",
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
