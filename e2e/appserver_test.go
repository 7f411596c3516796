package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"meet/app"
	"meet/protocol"
	"meet/store"
)

// This file starts the real application on an httptest server (127.0.0.1)
// with a fresh SQLite database, and talks to its REST API from Go.

// appServer is the application under test.
type appServer struct {
	*httptest.Server
	t          testing.TB
	log        *eventLog
	metricsURL string // the metrics listener, apart from the public one as in cmd/meet
	// store is the app's database, for what only the command line does
	// (an API key: meet apikey create).
	store *store.Store
}

// startApp starts the app for the test, with a fresh database, and stops it
// when the test ends. Start it before the browser, so that the browser closes
// first. The server's log is printed when the test fails.
func startApp(t testing.TB) *appServer {
	t.Helper()
	return startAppWith(t, nil)
}

// startAppWith is startApp with a configuration changed by configure (the
// mesh threshold, the switch delays).
func startAppWith(t testing.TB, configure func(*app.Config)) *appServer {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "meet.db"))
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	log := newEventLog()
	logger := slog.New(slog.NewTextHandler(logWriter{log}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := app.Config{
		Store:   st,
		Secret:  []byte("e2e-test-secret-e2e-test-secret-e2e-test-secret"),
		MeshMax: 4,
		Logger:  logger,
	}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := app.New(cfg)
	if err != nil {
		st.Close()
		t.Fatalf("app.New: %v", err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	startHTTPS(t, ts)
	metrics := httptest.NewServer(srv.MetricsHandler())
	t.Cleanup(func() {
		metrics.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("app shutdown: %v", err)
		}
		ts.Close()
		if err := st.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
		dumpLog(t, "server log", log)
	})
	return &appServer{Server: ts, t: t, log: log, metricsURL: metrics.URL, store: st}
}

// logWriter sends the server's log lines to an eventLog.
type logWriter struct{ l *eventLog }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.addf("server", "%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// roomURL is the share link of a room, with query parameters.
func (s *appServer) roomURL(id string, query url.Values) string {
	u := s.URL + "/r/" + url.PathEscape(id)
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return u
}

// apiClient is an API client with its own identity (cookie jar).
type apiClient struct {
	s      *appServer
	client *http.Client
}

func (s *appServer) newAPIClient() *apiClient {
	jar, _ := cookiejar.New(nil)
	return &apiClient{s: s, client: &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: httpsTransport()}}
}

// call sends a JSON request and decodes a JSON answer into out. It fails the
// test if the status is not want.
func (c *apiClient) call(method, path string, body any, want int, out any) {
	c.s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.s.URL+path, rd)
	if err != nil {
		c.s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.s.t.Fatalf("%s %s: decoding %s: %v", method, path, data, err)
		}
	}
}

func (c *apiClient) createRoom(name string) protocol.Room {
	c.s.t.Helper()
	var r protocol.Room
	c.call(http.MethodPost, "/api/rooms", map[string]string{"name": name}, http.StatusCreated, &r)
	if r.ID == "" {
		c.s.t.Fatalf("POST /api/rooms gave a room without an id: %+v", r)
	}
	return r
}

func (c *apiClient) room(id string) protocol.Room {
	c.s.t.Helper()
	var r protocol.Room
	c.call(http.MethodGet, "/api/rooms/"+url.PathEscape(id), nil, http.StatusOK, &r)
	return r
}

func (c *apiClient) participants(id string) []protocol.Participant {
	c.s.t.Helper()
	var out struct {
		Participants []protocol.Participant `json:"participants"`
	}
	c.call(http.MethodGet, "/api/rooms/"+url.PathEscape(id)+"/participants", nil, http.StatusOK, &out)
	return out.Participants
}

// waitParticipants polls the participants of a room until ok accepts them.
func (c *apiClient) waitParticipants(id, what string, timeout time.Duration, ok func([]protocol.Participant) bool) []protocol.Participant {
	c.s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ps := c.participants(id)
		if ok(ps) {
			return ps
		}
		if time.Now().After(deadline) {
			c.s.t.Fatalf("timed out after %v waiting until %s; participants: %s", timeout, what, jsonString(ps))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
