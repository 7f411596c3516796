package app

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"meet/protocol"
)

// scrape returns the value of one metric line (name plus labels, exactly
// as exposed), or -1 when it is missing.
func scrape(t *testing.T, a *testApp, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	a.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.Bytes()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

func TestHealthAndReadiness(t *testing.T) {
	a := newTestApp(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(a.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s = %d", path, resp.StatusCode)
		}
	}
	a.store.Close()
	resp, err := http.Get(a.http.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with a closed database = %d", resp.StatusCode)
	}
}

func TestMetricsFollowTheRooms(t *testing.T) {
	a := newTestAppWith(t, Config{MeshMax: 2, BackToMeshDelay: time.Minute})
	owner := a.newUser()
	room := owner.createRoom("metrics")
	if v := scrape(t, a, "meet_rooms_live"); v != 0 {
		t.Fatalf("rooms before any join = %v", v)
	}
	alice := newSFUClient(t, owner, room.ID)
	newSFUClient(t, a.newUser(), room.ID)
	if v := scrape(t, a, `meet_participants{mode="mesh"}`); v != 2 {
		t.Fatalf("mesh participants = %v", v)
	}
	carol := newSFUClient(t, a.newUser(), room.ID)
	if v := scrape(t, a, `meet_participants{mode="sfu"}`); v != 3 {
		t.Fatalf("sfu participants = %v", v)
	}
	if v := scrape(t, a, "meet_websocket_connections"); v != 3 {
		t.Fatalf("websockets = %v", v)
	}
	track := alice.publishAudio()
	key := alice.c.self.ID + "|" + protocol.SourceMicrophone
	deadline := time.Now().Add(15 * time.Second)
	for carol.count(key) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no SFU media")
		}
		sendAudio(track, 10)
	}
	if v := scrape(t, a, "meet_sfu_forwarded_packets_total"); v <= 0 {
		t.Fatalf("forwarded packets = %v", v)
	}
	if v := scrape(t, a, "meet_sfu_tracks"); v != 1 {
		t.Fatalf("tracks = %v", v)
	}
	for _, series := range []string{"meet_sfu_received_bytes_total", "meet_sfu_forwarded_bytes_total"} {
		if v := scrape(t, a, series); v <= 0 {
			t.Errorf("%s = %v after media flowed", series, v)
		}
	}
	// Loopback loses nothing and audio asks for no keyframes: these exist
	// and count nothing yet (the sfu tests make them count).
	for _, series := range []string{"meet_sfu_nacked_packets_total", "meet_sfu_retransmitted_packets_total",
		"meet_sfu_subscriber_plis_total", "meet_sfu_dropped_packets_total", "meet_sfu_keyframe_requests_total",
		"meet_sfu_keyframe_replays_total"} {
		if v := scrape(t, a, series); v < 0 {
			t.Errorf("%s is missing", series)
		}
	}
	alice.write(map[string]string{"type": protocol.TypeChatSend, "text": "hi", "clientId": "m1"})
	waitFor(t, func() bool { return scrape(t, a, "meet_chat_messages_total") == 1 })
}
