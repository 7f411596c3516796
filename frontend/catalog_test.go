package frontend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The language catalogs (i18n/*.json) and the pages that use them: every
// catalog has the same keys as English, with a text in each and the same
// {placeholders}; every key the pages use exists; every server error code has
// its text.

// catalog is one i18n/<code>.json: its keys in file order and their texts.
type catalog struct {
	file  string
	keys  []string
	texts map[string]string
}

// readCatalog parses one catalog strictly: one flat JSON object of strings,
// no key twice (a plain Unmarshal would keep the last of two silently).
func readCatalog(data []byte, file string) (catalog, error) {
	c := catalog{file: file, texts: map[string]string{}}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return c, fmt.Errorf("%s: not a JSON object (%v)", file, err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return c, fmt.Errorf("%s: %v", file, err)
		}
		key := tok.(string)
		var text any
		if err := dec.Decode(&text); err != nil {
			return c, fmt.Errorf("%s: the value of %q: %v", file, key, err)
		}
		s, ok := text.(string)
		if !ok {
			return c, fmt.Errorf("%s: the value of %q is %T, want a string", file, key, text)
		}
		if _, dup := c.texts[key]; dup {
			return c, fmt.Errorf("%s: key %q appears twice", file, key)
		}
		c.keys = append(c.keys, key)
		c.texts[key] = s
	}
	if _, err := dec.Token(); err != nil {
		return c, fmt.Errorf("%s: %v", file, err)
	}
	if dec.More() {
		return c, fmt.Errorf("%s: text after the object", file)
	}
	if _, err := dec.Token(); err == nil {
		return c, fmt.Errorf("%s: text after the object", file)
	}
	return c, nil
}

var (
	// LANGUAGES in i18n.js: { code: 'zh-CN', name: '简体中文' }.
	languageCode = regexp.MustCompile(`\{\s*code:\s*'([^']+)',\s*name:`)
	placeholder  = regexp.MustCompile(`\{(\w+)\}`)

	// Uses of keys in the JavaScript: t('key'), t("key"), plural('key', n)
	// (key.one, key.other, ...), errorText('code') (error.code).
	jsT         = regexp.MustCompile(`\bt\(\s*(?:'([^'\n]+)'|"([^"\n]+)")(\s*\+)?`)
	jsPlural    = regexp.MustCompile(`\bplural\(\s*(?:'([^'\n]+)'|"([^"\n]+)")`)
	jsErrorText = regexp.MustCompile(`\berrorText\(\s*(?:'([^'\n]+)'|"([^"\n]+)")`)
	// A key the scanner cannot read: t(`...${x}...`) or t('a' + b).
	jsDynamicT = regexp.MustCompile("\\bt\\(\\s*(?:`|'[^'\\n]*'\\s*\\+|\"[^\"\\n]*\"\\s*\\+)")
	// data-i18n="key", data-i18n-title="key", ... in HTML, and the same
	// attributes in markup built by JS: 'data-i18n': 'key'. data-i18n-param
	// names a placeholder, not a key.
	htmlAttr = regexp.MustCompile(`\bdata-i18n(-title|-aria-label|-placeholder)?\s*=\s*(?:"([^"]*)"|'([^']*)')`)
	jsAttr   = regexp.MustCompile(`['"]data-i18n(-title|-aria-label|-placeholder)?['"]\s*:\s*(?:'([^']*)'|"([^"]*)")`)

	// ErrorCode in protocol.js, and its values.
	errorCodeBlock = regexp.MustCompile(`(?s)export const ErrorCode = Object\.freeze\(\{(.*?)\}\);`)
	quotedValue    = regexp.MustCompile(`:\s*'([^']+)'`)
)

func firstGroup(m []string) string {
	for _, g := range m[1:] {
		if g != "" {
			return g
		}
	}
	return ""
}

func placeholders(s string) []string {
	var names []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
	}
	sort.Strings(names)
	return names
}

// use is one place a key is used.
type use struct {
	key   string
	where string // file:line
}

// scanUses finds every key used in one file of the frontend.
func scanUses(file string, src []byte) (uses []use, problems []string) {
	lineOf := func(offset int) string {
		return fmt.Sprintf("%s:%d", file, bytes.Count(src[:offset], []byte("\n"))+1)
	}
	add := func(re *regexp.Regexp, keyOf func(m []string) []string) {
		for _, loc := range re.FindAllSubmatchIndex(src, -1) {
			m := make([]string, len(loc)/2)
			for i := range m {
				if loc[2*i] >= 0 {
					m[i] = string(src[loc[2*i]:loc[2*i+1]])
				}
			}
			for _, k := range keyOf(m) {
				uses = append(uses, use{key: k, where: lineOf(loc[0])})
			}
		}
	}
	switch path.Ext(file) {
	case ".js":
		add(jsT, func(m []string) []string {
			if m[3] != "" {
				return nil // 'prefix.' + x: reported as dynamic below
			}
			return []string{m[1] + m[2]}
		})
		add(jsPlural, func(m []string) []string { k := firstGroup(m); return []string{k + ".one", k + ".other"} })
		add(jsErrorText, func(m []string) []string { return []string{"error." + firstGroup(m)} })
		add(jsAttr, func(m []string) []string { return []string{m[2] + m[3]} })
		for _, loc := range jsDynamicT.FindAllIndex(src, -1) {
			problems = append(problems, lineOf(loc[0])+": t() with a key built at run time; use a literal key so that this test can check it")
		}
	case ".html":
		add(htmlAttr, func(m []string) []string { return []string{m[2] + m[3]} })
	}
	return uses, problems
}

func loadCatalogs(t *testing.T) (en catalog, all []catalog) {
	t.Helper()
	src, err := fs.ReadFile(Files, "js/i18n.js")
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, m := range languageCode.FindAllStringSubmatch(string(src), -1) {
		codes = append(codes, m[1])
	}
	if len(codes) == 0 || codes[0] != "en" {
		t.Fatalf("js/i18n.js: LANGUAGES lists %q; want English first", codes)
	}
	files, err := fs.Glob(Files, "i18n/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if code := strings.TrimSuffix(path.Base(f), ".json"); !slices.Contains(codes, code) {
			t.Errorf("%s: a catalog for %q, which LANGUAGES in js/i18n.js does not list", f, code)
		}
	}
	for _, code := range codes {
		file := "i18n/" + code + ".json"
		data, err := fs.ReadFile(Files, file)
		if err != nil {
			t.Errorf("LANGUAGES in js/i18n.js lists %q, but %s is missing", code, file)
			continue
		}
		c, err := readCatalog(data, file)
		if err != nil {
			t.Error(err)
			continue
		}
		all = append(all, c)
	}
	if len(all) == 0 || all[0].file != "i18n/en.json" {
		t.Fatal("no English catalog: nothing to check against")
	}
	return all[0], all
}

// TestCatalogsMatch: the catalogs have the same keys as English, a text for
// each, and the same placeholders in every language.
func TestCatalogsMatch(t *testing.T) {
	en, all := loadCatalogs(t)
	if len(all) < 3 {
		t.Errorf("%d catalogs, want at least English, 简体中文 and Español", len(all))
	}
	for _, c := range all {
		for _, key := range c.keys {
			if strings.TrimSpace(c.texts[key]) == "" {
				t.Errorf("%s: %q is empty", c.file, key)
			}
			if strings.HasSuffix(key, ".one") {
				if _, ok := c.texts[strings.TrimSuffix(key, ".one")+".other"]; !ok {
					t.Errorf("%s: %q has no .other form", c.file, key)
				}
			}
		}
		if c.file == en.file {
			continue
		}
		for _, key := range en.keys {
			text, ok := c.texts[key]
			if !ok {
				t.Errorf("%s: missing key %q (en: %q)", c.file, key, en.texts[key])
				continue
			}
			if want, got := placeholders(en.texts[key]), placeholders(text); !slices.Equal(want, got) {
				t.Errorf("%s: %q has placeholders %q, want %q as in English (%q)", c.file, key, got, want, en.texts[key])
			}
		}
		for _, key := range c.keys {
			if _, ok := en.texts[key]; !ok {
				t.Errorf("%s: extra key %q, which i18n/en.json does not have", c.file, key)
			}
		}
	}
	if n := len(en.keys); n > 0 && en.keys[n-1] != "language.name" {
		t.Errorf("i18n/en.json: the last key is %q; keep \"language.name\" last", en.keys[n-1])
	}
	t.Logf("%d catalogs of %d keys", len(all), len(en.keys))
}

// TestCatalogCoversPages: every key the pages use (t(), plural(),
// errorText(), data-i18n attributes) is in the English catalog.
func TestCatalogCoversPages(t *testing.T) {
	en, _ := loadCatalogs(t)
	used := map[string]bool{}
	files := 0
	err := fs.WalkDir(Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := path.Ext(p); ext != ".js" && ext != ".html" {
			return nil
		}
		src, err := fs.ReadFile(Files, p)
		if err != nil {
			return err
		}
		files++
		uses, problems := scanUses(p, src)
		for _, pr := range problems {
			t.Error(pr)
		}
		for _, u := range uses {
			used[u.key] = true
			if u.key == "" {
				t.Errorf("%s: an empty key", u.where)
			} else if _, ok := en.texts[u.key]; !ok {
				t.Errorf("%s: key %q is not in i18n/en.json", u.where, u.key)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) < 50 {
		t.Errorf("found only %d keys used in %d files: is the scanner broken?", len(used), files)
	}
	var unused []string
	for _, key := range en.keys {
		if !used[key] && !strings.HasPrefix(key, "error.") && key != "language.name" && key != "app.name" {
			unused = append(unused, key)
		}
	}
	t.Logf("%d keys used in %d files", len(used), files)
	if len(unused) > 0 {
		t.Logf("keys no page uses by a literal (maybe built or passed along): %q", unused)
	}
}

// TestCatalogHasErrorCodes: every error code the server can send (ErrorCode
// in protocol.js, and the table of docs/PROTOCOL.md) has its error.<code>.
func TestCatalogHasErrorCodes(t *testing.T) {
	en, _ := loadCatalogs(t)
	src, err := fs.ReadFile(Files, "js/protocol.js")
	if err != nil {
		t.Fatal(err)
	}
	block := errorCodeBlock.FindSubmatch(src)
	if block == nil {
		t.Fatal("js/protocol.js: no `export const ErrorCode = Object.freeze({...});`")
	}
	var codes []string
	for _, m := range quotedValue.FindAllSubmatch(block[1], -1) {
		codes = append(codes, string(m[1]))
	}
	if len(codes) < 10 {
		t.Fatalf("js/protocol.js: only %d error codes in ErrorCode: is the scanner broken?", len(codes))
	}
	// The protocol's table, when the repository is around (go test runs in
	// this directory): its first column lists the codes, `a`, `b`.
	if doc, err := os.ReadFile("../docs/PROTOCOL.md"); err == nil {
		section := string(doc)
		if i := strings.Index(section, "## Errors and close codes"); i >= 0 {
			section = section[i:]
			if j := strings.Index(section[3:], "\n## "); j >= 0 {
				section = section[:j+3]
			}
			cell := regexp.MustCompile("(?m)^\\|\\s*(`[a-z_]+`(?:\\s*,\\s*`[a-z_]+`)*)\\s*\\|")
			code := regexp.MustCompile("`([a-z_]+)`")
			for _, row := range cell.FindAllStringSubmatch(section, -1) {
				for _, m := range code.FindAllStringSubmatch(row[1], -1) {
					if !slices.Contains(codes, m[1]) {
						codes = append(codes, m[1])
					}
				}
			}
		}
	}
	for _, code := range codes {
		if _, ok := en.texts["error."+code]; !ok {
			t.Errorf("i18n/en.json: no \"error.%s\" for the server's error code %q", code, code)
		}
	}
	t.Logf("%d error codes have their text", len(codes))
}

// TestScanner: the scanner finds each form of use, so that the tests above
// would fail on a missing key.
func TestScanner(t *testing.T) {
	js := `t('a.b'); t("c.d", { n }); x.t('no'); plural('e.f', 2); errorText('g_h', m);
el('span', { 'data-i18n': 'i.j' }); t(` + "`k.${x}`" + `); t('l.' + m);`
	uses, problems := scanUses("x.js", []byte(js))
	var keys []string
	for _, u := range uses {
		keys = append(keys, u.key)
	}
	sort.Strings(keys)
	want := []string{"a.b", "c.d", "e.f.one", "e.f.other", "error.g_h", "i.j"}
	// x.t('no') is a method of another object, and \b matches after the dot:
	// the scanner counts it too, which errs on the safe side.
	want = append(want, "no")
	sort.Strings(want)
	if !slices.Equal(keys, want) {
		t.Errorf("scanning JS found %q, want %q", keys, want)
	}
	if len(problems) != 2 {
		t.Errorf("scanning JS found %d dynamic keys (%q), want 2", len(problems), problems)
	}
	html := `<p data-i18n="m.n"><span data-i18n-param="name"></span></p><input data-i18n-placeholder='o.p' data-i18n-aria-label="q.r">`
	uses, _ = scanUses("x.html", []byte(html))
	keys = keys[:0]
	for _, u := range uses {
		keys = append(keys, u.key)
	}
	sort.Strings(keys)
	if want := []string{"m.n", "o.p", "q.r"}; !slices.Equal(keys, want) {
		t.Errorf("scanning HTML found %q, want %q", keys, want)
	}
	if _, err := readCatalog([]byte(`{"a": "x", "a": "y"}`), "dup.json"); err == nil {
		t.Error("a catalog with a key twice was accepted")
	}
	if _, err := readCatalog([]byte(`{"a": {"b": "x"}}`), "nested.json"); err == nil {
		t.Error("a nested catalog was accepted")
	}
}
