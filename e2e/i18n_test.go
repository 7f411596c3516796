package e2e

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"meet/frontend"
)

// TestI18nChinese is issue 12's languages, in real Chromium started in
// Chinese (--lang, --accept-lang): the home page and a room come in 简体中文
// (the texts of the zh-CN catalog, <html lang="zh-CN">), a server error shows
// in Chinese, and the language picker switches to Español, a choice that
// survives a reload and holds on the other page.
//
// With MEET_E2E_SCREENSHOTS=<dir> it saves what a person would see there.
func TestI18nChinese(t *testing.T) {
	zh := readCatalogFile(t, "zh-CN")
	es := readCatalogFile(t, "es")
	en := readCatalogFile(t, "en")
	const wait = 20 * time.Second

	srv := startApp(t)
	b := startBrowser(t, chromium, browserOptions{lang: "zh-CN"})
	li := b.newIdentity("li")

	// The browser really asks for Chinese: in its headers and in
	// navigator.languages, which the page reads.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(r.Header.Get("Accept-Language")))
	}))
	defer echo.Close()
	li.navigate(echo.URL)
	if got := evalJS[string](li, `document.body.textContent`); !strings.HasPrefix(got, "zh-CN") {
		t.Errorf("the browser sends Accept-Language %q, want zh-CN first", got)
	}
	if got := evalJS[[]string](li, `[...navigator.languages]`); len(got) == 0 || got[0] != "zh-CN" {
		t.Errorf("navigator.languages is %q, want zh-CN first", got)
	}

	// The home page, in Chinese.
	li.navigate(srv.URL + "/")
	waitText(li, wait, "the create-room button", `[data-testid="create-room"]`, zh["home.create.button"])
	if lang := evalJS[string](li, `document.documentElement.lang`); lang != "zh-CN" {
		t.Errorf("<html lang=%q> on the home page, want zh-CN", lang)
	}
	for sel, key := range map[string]string{
		"#create-title":             "home.create.title",
		".topbar-note":              "home.tagline",
		"#rooms-title":              "home.rooms.title",
		"#rooms-empty":              "home.rooms.empty",
		"label.create-options span": "home.create.classroom",
	} {
		if got := evalJS[string](li, `document.querySelector(`+jsonString(sel)+`).textContent.trim()`); got != zh[key] {
			t.Errorf("home %s shows %q, want %q (%s)", sel, got, zh[key], key)
		}
	}
	if got := evalJS[string](li, `document.querySelector('[data-testid="create-room-name"]').placeholder`); got != zh["home.create.namePlaceholder"] {
		t.Errorf("the room name's placeholder is %q, want %q", got, zh["home.create.namePlaceholder"])
	}
	picker := evalJS[struct {
		Value   string   `json:"value"`
		Options []string `json:"options"`
		Label   string   `json:"label"`
	}](li, `(() => { const s = document.querySelector('[data-testid="language-select"]');
		return { value: s.value, options: [...s.options].map(o => o.value + ' ' + o.textContent), label: s.getAttribute('aria-label') }; })()`)
	if want := []string{"en English", "zh-CN 简体中文", "es Español"}; picker.Value != "zh-CN" || strings.Join(picker.Options, "|") != strings.Join(want, "|") || picker.Label != zh["language.label"] {
		t.Errorf("the home page's language picker is %+v, want zh-CN chosen of %q, labelled %q", picker, want, zh["language.label"])
	}
	li.saveScreenshot("i18n-home-zh-CN")

	// A server error, in Chinese: a room with no name.
	li.click(`[data-testid="create-room"]`)
	waitText(li, wait, "the refusal of an empty room name", `#create-error`, zh["error.invalid_name"])

	// A room that does not exist.
	li.navigate(srv.URL + "/r/no-such-room")
	waitText(li, wait, "the room-not-found view", `[data-testid="room-not-found"] h1`, zh["room.missing.title"])

	// A room's pre-join screen.
	room := srv.newAPIClient().createRoom("数学课 i18n")
	li.navigate(srv.roomURL(room.ID, nil))
	waitText(li, wait, "the pre-join screen's join button", `[data-testid="join"]`, zh["prejoin.join"])
	for sel, key := range map[string]string{
		`[data-testid="join-spectator"]`:    "prejoin.joinSpectator",
		`#view-prejoin .eyebrow`:            "prejoin.ready",
		`label[for="display-name"]`:         "prejoin.nameLabel",
		`[data-testid="prejoin-copy-link"]`: "common.copyLink",
		`#prejoin-meta`:                     "prejoin.nobodyHere",
	} {
		if got := evalJS[string](li, `document.querySelector(`+jsonString(sel)+`).textContent.trim()`); !strings.Contains(got, zh[key]) {
			t.Errorf("pre-join %s shows %q, want %q (%s)", sel, got, zh[key], key)
		}
	}
	if got := evalJS[string](li, `document.title`); got != "数学课 i18n · Meet" {
		t.Errorf("the room's title is %q", got)
	}
	waitFor[bool](li, wait, "the camera preview is on", `document.querySelector('[data-testid="prejoin-camera"]').getAttribute('aria-pressed') === 'true'`)
	li.saveScreenshot("i18n-prejoin-zh-CN")

	// In the call: the controls and the connection, in Chinese, and no
	// language picker (it reloads the page).
	fillDisplayName(li, `'李雷'`)
	li.click(`[data-testid="join"]`)
	waitText(li, wait, "the connection state", `[data-testid="connection"]`, zh["conn.connected"])
	for sel, key := range map[string]string{
		`[data-testid="toggle-mic"] .control-label`:    "call.mic",
		`[data-testid="toggle-screen"] .control-label`: "call.shareScreen",
		`[data-testid="leave"] .control-label`:         "call.leave",
		`#chat-title`:                                  "chat.title",
		`[data-testid="chat-send"]`:                    "chat.send",
	} {
		if got := evalJS[string](li, `document.querySelector(`+jsonString(sel)+`).textContent.trim()`); got != zh[key] {
			t.Errorf("in the call %s shows %q, want %q (%s)", sel, got, zh[key], key)
		}
	}
	if got := evalJS[string](li, `document.querySelector('[data-local] .tile-name').textContent`); got != strings.ReplaceAll(zh["tile.you"], "{name}", "李雷") {
		t.Errorf("my tile is named %q", got)
	}
	if n := evalJS[int](li, `document.querySelectorAll('#view-room [data-testid="language-select"]').length`); n != 0 {
		t.Errorf("%d language pickers inside the call, want none", n)
	}
	li.saveScreenshot("i18n-call-zh-CN")
	li.click(`[data-testid="leave"]`)
	waitText(li, wait, "the left view", `[data-testid="room-left"] h1`, zh["room.left.title"])
	if got := evalJS[string](li, `document.querySelector('[data-testid="room-left"] p').textContent`); got != strings.ReplaceAll(zh["room.left.text"], "{name}", "数学课 i18n") {
		t.Errorf("the left view says %q", got)
	}

	// The picker on the pre-join screen: Español, remembered over a reload
	// and on the home page, where the picker shows it.
	li.navigate(srv.roomURL(room.ID, nil))
	waitText(li, wait, "the pre-join screen", `[data-testid="join"]`, zh["prejoin.join"])
	evalJS[bool](li, `(() => { const s = document.querySelector('#view-prejoin [data-testid="language-select"]');
		s.value = 'es'; s.dispatchEvent(new Event('change', { bubbles: true })); return true; })()`)
	waitText(li, wait, "the pre-join screen in Spanish after the switch", `[data-testid="join"]`, es["prejoin.join"])
	if lang := evalJS[string](li, `document.documentElement.lang`); lang != "es" {
		t.Errorf("<html lang=%q> after choosing Español, want es", lang)
	}
	li.saveScreenshot("i18n-prejoin-es")
	li.navigate(srv.roomURL(room.ID, nil)) // a reload
	waitText(li, wait, "the pre-join screen in Spanish after a reload", `[data-testid="join"]`, es["prejoin.join"])
	li.navigate(srv.URL + "/")
	waitText(li, wait, "the home page in Spanish", `[data-testid="create-room"]`, es["home.create.button"])
	if v := evalJS[string](li, `document.querySelector('[data-testid="language-select"]').value`); v != "es" {
		t.Errorf("the home page's picker shows %q, want es", v)
	}
	li.click(`[data-testid="create-room"]`)
	waitText(li, wait, "the refusal of an empty room name in Spanish", `#create-error`, es["error.invalid_name"])
	li.saveScreenshot("i18n-home-es")

	// And back to English from the home page's picker: the texts the other
	// tests read.
	evalJS[bool](li, `(() => { const s = document.querySelector('[data-testid="language-select"]');
		s.value = 'en'; s.dispatchEvent(new Event('change', { bubbles: true })); return true; })()`)
	waitText(li, wait, "the home page in English", `[data-testid="create-room"]`, en["home.create.button"])
	if en["home.create.button"] != "Create room" {
		t.Errorf("the English create button says %q", en["home.create.button"])
	}
}

// readCatalogFile reads a language catalog from the embedded frontend.
func readCatalogFile(t *testing.T, code string) map[string]string {
	t.Helper()
	data, err := fs.ReadFile(frontend.Files, "i18n/"+code+".json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("i18n/%s.json: %v", code, err)
	}
	return m
}

// waitText waits until the element of sel shows want (trimmed textContent).
func waitText(tb *tab, timeout time.Duration, what, sel, want string) {
	tb.t.Helper()
	if want == "" {
		tb.t.Fatalf("%s: no text to wait for (a key missing from the catalog?)", what)
	}
	waitFor[bool](tb, timeout, what+" shows "+jsonString(want),
		`(() => { const n = document.querySelector(`+jsonString(sel)+`); return !!n && n.getClientRects().length > 0 && n.textContent.trim() === `+jsonString(want)+`; })()`)
}
