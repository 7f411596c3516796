package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// This file drives Debian's Firefox ESR over WebDriver BiDi (bidi_test.go):
// a headless process with a fresh profile whose prefs give fake camera and
// microphone with no prompt, loopback ICE candidates and autoplay.

// firefoxPrefs go into the profile's user.js.
var firefoxPrefs = map[string]any{
	// Fake devices, granted without a prompt (getUserMedia and
	// getDisplayMedia).
	"media.navigator.streams.fake":        true,
	"media.navigator.permission.disabled": true,
	// ICE on loopback, with raw addresses rather than mDNS names.
	"media.peerconnection.ice.loopback":                 true,
	"media.peerconnection.ice.obfuscate_host_addresses": false,
	// Autoplay with sound, as the Chromium flag allows.
	"media.autoplay.default":                   0,
	"media.autoplay.blocking_policy":           0,
	"media.block-autoplay-until-in-foreground": false,
	// HTTPS on pageHost (https_test.go): the name is a local one, which
	// Firefox resolves to loopback; IPv4 only, where the test server
	// listens. The certificate is accepted through acceptInsecureCerts.
	"network.dns.localDomains": pageHost,
	"network.dns.disableIPv6":  true,
	// BiDi only, and no background traffic: the namespace has no network.
	"remote.active-protocols":                              1,
	"app.update.disabledForTesting":                        true,
	"browser.shell.checkDefaultBrowser":                    false,
	"browser.startup.homepage_override.mstone":             "ignore",
	"browser.aboutwelcome.enabled":                         false,
	"datareporting.policy.dataSubmissionEnabled":           false,
	"datareporting.healthreport.uploadEnabled":             false,
	"toolkit.telemetry.reportingpolicy.firstRun":           false,
	"network.captive-portal-service.enabled":               false,
	"network.connectivity-service.enabled":                 false,
	"browser.safebrowsing.malware.enabled":                 false,
	"browser.safebrowsing.phishing.enabled":                false,
	"browser.safebrowsing.update.enabled":                  false,
	"extensions.update.enabled":                            false,
	"extensions.getAddons.cache.enabled":                   false,
	"browser.newtabpage.enabled":                           false,
	"browser.region.network.url":                           "",
	"services.settings.server":                             "data:,",
	"network.dns.disablePrefetch":                          true,
	"browser.tabs.remote.separatePrivilegedContentProcess": false,
	"dom.disable_open_during_load":                         false,
	"browser.sessionstore.resume_from_crash":               false,
}

// firefoxPath returns the Firefox binary: $MEET_FIREFOX or Debian's.
func firefoxPath(t testing.TB) string {
	t.Helper()
	return browserBinary(t, "MEET_FIREFOX", "/usr/bin/firefox-esr", "firefox-esr")
}

var bidiListening = regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)

// ensureDefaultRoute gives the namespace the default route Firefox needs:
// with only lo and no route out, Firefox gathers no ICE candidate at all. The
// route points at lo, so nothing can leave. It is added only in the private
// namespace the tests run in (requirePrivateNetwork ran first).
func ensureDefaultRoute(t testing.TB) {
	t.Helper()
	routes, err := os.ReadFile("/proc/net/route")
	if err == nil {
		for _, line := range strings.Split(string(routes), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 2 && f[1] == "00000000" && f[7] == "00000000" {
				return
			}
		}
	}
	out, err := exec.Command("ip", "route", "add", "default", "dev", "lo", "src", "127.0.0.1").CombinedOutput()
	if err != nil && !strings.Contains(string(out), "File exists") {
		skipOrFail(t, "Firefox needs a default route in the namespace (`ip route add default dev lo src 127.0.0.1`): %v %s", err, out)
	}
}

// startFirefox starts headless Firefox ESR with a BiDi session for the test.
func startFirefox(t testing.TB, lang string, log *eventLog) (open func(sibling pageDriver) (pageDriver, error), stop func()) {
	t.Helper()
	path := firefoxPath(t)
	ensureDefaultRoute(t)
	profile, err := os.MkdirTemp("", "meet-e2e-firefox-")
	if err != nil {
		t.Fatal(err)
	}
	prefs := firefoxPrefs
	if lang != "" {
		prefs = map[string]any{"intl.accept_languages": lang, "intl.locale.requested": lang}
		for k, v := range firefoxPrefs {
			prefs[k] = v
		}
	}
	var userJS strings.Builder
	for k, v := range prefs {
		val, _ := json.Marshal(v)
		fmt.Fprintf(&userJS, "user_pref(%q, %s);\n", k, val)
	}
	if err := os.WriteFile(profile+"/user.js", []byte(userJS.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(path, "--headless", "--no-remote", "--profile", profile, "--remote-debugging-port=0", "--window-size=1280,800", "about:blank")
	cmd.Env = append(os.Environ(), "MOZ_CRASHREPORTER_DISABLE=1", "MOZ_DISABLE_AUTO_SAFE_MODE=1")
	// Its own process group, so that stop ends the content processes too:
	// they inherit stdout, and Wait would wait for them to close it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncWriter{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting Firefox %s: %v", path, err)
	}
	wsURL := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(out, line)
			if m := bidiListening.FindStringSubmatch(line); m != nil {
				wsURL <- m[1]
			}
		}
		_, _ = io.Copy(out, stderr)
	}()
	ff := &firefoxProcess{pages: map[string]*firefoxPage{}, log: log}
	stop = func() {
		if ff.conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _ = ff.conn.call(ctx, "browser.close", nil)
			cancel()
			ff.conn.close()
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
		// Whatever is left of the group (content processes) goes too.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("firefox output:\n%s", firefoxOutput(out.String()))
		}
		os.RemoveAll(profile)
	}

	var url string
	select {
	case url = <-wsURL:
	case <-time.After(45 * time.Second):
		stop()
		t.Fatalf("Firefox %s did not open its BiDi port in 45 s\n%s", path, out.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ff.conn, err = dialBiDi(ctx, url+"/session", ff.event)
	if err == nil {
		_, err = ff.conn.call(ctx, "session.new", map[string]any{"capabilities": map[string]any{
			"alwaysMatch": map[string]any{"acceptInsecureCerts": true, "unhandledPromptBehavior": map[string]any{"default": "ignore"}},
		}})
	}
	if err == nil {
		_, err = ff.conn.call(ctx, "session.subscribe", map[string]any{"events": []string{"log.entryAdded"}})
	}
	if err != nil {
		stop()
		t.Fatalf("Firefox BiDi session at %s: %v\n%s", url, err, out.String())
	}
	return ff.open, stop
}

// firefoxOutput drops Firefox's noise on a machine without a GPU or D-Bus.
func firefoxOutput(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, "GFX1-") || strings.Contains(line, "dbus") || strings.TrimSpace(line) == "" {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// firefoxProcess is one Firefox process and its BiDi session.
type firefoxProcess struct {
	conn *bidiConn
	log  *eventLog

	mu    sync.Mutex
	pages map[string]*firefoxPage // by browsing context id
}

// event copies console entries to the log of the tab they came from.
func (ff *firefoxProcess) event(method string, params json.RawMessage) {
	if method != "log.entryAdded" {
		return
	}
	var e struct {
		Level  string `json:"level"`
		Text   string `json:"text"`
		Type   string `json:"type"`
		Source struct {
			Context string `json:"context"`
		} `json:"source"`
		StackTrace struct {
			CallFrames []struct {
				URL        string `json:"url"`
				LineNumber int    `json:"lineNumber"`
			} `json:"callFrames"`
		} `json:"stackTrace"`
	}
	if json.Unmarshal(params, &e) != nil {
		return
	}
	ff.mu.Lock()
	p := ff.pages[e.Source.Context]
	ff.mu.Unlock()
	name := "firefox"
	if p != nil && p.name != "" {
		name = p.name
	}
	where := ""
	if f := e.StackTrace.CallFrames; len(f) > 0 {
		where = fmt.Sprintf(" (%s:%d)", f[0].URL, f[0].LineNumber+1)
	}
	ff.log.addf(name, "%s %s: %s%s", e.Type, e.Level, e.Text, where)
}

// open opens a tab: in a new user context (its own cookies) unless sibling
// names a tab whose user context it shares.
func (ff *firefoxProcess) open(sibling pageDriver) (pageDriver, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	userContext := ""
	if sibling != nil {
		userContext = sibling.(*firefoxPage).userContext
	} else {
		var uc struct {
			UserContext string `json:"userContext"`
		}
		if err := ff.conn.callInto(ctx, "browser.createUserContext", nil, &uc); err != nil {
			return nil, err
		}
		userContext = uc.UserContext
	}
	var created struct {
		Context string `json:"context"`
	}
	if err := ff.conn.callInto(ctx, "browsingContext.create", map[string]any{"type": "window", "userContext": userContext}, &created); err != nil {
		return nil, err
	}
	pctx, pcancel := context.WithCancel(context.Background())
	p := &firefoxPage{ff: ff, id: created.Context, userContext: userContext, ctx: pctx, cancel: pcancel}
	ff.mu.Lock()
	ff.pages[p.id] = p
	ff.mu.Unlock()
	return p, nil
}

// firefoxPage is one Firefox window (a top-level browsing context).
type firefoxPage struct {
	ff          *firefoxProcess
	id          string
	userContext string
	name        string
	ctx         context.Context
	cancel      context.CancelFunc
}

func (p *firefoxPage) context() context.Context  { return p.ctx }
func (p *firefoxPage) followConsole(name string) { p.name = name }

func (p *firefoxPage) close() {
	if p.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = p.ff.conn.call(ctx, "browsingContext.close", map[string]any{"context": p.id})
	p.cancel()
}

func (p *firefoxPage) target() map[string]any { return map[string]any{"context": p.id} }

func (p *firefoxPage) navigate(ctx context.Context, url string) error {
	_, err := p.ff.conn.call(ctx, "browsingContext.navigate", map[string]any{"context": p.id, "url": url, "wait": "complete"})
	return err
}

// evaluate runs js in the page (awaiting a promise), as if the user had just
// interacted with it, and returns the result with ownership kept.
func (p *firefoxPage) evaluate(ctx context.Context, js string) (remoteValue, error) {
	var r scriptResult
	err := p.ff.conn.callInto(ctx, "script.evaluate", map[string]any{
		"expression": js, "target": p.target(), "awaitPromise": true,
		"resultOwnership": "root", "userActivation": true,
	}, &r)
	if err == nil {
		err = r.err()
	}
	return r.Result, err
}

// evalJSON evaluates js and returns its value as JSON: primitives directly,
// objects through JSON.stringify in the page.
func (p *firefoxPage) evalJSON(ctx context.Context, js string) ([]byte, error) {
	v, err := p.evaluate(ctx, js)
	if err != nil {
		return nil, err
	}
	if raw, ok := v.primitiveJSON(); ok {
		return raw, nil
	}
	if v.Handle == "" {
		return nil, fmt.Errorf("a %s result without a handle", v.Type)
	}
	defer func() {
		_, _ = p.ff.conn.call(ctx, "script.disown", map[string]any{"handles": []string{v.Handle}, "target": p.target()})
	}()
	var r scriptResult
	err = p.ff.conn.callInto(ctx, "script.callFunction", map[string]any{
		"functionDeclaration": "(v) => JSON.stringify(v)", "target": p.target(), "awaitPromise": false,
		"arguments": []any{map[string]any{"handle": v.Handle}}, "resultOwnership": "none",
	}, &r)
	if err == nil {
		err = r.err()
	}
	if err != nil {
		return nil, err
	}
	var s string
	if err := json.Unmarshal(r.Result.Value, &s); err != nil {
		return nil, fmt.Errorf("JSON.stringify gave %s", r.Result.Value)
	}
	return []byte(s), nil
}

// element waits until sel matches a visible element and returns its shared
// reference.
func (p *firefoxPage) element(ctx context.Context, sel string) (string, error) {
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e && e.getClientRects().length > 0 ? e : null; })()`, sel)
	for {
		v, err := p.evaluate(ctx, js)
		if err == nil && v.SharedID != "" {
			if v.Handle != "" {
				_, _ = p.ff.conn.call(ctx, "script.disown", map[string]any{"handles": []string{v.Handle}, "target": p.target()})
			}
			return v.SharedID, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no visible %s: %w (last error %v)", sel, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// click moves the mouse to the middle of the element and clicks: real input
// events, which give the page a user activation.
func (p *firefoxPage) click(ctx context.Context, sel string) error {
	ref, err := p.element(ctx, sel)
	if err != nil {
		return err
	}
	if _, err := p.evaluate(ctx, fmt.Sprintf(`document.querySelector(%q).scrollIntoView({block: 'center'})`, sel)); err != nil {
		return err
	}
	return p.performActions(ctx, map[string]any{
		"type": "pointer", "id": "mouse", "parameters": map[string]any{"pointerType": "mouse"},
		"actions": []any{
			map[string]any{"type": "pointerMove", "x": 0, "y": 0, "origin": map[string]any{"type": "element", "element": map[string]any{"sharedId": ref}}},
			map[string]any{"type": "pointerDown", "button": 0},
			map[string]any{"type": "pointerUp", "button": 0},
		},
	})
}

func (p *firefoxPage) performActions(ctx context.Context, sources ...any) error {
	_, err := p.ff.conn.call(ctx, "input.performActions", map[string]any{"context": p.id, "actions": sources})
	return err
}

// typeText inserts text at the caret as an input method would (an input
// event of type insertText), which works for any script.
func (p *firefoxPage) typeText(ctx context.Context, sel, text string) error {
	if _, err := p.element(ctx, sel); err != nil {
		return err
	}
	_, err := p.evaluate(ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.focus();
		if (!document.execCommand('insertText', false, %q)) throw new Error('insertText refused'); })()`, sel, text))
	return err
}

// webdriverKeys are the WebDriver code points of the keys pressKey knows.
var webdriverKeys = map[keyName]string{keyEnter: "\ue007", keyEscape: "\ue00c", keySpace: " "}

func (p *firefoxPage) pressKey(ctx context.Context, sel string, key keyName, shift bool) error {
	if sel != "" {
		if _, err := p.element(ctx, sel); err != nil {
			return err
		}
		if _, err := p.evaluate(ctx, fmt.Sprintf(`document.querySelector(%q).focus()`, sel)); err != nil {
			return err
		}
	}
	k, ok := webdriverKeys[key]
	if !ok {
		k = string(key)
	}
	var actions []any
	if shift {
		actions = append(actions, map[string]any{"type": "keyDown", "value": "\ue008"})
	}
	actions = append(actions, map[string]any{"type": "keyDown", "value": k}, map[string]any{"type": "keyUp", "value": k})
	if shift {
		actions = append(actions, map[string]any{"type": "keyUp", "value": "\ue008"})
	}
	return p.performActions(ctx, map[string]any{"type": "key", "id": "keyboard", "actions": actions})
}

// keyDown presses key and keeps it down (the input state of the context
// remembers it) until keyUp.
func (p *firefoxPage) keyDown(ctx context.Context, key keyName) error {
	return p.keyAction(ctx, "keyDown", key)
}

func (p *firefoxPage) keyUp(ctx context.Context, key keyName) error {
	return p.keyAction(ctx, "keyUp", key)
}

func (p *firefoxPage) keyAction(ctx context.Context, kind string, key keyName) error {
	k, ok := webdriverKeys[key]
	if !ok {
		k = string(key)
	}
	return p.performActions(ctx, map[string]any{"type": "key", "id": "keyboard", "actions": []any{map[string]any{"type": kind, "value": k}}})
}

func (p *firefoxPage) addInitScript(ctx context.Context, js string) error {
	_, err := p.ff.conn.call(ctx, "script.addPreloadScript", map[string]any{
		"functionDeclaration": "() => {\n" + js + "\n}", "contexts": []string{p.id},
	})
	return err
}

func (p *firefoxPage) location(ctx context.Context) (string, error) {
	var tree struct {
		Contexts []struct {
			URL string `json:"url"`
		} `json:"contexts"`
	}
	if err := p.ff.conn.callInto(ctx, "browsingContext.getTree", map[string]any{"root": p.id, "maxDepth": 0}, &tree); err != nil {
		return "", err
	}
	if len(tree.Contexts) == 0 {
		return "", fmt.Errorf("no browsing context %s", p.id)
	}
	return tree.Contexts[0].URL, nil
}

func (p *firefoxPage) screenshot(ctx context.Context) ([]byte, error) {
	var shot struct {
		Data string `json:"data"`
	}
	if err := p.ff.conn.callInto(ctx, "browsingContext.captureScreenshot", map[string]any{"context": p.id}, &shot); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(shot.Data)
}

func (p *firefoxPage) setViewport(ctx context.Context, width, height int) error {
	_, err := p.ff.conn.call(ctx, "browsingContext.setViewport", map[string]any{
		"context": p.id, "viewport": map[string]any{"width": width, "height": height},
	})
	return err
}
