package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestComposeMultinodeProfile checks the multinode profile of
// docker-compose.yml statically (no Docker engine here): PostgreSQL with a
// health check, two meet nodes on it with their own node ids and media
// ports, started after the database is healthy, and a Caddy proxy in front
// whose Caddyfile sends to both nodes and checks their /readyz. The single
// node stays the default profile.
func TestComposeMultinodeProfile(t *testing.T) {
	root := repoRoot(t)
	data, cf := readCompose(t, root)
	env, err := os.ReadFile(filepath.Join(root, ".env"))
	if err != nil || !strings.Contains(string(env), "COMPOSE_PROFILES=single") {
		t.Errorf(".env does not make the single node the default profile (%v): %q", err, env)
	}
	if p := cf.Services["meet"].Profiles; len(p) != 1 || p[0] != "single" {
		t.Errorf("service meet: profiles %v, want [single]", p)
	}
	pg, ok := cf.Services["postgres"]
	if !ok || !inProfile(pg, "multinode") || !strings.HasPrefix(pg.Image, "postgres:") {
		t.Fatalf("no postgres service from the official image in the multinode profile: %+v", pg)
	}
	if !strings.Contains(string(data), "pg_isready") {
		t.Errorf("postgres has no pg_isready health check")
	}
	udpPorts := map[int]bool{}
	for _, name := range []string{"meet-a", "meet-b"} {
		udpPorts[checkNode(t, cf, name)] = true
	}
	if len(udpPorts) != 2 {
		t.Errorf("the two nodes share a media port: %v", udpPorts)
	}
	proxy, ok := cf.Services["proxy"]
	if !ok || !inProfile(proxy, "multinode") || !strings.HasPrefix(proxy.Image, "caddy:") {
		t.Fatalf("no Caddy proxy in the multinode profile: %+v", proxy)
	}
	caddyfile := ""
	for _, v := range proxy.Volumes {
		if src, target := parseVolume(v); target == "/etc/caddy/Caddyfile" {
			caddyfile = strings.TrimSuffix(src, ":ro")
		}
	}
	conf, err := os.ReadFile(filepath.Join(root, caddyfile))
	if caddyfile == "" || err != nil {
		t.Fatalf("the proxy's Caddyfile %q: %v", caddyfile, err)
	}
	for _, want := range []string{"reverse_proxy meet-a:8080 meet-b:8080", "health_uri /readyz"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("%s lacks %q", caddyfile, want)
		}
	}
	for _, v := range []string{"pg-data", "meet-a-data", "meet-b-data"} {
		if _, ok := cf.Volumes[v]; !ok {
			t.Errorf("volume %s is not declared", v)
		}
	}
}

// checkNode checks one meet node of the multinode profile and returns its
// media port.
func checkNode(t *testing.T, cf composeFile, name string) int {
	t.Helper()
	svc, ok := cf.Services[name]
	if !ok || !inProfile(svc, "multinode") {
		t.Fatalf("no service %s in the multinode profile", name)
	}
	env := environment(t, svc.Environment)
	if !strings.HasPrefix(env["MEET_DB"], "postgres://") || !strings.Contains(env["MEET_DB"], "@postgres:5432/") {
		t.Errorf("%s: MEET_DB %q, want the postgres service's URL", name, env["MEET_DB"])
	}
	if env["MEET_NODE_ID"] != name {
		t.Errorf("%s: MEET_NODE_ID %q", name, env["MEET_NODE_ID"])
	}
	// Each node serves its share of a large classroom (-node-capacity).
	if n, err := strconv.Atoi(env["MEET_NODE_CAPACITY"]); err != nil || n <= 0 {
		t.Errorf("%s: MEET_NODE_CAPACITY %q, want a number of viewers", name, env["MEET_NODE_CAPACITY"])
	}
	// The image's entrypoint names a SQLite file with -db, which would win
	// over MEET_DB.
	if strings.Join(svc.Entrypoint, " ") != "/usr/local/bin/meet" {
		t.Errorf("%s: entrypoint %v, want the bare binary", name, svc.Entrypoint)
	}
	if !strings.Contains(fmt.Sprint(svc.DependsOn), "service_healthy") {
		t.Errorf("%s does not wait for a healthy postgres: %v", name, svc.DependsOn)
	}
	udp := 0
	for _, p := range svc.Ports {
		pp, err := parsePort(p)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if pp.Protocol == "udp" {
			udp = pp.Container
		}
	}
	if udp == 0 || fmt.Sprint(udp) != env["MEET_UDP_PORT"] {
		t.Errorf("%s publishes UDP port %d, MEET_UDP_PORT is %q", name, udp, env["MEET_UDP_PORT"])
	}
	return udp
}

func inProfile(svc composeService, profile string) bool {
	for _, p := range svc.Profiles {
		if p == profile {
			return true
		}
	}
	return false
}
