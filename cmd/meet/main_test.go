package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meet/store/storetest"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := parseConfig(nil, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr != ":8080" || cfg.dbPath != "./data/meet.db" || cfg.meshMax != 4 || cfg.logLevel != "info" {
		t.Fatalf("defaults = %+v", cfg)
	}
}

func TestParseConfigEnvTwinsAndFlagsWin(t *testing.T) {
	env := envOf(map[string]string{
		"MEET_ADDR": "127.0.0.1:9000", "MEET_DB": "/tmp/x.db", "MEET_MESH_MAX": "6",
		"MEET_LOG_LEVEL": "debug", "MEET_ICE_SERVERS": "stun:stun.example.org:3478",
		"MEET_UDP_PORT": "9443", "MEET_PUBLIC_IP": "203.0.113.7", "MEET_BACK_TO_MESH_DELAY": "3s",
	})
	cfg, err := parseConfig([]string{"-mesh-max", "3"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr != "127.0.0.1:9000" || cfg.dbPath != "/tmp/x.db" || cfg.meshMax != 3 || cfg.logLevel != "debug" ||
		cfg.udpPort != 9443 || cfg.publicIP != "203.0.113.7" || cfg.backDelay != 3*time.Second {
		t.Fatalf("cfg = %+v", cfg)
	}
	servers, _ := cfg.parseICEServers()
	if len(servers) != 1 || servers[0].URLs[0] != "stun:stun.example.org:3478" {
		t.Fatalf("ice = %+v", servers)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-mesh-max", "-1"}, nil, "mesh-max"},
		{nil, map[string]string{"MEET_MESH_MAX": "many"}, "MEET_MESH_MAX"},
		{[]string{"-log-level", "loud"}, nil, "log-level"},
		{[]string{"-ice-servers", "http://x"}, nil, "ice-servers"},
		{[]string{"-ice-servers", "[{"}, nil, "ice-servers"},
		{[]string{"-nope"}, nil, "nope"},
		{[]string{"-udp-port", "70000"}, nil, "udp-port"},
		{[]string{"-public-ip", "not-an-ip"}, nil, "public-ip"},
		{nil, map[string]string{"MEET_BACK_TO_MESH_DELAY": "soon"}, "MEET_BACK_TO_MESH_DELAY"},
	} {
		_, err := parseConfig(tt.args, envOf(tt.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("args %v env %v: err = %v, want mention of %s", tt.args, tt.env, err, tt.want)
		}
	}
}

func TestSecretIsGeneratedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	cfg := &config{dbPath: filepath.Join(dir, "meet.db")}
	s1, err := cfg.loadSecret()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := cfg.loadSecret()
	if err != nil || string(s1) != string(s2) {
		t.Fatalf("secret changed between starts: %v", err)
	}
	info, err := os.Stat(filepath.Join(dir, "secret.key"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", info, err)
	}
	short := &config{secret: "short"}
	if _, err := short.loadSecret(); err == nil {
		t.Fatal("a short -secret was accepted")
	}
}

// TestDataDir: the data directory is -data-dir, else the SQLite file's
// directory, else ./data for a PostgreSQL URL (which has no directory).
func TestDataDir(t *testing.T) {
	for _, tt := range []struct{ db, flag, want string }{
		{"/srv/meet/meet.db", "", "/srv/meet"},
		{"/srv/meet/meet.db", "/var/lib/meet", "/var/lib/meet"},
		{"postgres://meet:pw@db:5432/meet", "", "./data"},
		{"postgresql://db/meet", "/var/lib/meet", "/var/lib/meet"},
	} {
		cfg := &config{dbPath: tt.db, dataDirFlag: tt.flag}
		if got := cfg.dataDir(); got != tt.want {
			t.Errorf("-db %s -data-dir %q: data directory %q, want %q", tt.db, tt.flag, got, tt.want)
		}
	}
	cfg, err := parseConfig([]string{"-db", "postgres://db/meet"}, envOf(map[string]string{"MEET_DATA_DIR": "/d"}), io.Discard)
	if err != nil || cfg.dataDir() != "/d" || cfg.recordings() != "/d/recordings" {
		t.Fatalf("MEET_DATA_DIR: %+v, %v", cfg, err)
	}
}

// startMeet runs the real main loop on a free port and returns its URL and
// a stop function that waits for a graceful shutdown.
func startMeet(t *testing.T, dbPath string) (string, func()) {
	t.Helper()
	at, stop := startMeetWith(t, dbPath, "-metrics-addr", "off")
	return "http://" + at.addr, stop
}

// startMeetWith is startMeet with more flags, returning every address the
// server listens on.
func startMeetWith(t *testing.T, dbPath string, flags ...string) (listening, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan listening, 1)
	done := make(chan error, 1)
	// TURN off unless a test asks: its port has no "any free port".
	args := append([]string{"-addr", "127.0.0.1:0", "-udp-port", "0", "-turn-port", "0", "-db", dbPath, "-log-level", "error"}, flags...)
	go func() {
		done <- run(ctx, args, envOf(nil), io.Discard, ready)
	}()
	select {
	case at := <-ready:
		return at, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run returned %v", err)
			}
		}
	case err := <-done:
		t.Fatalf("meet did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("meet did not start within 10s")
	}
	return listening{}, nil
}

// TestRoomsSurviveRestart creates a room, stops the process gracefully,
// starts it again on the same database and finds the room listed, with
// the owner's token (signed by the kept secret) still owning it. On
// PostgreSQL the secret is kept in -data-dir.
func TestRoomsSurviveRestart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		dbPath := filepath.Join(t.TempDir(), "data", "meet.db")
		var flags []string
		if d.Name == "postgres" {
			dbPath = d.NewDSN(t)
			flags = []string{"-data-dir", t.TempDir()}
		}
		roomsSurviveRestart(t, dbPath, flags)
	})
}

func roomsSurviveRestart(t *testing.T, dbPath string, flags []string) {
	start := func() (string, func()) {
		at, stop := startMeetWith(t, dbPath, append([]string{"-metrics-addr", "off"}, flags...)...)
		return "http://" + at.addr, stop
	}
	url, stop := start()
	resp, err := http.Post(url+"/api/rooms", "application/json", strings.NewReader(`{"name":"Física 101"}`))
	if err != nil {
		t.Fatal(err)
	}
	var room struct{ ID, Name string }
	_ = json.NewDecoder(resp.Body).Decode(&room)
	resp.Body.Close()
	token := resp.Header.Get("X-Meet-Token")
	if resp.StatusCode != http.StatusCreated || token == "" {
		t.Fatalf("create = %d", resp.StatusCode)
	}
	stop()

	url, stop = start()
	defer stop()
	resp, err = http.Get(url + "/api/rooms")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Rooms []struct{ ID, Name string } }
	_ = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list.Rooms) != 1 || list.Rooms[0].ID != room.ID || list.Rooms[0].Name != "Física 101" {
		t.Fatalf("after restart: %+v", list.Rooms)
	}
	req, _ := http.NewRequest("POST", url+"/api/rooms/"+room.ID+"/end", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("owner could not end the room after a restart: %d", resp.StatusCode)
	}
}

// get fetches url and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestMetricsOnTheirOwnListener: the public address does not serve
// /metrics; the metrics listener does, and serves nothing else.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	at, stop := startMeetWith(t, filepath.Join(t.TempDir(), "meet.db"), "-metrics-addr", "127.0.0.1:0")
	defer stop()
	if at.metricsAddr == "" || at.metricsAddr == at.addr {
		t.Fatalf("metrics listener %q, public %q", at.metricsAddr, at.addr)
	}
	if status, body := get(t, "http://"+at.addr+"/metrics"); status != http.StatusNotFound || strings.Contains(body, "meet_rooms_live") {
		t.Fatalf("public GET /metrics = %d %.200q, want 404 without metrics", status, body)
	}
	status, body := get(t, "http://"+at.metricsAddr+"/metrics")
	if status != http.StatusOK || !strings.Contains(body, "meet_rooms_live 0") || !strings.Contains(body, "meet_websocket_connections") {
		t.Fatalf("metrics listener GET /metrics = %d %.300q", status, body)
	}
	if status, _ := get(t, "http://"+at.metricsAddr+"/api/rooms"); status != http.StatusNotFound {
		t.Fatalf("metrics listener serves the API: %d", status)
	}
}

func TestMetricsAddrDefaultAndOff(t *testing.T) {
	cfg, err := parseConfig(nil, envOf(nil), io.Discard)
	if err != nil || cfg.metricsAddr != "127.0.0.1:9090" {
		t.Fatalf("default metrics addr %q, %v", cfg.metricsAddr, err)
	}
	cfg, err = parseConfig(nil, envOf(map[string]string{"MEET_METRICS_ADDR": "off"}), io.Discard)
	if err != nil || cfg.metricsAddr != "" {
		t.Fatalf("MEET_METRICS_ADDR=off gave %q, %v", cfg.metricsAddr, err)
	}
	at, stop := startMeetWith(t, filepath.Join(t.TempDir(), "meet.db"), "-metrics-addr", "")
	defer stop()
	if at.metricsAddr != "" {
		t.Fatalf("-metrics-addr \"\" still listens on %s", at.metricsAddr)
	}
}

func TestMeshMaxZeroMeansAlwaysSFU(t *testing.T) {
	cfg, err := parseConfig([]string{"-mesh-max", "0"}, envOf(nil), io.Discard)
	if err != nil {
		t.Fatalf("-mesh-max 0 refused: %v", err)
	}
	if got := alwaysSFUIfZero(cfg.meshMax); got >= 0 {
		t.Fatalf("-mesh-max 0 gives app.Config.MeshMax %d, want negative (always the SFU)", got)
	}
	if got := alwaysSFUIfZero(3); got != 3 {
		t.Fatalf("-mesh-max 3 gives %d", got)
	}
}
