package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"meet/tlsconf"
)

// Every browser test runs over HTTPS, on a name that is not localhost:
// browsers open the camera only in a secure context, and localhost is the
// one place where plain HTTP is one. The server's certificate is the
// self-signed one cmd/meet makes with -tls-self-signed (package tlsconf),
// for pageHost and 127.0.0.1. Chromium resolves pageHost to 127.0.0.1 by
// --host-resolver-rules and Firefox by network.dns.localDomains; both
// accept the certificate because the test tells them to (Chromium's
// --ignore-certificate-errors, WebDriver's acceptInsecureCerts), as a user
// accepts it on the warning page after comparing the fingerprint.

// pageHost is the name the pages are served on.
const pageHost = "meet.test"

// serverCertificate is the test binary's one certificate.
var serverCertificate = sync.OnceValues(func() (tls.Certificate, error) {
	dir, err := os.MkdirTemp("", "meet-e2e-tls-")
	if err != nil {
		return tls.Certificate{}, err
	}
	defer os.RemoveAll(dir)
	cert, _, err := tlsconf.SelfSigned(dir, []string{pageHost, "127.0.0.1"}, time.Now())
	return cert, err
})

// startHTTPS starts ts with the test certificate and points its URL at
// pageHost.
func startHTTPS(tb interface{ Fatalf(string, ...any) }, ts *httptest.Server) {
	cert, err := serverCertificate()
	if err != nil {
		tb.Fatalf("making the server's certificate: %v", err)
	}
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	ts.StartTLS()
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	ts.URL = "https://" + net.JoinHostPort(pageHost, port)
}

// dialPageHost dials pageHost on 127.0.0.1, as the browsers resolve it.
func dialPageHost(ctx context.Context, network, addr string) (net.Conn, error) {
	if host, port, err := net.SplitHostPort(addr); err == nil && host == pageHost {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// trustingTLS trusts the test certificate, and only it.
func trustingTLS() *tls.Config {
	cert, err := serverCertificate()
	roots := x509.NewCertPool()
	if err == nil {
		if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil {
			roots.AddCert(leaf)
		}
	}
	return &tls.Config{RootCAs: roots}
}

// httpsTransport is what the tests' Go clients reach the server with.
func httpsTransport() *http.Transport {
	return &http.Transport{DialContext: dialPageHost, TLSClientConfig: trustingTLS(), ForceAttemptHTTP2: true}
}

// wsDialer opens the server's WebSocket from Go.
func wsDialer() *websocket.Dialer {
	return &websocket.Dialer{NetDialContext: dialPageHost, TLSClientConfig: trustingTLS(), HandshakeTimeout: 10 * time.Second}
}

// wsURL is the WebSocket URL of a page URL (https → wss).
func wsURL(pageURL string) string {
	return "wss" + strings.TrimPrefix(pageURL, "https")
}
