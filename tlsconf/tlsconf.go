package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// Config says where the certificate comes from. At most one source is set:
// a pair of files, a self-signed certificate, or an ACME domain. None of
// them is plain HTTP.
type Config struct {
	CertFile, KeyFile string
	// SelfSigned makes a certificate once, kept in Dir, for Hosts.
	SelfSigned bool
	Hosts      []string
	// ACMEDomain gets a certificate for that name from ACMEDirectory
	// (Let's Encrypt's when empty), kept in Dir/acme.
	ACMEDomain    string
	ACMEDirectory string
	// ACMERoots are the roots the ACME directory's own HTTPS is checked
	// against (a private or test CA); nil trusts the system's.
	ACMERoots *x509.CertPool
	// ACMEEmail is given to the CA for expiry notices; optional.
	ACMEEmail string
	// Dir is the data directory.
	Dir string
	Now func() time.Time
}

// Enabled reports whether the server speaks HTTPS.
func (c Config) Enabled() bool {
	return c.CertFile != "" || c.KeyFile != "" || c.SelfSigned || c.ACMEDomain != ""
}

// Check refuses a configuration that names two sources or half of one.
func (c Config) Check() error {
	sources := 0
	for _, on := range []bool{c.CertFile != "" || c.KeyFile != "", c.SelfSigned, c.ACMEDomain != ""} {
		if on {
			sources++
		}
	}
	switch {
	case sources > 1:
		return errors.New("choose one of -tls-cert/-tls-key, -tls-self-signed and -acme-domain")
	case (c.CertFile == "") != (c.KeyFile == ""):
		return errors.New("-tls-cert and -tls-key go together")
	case c.ACMEDirectory != "" && c.ACMEDomain == "":
		return errors.New("-acme-directory needs -acme-domain")
	}
	return nil
}

// Server is what the HTTPS listener needs.
type Server struct {
	// TLS configures the listener (and TURN over TLS).
	TLS *tls.Config
	// Fingerprint is the SHA-256 fingerprint of a file or self-signed
	// certificate; empty with ACME, whose certificate comes later.
	Fingerprint string
	// Made is set when a self-signed certificate was made at this start.
	Made    bool
	manager *autocert.Manager
}

// New loads or makes the certificate, or prepares the ACME client.
func New(c Config) (*Server, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.ACMEDomain != "":
		return newACME(c), nil
	case c.SelfSigned:
		cert, made, err := SelfSigned(c.Dir, c.Hosts, c.Now())
		if err != nil {
			return nil, err
		}
		return withCertificate(cert, made), nil
	case c.CertFile != "":
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: load -tls-cert %s and -tls-key %s: %w", c.CertFile, c.KeyFile, err)
		}
		return withCertificate(cert, false), nil
	}
	return nil, errors.New("tls: no certificate configured")
}

func withCertificate(cert tls.Certificate, made bool) *Server {
	return &Server{
		TLS:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}},
		Fingerprint: Fingerprint(cert),
		Made:        made,
	}
}

// newACME answers TLS-ALPN-01 challenges on the HTTPS listener itself
// and HTTP-01 ones on the redirect listener, when there is one.
func newACME(c Config) *Server {
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(filepath.Join(c.Dir, "acme")),
		HostPolicy: autocert.HostWhitelist(c.ACMEDomain),
		Email:      c.ACMEEmail,
	}
	if c.ACMEDirectory != "" || c.ACMERoots != nil {
		client := &acme.Client{DirectoryURL: c.ACMEDirectory}
		if c.ACMERoots != nil {
			transport := http.DefaultTransport.(*http.Transport).Clone()
			transport.TLSClientConfig = &tls.Config{RootCAs: c.ACMERoots, MinVersion: tls.VersionTLS12}
			client.HTTPClient = &http.Client{Transport: transport, Timeout: 30 * time.Second}
		}
		m.Client = client
	}
	cfg := m.TLSConfig()
	cfg.MinVersion = tls.VersionTLS12
	return &Server{TLS: cfg, manager: m}
}

// Certificate asks for the certificate of name now, as the first visitor
// would: with ACME, it is fetched (or read from the cache) here. The hello
// is a current browser's, which takes ECDSA: autocert gives a hello
// without cipher suites an RSA certificate of its own, which no browser
// would be served.
func (s *Server) Certificate(name string) (*tls.Certificate, error) {
	return s.TLS.GetCertificate(&tls.ClientHelloInfo{
		ServerName:        name,
		SupportedProtos:   []string{"h2", "http/1.1"},
		CipherSuites:      []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		SignatureSchemes:  []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256, tls.PSSWithSHA256},
		SupportedCurves:   []tls.CurveID{tls.X25519, tls.CurveP256},
		SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
	})
}

// RedirectHandler answers plain HTTP: a permanent redirect to the same
// path on HTTPS at httpsPort (443 is left out of the URL), and, with
// ACME, the CA's HTTP-01 challenges first.
func (s *Server) RedirectHandler(httpsPort int) http.Handler {
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if httpsPort != 443 {
			host = net.JoinHostPort(host, strconv.Itoa(httpsPort))
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
	if s.manager != nil {
		return s.manager.HTTPHandler(redirect)
	}
	return redirect
}

// HSTS adds Strict-Transport-Security to every answer of next: once a
// browser has seen the site over HTTPS, it never tries plain HTTP again.
func HSTS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		next.ServeHTTP(w, r)
	})
}
