package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4/pkg/media"

	"meet/protocol"
	"meet/sfu/sfuclient"
)

// whipPost sends a WHIP offer as token's identity.
func whipPost(t *testing.T, a *testApp, roomID, token, contentType, body string) (int, http.Header, string) {
	t.Helper()
	return sdpPost(t, a, "/api/rooms/"+roomID+"/whip?name=Studio", token, contentType, body)
}

// sdpPost posts an SDP offer (WHIP, WHEP) with token as its bearer ("":
// none).
func sdpPost(t *testing.T, a *testApp, path, token, contentType, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("POST", a.http.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// newWHIPEncoder is a Go studio with a camera and a microphone, and its
// offer.
func newWHIPEncoder(t *testing.T) (*sfuclient.Studio, string) {
	t.Helper()
	api, err := sfuTestAPI()
	if err != nil {
		t.Fatal(err)
	}
	studio, err := sfuclient.NewStudio(api, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = studio.Close() })
	return studio, studio.Offer()
}

// vp8Keyframe is a frame whose header says keyframe, 320x240: what the SFU
// reads of a frame (it decodes nothing).
var vp8Keyframe = append([]byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}, bytes.Repeat([]byte{0x55}, 600)...)

// sendFrames writes the keyframe and sound on a studio until stop.
func sendFrames(e *sfuclient.Studio, stop <-chan struct{}, keyframe []byte) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			_ = e.Video.WriteSample(media.Sample{Data: keyframe, Duration: 20 * time.Millisecond})
			_ = e.Audio.WriteSample(media.Sample{Data: []byte{0xf8, 0xff, 0xfe}, Duration: 20 * time.Millisecond})
		}
	}
}

// TestWHIPPublishesIntoTheRoom: a Pion encoder publishes into a room over
// WHIP with the owner's token; it joins as a participant on the stage, the
// room moves to the SFU, and a participant receives its camera and sound;
// PATCH is refused (no trickle); DELETE of the session's Location ends it,
// and the publisher leaves.
func TestWHIPPublishesIntoTheRoom(t *testing.T) {
	a := newTestAppWith(t, Config{BackToMeshDelay: 300 * time.Millisecond, SFUGrace: time.Second})
	owner := a.newUser()
	room := owner.createRoom("broadcast")
	viewer := newSFUClient(t, a.newUser(), room.ID)
	if viewer.lastMode().Mode != protocol.ModeMesh {
		t.Fatal("a room of one is not mesh")
	}

	enc, offer := newWHIPEncoder(t)
	code, header, answer := whipPost(t, a, room.ID, owner.token, "application/sdp", offer)
	if code != http.StatusCreated || !strings.HasPrefix(answer, "v=0") || !strings.HasPrefix(header.Get("Location"), "/api/whip/") {
		t.Fatalf("WHIP POST: %d %v\n%s", code, header, answer)
	}
	if !strings.Contains(answer, "a=candidate:") {
		t.Fatalf("the answer has no candidates:\n%s", answer)
	}
	if err := enc.Answer(answer); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go sendFrames(enc, stop, vp8Keyframe)

	session := strings.TrimPrefix(header.Get("Location"), "/api/whip/")
	waitFor(t, func() bool { return viewer.lastMode().Mode == protocol.ModeSFU })
	waitFor(t, func() bool {
		return viewer.count(session+"|"+protocol.SourceCamera) > 20 && viewer.count(session+"|"+protocol.SourceMicrophone) > 20
	})
	var participants struct {
		Participants []protocol.Participant `json:"participants"`
	}
	owner.do("GET", "/api/rooms/"+room.ID+"/participants", "", &participants)
	found := false
	for _, p := range participants.Participants {
		if p.ID == session {
			found = p.Name == "Studio" && p.Media[protocol.SourceCamera] == protocol.TrackLive
		}
	}
	if !found {
		t.Fatalf("the publisher is not listed as Studio with its camera: %+v", participants)
	}
	var got protocol.Room
	owner.do("GET", "/api/rooms/"+room.ID, "", &got)
	if len(got.Stage) != 1 || got.Stage[0].UserID != owner.id {
		t.Fatalf("the stage is %+v, want the owner's identity (the studio's)", got.Stage)
	}

	req, _ := http.NewRequest("PATCH", a.http.URL+header.Get("Location"), strings.NewReader("a=candidate:1"))
	req.Header.Set("Authorization", "Bearer "+owner.token)
	req.Header.Set("Content-Type", "application/trickle-ice-sdpfrag")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("PATCH: %d, want 405", resp.StatusCode)
	}

	stranger := a.newUser()
	req, _ = http.NewRequest("DELETE", a.http.URL+header.Get("Location"), nil)
	req.Header.Set("Authorization", "Bearer "+stranger.token)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another identity's DELETE: %d, want 403", resp.StatusCode)
	}
	req, _ = http.NewRequest("DELETE", a.http.URL+header.Get("Location"), nil)
	req.Header.Set("Authorization", "Bearer "+owner.token)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	waitFor(t, func() bool {
		owner.do("GET", "/api/rooms/"+room.ID+"/participants", "", &participants)
		return len(participants.Participants) == 1
	})
	waitFor(t, func() bool { return viewer.lastMode().Mode == protocol.ModeMesh })
}

// TestWHIPRefusals: each bad request gets its 4xx, and nobody joins.
func TestWHIPRefusals(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("broadcast")
	guest := a.newUser()
	_, offer := newWHIPEncoder(t)
	h264 := strings.NewReplacer("VP8/90000", "H264/90000", "opus/48000", "PCMU/8000").Replace(offer)
	for _, c := range []struct {
		what, room, token, contentType, body string
		want                                 int
		code                                 string
	}{
		{"no token", room.ID, "", "application/sdp", offer, http.StatusUnauthorized, protocol.CodeUnauthorized},
		{"a bad token", room.ID, "not-a-token", "application/sdp", offer, http.StatusUnauthorized, protocol.CodeUnauthorized},
		{"a participant's token", room.ID, guest.token, "application/sdp", offer, http.StatusForbidden, protocol.CodeForbidden},
		{"JSON", room.ID, owner.token, "application/json", `{"sdp":"v=0"}`, http.StatusUnsupportedMediaType, protocol.CodeUnsupportedMediaType},
		{"not SDP", room.ID, owner.token, "application/sdp", "hello", http.StatusBadRequest, protocol.CodeBadRequest},
		{"broken SDP", room.ID, owner.token, "application/sdp", "v=0\r\nm=video nonsense\r\n", http.StatusBadRequest, protocol.CodeBadRequest},
		{"H.264 and PCMU only", room.ID, owner.token, "application/sdp", h264, http.StatusBadRequest, protocol.CodeBadRequest},
		{"an unknown room", "nosuchroom", owner.token, "application/sdp", offer, http.StatusNotFound, protocol.CodeNotFound},
	} {
		code, _, body := whipPost(t, a, c.room, c.token, c.contentType, c.body)
		var e errorBody
		_ = json.Unmarshal([]byte(body), &e)
		if code != c.want || e.Error.Code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.what, code, body, c.want, c.code)
		}
	}
	var participants struct {
		Participants []protocol.Participant `json:"participants"`
	}
	owner.do("GET", "/api/rooms/"+room.ID+"/participants", "", &participants)
	if len(participants.Participants) != 0 {
		t.Fatalf("refused publishers joined: %+v", participants)
	}
}
