package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSelfSignedHTTPS starts the binary with -tls-self-signed: it serves
// HTTPS with the certificate it kept in the data directory, for the name
// given in -public-host, with HSTS, and redirects plain HTTP.
func TestSelfSignedHTTPS(t *testing.T) {
	dir := t.TempDir()
	at, stop := startMeetWith(t, filepath.Join(dir, "meet.db"), "-metrics-addr", "off",
		"-tls-self-signed", "-public-host", "meet.test", "-http-redirect-addr", "127.0.0.1:0")
	defer stop()

	pemBytes, err := os.ReadFile(filepath.Join(dir, "tls-self-signed.crt"))
	if err != nil {
		t.Fatalf("the certificate is not in the data directory: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatal("the kept certificate is not PEM")
	}
	// The page is asked for by its public name, resolved to the listener.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "meet.test"}}}
	resp, err := client.Get("https://" + at.addr + "/")
	if err != nil {
		t.Fatalf("GET over HTTPS: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<html") {
		t.Fatalf("GET / over HTTPS: %d", resp.StatusCode)
	}
	if !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("no Strict-Transport-Security over HTTPS: %q", resp.Header.Get("Strict-Transport-Security"))
	}

	// Plain HTTP on the public address is refused by the TLS listener; the
	// redirect listener sends the browser to HTTPS.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get("http://" + at.redirectAddr + "/r/abc")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := strings.Cut(at.addr, ":")
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "https://127.0.0.1:"+port+"/r/abc" {
		t.Errorf("plain HTTP: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestTLSFlagErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-tls-cert", "a.crt"}, "-tls-key"},
		{[]string{"-tls-self-signed", "-acme-domain", "meet.example.org"}, "choose one"},
		{[]string{"-acme-directory", "https://ca.test/dir"}, "-acme-domain"},
		{[]string{"-http-redirect-addr", ":80"}, "needs"},
	} {
		_, err := parseConfig(tt.args, envOf(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want mention of %q", tt.args, err, tt.want)
		}
	}
	cfg, err := parseConfig(nil, envOf(map[string]string{"MEET_TLS_SELF_SIGNED": "true", "MEET_PUBLIC_HOST": "meet.test"}), io.Discard)
	if err != nil || !cfg.tls.selfSigned || cfg.tls.publicHost != "meet.test" {
		t.Fatalf("the MEET_* twins of the TLS flags: %+v %v", cfg, err)
	}
}

// TestNetworkFlags starts the binary with the built-in TURN server and
// ICE over TCP as the flags set them, and checks the refusals.
func TestNetworkFlags(t *testing.T) {
	dir := t.TempDir()
	at, stop := startMeetWith(t, filepath.Join(dir, "meet.db"), "-metrics-addr", "off", "-turn-port", "34780", "-udp-port", "34790", "-tcp-port", "-1")
	defer stop()
	if got := at.srv.TURNPort(); got != 34780 {
		t.Errorf("TURN port = %d, want 34780", got)
	}
	if tcp, udp := at.srv.SFUTCPPort(), at.srv.SFUPort(); tcp != udp || tcp == 0 {
		t.Errorf("ICE-TCP port = %d, want the UDP port's number %d", tcp, udp)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "turn-secret.key")); err != nil || len(strings.TrimSpace(string(data))) < 32 {
		t.Errorf("the TURN secret was not kept in the data directory: %v", err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-turn-port", "70000"}, "turn-port"},
		{[]string{"-tcp-port", "-2"}, "tcp-port"},
		{[]string{"-turn-ttl", "10s"}, "turn-ttl"},
		{[]string{"-turn-external", "stun:x:3478", "-turn-secret", "0123456789abcdef"}, "turn-external"},
		{[]string{"-turn-external", "turn:x:3478"}, "-turn-secret"},
		{[]string{"-turn-allow-peers", "10.0.0.0"}, "CIDR"},
	} {
		_, err := parseConfig(tt.args, envOf(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want mention of %q", tt.args, err, tt.want)
		}
	}
	err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(dir, "x.db"), "-turns-port", "5349", "-turn-port", "34781"}, envOf(nil), io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("-turns-port without a certificate: %v", err)
	}
}
