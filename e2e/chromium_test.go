package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// This file drives Debian's headless Chromium through chromedp (the DevTools
// protocol), with the flags of the recipe verified on these machines
// (Chromium 156, chromedp v0.23): see chromiumFlags.

// chromiumPath returns the Chromium binary of the tests: $MEET_CHROMIUM, or
// Debian's /usr/bin/chromium. Without one the test fails when $CI is set, and
// skips otherwise.
func chromiumPath(t testing.TB) string {
	t.Helper()
	return browserBinary(t, "MEET_CHROMIUM", "/usr/bin/chromium", "chromium")
}

// browserBinary finds a browser: $env, or the Debian path.
func browserBinary(t testing.TB, env, debianPath, pkg string) string {
	t.Helper()
	candidates := []string{debianPath}
	if p := os.Getenv(env); p != "" {
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
	skipOrFail(t, "no browser at %v: install Debian's %s (scripts/test.sh does) or set %s", candidates, pkg, env)
	return ""
}

// chromiumFlags are the flags of the recipe: fake media devices that need no
// prompt, loopback ICE candidates, autoplay, and no background traffic.
func chromiumFlags() []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("use-fake-device-for-media-stream", "device-count=3"), // three cameras for TestDevices; the second is a depth camera
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
		// HTTPS on pageHost (https_test.go): the name resolves to the
		// test server, and its self-signed certificate is accepted.
		chromedp.Flag("host-resolver-rules", "MAP "+pageHost+" 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors", true),
		// Setting disable-features replaces chromedp's own list: keep it.
		chromedp.Flag("disable-features", strings.Join([]string{
			"Translate", "BlinkGenPropertyTrees", // chromedp's defaults
			"MediaRouter", "DialMediaRouteProvider", "OptimizationHints",
			"WebRtcHideLocalIpsWithMdns",
		}, ",")),
	}
}

// startChromium starts headless Chromium for the test and returns how to
// open its pages; stop ends it.
func startChromium(t testing.TB, lang string, log *eventLog) (open func(sibling pageDriver) (pageDriver, error), stop func()) {
	t.Helper()
	return startChromiumWith(t, chromiumSetup{lang: lang}, log)
}

// chromiumSetup changes how startChromiumWith starts Chromium.
type chromiumSetup struct {
	lang string // as browserOptions.lang
	// wrap, when set, gives the program to run in place of the Chromium
	// binary at path, with the same arguments: a wrapper that runs it
	// somewhere else (netns_test.go runs it inside a network namespace).
	// DevTools goes over chromedp's pipe (file descriptors 3 and 4), which
	// a wrapper that execs passes on, so no DevTools port must be reachable.
	wrap func(path string) string
	// flags come after the recipe's, and replace those of the same name
	// (host-resolver-rules, to map pageHost to another address).
	flags []chromedp.ExecAllocatorOption
}

// startChromiumWith is startChromium with a setup.
func startChromiumWith(t testing.TB, setup chromiumSetup, log *eventLog) (open func(sibling pageDriver) (pageDriver, error), stop func()) {
	t.Helper()
	lang := setup.lang
	path := chromiumPath(t)
	execPath := path
	if setup.wrap != nil {
		execPath = setup.wrap(path)
	}

	// The profile lives outside t.TempDir: Chromium can still be writing in it
	// for a moment after it exits, and a failed cleanup of t.TempDir would
	// fail the test.
	profile, err := os.MkdirTemp("", "meet-e2e-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	out := &syncWriter{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromiumFlags()...)
	opts = append(opts, setup.flags...)
	opts = append(opts,
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(out),
	)
	if lang != "" {
		opts = append(opts, chromedp.Flag("lang", lang), chromedp.Flag("accept-lang", lang))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	stop = func() {
		cancelCtx()
		cancelAlloc()
		if t.Failed() {
			if s := chromiumOutput(out.String()); s != "" {
				t.Logf("chromium output:\n%s", s)
			}
		}
		os.RemoveAll(profile)
	}

	start, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	// The first Run starts Chromium. It must use ctx, not a context with a
	// timeout, because its context bounds the life of the browser.
	if err := startWithin(start, func() error { return chromedp.Do(ctx) }); err != nil {
		stop()
		t.Fatalf("starting Chromium %s: %v\n%s", path, err, out.String())
	}
	open = func(sibling pageDriver) (pageDriver, error) {
		parent, opts := ctx, []chromedp.ContextOption{chromedp.WithNewBrowserContext()}
		if sibling != nil {
			// Another window of the same browser context: same cookies.
			parent, opts = sibling.(*chromePage).ctx, nil
		}
		pctx, pcancel := chromedp.NewContext(parent, opts...)
		opening, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// The first call creates the tab; a timeout here would bound its
		// life, so it runs on a goroutine that startWithin waits for.
		if err := startWithin(opening, func() error { return chromedp.Do(pctx) }); err != nil {
			pcancel()
			return nil, err
		}
		return &chromePage{ctx: pctx, cancel: pcancel, log: log}, nil
	}
	return open, stop
}

// startWithin runs start on a goroutine and waits for it until ctx ends.
func startWithin(ctx context.Context, start func() error) error {
	done := make(chan error, 1)
	go func() { done <- start() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer: %w", ctx.Err())
	}
}

// chromePage is one Chromium tab.
type chromePage struct {
	ctx    context.Context
	cancel context.CancelFunc
	log    *eventLog
}

func (p *chromePage) context() context.Context { return p.ctx }
func (p *chromePage) close()                   { p.cancel() }

func (p *chromePage) followConsole(name string) { p.log.follow(p.ctx, name) }

func (p *chromePage) run(ctx context.Context, actions ...chromedp.Action[chromedp.Void]) error {
	return chromedp.Do(ctx, actions...)
}

func (p *chromePage) navigate(ctx context.Context, url string) error {
	return p.run(ctx, chromedp.Navigate(url))
}

// click waits until the element is visible and clicks it with real mouse
// events (so the page gets a user activation).
func (p *chromePage) click(ctx context.Context, sel string) error {
	return p.run(ctx, chromedp.Click(chromedp.CSS(sel)))
}

// typeText inserts text as an input method would, which works for any
// script (accents, CJK).
func (p *chromePage) typeText(ctx context.Context, sel, text string) error {
	return p.run(ctx,
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Focus(chromedp.CSS(sel)),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: text})
			return err
		}),
	)
}

func (p *chromePage) pressKey(ctx context.Context, sel string, key keyName, shift bool) error {
	var opts []chromedp.KeyOption
	if shift {
		opts = append(opts, chromedp.KeyModifiers(chromedp.ModifierShift))
	}
	k := map[keyName]string{keyEnter: kb.Enter, keyEscape: kb.Escape, keySpace: " "}[key]
	if k == "" {
		k = string(key)
	}
	actions := []chromedp.Action[chromedp.Void]{}
	if sel != "" {
		actions = append(actions, chromedp.Focus(chromedp.CSS(sel)))
	}
	return p.run(ctx, append(actions, chromedp.KeyEvent(k, opts...))...)
}

// keyDown dispatches the key's keyDown (and char) events, and keyUp its
// keyUp, so that the page sees the key held in between.
func (p *chromePage) keyDown(ctx context.Context, key keyName) error {
	return p.dispatchKey(ctx, key, func(t input.DispatchKeyEventType) bool { return t != kb.KeyUp })
}

func (p *chromePage) keyUp(ctx context.Context, key keyName) error {
	return p.dispatchKey(ctx, key, func(t input.DispatchKeyEventType) bool { return t == kb.KeyUp })
}

func (p *chromePage) dispatchKey(ctx context.Context, key keyName, want func(input.DispatchKeyEventType) bool) error {
	k := map[keyName]string{keyEnter: kb.Enter, keyEscape: kb.Escape, keySpace: " "}[key]
	if k == "" {
		k = string(key)
	}
	return p.run(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, r := range k {
			for _, ev := range kb.Encode(r) {
				if !want(ev.Type) {
					continue
				}
				if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, *ev); err != nil {
					return err
				}
			}
		}
		return nil
	}))
}

func (p *chromePage) addInitScript(ctx context.Context, js string) error {
	return p.run(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: js})
		return err
	}))
}

func (p *chromePage) location(ctx context.Context) (string, error) {
	return chromedp.Run(ctx, chromedp.Location())
}

func (p *chromePage) evalJSON(ctx context.Context, js string) ([]byte, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
}

func (p *chromePage) screenshot(ctx context.Context) ([]byte, error) {
	return chromedp.Run(ctx, chromedp.CaptureScreenshot())
}

func (p *chromePage) setViewport(ctx context.Context, width, height int) error {
	return p.run(ctx, chromedp.EmulateViewport(int64(width), int64(height)))
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
