package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"meet/tlsconf"
)

// tlsFlags are the HTTPS settings. Browsers open the camera only in a
// secure context, which on any other machine than the server's means
// HTTPS.
type tlsFlags struct {
	cert, key      string
	selfSigned     bool
	publicHost     string
	acmeDomain     string
	acmeDirectory  string
	acmeEmail      string
	redirectAddr   string
	machineHostsFn func() []string // the machine's names; tests replace it
}

func (t *tlsFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&t.cert, "tls-cert", "", "certificate file (PEM, full chain) to serve HTTPS and WSS on -addr; needs -tls-key")
	fs.StringVar(&t.key, "tls-key", "", "private key file (PEM) of -tls-cert")
	fs.BoolVar(&t.selfSigned, "tls-self-signed", false, "serve HTTPS with a certificate made once and kept in the data directory, for -public-host and the machine's addresses (a LAN with no domain); its SHA-256 fingerprint is logged")
	fs.StringVar(&t.publicHost, "public-host", "", "names (comma-separated) by which users reach the server; a self-signed certificate carries them")
	fs.StringVar(&t.acmeDomain, "acme-domain", "", "get a certificate for this domain from Let's Encrypt (ACME), kept in the data directory; the domain must point at this server and port 443 (or -http-redirect-addr :80) must reach it")
	fs.StringVar(&t.acmeDirectory, "acme-directory", "", "ACME directory URL of another certificate authority (default: Let's Encrypt)")
	fs.StringVar(&t.acmeEmail, "acme-email", "", "e-mail address the ACME certificate authority may write to about expiry (optional)")
	fs.StringVar(&t.redirectAddr, "http-redirect-addr", "", "also listen for plain HTTP here (e.g. :80) and redirect it to HTTPS; with -acme-domain it also answers the CA's HTTP-01 challenges")
}

// config is the tlsconf configuration the flags ask for.
func (t *tlsFlags) config(dataDir string) tlsconf.Config {
	hosts := list(t.publicHost)
	if t.selfSigned {
		machine := tlsconf.MachineHosts
		if t.machineHostsFn != nil {
			machine = t.machineHostsFn
		}
		hosts = append(hosts, machine()...)
	}
	return tlsconf.Config{
		CertFile: t.cert, KeyFile: t.key,
		SelfSigned: t.selfSigned, Hosts: hosts,
		ACMEDomain: t.acmeDomain, ACMEDirectory: t.acmeDirectory, ACMEEmail: t.acmeEmail,
		Dir: dataDir,
	}
}

func (t *tlsFlags) check() error {
	if err := t.config("").Check(); err != nil {
		return err
	}
	if t.redirectAddr != "" && !t.config("").Enabled() {
		return fmt.Errorf("-http-redirect-addr redirects to HTTPS: it needs -tls-cert/-tls-key, -tls-self-signed or -acme-domain")
	}
	return nil
}

// secured is what secureListener sets up beside the listener.
type secured struct {
	handler      http.Handler // with HSTS when HTTPS is on
	redirectAddr string       // the plain HTTP redirect's bound address
	stop         func()       // stops the redirect listener
}

// certificate loads or makes the certificate the flags ask for, or nil
// without HTTPS. It comes before the app, whose TURN over TLS uses it too.
func (t *tlsFlags) certificate(dataDir string, logger *slog.Logger) (*tlsconf.Server, error) {
	tc := t.config(dataDir)
	if !tc.Enabled() {
		return nil, nil
	}
	server, err := tlsconf.New(tc)
	if err != nil {
		return nil, err
	}
	switch {
	case tc.ACMEDomain != "":
		logger.Info("https: certificates from ACME", "domain", tc.ACMEDomain, "directory", tc.ACMEDirectory)
	case tc.SelfSigned:
		logger.Info("https: self-signed certificate; compare this fingerprint with the browser's warning page",
			"sha256", server.Fingerprint, "hosts", tc.Hosts, "made_now", server.Made)
	default:
		logger.Info("https: certificate from files", "cert", tc.CertFile, "sha256", server.Fingerprint)
	}
	return server, nil
}

// secureListener wraps ln in TLS when there is a certificate, and starts
// the plain HTTP redirect listener when asked.
func secureListener(cfg *config, cert *tlsconf.Server, ln net.Listener, handler http.Handler, logger *slog.Logger) (net.Listener, secured, error) {
	out := secured{handler: handler, stop: func() {}}
	if cert == nil {
		return ln, out, nil
	}
	if cfg.tls.redirectAddr != "" {
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		httpsPort, _ := strconv.Atoi(port)
		var err error
		out.redirectAddr, out.stop, err = serveRedirect(cfg.tls.redirectAddr, cert.RedirectHandler(httpsPort), logger)
		if err != nil {
			return nil, out, err
		}
	}
	out.handler = tlsconf.HSTS(handler)
	return tls.NewListener(ln, cert.TLS), out, nil
}

// serveRedirect listens for plain HTTP on addr and returns the bound
// address.
func serveRedirect(addr string, handler http.Handler, logger *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("-http-redirect-addr: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	logger.Info("redirecting plain HTTP to HTTPS", "addr", ln.Addr().String())
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}
