package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"meet/protocol"
)

// chatWait bounds each wait of the chat tests.
const chatWait = 30 * time.Second

// Selectors of the chat (frontend/room.html, frontend/js/chat.js).
const (
	chatPanel   = `[data-testid="chat-panel"]`
	chatInput   = `[data-testid="chat-input"]`
	chatSend    = `[data-testid="chat-send"]`
	chatToggle  = `[data-testid="chat-toggle"]`
	chatClose   = `[data-testid="chat-close"]`
	chatUnread  = `[data-testid="chat-unread"]`
	chatError   = `[data-testid="chat-error"]`
	chatArchive = `[data-testid="chat-archive"]`
)

// chatLine is one shown message, as a tab renders it.
type chatLine struct {
	Seq  int    `json:"seq"`
	Name string `json:"name"`
	Text string `json:"text"`
	Own  bool   `json:"own"`
}

// chatLinesJS lists the messages shown inside scope, in page order.
func chatLinesJS(scope string) string {
	return fmt.Sprintf(`[...document.querySelectorAll(%q)].map(m => ({
		seq: Number(m.getAttribute('data-seq')),
		name: (m.querySelector('.chat-name') || {}).textContent || '',
		text: (m.querySelector('.chat-text') || {}).textContent ?? '',
		own: m.classList.contains('is-own'),
	}))`, scope+` [data-testid="chat-message"]`)
}

// waitChat waits until the messages shown inside scope are exactly want, in
// that order, numbered 1, 2, 3, ..., and returns them.
func waitChat(tb *tab, scope string, want []string) []chatLine {
	tb.t.Helper()
	return waitFor[[]chatLine](tb, chatWait, fmt.Sprintf("the chat in %s shows %q with seqs 1..%d", scope, want, len(want)),
		fmt.Sprintf(`(() => {
			const lines = %s;
			const want = %s;
			const ok = lines.length === want.length && lines.every((l, i) => l.text === want[i] && l.seq === i + 1);
			return ok ? lines : null;
		})()`, chatLinesJS(scope), jsonString(want)))
}

// chatSafeJS is true when no markup from a message ran or became an element:
// the chat lists hold no <img> (or any element but the message's own and
// links), and window.__xss was never set.
const chatSafeJS = `(() => ({
	imgs: document.querySelectorAll('[data-testid="chat-list"] img, [data-testid="chat-list"] script, [data-testid="chat-list"] iframe').length,
	xss: typeof window.__xss,
	foreign: [...document.querySelectorAll('[data-testid="chat-list"] .chat-text *')].filter(e => e.tagName !== 'A').length,
}))()`

type chatSafety struct {
	Imgs    int    `json:"imgs"`
	XSS     string `json:"xss"`
	Foreign int    `json:"foreign"`
}

func checkChatSafe(t *testing.T, tb *tab) {
	t.Helper()
	s := evalJS[chatSafety](tb, chatSafeJS)
	if s.Imgs != 0 || s.XSS != "undefined" || s.Foreign != 0 {
		t.Errorf("%s: markup in a message was not kept as text: %d img/script/iframe elements in the chat, %d other elements in message texts, typeof window.__xss = %s",
			tb.name, s.Imgs, s.Foreign, s.XSS)
	}
}

// sendChat types text into the chat input and sends it: with Enter, or with
// a click on the send button.
func sendChat(tb *tab, text string, withEnter bool) {
	tb.t.Helper()
	tb.typeText(chatInput, text)
	if withEnter {
		tb.pressKey(chatInput, keyEnter, false)
	} else {
		tb.click(chatSend)
	}
}

// waitChatReady waits until the tab's chat has its connection and history.
func waitChatReady(tb *tab) {
	tb.t.Helper()
	waitFor[bool](tb, chatWait, "the chat is connected",
		`document.querySelector('[data-testid="connection"]')?.getAttribute('data-state') === 'connected' &&
		 window.meetDebug && window.meetDebug.chat().connected`)
}

// unreadJS reports the unread badge: its count, and whether it shows.
const unreadJS = `(() => {
	const b = document.querySelector('[data-testid="chat-unread"]');
	return b ? { count: Number(b.getAttribute('data-count')), text: b.textContent, shown: b.getClientRects().length > 0 } : null;
})()`

type unreadBadge struct {
	Count int    `json:"count"`
	Text  string `json:"text"`
	Shown bool   `json:"shown"`
}

func waitUnread(tb *tab, want int) unreadBadge {
	tb.t.Helper()
	cond := fmt.Sprintf(`b && b.count === %d && b.shown === %v && (%d === 0 || b.text === %q)`, want, want > 0, want, fmt.Sprint(want))
	return waitFor[unreadBadge](tb, chatWait, fmt.Sprintf("the unread badge says %d", want),
		`(() => { const b = `+unreadJS+`; return (`+cond+`) ? b : null; })()`)
}

const panelShownJS = `document.querySelector('[data-testid="chat-panel"]').getClientRects().length > 0`

// TestChat is issue 5's browser test, in real Chromium: two participants
// chat, one message with emoji and CJK, the other an <img onerror> that
// must show as text; both see both, in order. The unread badge counts what
// arrives while a narrow tab's chat drawer is closed and clears when it
// opens, and on a desktop window while the chat is collapsed. A link
// becomes a safe anchor, a message over the limit comes back into the input
// with the server's reason, a third participant (a spectator) who joins
// later sees the whole history and can chat, and once the room ends its
// chat is still readable.
func TestChat(t *testing.T) {
	testChat(t, nil)
}

// TestChatMixedFirefox is the chat test with Bob (narrow window, the chat
// drawer) and Dave in Firefox ESR.
func TestChatMixedFirefox(t *testing.T) {
	testChat(t, map[string]browserKind{"bob": firefox, "dave": firefox})
}

// testChat runs the chat test with each person in the browser kinds names
// (Chromium when not named).
func testChat(t *testing.T, kinds map[string]browserKind) {
	srv := startApp(t)
	owner := srv.newAPIClient()
	room := owner.createRoom("Chat e2e")
	browsers := newBrowsers(t)
	identity := func(name string) *tab {
		kind := kinds[name]
		if kind == "" {
			kind = chromium
		}
		return browsers.get(kind).newIdentity(name)
	}

	const (
		m1 = "hello 👋 数学"
		m2 = `<img src=x onerror="window.__xss=1">`
		m3 = "Notes: https://example.org/notes?id=1&x=%3Cb%3E. Read them <b>before</b> class"
		m4 = "A question from the back row:\n  does x² count?"
	)

	// Alice publishes her fake camera on a desktop-sized window; Bob
	// watches on a narrow one, where the chat is a drawer behind a button.
	alice := identity("alice")
	alice.addInitScript(probeScript)
	alice.navigate(srv.roomURL(room.ID, url.Values{"name": {"Alice"}, "join": {"1"}}))
	bob := identity("bob")
	bob.addInitScript(probeScript)
	bob.setViewport(800, 760)
	bob.navigate(srv.roomURL(room.ID, url.Values{"name": {"Bob"}, "join": {"1"}, "spectator": {"1"}}))
	waitChatReady(alice)
	waitChatReady(bob)

	if !evalJS[bool](alice, panelShownJS) {
		t.Fatal("alice: the chat panel is not shown on a 1280 px wide window")
	}
	if evalJS[bool](bob, panelShownJS) {
		t.Fatal("bob: the chat drawer is open on an 800 px wide window before anyone opened it")
	}
	waitUnread(bob, 0)

	// Alice sends with Enter: her message comes back numbered and marked
	// as hers, and the input is empty again.
	sendChat(alice, m1, true)
	lines := waitChat(alice, chatPanel, []string{m1})
	if !lines[0].Own || lines[0].Name != "You" {
		t.Errorf("alice sees her own message as %+v, want it marked as hers", lines[0])
	}
	if v := evalJS[string](alice, `document.querySelector('[data-testid="chat-input"]').value`); v != "" {
		t.Errorf("alice's input still holds %q after sending", v)
	}

	// Bob's drawer is closed: the message arrives and the badge counts it.
	lines = waitChat(bob, chatPanel, []string{m1})
	if lines[0].Own || lines[0].Name != "Alice" {
		t.Errorf("bob sees alice's message as %+v", lines[0])
	}
	waitUnread(bob, 1)

	// Opening the drawer clears the badge. Bob sends markup with the button.
	bob.click(chatToggle)
	waitFor[bool](bob, chatWait, "bob's chat drawer is open", panelShownJS)
	waitUnread(bob, 0)
	sendChat(bob, m2, false)

	for _, p := range []*tab{alice, bob} {
		lines := waitChat(p, chatPanel, []string{m1, m2})
		wantNames := map[*tab][2]string{alice: {"You", "Bob"}, bob: {"Alice", "You"}}[p]
		if lines[0].Name != wantNames[0] || lines[1].Name != wantNames[1] {
			t.Errorf("%s sees the senders as %q and %q, want %q", p.name, lines[0].Name, lines[1].Name, wantNames)
		}
		if lines[0].Own == lines[1].Own {
			t.Errorf("%s: own/other styling is the same for both messages: %+v", p.name, lines)
		}
		checkChatSafe(t, p)
	}

	// Bob closes the drawer; a message with a link raises the badge again,
	// and the link is an anchor that opens safely in a new tab.
	bob.click(chatClose)
	waitFor[bool](bob, chatWait, "bob's chat drawer is closed", `!(`+panelShownJS+`)`)
	sendChat(alice, m3, true)
	waitChat(bob, chatPanel, []string{m1, m2, m3})
	waitUnread(bob, 1)
	type anchor struct {
		Href, Target, Rel, Text string
	}
	links := evalJS[[]anchor](bob, `[...document.querySelectorAll('[data-testid="chat-panel"] [data-seq="3"] .chat-text a')].map(a => ({
		Href: a.href, Target: a.target, Rel: a.rel, Text: a.textContent }))`)
	wantLink := anchor{Href: "https://example.org/notes?id=1&x=%3Cb%3E", Target: "_blank", Rel: "noopener noreferrer", Text: "https://example.org/notes?id=1&x=%3Cb%3E"}
	if len(links) != 1 || links[0] != wantLink {
		t.Errorf("the link in message 3 renders as %+v, want one %+v", links, wantLink)
	}
	bob.click(chatToggle)
	waitUnread(bob, 0)
	checkChatSafe(t, bob)

	alice.saveScreenshot("chat-desktop")
	bob.saveScreenshot("chat-narrow-drawer")

	// Too long: the server refuses, its reason shows, and the text is back
	// in the input so nothing typed is lost.
	long := strings.Repeat("x", 2001)
	sendChat(alice, long, true)
	notice := waitFor[string](alice, chatWait, "alice sees why her long message was refused",
		`(() => { const n = document.querySelector('[data-testid="chat-error"]'); return n && !n.hidden && n.textContent; })()`)
	if !strings.Contains(notice, "2000") {
		t.Errorf("the refusal says %q, want the limit of 2000 in it", notice)
	}
	waitFor[bool](alice, chatWait, "the refused text is back in alice's input",
		`document.querySelector('[data-testid="chat-input"]').value === `+jsonString(long))
	if n := evalJS[int](alice, `document.querySelectorAll('[data-testid="chat-panel"] [data-testid="chat-message"], [data-testid="chat-pending"]').length`); n != 3 {
		t.Errorf("alice shows %d messages after the refusal, want the 3 stored ones", n)
	}

	// Carol joins later and gets the whole history, in order, as text.
	carol := identity("carol")
	carol.addInitScript(probeScript)
	carol.navigate(srv.roomURL(room.ID, url.Values{"name": {"Carol"}, "join": {"1"}, "spectator": {"1"}}))
	waitChatReady(carol)
	lines = waitChat(carol, chatPanel, []string{m1, m2, m3})
	if names := []string{lines[0].Name, lines[1].Name, lines[2].Name}; strings.Join(names, ",") != "Alice,Bob,Alice" {
		t.Errorf("carol sees the senders %q, want Alice, Bob, Alice", names)
	}
	waitUnread(carol, 0) // history is not news
	checkChatSafe(t, carol)

	// Alice collapses the chat of her desktop window: it leaves the layout
	// and the top-bar button appears. Carol, a spectator, asks something on
	// two lines: Alice's badge counts it until she opens the chat again.
	alice.click(chatClose)
	waitFor[bool](alice, chatWait, "alice's chat is collapsed behind the top-bar button",
		`!(`+panelShownJS+`) && document.querySelector('[data-testid="chat-toggle"]').getClientRects().length > 0`)
	first, second, _ := strings.Cut(m4, "\n")
	carol.typeText(chatInput, first)
	carol.pressKey("", keyEnter, true)
	if v := evalJS[string](carol, `document.querySelector('[data-testid="chat-input"]').value`); v != first+"\n" {
		t.Errorf("after Shift+Enter carol's input holds %q, want %q: Shift+Enter is a new line, not send", v, first+"\n")
	}
	sendChat(carol, second, true)
	all := []string{m1, m2, m3, m4}
	waitChat(alice, chatPanel, all)
	waitUnread(alice, 1)
	alice.click(chatToggle)
	waitFor[bool](alice, chatWait, "alice's chat is open again", panelShownJS)
	waitUnread(alice, 0)
	waitChat(bob, chatPanel, all)

	// The room ends: the chat stays readable in the ended view, both for a
	// tab that was inside and for one that opens the link afterwards.
	owner.call(http.MethodPost, "/api/rooms/"+url.PathEscape(room.ID)+"/end", nil, http.StatusOK, nil)
	waitFor[bool](carol, chatWait, "carol sees the room ended", `!document.querySelector('[data-testid="room-ended"]').hidden`)
	waitChat(carol, chatArchive, all)
	checkChatSafe(t, carol)

	dave := identity("dave")
	dave.navigate(srv.roomURL(room.ID, nil))
	waitFor[bool](dave, chatWait, "dave sees the room ended", `!document.querySelector('[data-testid="room-ended"]').hidden`)
	waitChat(dave, chatArchive, all)
	if evalJS[bool](dave, `!!document.querySelector('[data-testid="chat-archive"] [data-testid="chat-input"]')`) {
		t.Error("the ended room's chat has an input; it should be read-only")
	}
	checkChatSafe(t, dave)
	dave.saveScreenshot("chat-ended")
	checkChatSafe(t, alice)
}

// chatNetScript lets a test cut a tab's WebSocket: window.__chatNet.cut()
// closes the open sockets and makes every new one fail (a connection to a
// closed port) until restore(); with dropEchoes set, the page never sees
// the echo of its own pending chat messages.
const chatNetScript = `(() => {
  if (window.__chatNet) return;
  const net = window.__chatNet = { blocked: false, dropEchoes: false, dropped: 0, sockets: [] };
  net.cut = () => { net.blocked = true; net.sockets.forEach(s => { if (s.readyState < 2) s.close(); }); };
  net.restore = () => { net.blocked = false; };
  window.WebSocket = new Proxy(window.WebSocket, {
    construct(target, args, newTarget) {
      if (net.blocked) args = ['ws://127.0.0.1:9/blocked'];
      const ws = Reflect.construct(target, args, newTarget);
      const add = ws.addEventListener.bind(ws);
      ws.addEventListener = (type, fn, opts) => add(type, type !== 'message' ? fn : (ev) => {
        if (net.dropEchoes && typeof ev.data === 'string') {
          try {
            const m = JSON.parse(ev.data);
            const pending = window.meetDebug ? window.meetDebug.chat().pending : [];
            if (m.type === 'chat-message' && pending.includes(m.clientId)) { net.dropped++; return; }
          } catch (e) {}
        }
        fn(ev);
      }, opts);
      net.sockets.push(ws);
      return ws;
    },
  });
})();`

// TestChatReconnect drops a tab's socket in the middle of a conversation:
// what the others said meanwhile arrives after the reconnect (chat-sync),
// what the tab sent while offline is queued and delivered once, and a
// message whose echo was lost is sent again with the same clientId and
// stored once.
func TestChatReconnect(t *testing.T) {
	srv := startApp(t)
	room := srv.newAPIClient().createRoom("Chat reconnect e2e")
	b := newBrowser(t)

	alice := b.newIdentity("alice")
	alice.navigate(srv.roomURL(room.ID, url.Values{"name": {"Alice"}, "join": {"1"}, "spectator": {"1"}}))
	bob := b.newIdentity("bob")
	bob.addInitScript(probeScript)
	bob.addInitScript(chatNetScript)
	bob.navigate(srv.roomURL(room.ID, url.Values{"name": {"Bob"}, "join": {"1"}, "spectator": {"1"}}))
	waitChatReady(alice)
	waitChatReady(bob)

	sendChat(alice, "before the drop", true)
	waitChat(bob, chatPanel, []string{"before the drop"})

	// Bob's connection drops. Alice talks on; Bob writes while offline.
	evalJS[bool](bob, `(window.__chatNet.cut(), true)`)
	waitFor[bool](bob, chatWait, "bob's page knows it is offline",
		`!window.meetDebug.chat().connected && !document.querySelector('[data-testid="chat-offline"]').hidden`)
	sendChat(alice, "while you were away 1", true)
	sendChat(alice, "while you were away 2", true)
	waitChat(alice, chatPanel, []string{"before the drop", "while you were away 1", "while you were away 2"})
	sendChat(bob, "written offline", true)
	status := waitFor[string](bob, chatWait, "bob's offline message is pending",
		`(() => { const p = document.querySelector('[data-testid="chat-pending"]'); return p && p.querySelector('.chat-status').textContent; })()`)
	t.Logf("bob's pending message says %q", status)

	// Back online: everything once, in order, on both sides.
	evalJS[bool](bob, `(window.__chatNet.restore(), true)`)
	waitChatReady(bob)
	want := []string{"before the drop", "while you were away 1", "while you were away 2", "written offline"}
	waitChat(bob, chatPanel, want)
	waitChat(alice, chatPanel, want)
	waitFor[bool](bob, chatWait, "bob has nothing pending", `!document.querySelector('[data-testid="chat-pending"]')`)
	if !evalJS[bool](bob, `window.__e2e.ws.some(l => l.includes(' out chat-sync'))`) {
		t.Error("bob did not ask chat-sync after the reconnect")
	}

	// An echo that never arrives: Bob's message is stored (Alice sees it),
	// but Bob's page does not know. After a reconnect it sends the message
	// again with the same clientId, and the server stores it once.
	evalJS[bool](bob, `(window.__chatNet.dropEchoes = true, true)`)
	sendChat(bob, "echo lost", true)
	want = append(want, "echo lost")
	waitChat(alice, chatPanel, want)
	waitFor[bool](bob, chatWait, "bob's page missed the echo", `window.__chatNet.dropped > 0 && !!document.querySelector('[data-testid="chat-pending"]')`)
	evalJS[bool](bob, `(window.__chatNet.dropEchoes = false, window.__chatNet.cut(), true)`)
	waitFor[bool](bob, chatWait, "bob's page knows it is offline", `!window.meetDebug.chat().connected`)
	evalJS[bool](bob, `(window.__chatNet.restore(), true)`)
	waitChatReady(bob)
	waitChat(bob, chatPanel, want)
	waitFor[bool](bob, chatWait, "bob has nothing pending", `!document.querySelector('[data-testid="chat-pending"]')`)
	sendChat(alice, "after all that", true)
	want = append(want, "after all that")
	waitChat(alice, chatPanel, want) // seqs 1..6: "echo lost" was not stored twice
	waitChat(bob, chatPanel, want)
}

// postChat sends texts to a room's chat from Go, as the identity of api, over
// WebSockets: ten per connection (each connection has its own rate limit),
// each one acknowledged before the next.
func postChat(t *testing.T, srv *appServer, api *apiClient, roomID string, texts []string) {
	t.Helper()
	var me struct {
		Token string `json:"token"`
	}
	api.call(http.MethodGet, "/api/me", nil, http.StatusOK, &me)
	for len(texts) > 0 {
		n := min(10, len(texts))
		q := url.Values{"room": {roomID}, "token": {me.Token}, "name": {"Bot"}, "spectator": {"1"}}
		conn, _, err := wsDialer().Dial(wsURL(srv.URL)+"/ws?"+q.Encode(), nil)
		if err != nil {
			t.Fatalf("dialing the room's socket: %v", err)
		}
		for i, text := range texts[:n] {
			msg := protocol.ChatSend{Type: protocol.TypeChatSend, Text: text, ClientID: fmt.Sprintf("bot-%d-%d", len(texts), i)}
			if err := conn.WriteJSON(msg); err != nil {
				t.Fatalf("sending %q: %v", text, err)
			}
			for acked := false; !acked; {
				_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				var m struct {
					protocol.ChatMessage
					Code    string `json:"code"`
					Message string `json:"message"`
				}
				if err := conn.ReadJSON(&m); err != nil {
					t.Fatalf("waiting for the echo of %q: %v", text, err)
				}
				if m.Type == protocol.TypeError {
					t.Fatalf("sending %q: refused: %s: %s", text, m.Code, m.Message)
				}
				acked = m.Type == protocol.TypeChatMessage && m.ClientID == msg.ClientID
			}
		}
		conn.Close()
		texts = texts[n:]
	}
}

// TestChatLongHistory: a joiner gets the last 100 messages of a long chat,
// and "Show earlier messages" loads the ones before them over REST.
func TestChatLongHistory(t *testing.T) {
	srv := startApp(t)
	api := srv.newAPIClient()
	room := api.createRoom("Chat history e2e")
	var texts []string
	for i := 1; i <= 130; i++ {
		texts = append(texts, fmt.Sprintf("message %d", i))
	}
	postChat(t, srv, api, room.ID, texts)

	b := newBrowser(t)
	eve := b.newIdentity("eve")
	eve.navigate(srv.roomURL(room.ID, url.Values{"name": {"Eve"}, "join": {"1"}, "spectator": {"1"}}))
	waitChatReady(eve)
	first := waitFor[[]chatLine](eve, chatWait, "eve sees the last 100 messages, 31..130",
		`(() => { const l = `+chatLinesJS(chatPanel)+`; return l.length === 100 && l[0].seq === 31 && l[99].seq === 130 && l[99].text === 'message 130' ? l : null; })()`)
	t.Logf("eve first sees %q .. %q", first[0].Text, first[len(first)-1].Text)
	eve.click(`[data-testid="chat-panel"] .chat-earlier`)
	waitChat(eve, chatPanel, texts)
	waitFor[bool](eve, chatWait, "the earlier-messages button is gone", `document.querySelector('[data-testid="chat-panel"] .chat-earlier').hidden`)
}
