// Command meet runs the meeting app: the web frontend, the API, the
// WebSocket signaling and the SFU, with an embedded SQLite database.
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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "meet:", err)
		os.Exit(1)
	}
}

// run starts the server and blocks until ctx is cancelled, then shuts down
// gracefully. ready, when not nil, receives the bound address once the
// server listens (tests pass -addr 127.0.0.1:0).
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready chan<- string) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	level, _ := cfg.level()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	secret, err := cfg.loadSecret()
	if err != nil {
		return err
	}
	iceServers, _ := cfg.parseICEServers()
	db, err := store.Open(cfg.dbPath)
	if err != nil {
		return err
	}
	defer db.Close()

	srv, err := app.New(app.Config{
		Store:      db,
		Secret:     secret,
		MeshMax:    cfg.meshMax,
		ICEServers: iceServers,
		Logger:     logger,

		BackToMeshDelay: cfg.backDelay,
		ReconnectGrace:  reconnectGrace(cfg.reconnectGrace),

		MaxParticipants: noLimitIfZero(cfg.maxParticipants),
		MaxRooms:        noLimitIfZero(cfg.maxRooms),
		RoomsPerMinute:  noLimitIfZero(cfg.roomsPerMinute),
		JoinsPerMinute:  noLimitIfZero(cfg.joinsPerMinute),
		AllowedOrigins:  list(cfg.allowedOrigins),
		TrustedProxies:  list(cfg.trustedProxies),
		UDPPort:         cfg.udpPort,
		PublicIP:        cfg.publicIP,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	httpServer := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	logger.Info("meet listening", "addr", ln.Addr().String(), "db", cfg.dbPath, "mesh_max", cfg.meshMax, "udp_port", srv.SFUPort())
	if ready != nil {
		ready <- ln.Addr().String()
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- httpServer.Serve(ln) }()
	if cfg.pprof != "" {
		stopProfiler, err := serveProfiler(cfg.pprof, logger)
		if err != nil {
			return err
		}
		defer stopProfiler()
	}

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

// serveProfiler serves net/http/pprof on its own listener, never on the
// public one: profiles reveal the process's internals.
func serveProfiler(addr string, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-pprof: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	logger.Info("profiler listening", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// reconnectGrace maps the flag, where 0 turns resuming off, to the app's
// convention, where 0 takes the default.
func reconnectGrace(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
