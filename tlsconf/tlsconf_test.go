package tlsconf

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSelfSignedIsMadeOnceAndServes(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	hosts := []string{"meet.test", "192.0.2.10", "localhost"}
	cert, made, err := SelfSigned(dir, hosts, now)
	if err != nil || !made {
		t.Fatalf("first start: made=%v err=%v", made, err)
	}
	again, made, err := SelfSigned(dir, hosts, now.Add(24*time.Hour))
	if err != nil || made {
		t.Fatalf("second start: made=%v err=%v, want the kept certificate", made, err)
	}
	if Fingerprint(again) != Fingerprint(cert) {
		t.Fatal("the kept certificate is not the one made")
	}
	sum := sha256.Sum256(cert.Certificate[0])
	want := strings.ToUpper(hex.EncodeToString(sum[:]))
	if got := strings.ReplaceAll(Fingerprint(cert), ":", ""); got != want || len(Fingerprint(cert)) != 95 {
		t.Fatalf("fingerprint %q, want the SHA-256 of the DER %s in colon-separated pairs", Fingerprint(cert), want)
	}

	// A client that trusts it reaches a server on the name and the IP.
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	for _, name := range []string{"meet.test", "192.0.2.10"} {
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: name, Time: func() time.Time { return now }})
		if err != nil {
			t.Fatalf("handshake for %s: %v", name, err)
		}
		conn.Close()
	}
	if conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "other.test", Time: func() time.Time { return now }}); err == nil {
		conn.Close()
		t.Fatal("the certificate is accepted for a name it does not carry")
	}
}

func TestSelfSignedIsMadeAgainWhenItNoLongerFits(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	first, _, err := SelfSigned(dir, []string{"meet.test"}, now)
	if err != nil {
		t.Fatal(err)
	}
	// A new public name.
	second, made, err := SelfSigned(dir, []string{"meet.test", "class.test"}, now)
	if err != nil || !made || Fingerprint(second) == Fingerprint(first) {
		t.Fatalf("a new host: made=%v err=%v", made, err)
	}
	// Close to its end.
	third, made, err := SelfSigned(dir, []string{"meet.test"}, now.Add(selfSignedLifetime-renewBefore/2))
	if err != nil || !made || Fingerprint(third) == Fingerprint(second) {
		t.Fatalf("near expiry: made=%v err=%v", made, err)
	}
}

func TestCheckRefusesMixedSources(t *testing.T) {
	for _, c := range []Config{
		{CertFile: "a.crt", KeyFile: "a.key", SelfSigned: true},
		{SelfSigned: true, ACMEDomain: "meet.example.org"},
		{CertFile: "a.crt"},
		{KeyFile: "a.key"},
		{ACMEDirectory: "https://acme.test/dir"},
	} {
		if err := c.Check(); err == nil {
			t.Errorf("%+v was accepted", c)
		}
	}
	for _, c := range []Config{{}, {SelfSigned: true}, {CertFile: "a.crt", KeyFile: "a.key"}, {ACMEDomain: "meet.example.org", ACMEDirectory: "https://acme.test/dir"}} {
		if err := c.Check(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if (Config{}).Enabled() || !(Config{SelfSigned: true}).Enabled() {
		t.Error("Enabled is wrong")
	}
}

func TestCertificateFiles(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := SelfSigned(dir, []string{"meet.test"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{CertFile: dir + "/" + selfSignedCert, KeyFile: dir + "/" + selfSignedKey})
	if err != nil || s.Fingerprint == "" {
		t.Fatalf("New with files: %v", err)
	}
	if _, err := New(Config{CertFile: dir + "/missing.crt", KeyFile: dir + "/missing.key"}); err == nil || !strings.Contains(err.Error(), "missing.crt") {
		t.Fatalf("missing files: %v, want an error naming the file", err)
	}
}

func TestRedirectAndHSTS(t *testing.T) {
	s := &Server{}
	for port, want := range map[int]string{8443: "https://meet.test:8443/r/abc?join=1", 443: "https://meet.test/r/abc?join=1"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "http://meet.test:8080/r/abc?join=1", nil)
		s.RedirectHandler(port).ServeHTTP(rec, req)
		if rec.Code != http.StatusPermanentRedirect || rec.Header().Get("Location") != want {
			t.Errorf("port %d: %d %q, want 308 %q", port, rec.Code, rec.Header().Get("Location"), want)
		}
	}
	rec := httptest.NewRecorder()
	HSTS(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !strings.HasPrefix(rec.Header().Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("Strict-Transport-Security = %q", rec.Header().Get("Strict-Transport-Security"))
	}
}

func TestMachineHosts(t *testing.T) {
	hosts := MachineHosts()
	if hosts[0] != "localhost" {
		t.Fatalf("hosts = %v", hosts)
	}
	for _, h := range hosts[1:] {
		if net.ParseIP(h) == nil {
			t.Errorf("%q is not an IP address", h)
		}
	}
}
