package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// This file starts the one headless Chromium of a test, with the flags of the
// recipe verified on these machines (Debian's Chromium 156, chromedp v0.23):
// see chromiumFlags.

// chromiumPath returns the Chromium binary of the tests: $MEET_CHROMIUM, or
// Debian's /usr/bin/chromium. Without one the test fails when $CI is set, and
// skips otherwise.
func chromiumPath(t testing.TB) string {
	t.Helper()
	candidates := []string{"/usr/bin/chromium"}
	if p := os.Getenv("MEET_CHROMIUM"); p != "" {
		candidates = []string{p}
	}
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
		if p, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	skipOrFail(t, "no Chromium at %v: install Debian's chromium (scripts/test.sh does) or set MEET_CHROMIUM", candidates)
	return ""
}

// requirePrivateNetwork makes sure that the test runs in a network namespace
// whose only interface with an address is the loopback one, as scripts/test.sh
// sets up with `unshare -n`. WebRTC tests must never reach a real network.
func requirePrivateNetwork(t testing.TB) {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatalf("listing network interfaces: %v", err)
	}
	var others []string
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagLoopback != 0 || ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		if len(addrs) > 0 {
			others = append(others, ifc.Name)
		}
	}
	if len(others) > 0 {
		skipOrFail(t, "browser and WebRTC tests run only in a private network namespace with only lo "+
			"(interfaces %v are up here): run `make test`, or `unshare -n sh -c 'ip link set lo up && go test ./e2e'`", others)
	}
	if !loopbackUp() {
		skipOrFail(t, "the loopback interface is down: run `ip link set lo up` in the namespace")
	}
}

func loopbackUp() bool {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// skipOrFail skips the test, or fails it when the environment variable CI is
// set, so that CI can never pass by skipping.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatal("CI is set, so this cannot be skipped: " + msg)
	}
	t.Skip(msg)
}

// chromiumFlags are the flags of the recipe: fake media devices that need no
// prompt, loopback ICE candidates, autoplay, and no background traffic.
func chromiumFlags() []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		// Grants camera, microphone and screen capture with no prompt. With
		// the fake device flag, getDisplayMedia gives a fake 800x450 screen
		// (track label "screen:-3:0") on Chromium 156 headless: no
		// auto-select-desktop-capture-source flag is needed (TestHarness).
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		// Setting disable-features replaces chromedp's own list: keep it.
		chromedp.Flag("disable-features", strings.Join([]string{
			"Translate", "BlinkGenPropertyTrees", // chromedp's defaults
			"MediaRouter", "DialMediaRouteProvider", "OptimizationHints",
			"WebRtcHideLocalIpsWithMdns",
		}, ",")),
	}
}

// browser is one Chromium process. Each identity in it (newIdentity) is a
// separate browser context, with its own cookies; each tab of an identity is
// a window of that context.
type browser struct {
	t   testing.TB
	ctx context.Context // the first tab; its cancellation stops Chromium
	log *eventLog

	tabs     []*tab
	dumpOnce sync.Once
}

// newBrowser starts headless Chromium for the test and stops it when the test
// ends. Start the app server first, so that the browser closes before it.
func newBrowser(t testing.TB) *browser {
	t.Helper()
	requirePrivateNetwork(t)
	path := chromiumPath(t)

	// The profile lives outside t.TempDir: Chromium can still be writing in it
	// for a moment after it exits, and a failed cleanup of t.TempDir would
	// fail the test.
	profile, err := os.MkdirTemp("", "meet-e2e-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(profile) })

	out := &syncWriter{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromiumFlags()...)
	opts = append(opts,
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	b := &browser{t: t, ctx: ctx, log: newEventLog()}
	t.Cleanup(func() {
		dumpLog(t, "browser consoles", b.log)
		cancelCtx()
		cancelAlloc()
		if t.Failed() {
			if s := chromiumOutput(out.String()); s != "" {
				t.Logf("chromium output:\n%s", s)
			}
		}
	})

	start, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	// The first Run starts Chromium. It must use ctx, not a context with a
	// timeout, because its context bounds the life of the browser.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("starting Chromium %s: %v\n%s", path, err, out.String())
		}
	case <-start.Done():
		t.Fatalf("Chromium %s did not start in 45 s\n%s", path, out.String())
	}
	return b
}

// newIdentity opens a tab in a new browser context: a separate cookie jar, so
// a separate anonymous identity of the app.
func (b *browser) newIdentity(name string) *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	return b.openTab(name, ctx, cancel)
}

// newTab opens another tab of the same identity (same cookies).
func (tb *tab) newTab(name string) *tab {
	tb.t.Helper()
	ctx, cancel := chromedp.NewContext(tb.ctx)
	return tb.b.openTab(name, ctx, cancel)
}

func (b *browser) openTab(name string, ctx context.Context, cancel context.CancelFunc) *tab {
	b.t.Helper()
	tb := &tab{t: b.t, b: b, name: name, ctx: ctx, cancel: cancel}
	// The first call creates the tab; a timeout here would bound its life,
	// so run it on a goroutine and wait with a timeout instead.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			cancel()
			b.t.Fatalf("opening tab %s: %v", name, err)
		}
	case <-time.After(30 * time.Second):
		cancel()
		b.t.Fatalf("opening tab %s: no answer in 30 s", name)
	}
	b.log.follow(ctx, name)
	b.tabs = append(b.tabs, tb)
	b.t.Cleanup(func() {
		b.dumpTabs()
		cancel()
	})
	return tb
}

// dumpTabs reports every open tab once when the test failed, before the
// first tab closes, so that each report shows the others still connected.
func (b *browser) dumpTabs() {
	b.dumpOnce.Do(func() {
		if !b.t.Failed() {
			return
		}
		for _, tb := range b.tabs {
			if tb.ctx.Err() == nil {
				tb.dumpOnFailure()
			}
		}
	})
}

// chromiumOutput drops the lines of Chromium's output that are noise on a
// machine without D-Bus or a sound card, and Debian's wrapper script's
// complaint.
func chromiumOutput(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, "dbus/") || strings.Contains(line, "ALSA lib") ||
			strings.Contains(line, "alsa_util") || strings.Contains(line, "unexpected operator") || strings.TrimSpace(line) == "" {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}
