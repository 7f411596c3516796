package tlsconf_test

// These tests get a real certificate from a real ACME server: Pebble,
// Let's Encrypt's test CA (a tool dependency in go.mod, built here from
// the module cache). Pebble really validates the challenge: it resolves
// the test domain through pebble-challtestsrv's DNS server, which answers
// every A query with 127.0.0.1, and connects to our listeners on
// loopback. Nothing leaves the machine.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"meet/tlsconf"
)

const (
	acmeTestDomain = "meet.test"
	pebbleModule   = "github.com/letsencrypt/pebble/v2"
)

func TestACME(t *testing.T) {
	bin := buildPebble(t)

	// TLS-ALPN-01, answered by the HTTPS listener itself (Server.TLS) on
	// the port Pebble validates; then the certificate is served from
	// Dir/acme with Pebble gone.
	t.Run("TLSALPN01", func(t *testing.T) {
		tlsPort, httpPort := freePort(t), freePort(t)
		ca := startPebble(t, bin, tlsPort, httpPort)
		dir := t.TempDir()
		srv, err := tlsconf.New(tlsconf.Config{ACMEDomain: acmeTestDomain, ACMEDirectory: ca.directory, ACMERoots: ca.httpsRoots, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		// Count the CA's challenge handshakes (ALPN acme-tls/1) on the
		// listener, to be sure the validation went through it.
		var challenges atomic.Int32
		cfg := srv.TLS.Clone()
		getCert := cfg.GetCertificate
		cfg.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if slices.Contains(hello.SupportedProtos, acme.ALPNProto) {
				challenges.Add(1)
			}
			return getCert(hello)
		}
		addr := serveHTTPS(t, "127.0.0.1:"+strconv.Itoa(tlsPort), cfg)

		cert := certificateWithin(t, srv, 90*time.Second)
		if challenges.Load() == 0 {
			t.Fatalf("a certificate came without a tls-alpn-01 handshake on %s", addr)
		}
		leaf := ca.verify(t, cert)
		handshake(t, addr, ca.root, leaf)

		if _, err := os.Stat(filepath.Join(dir, "acme", acmeTestDomain)); err != nil {
			t.Fatalf("the certificate is not kept in Dir/acme: %v", err)
		}
		ca.stop()
		again, err := tlsconf.New(tlsconf.Config{ACMEDomain: acmeTestDomain, ACMEDirectory: ca.directory, ACMERoots: ca.httpsRoots, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		kept := certificateWithin(t, again, 30*time.Second)
		if !bytes.Equal(kept.Certificate[0], cert.Certificate[0]) {
			t.Fatal("with the CA stopped, a new start serves another certificate than the one kept")
		}
	})

	// HTTP-01, answered by RedirectHandler on Pebble's HTTP port, with
	// nothing on its TLS-ALPN-01 port: autocert tries tls-alpn-01 first,
	// sees it fail, and falls back to http-01 with a new order.
	t.Run("HTTP01", func(t *testing.T) {
		deadTLSPort, httpPort := deadPort(t), freePort(t)
		ca := startPebble(t, bin, deadTLSPort, httpPort)
		srv, err := tlsconf.New(tlsconf.Config{ACMEDomain: acmeTestDomain, ACMEDirectory: ca.directory, ACMERoots: ca.httpsRoots, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		// The HTTPS listener is elsewhere than the CA's TLS-ALPN-01 port.
		httpsAddr := serveHTTPS(t, "127.0.0.1:0", srv.TLS)
		_, p, _ := net.SplitHostPort(httpsAddr)
		httpsPort, _ := strconv.Atoi(p)

		// A CA validates http-01 on port 80, where the Host header has no
		// port; Pebble, on a test port, sends "meet.test:port", which the
		// host policy (exact names) refuses. Give the handler what it
		// would see on port 80.
		var challenges atomic.Int32
		redirect := srv.RedirectHandler(httpsPort)
		onPort80 := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
				challenges.Add(1)
				if host, _, err := net.SplitHostPort(r.Host); err == nil {
					r.Host = host
				}
			}
			redirect.ServeHTTP(w, r)
		})
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(httpPort))
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{Handler: onPort80, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		t.Cleanup(func() { _ = hs.Close() })

		cert := certificateWithin(t, srv, 90*time.Second)
		if challenges.Load() == 0 {
			t.Fatal("a certificate came without an http-01 request on the redirect listener")
		}
		leaf := ca.verify(t, cert)
		handshake(t, httpsAddr, ca.root, leaf)

		// Anything else on plain HTTP is still redirected.
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/room?x=1", nil)
		req.Host = acmeTestDomain
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		want := fmt.Sprintf("https://%s:%d/room?x=1", acmeTestDomain, httpsPort)
		if res.StatusCode != http.StatusPermanentRedirect || res.Header.Get("Location") != want {
			t.Fatalf("plain HTTP: %d to %q, want %d to %q", res.StatusCode, res.Header.Get("Location"), http.StatusPermanentRedirect, want)
		}
	})
}

// buildPebble builds pebble and pebble-challtestsrv from the module cache
// (they are tool dependencies, so this works offline) and returns their
// directory.
func buildPebble(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", bin+string(filepath.Separator),
		pebbleModule+"/cmd/pebble", pebbleModule+"/cmd/pebble-challtestsrv")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build pebble: %v\n%s", err, out)
	}
	t.Logf("built pebble and pebble-challtestsrv in %v", time.Since(start).Round(time.Millisecond))
	return bin
}

// pebble is a running Pebble with its DNS server.
type pebble struct {
	directory  string         // the ACME directory URL
	httpsRoots *x509.CertPool // Pebble's own HTTPS root (minica)
	root       *x509.CertPool // the root of the certificates it issues
	inter      *x509.Certificate
	stop       func()
}

// startPebble runs pebble-challtestsrv as the DNS server (every A query
// answered with 127.0.0.1, no AAAA, none of its challenge servers) and
// Pebble validating on tlsPort and httpPort, and waits until both answer.
func startPebble(t *testing.T, bin string, tlsPort, httpPort int) *pebble {
	t.Helper()
	modDir := pebbleModuleDir(t)
	minica, err := os.ReadFile(filepath.Join(modDir, "test", "certs", "pebble.minica.pem"))
	if err != nil {
		t.Fatal(err)
	}
	httpsRoots := x509.NewCertPool()
	if !httpsRoots.AppendCertsFromPEM(minica) {
		t.Fatal("no certificate in pebble.minica.pem")
	}

	dnsAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	stopDNS := startProcess(t, "pebble-challtestsrv", filepath.Join(bin, "pebble-challtestsrv"), nil,
		"-dnsserver", dnsAddr, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-management", "127.0.0.1:"+strconv.Itoa(freePort(t)),
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "")

	listen := "127.0.0.1:" + strconv.Itoa(freePort(t))
	manage := "127.0.0.1:" + strconv.Itoa(freePort(t))
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":                  listen,
		"managementListenAddress":        manage,
		"certificate":                    filepath.Join(modDir, "test", "certs", "localhost", "cert.pem"),
		"privateKey":                     filepath.Join(modDir, "test", "certs", "localhost", "key.pem"),
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"keyAlgorithm":                   "ecdsa",
		// No Retry-After: the client polls every second.
		"retryAfter": map[string]int{"authz": 0, "order": 0},
	}}
	confJSON, _ := json.Marshal(conf)
	confPath := filepath.Join(t.TempDir(), "pebble-config.json")
	if err := os.WriteFile(confPath, confJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	// No random sleeps before validating, no random bad-nonce rejections.
	// The validation itself is real (no PEBBLE_VA_ALWAYS_VALID).
	env := []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"}
	stopCA := startProcess(t, "pebble", filepath.Join(bin, "pebble"), env,
		"-config", confPath, "-dnsserver", dnsAddr, "-strict=false")

	// The DNS server answers the test domain with loopback, over TCP as
	// Pebble asks.
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", dnsAddr)
	}}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: httpsRoots}}}
	t.Cleanup(client.CloseIdleConnections)
	p := &pebble{directory: "https://" + listen + "/dir", httpsRoots: httpsRoots, stop: func() { stopCA(); stopDNS() }}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		addrs, dnsErr := resolver.LookupHost(ctx, acmeTestDomain)
		cancel()
		res, err := client.Get(p.directory)
		if err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %s", res.Status)
			}
		}
		if dnsErr == nil && err == nil {
			if !slices.Equal(addrs, []string{"127.0.0.1"}) {
				t.Fatalf("the DNS server answers %s with %v, want 127.0.0.1", acmeTestDomain, addrs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not come up: directory: %v; dns: %v", err, dnsErr)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The root and intermediate it issues under (made at each start).
	rootPEM := get(t, client, "https://"+manage+"/roots/0")
	interPEM := get(t, client, "https://"+manage+"/intermediates/0")
	p.root = x509.NewCertPool()
	if !p.root.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("no root certificate from pebble: %q", rootPEM)
	}
	block, _ := pem.Decode(interPEM)
	if block == nil {
		t.Fatalf("no intermediate certificate from pebble: %q", interPEM)
	}
	if p.inter, err = x509.ParseCertificate(block.Bytes); err != nil {
		t.Fatal(err)
	}
	return p
}

// verify checks that cert is for the test domain, issued by Pebble's
// intermediate under its root, and returns the leaf.
func (p *pebble) verify(t *testing.T, cert *tls.Certificate) *x509.Certificate {
	t.Helper()
	if len(cert.Certificate) < 2 {
		t.Fatalf("a chain of %d certificates, want the leaf and Pebble's intermediate", len(cert.Certificate))
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(leaf.DNSNames, []string{acmeTestDomain}) {
		t.Fatalf("certificate for %v, want [%s]", leaf.DNSNames, acmeTestDomain)
	}
	if !bytes.Equal(cert.Certificate[1], p.inter.Raw) {
		t.Fatal("the served chain does not carry Pebble's intermediate")
	}
	inters := x509.NewCertPool()
	inters.AddCert(p.inter)
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: acmeTestDomain, Roots: p.root, Intermediates: inters}); err != nil {
		t.Fatalf("the certificate does not verify under Pebble's root: %v", err)
	}
	return leaf
}

// certificateWithin asks srv for the test domain's certificate, failing
// after limit rather than waiting for autocert's own timeout.
func certificateWithin(t *testing.T, srv *tlsconf.Server, limit time.Duration) *tls.Certificate {
	t.Helper()
	type result struct {
		cert *tls.Certificate
		err  error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		cert, err := srv.Certificate(acmeTestDomain)
		done <- result{cert, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("Certificate(%q): %v", acmeTestDomain, r.err)
		}
		t.Logf("Certificate(%q) took %v", acmeTestDomain, time.Since(start).Round(time.Millisecond))
		return r.cert
	case <-time.After(limit):
		t.Fatalf("Certificate(%q): no answer in %v", acmeTestDomain, limit)
		return nil
	}
}

// serveHTTPS serves HTTPS on addr with cfg, as cmd/meet does, and returns
// the bound address.
func serveHTTPS(t *testing.T, addr string, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "meet") }),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = hs.Serve(tls.NewListener(ln, cfg)) }()
	t.Cleanup(func() { _ = hs.Close() })
	return ln.Addr().String()
}

// handshake opens addr as a browser would for the test domain, trusting
// Pebble's root, and checks that it serves leaf.
func handshake(t *testing.T, addr string, root *x509.CertPool, leaf *x509.Certificate) {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: acmeTestDomain, RootCAs: root, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatalf("TLS handshake with %s as %s: %v", addr, acmeTestDomain, err)
	}
	defer conn.Close()
	if got := conn.ConnectionState().PeerCertificates[0]; !got.Equal(leaf) {
		t.Fatal("the listener serves another certificate")
	}
}

func get(t *testing.T, client *http.Client, url string) []byte {
	t.Helper()
	res, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, res.Status, err)
	}
	return body
}

// pebbleModuleDir is Pebble's module in the module cache: its test
// certificates (the HTTPS server's, under the minica root) are there.
func pebbleModuleDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", pebbleModule).Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Fatalf("go list -m %s: %v", pebbleModule, err)
	}
	return dir
}

// handedOut is every port freePort returned in this process.
var handedOut sync.Map

// freePort returns a TCP port free on loopback now, and never one it
// returned before: the kernel may give a port just closed to the next
// bind, and a CA told to listen where the test's own listener will (it
// happened in CI) fails the test with "address already in use".
func freePort(t *testing.T) int {
	t.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if _, seen := handedOut.LoadOrStore(port, true); !seen {
			return port
		}
	}
}

// deadPort returns a port that stays taken until the test ends, by a
// listener that closes every connection at once: a free port could be
// handed to the test's own HTTPS listener, which would then answer the
// CA's TLS-ALPN-01 check meant to fail there.
func deadPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// startProcess runs a program until the test ends (or stop is called),
// and logs its output when the test fails.
func startProcess(t *testing.T, name, path string, env []string, args ...string) (stop func()) {
	t.Helper()
	out := &lockedBuffer{}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	return stop
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
