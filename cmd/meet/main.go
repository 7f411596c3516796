// Command meet runs the meeting app: the web frontend, the API, the
// WebSocket signaling and the SFU, with an embedded SQLite database or a
// PostgreSQL one.
// `meet apikey` manages the API keys that other applications sign join
// tokens with (apikey.go); `meet migrate-db` copies a database into
// another, SQLite into PostgreSQL (migratedb.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"meet/app"
	"meet/store"
	"meet/tlsconf"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "apikey":
		err = runAPIKey(os.Args[2:], os.Getenv, os.Stdout, os.Stderr)
	case len(os.Args) > 1 && os.Args[1] == "migrate-db":
		err = runMigrateDB(os.Args[2:], os.Stdout, os.Stderr)
	default:
		err = run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "meet:", err)
		os.Exit(1)
	}
}

// listening is where a started server answers.
type listening struct {
	srv          *app.Server
	addr         string // the public HTTP(S) address
	metricsAddr  string // the metrics listener's; empty when off
	redirectAddr string // the plain HTTP redirect's; empty when off
}

// run starts the server and blocks until ctx is cancelled, then shuts down
// gracefully. ready, when not nil, receives the bound addresses once the
// server listens (tests pass -addr 127.0.0.1:0).
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready chan<- listening) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	level, _ := cfg.level()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	iceServers, _ := cfg.parseICEServers()
	db, err := store.Open(cfg.dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, err := cfg.sharedSecret(db)
	if err != nil {
		return err
	}

	cert, err := cfg.tls.certificate(cfg.dataDir(), logger)
	if err != nil {
		return err
	}
	appCfg := cfg.appConfig(db, secret, iceServers, logger)
	if appCfg.TURN, err = cfg.turn.turnConfig(cfg.dataDir(), cfg, cert); err != nil {
		return err
	}
	srv, err := app.New(appCfg)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, srv, cert, logger, ready)
}

// serve listens on the public address and the internal ones, and serves srv
// until ctx is cancelled, then says goodbye to every participant before it
// stops.
func serve(ctx context.Context, cfg *config, srv *app.Server, cert *tlsconf.Server, logger *slog.Logger, ready chan<- listening) error {
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	defer ln.Close()
	ln, secure, err := secureListener(cfg, cert, ln, srv.Handler(), logger)
	if err != nil {
		return err
	}
	defer secure.stop()
	httpServer := &http.Server{
		Handler:           secure.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	bound := listening{srv: srv, addr: ln.Addr().String(), redirectAddr: secure.redirectAddr}
	// The other nodes forward joins of this node's rooms here (app/proxy.go).
	if err := srv.SetInternalURL(cfg.internalAddress(ln.Addr(), cert != nil)); err != nil {
		logger.Warn("node heartbeat", "err", err)
	}
	if cfg.metricsAddr != "" {
		metricsAddr, stopMetrics, err := serveInternal("metrics-addr", cfg.metricsAddr, metricsMux(srv.MetricsHandler()), logger)
		if err != nil {
			return err
		}
		defer stopMetrics()
		bound.metricsAddr = metricsAddr
	}
	if cfg.pprof != "" {
		_, stopProfiler, err := serveInternal("pprof", cfg.pprof, profilerMux(), logger)
		if err != nil {
			return err
		}
		defer stopProfiler()
	}
	logger.Info("meet listening", "addr", bound.addr, "https", cert != nil, "db", store.Redacted(cfg.dbPath), "node", srv.NodeID(), "mesh_max", cfg.meshMax,
		"udp_port", srv.SFUPort(), "ice_tcp_port", srv.SFUTCPPort(), "turn_port", srv.TURNPort())
	if ready != nil {
		ready <- bound
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- httpServer.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Error("close participants", "err", err)
	}
	// WebSockets are hijacked connections: http.Server.Shutdown does not
	// wait for them, which is why srv.Shutdown closed them first.
	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// serveInternal serves handler on a listener of its own, never on the
// public one: metrics and profiles reveal the process's internals. It
// returns the bound address.
func serveInternal(flagName, addr string, handler http.Handler, logger *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("-%s: listen on %s: %w (an empty -%s turns it off)", flagName, addr, err, flagName)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	logger.Info("internal listener", "serves", flagName, "addr", ln.Addr().String())
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// metricsMux answers /metrics and nothing else.
func metricsMux(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics)
	return mux
}

// profilerMux serves Go's profiler (net/http/pprof).
func profilerMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// alwaysSFUIfZero maps -mesh-max 0 (every room on the SFU) to app.Config's
// negative MeshMax; the app's 0 takes its default.
func alwaysSFUIfZero(meshMax int) int {
	if meshMax == 0 {
		return -1
	}
	return meshMax
}

// reconnectGrace maps the flag, where 0 turns resuming off, to the app's
// convention, where 0 takes the default.
func reconnectGrace(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
