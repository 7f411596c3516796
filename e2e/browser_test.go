package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
)

// This file starts the browsers of a test, Chromium or Firefox ESR, behind
// one interface, pageDriver: a test written once runs in either, and a mixed
// room has tabs of both.

// browserKind names a browser the tests run in.
type browserKind string

const (
	chromium browserKind = "chromium"
	firefox  browserKind = "firefox"
)

// keyName is a key pressKey understands.
type keyName string

const (
	keyEnter  keyName = "Enter"
	keyEscape keyName = "Escape"
	keySpace  keyName = "Space"
)

// pageDriver is one tab of a real browser, driven over its remote protocol.
// Every call is bounded by ctx.
type pageDriver interface {
	context() context.Context // ends when the tab closes
	close()
	followConsole(name string) // copies the tab's console into the browser's log
	navigate(ctx context.Context, url string) error
	click(ctx context.Context, sel string) error
	typeText(ctx context.Context, sel, text string) error
	// pressKey focuses sel (when not empty) and presses key, with Shift.
	pressKey(ctx context.Context, sel string, key keyName, shift bool) error
	// keyDown presses key and holds it, keyUp lets it go: a held key, such
	// as Space for push to talk.
	keyDown(ctx context.Context, key keyName) error
	keyUp(ctx context.Context, key keyName) error
	addInitScript(ctx context.Context, js string) error
	location(ctx context.Context) (string, error)
	// evalJSON evaluates js, awaiting a promise, and returns its value as
	// JSON.
	evalJSON(ctx context.Context, js string) ([]byte, error)
	screenshot(ctx context.Context) ([]byte, error)
	setViewport(ctx context.Context, width, height int) error
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

// browser is one browser process. Each identity in it (newIdentity) has its
// own cookies (a Chromium browser context, a Firefox user context); each tab
// of an identity is a window sharing them.
type browser struct {
	t    testing.TB
	kind browserKind
	log  *eventLog
	// open opens a tab: in a new identity when sibling is nil, else in
	// sibling's.
	open func(sibling pageDriver) (pageDriver, error)

	mu       sync.Mutex
	tabs     []*tab
	dumpOnce sync.Once
}

// browserOptions change how a browser starts.
type browserOptions struct {
	// lang is the language the browser asks pages for (Accept-Language,
	// navigator.languages), e.g. "zh-CN"; empty keeps the default.
	lang string
}

// newBrowser starts headless Chromium for the test and stops it when the test
// ends. Start the app server first, so that the browser closes before it.
func newBrowser(t testing.TB) *browser {
	t.Helper()
	return startBrowser(t, chromium, browserOptions{})
}

// startBrowser starts a browser of kind for the test.
func startBrowser(t testing.TB, kind browserKind, opts browserOptions) *browser {
	t.Helper()
	requirePrivateNetwork(t)
	b := &browser{t: t, kind: kind, log: newEventLog()}
	var stop func()
	switch kind {
	case chromium:
		b.open, stop = startChromium(t, opts.lang, b.log)
	case firefox:
		b.open, stop = startFirefox(t, opts.lang, b.log)
	default:
		t.Fatalf("unknown browser %q", kind)
	}
	t.Cleanup(func() {
		dumpLog(t, string(kind)+" consoles", b.log)
		stop()
	})
	return b
}

// newIdentity opens a tab with a new identity of the app: a separate cookie
// jar.
func (b *browser) newIdentity(name string) *tab {
	b.t.Helper()
	return b.openTab(name, nil)
}

// newTab opens another tab of the same identity (same cookies).
func (tb *tab) newTab(name string) *tab {
	tb.t.Helper()
	return tb.b.openTab(name, tb.drv)
}

func (b *browser) openTab(name string, sibling pageDriver) *tab {
	b.t.Helper()
	drv, err := b.open(sibling)
	if err != nil {
		b.t.Fatalf("opening %s tab %s: %v", b.kind, name, err)
	}
	tb := &tab{t: b.t, b: b, name: name, drv: drv}
	drv.followConsole(name)
	b.mu.Lock()
	b.tabs = append(b.tabs, tb)
	b.mu.Unlock()
	b.t.Cleanup(func() {
		b.dumpTabs()
		drv.close()
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
		b.mu.Lock()
		tabs := append([]*tab(nil), b.tabs...)
		b.mu.Unlock()
		for _, tb := range tabs {
			if tb.drv.context().Err() == nil {
				tb.dumpOnFailure()
			}
		}
	})
}

// browsers starts one browser of each kind a test asks for, on first use:
// the tabs of a mixed room.
type browsers struct {
	t  testing.TB
	by map[browserKind]*browser
}

func newBrowsers(t testing.TB) *browsers {
	return &browsers{t: t, by: map[browserKind]*browser{}}
}

func (bs *browsers) get(kind browserKind) *browser {
	bs.t.Helper()
	if b := bs.by[kind]; b != nil {
		return b
	}
	b := startBrowser(bs.t, kind, browserOptions{})
	bs.by[kind] = b
	return b
}
