package main

import (
	"context"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLimitFlags(t *testing.T) {
	cfg, err := parseConfig(nil, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.maxParticipants != 100 || cfg.maxRooms != 1000 || cfg.roomsPerMinute != 20 || cfg.joinsPerMinute != 120 ||
		cfg.allowedOrigins != "" || cfg.trustedProxies != "" {
		t.Fatalf("limit defaults = %+v", cfg)
	}
	env := envOf(map[string]string{
		"MEET_MAX_PARTICIPANTS": "30", "MEET_MAX_ROOMS": "5", "MEET_ROOMS_PER_MINUTE": "0",
		"MEET_JOINS_PER_MINUTE": "7", "MEET_ALLOWED_ORIGINS": "https://a.example, https://b.example",
		"MEET_TRUSTED_PROXIES": "10.0.0.0/8",
	})
	cfg, err = parseConfig([]string{"-max-rooms", "9"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.maxParticipants != 30 || cfg.maxRooms != 9 || cfg.roomsPerMinute != 0 || cfg.joinsPerMinute != 7 {
		t.Fatalf("limits from env and flags = %+v", cfg)
	}
	if got := list(cfg.allowedOrigins); !reflect.DeepEqual(got, []string{"https://a.example", "https://b.example"}) {
		t.Fatalf("allowed origins = %q", got)
	}
	if got := list(cfg.trustedProxies); !reflect.DeepEqual(got, []string{"10.0.0.0/8"}) {
		t.Fatalf("trusted proxies = %q", got)
	}
	if list(" , ") != nil {
		t.Fatal("an empty list has items")
	}
	// 0 on the command line means no limit, which app.Config spells
	// negative (its 0 takes the default).
	if noLimitIfZero(0) != -1 || noLimitIfZero(12) != 12 {
		t.Fatal("noLimitIfZero")
	}
	for _, name := range []string{"max-participants", "max-rooms", "rooms-per-minute", "joins-per-minute"} {
		_, err := parseConfig([]string{"-" + name, "-1"}, envOf(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("-%s -1: err = %v", name, err)
		}
	}
}

func TestRunRefusesBadOriginsAndProxies(t *testing.T) {
	for _, bad := range [][]string{
		{"-allowed-origins", "ftp://files.example"},
		{"-trusted-proxies", "proxy.example"},
	} {
		dir := t.TempDir()
		args := append([]string{"-addr", "127.0.0.1:0", "-udp-port", "0", "-db", filepath.Join(dir, "meet.db")}, bad...)
		err := run(context.Background(), args, envOf(nil), io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), strings.Split(bad[1], ":")[0]) {
			t.Errorf("%v: err = %v", bad, err)
		}
	}
}
