package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// This file holds the actions of one tab, each with a timeout and a clear
// failure message.

// tab is one browser tab (one window) of one identity.
type tab struct {
	t    testing.TB
	b    *browser
	name string
	drv  pageDriver
}

// actionTimeout bounds one browser action (a navigation, a click).
const actionTimeout = 30 * time.Second

// do runs one action of the driver with a timeout and fails the test on
// error.
func (tb *tab) do(what string, action func(ctx context.Context) error) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.drv.context(), actionTimeout)
	defer cancel()
	if err := action(ctx); err != nil {
		tb.t.Fatalf("%s (%s): %s: %v", tb.name, tb.b.kind, what, err)
	}
}

// navigate loads url and waits for its load event.
func (tb *tab) navigate(url string) {
	tb.t.Helper()
	tb.do("navigating to "+url, func(ctx context.Context) error { return tb.drv.navigate(ctx, url) })
}

// click waits until the element of the CSS selector is visible and clicks it
// with real mouse events (so the page gets a user activation).
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.do("clicking "+sel, func(ctx context.Context) error { return tb.drv.click(ctx, sel) })
}

// typeText focuses the element of the CSS selector and inserts text as an
// input method would, which works for any script (accents, CJK).
func (tb *tab) typeText(sel, text string) {
	tb.t.Helper()
	tb.do("typing into "+sel, func(ctx context.Context) error { return tb.drv.typeText(ctx, sel, text) })
}

// pressKey focuses sel (unless empty) and presses key, with Shift held when
// shift is set.
func (tb *tab) pressKey(sel string, key keyName, shift bool) {
	tb.t.Helper()
	tb.do(fmt.Sprintf("pressing %s in %q", key, sel), func(ctx context.Context) error { return tb.drv.pressKey(ctx, sel, key, shift) })
}

// keyDown presses key and holds it down until keyUp.
func (tb *tab) keyDown(key keyName) {
	tb.t.Helper()
	tb.do(fmt.Sprintf("holding %s down", key), func(ctx context.Context) error { return tb.drv.keyDown(ctx, key) })
}

// keyUp lets go of a key held with keyDown.
func (tb *tab) keyUp(key keyName) {
	tb.t.Helper()
	tb.do(fmt.Sprintf("letting %s go", key), func(ctx context.Context) error { return tb.drv.keyUp(ctx, key) })
}

// setViewport resizes the page's viewport.
func (tb *tab) setViewport(width, height int) {
	tb.t.Helper()
	tb.do(fmt.Sprintf("resizing to %dx%d", width, height), func(ctx context.Context) error { return tb.drv.setViewport(ctx, width, height) })
}

// addInitScript makes js run in every document the tab loads from now on,
// before the page's own scripts.
func (tb *tab) addInitScript(js string) {
	tb.t.Helper()
	tb.do("adding an init script", func(ctx context.Context) error { return tb.drv.addInitScript(ctx, js) })
}

// location returns the URL of the tab.
func (tb *tab) location() string {
	tb.t.Helper()
	var loc string
	tb.do("reading the location", func(ctx context.Context) (err error) {
		loc, err = tb.drv.location(ctx)
		return err
	})
	return loc
}

// screenshot returns a PNG of the tab, or nil after logging why not.
func (tb *tab) screenshot() []byte {
	ctx, cancel := context.WithTimeout(tb.drv.context(), 10*time.Second)
	defer cancel()
	png, err := tb.drv.screenshot(ctx)
	if err != nil {
		tb.t.Logf("screenshot of %s: %v", tb.name, err)
		return nil
	}
	return png
}

// saveScreenshot saves a screenshot of the tab as name.png in
// $MEET_E2E_SCREENSHOTS when that is set, to look at a page as a person
// would.
func (tb *tab) saveScreenshot(name string) {
	dir := os.Getenv("MEET_E2E_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := tb.screenshot()
	if png == nil {
		return
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		tb.t.Logf("screenshot of %s: %v", tb.name, err)
		return
	}
	tb.t.Logf("screenshot of %s in %s", tb.name, p)
}

// evalJS evaluates js (awaiting a promise) and decodes its JSON value into T.
func evalJS[T any](tb *tab, js string) T {
	tb.t.Helper()
	v, err := tryEval[T](tb, js)
	if err != nil {
		tb.t.Fatalf("%s (%s): evaluating %s: %v", tb.name, tb.b.kind, shorten(js, 200), err)
	}
	return v
}

func tryEval[T any](tb *tab, js string) (T, error) {
	var v T
	ctx, cancel := context.WithTimeout(tb.drv.context(), actionTimeout)
	defer cancel()
	raw, err := tb.drv.evalJSON(ctx, js)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("decoding %s: %w", shorten(string(raw), 300), err)
	}
	return v, nil
}

// waitFor polls the JavaScript expression js until its value is truthy, and
// returns that value decoded into T. It fails the test with what, the last
// value and the last error after timeout. The expression may be a promise.
// Errors while polling (for example during a navigation) are retried.
func waitFor[T any](tb *tab, timeout time.Duration, what, js string) T {
	tb.t.Helper()
	wrapped := `(async () => { try { const v = await (` + js + `);
		return {ok: !!v, v: v === undefined ? null : v}; }
		catch (e) { return {ok: false, err: String(e && e.stack || e)}; } })()`
	type result struct {
		OK  bool            `json:"ok"`
		V   json.RawMessage `json:"v"`
		Err string          `json:"err"`
	}
	deadline := time.Now().Add(timeout)
	var last result
	var lastErr error
	for {
		r, err := tryEval[result](tb, wrapped)
		if err == nil && r.OK {
			var v T
			if err := json.Unmarshal(r.V, &v); err != nil {
				tb.t.Fatalf("%s: %s: decoding %s: %v", tb.name, what, r.V, err)
			}
			return v
		}
		last, lastErr = r, err
		if time.Now().After(deadline) || tb.drv.context().Err() != nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	detail := fmt.Sprintf("last value %s", last.V)
	if last.Err != "" {
		detail = "last exception: " + last.Err
	}
	if lastErr != nil {
		detail = "last error: " + lastErr.Error()
	}
	tb.t.Fatalf("%s (%s): timed out after %v waiting until %s (%s)", tb.name, tb.b.kind, timeout, what, detail)
	panic("unreachable")
}

// dumpOnFailure logs what the tab shows and saves a screenshot under
// e2e/artifacts/<test>/, to make a failure debuggable.
func (tb *tab) dumpOnFailure() {
	ctx, cancel := context.WithTimeout(tb.drv.context(), 10*time.Second)
	defer cancel()
	loc, _ := tb.drv.location(ctx)
	var html string
	raw, err := tb.drv.evalJSON(ctx, `document.body ? document.body.outerHTML : ""`)
	if err == nil {
		err = json.Unmarshal(raw, &html)
	}
	if err != nil {
		html = "(no DOM: " + err.Error() + ")"
	}
	media, err := tb.drv.evalJSON(ctx, probeReportJS)
	if err != nil {
		media = []byte(err.Error())
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, media, "  ", "  ") == nil {
		media = pretty.Bytes()
	}
	tb.t.Logf("%s tab %s at %s\nmedia: %s\nbody: %s", tb.b.kind, tb.name, loc, media, shorten(squeezeSpace(html), 4000))
	if png := tb.screenshot(); png != nil {
		dir := filepath.Join("artifacts", safeName(tb.t.Name()))
		if os.MkdirAll(dir, 0o755) == nil {
			p := filepath.Join(dir, safeName(tb.name)+".png")
			if os.WriteFile(p, png, 0o644) == nil {
				tb.t.Logf("tab %s: screenshot in e2e/%s", tb.name, p)
			}
		}
	}
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safeName(s string) string { return unsafeChars.ReplaceAllString(s, "_") }

var blankRun = regexp.MustCompile(`\s*\n\s*`)

// squeezeSpace drops the indentation and blank lines of HTML.
func squeezeSpace(s string) string { return blankRun.ReplaceAllString(s, "\n") }

func shorten(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... (%d more bytes)", len(s)-n)
}
