package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
	"meet/sfu/sfuclient"
)

// vp8Keyframe640 is vp8Keyframe at 640x480: a second studio's camera.
var vp8Keyframe640 = append([]byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}, bytes.Repeat([]byte{0x55}, 600)...)

// keyframeWidth reads the width a VP8 keyframe packet announces, 0 for
// other packets: the start code and the size follow the payload
// descriptor (whose length the payloader chooses) and the frame tag.
func keyframeWidth(p rtp.Packet) int {
	b := p.Payload
	for i := 4; i+4 < len(b) && i < 12; i++ {
		if b[i] == 0x9d && b[i+1] == 0x01 && b[i+2] == 0x2a && b[i-3]&1 == 0 {
			return int(b[i+3]) | int(b[i+4]&0x3f)<<8
		}
	}
	return 0
}

// lastWidth is the width of the last keyframe a player got, 0 if none.
func lastWidth(p *sfuclient.Player) (width int, ssrc uint32) {
	got := p.Packets(webrtc.RTPCodecTypeVideo)
	for i := len(got) - 1; i >= 0; i-- {
		if w := keyframeWidth(got[i]); w > 0 {
			return w, got[i].SSRC
		}
	}
	return 0, 0
}

// startWHIP publishes an encoder sending keyframe into the room with the
// owner's token, and returns its session's URL.
func startWHIP(t *testing.T, a *testApp, roomID, token string, keyframe []byte, stop <-chan struct{}) string {
	t.Helper()
	enc, offer := newWHIPEncoder(t)
	code, header, answer := whipPost(t, a, roomID, token, "application/sdp", offer)
	if code != http.StatusCreated {
		t.Fatalf("WHIP POST: %d %s", code, answer)
	}
	if err := enc.Answer(answer); err != nil {
		t.Fatal(err)
	}
	go sendFrames(enc, stop, keyframe)
	return header.Get("Location")
}

// deleteAs sends DELETE path with token as bearer and returns the status.
func deleteAs(t *testing.T, a *testApp, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest("DELETE", a.http.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestWHEPWatchesTheStage: a Go WHEP player watches a room's stage with
// the owner's token: it gets the studio's camera and sound; when that
// studio leaves and another comes on the stage, the player gets the new
// camera on the same track. The room keeps to the SFU while it is
// watched; DELETE ends the session, and the room goes back to mesh.
func TestWHEPWatchesTheStage(t *testing.T) {
	a := newTestAppWith(t, Config{BackToMeshDelay: 300 * time.Millisecond, SFUGrace: time.Second})
	owner := a.newUser()
	room := owner.createRoom("lesson")
	member := newSFUClient(t, a.newUser(), room.ID)
	stop := make(chan struct{})
	defer close(stop)
	first := startWHIP(t, a, room.ID, owner.token, vp8Keyframe, stop)

	api, err := sfuTestAPI()
	if err != nil {
		t.Fatal(err)
	}
	player, err := sfuclient.NewPlayer(api, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = player.Close() })
	code, header, answer := sdpPost(t, a, "/api/rooms/"+room.ID+"/whep", owner.token, "application/sdp", player.Offer())
	session := header.Get("Location")
	if code != http.StatusCreated || !strings.HasPrefix(session, "/api/whep/") || !strings.Contains(answer, "a=candidate:") {
		t.Fatalf("WHEP POST: %d %v\n%s", code, header, answer)
	}
	if err := player.Answer(answer); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		w, _ := lastWidth(player)
		return w == 320 && player.Count(webrtc.RTPCodecTypeAudio) > 20
	})
	_, ssrc := lastWidth(player)

	if code := deleteAs(t, a, first, owner.token); code != http.StatusOK {
		t.Fatalf("DELETE the first studio: %d", code)
	}
	startWHIP(t, a, room.ID, owner.token, vp8Keyframe640, stop)
	waitFor(t, func() bool { w, _ := lastWidth(player); return w == 640 })
	if _, now := lastWidth(player); now != ssrc {
		t.Fatalf("the second studio came on SSRC %d, the first on %d: want one track", now, ssrc)
	}
	if a.srv.hub.Viewers(room.ID) != 1 || member.lastMode().Mode != protocol.ModeSFU {
		t.Fatalf("viewers %d, mode %s: want 1 viewer, sfu", a.srv.hub.Viewers(room.ID), member.lastMode().Mode)
	}

	req, _ := http.NewRequest("PATCH", a.http.URL+session, strings.NewReader("a=candidate:1"))
	req.Header.Set("Content-Type", "application/trickle-ice-sdpfrag")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "DELETE" {
		t.Fatalf("PATCH: %d %v, want 405 Allow: DELETE", resp.StatusCode, resp.Header)
	}
	if code := deleteAs(t, a, session, ""); code != http.StatusOK {
		t.Fatalf("DELETE the WHEP session: %d", code)
	}
	if code := deleteAs(t, a, session, ""); code != http.StatusNotFound {
		t.Fatalf("DELETE it again: %d, want 404", code)
	}
	if n := a.srv.hub.Viewers(room.ID); n != 0 {
		t.Fatalf("%d viewers after DELETE", n)
	}
	waitFor(t, func() bool { return player.Connection().ConnectionState() != webrtc.PeerConnectionStateConnected })
}

// TestWHEPRefusals: each bad request gets its 4xx and starts no session;
// a public stage needs no token.
func TestWHEPRefusals(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("lesson")
	guest := a.newUser()
	api, err := sfuTestAPI()
	if err != nil {
		t.Fatal(err)
	}
	player, err := sfuclient.NewPlayer(api, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = player.Close() })
	offer := player.Offer()
	h264 := strings.NewReplacer("VP8/90000", "H264/90000", "opus/48000", "PCMU/8000").Replace(offer)
	for _, c := range []struct {
		what, room, token, contentType, body string
		want                                 int
		code                                 string
	}{
		{"no token", room.ID, "", "application/sdp", offer, http.StatusUnauthorized, protocol.CodeUnauthorized},
		{"a bad token", room.ID, "not-a-token", "application/sdp", offer, http.StatusUnauthorized, protocol.CodeUnauthorized},
		{"a bad join token", room.ID, "a.b.c", "application/sdp", offer, http.StatusUnauthorized, protocol.CodeUnauthorized},
		{"a guest's token", room.ID, guest.token, "application/sdp", offer, http.StatusForbidden, protocol.CodeForbidden},
		{"JSON", room.ID, owner.token, "application/json", `{"sdp":"v=0"}`, http.StatusUnsupportedMediaType, protocol.CodeUnsupportedMediaType},
		{"not SDP", room.ID, owner.token, "application/sdp", "hello", http.StatusBadRequest, protocol.CodeBadRequest},
		{"broken SDP", room.ID, owner.token, "application/sdp", "v=0\r\nm=video nonsense\r\n", http.StatusBadRequest, protocol.CodeBadRequest},
		{"H.264 and PCMU only", room.ID, owner.token, "application/sdp", h264, http.StatusBadRequest, protocol.CodeBadRequest},
		{"an unknown room", "nosuchroom", owner.token, "application/sdp", offer, http.StatusNotFound, protocol.CodeNotFound},
	} {
		code, header, body := sdpPost(t, a, "/api/rooms/"+c.room+"/whep", c.token, c.contentType, c.body)
		var e errorBody
		_ = json.Unmarshal([]byte(body), &e)
		if code != c.want || e.Error.Code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.what, code, body, c.want, c.code)
		}
		if c.what == "no token" && header.Get("WWW-Authenticate") == "" {
			t.Errorf("no token: no WWW-Authenticate header")
		}
	}
	if n := a.srv.hub.Viewers(room.ID); n != 0 {
		t.Fatalf("refused players were registered: %d", n)
	}
	if code := deleteAs(t, a, "/api/whep/v_nosuchsession", ""); code != http.StatusNotFound {
		t.Errorf("DELETE of an unknown session: %d, want 404", code)
	}

	// The owner makes the stage public: no token is needed.
	if status := owner.do("PATCH", "/api/rooms/"+room.ID, `{"publicStage":true}`, nil); status != http.StatusOK {
		t.Fatalf("PATCH publicStage: %d", status)
	}
	code, header, body := sdpPost(t, a, "/api/rooms/"+room.ID+"/whep", "", "application/sdp", offer)
	if code != http.StatusCreated {
		t.Fatalf("a public stage without a token: %d %s", code, body)
	}
	if header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(header.Get("Access-Control-Expose-Headers"), "Location") {
		t.Errorf("no CORS for players on other sites: %v", header)
	}
	if code := deleteAs(t, a, header.Get("Location"), ""); code != http.StatusOK {
		t.Errorf("DELETE: %d", code)
	}
}
