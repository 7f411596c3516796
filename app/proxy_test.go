package app

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"meet/protocol"
	"meet/sfu/sfuclient"
	"meet/store/storetest"
)

// dialAsBrowser opens a WebSocket for u in roomID through node n as a
// browser does: the identity in its cookie, the page's Origin (n's own
// address, the one address of the deployment), and reads the welcome.
func dialAsBrowser(t *testing.T, n *nodeApp, u *user, roomID, name string) *client {
	t.Helper()
	conn, resp, err := dialWS(n, roomID, name, http.Header{
		"Cookie": {tokenCookie + "=" + u.token},
		"Origin": {n.http.URL},
	})
	if err != nil {
		t.Fatalf("dial through %s: %v (%v)", n.srv.NodeID(), err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn}
	var w protocol.Welcome
	c.readInto(protocol.TypeWelcome, &w)
	c.wel, c.self = w, w.Self
	return c
}

func dialWS(n *nodeApp, roomID, name string, h http.Header) (*websocket.Conn, *http.Response, error) {
	q := url.Values{"room": {roomID}, "name": {name}}
	wsURL := "ws" + strings.TrimPrefix(n.http.URL, "http") + "/ws?" + q.Encode()
	return websocket.DefaultDialer.Dial(wsURL, h)
}

// chatRoundTrip: from sends text; every one of to gets it, from from.
func chatRoundTrip(t *testing.T, from *client, text string, to ...*client) {
	t.Helper()
	from.send(protocol.ChatSend{Type: protocol.TypeChatSend, Text: text})
	for _, c := range to {
		var m protocol.ChatMessage
		c.readInto(protocol.TypeChatMessage, &m)
		if m.Text != text || m.From != from.self.ID {
			t.Fatalf("%s got chat %+v, want %q from %s", c.self.Name, m, text, from.self.ID)
		}
	}
}

// TestJoinThroughAnyNode: two nodes on one database. A room joined through
// node A is hosted there; a participant who joins through node B, with a
// cookie B issued, ends in the same room on A (B only forwards the socket):
// both see each other and chat both ways, and B's API shows A's live
// state. A foreign page is refused by B itself. When A stops, the next
// join through B, once A is dead, places the room on B.
func TestJoinThroughAnyNode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		dsn := d.NewDSN(t)
		a := newNodeApp(t, dsn, "node-a")
		b := newNodeApp(t, dsn, "node-b")
		ana := a.newUser()
		room := ana.createRoom("one address")
		c1 := dialAsBrowser(t, a, ana, room.ID, "Ana")
		bob := b.newUser() // his cookie comes from B
		c2 := dialAsBrowser(t, b, bob, room.ID, "Bob")
		if len(c2.wel.Participants) != 1 || c2.wel.Participants[0].ID != c1.self.ID {
			t.Fatalf("Bob's welcome through B lists %+v, want Ana", c2.wel.Participants)
		}
		if c2.self.UserID != bob.id {
			t.Fatalf("Bob joined as %s, want his identity %s", c2.self.UserID, bob.id)
		}
		var joined protocol.ParticipantJoined
		c1.readInto(protocol.TypeParticipantJoined, &joined)
		if joined.Participant.ID != c2.self.ID {
			t.Fatalf("Ana saw %+v join, want Bob", joined.Participant)
		}
		chatRoundTrip(t, c2, "hello from B", c1, c2)
		chatRoundTrip(t, c1, "hello from A", c1, c2)
		if _, ok := b.srv.hub.Room(room.ID); ok {
			t.Fatal("node B made the room live itself")
		}
		if _, ok := a.srv.hub.Room(room.ID); !ok {
			t.Fatal("the room is not live on node A")
		}

		// B's API answers with A's live state.
		var got protocol.Room
		if bob.as(b).do("GET", "/api/rooms/"+room.ID, "", &got); got.Online != 2 || got.Node == nil || got.Node.ID != "node-a" {
			t.Fatalf("room through B = %+v", got)
		}
		var parts struct{ Participants []protocol.Participant }
		if bob.as(b).do("GET", "/api/rooms/"+room.ID+"/participants", "", &parts); len(parts.Participants) != 2 {
			t.Fatalf("participants through B = %+v", parts.Participants)
		}
		// A token B issued is good on A.
		var me meResponse
		if status := bob.as(a).do("GET", "/api/me", "", &me); status != http.StatusOK || me.ID != bob.id {
			t.Fatalf("Bob's token on A: %d %+v", status, me)
		}
		// A page of another origin is refused before anything is forwarded.
		if _, resp, err := dialWS(b, room.ID, "Eve", http.Header{"Origin": {"https://evil.example"}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a foreign origin through B: %v %v", err, resp)
		}

		// A stops: Bob's forwarded socket closes with it, and once A is
		// dead a join through B places the room on B.
		a.close()
		a.http.Close()
		for {
			if _, _, err := c2.next(); err != nil {
				break
			}
		}
		waitForLong(t, 3*testNodeTimeout, func() bool { return !liveIDs(t, b.store)["node-a"] })
		carol := b.newUser()
		c3 := dialAsBrowser(t, b, carol, room.ID, "Carol")
		if c3.self.UserID != carol.id {
			t.Fatalf("Carol joined as %+v", c3.self)
		}
		if _, ok := b.srv.hub.Room(room.ID); !ok {
			t.Fatal("the room is not live on node B")
		}
		if got := hostOf(carol.as(b), room.ID); got != "node-b http://node-b.example" {
			t.Fatalf("host after A died = %q", got)
		}
	})
}

// TestForwardedJoinIsServedHere: a join another node forwarded (marked
// and signed) is served where it arrives, even for a room hosted
// elsewhere: two nodes that disagree for a moment never pass a join around
// in a circle. A forged mark is no mark: that join goes to the host.
func TestForwardedJoinIsServedHere(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	a := newNodeApp(t, dsn, "node-a")
	b := newNodeApp(t, dsn, "node-b")
	ana := a.newUser()
	room := ana.createRoom("loop guard")
	dialAsBrowser(t, a, ana, room.ID, "Ana")
	join := func(mac string) protocol.Welcome {
		conn, _, err := dialWS(b, room.ID, "Bob", http.Header{
			"Authorization": {"Bearer " + ana.token},
			proxiedHeader:   {"node-a"}, proxyIPHeader: {"203.0.113.7"}, proxySigHeader: {mac},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		c := &client{t: t, conn: conn}
		var w protocol.Welcome
		c.readInto(protocol.TypeWelcome, &w)
		return w
	}
	if w := join("forged"); len(w.Participants) != 1 {
		t.Fatalf("a join with a forged mark was served on B: %+v", w.Participants)
	}
	if _, ok := b.srv.hub.Room(room.ID); ok {
		t.Fatal("a join with a forged mark made the room live on B")
	}
	if w := join(a.srv.proxyMAC("node-a", "203.0.113.7")); len(w.Participants) != 0 {
		t.Fatalf("a marked join was not served on B: %+v", w.Participants)
	}
	if _, ok := b.srv.hub.Room(room.ID); !ok {
		t.Fatal("a marked join did not make the room live on B")
	}
}

// TestClientIPOfForwardedRequest: the host takes the client's address from
// a forwarded request only when the forwarding node signed it with the
// shared secret.
func TestClientIPOfForwardedRequest(t *testing.T) {
	a := newTestApp(t)
	ip := func(h http.Header) string {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("GET", "/ws", nil)
		c.Request.RemoteAddr = "10.0.0.2:5555"
		c.Request.Header = h
		return a.srv.clientIP(c)
	}
	signed := http.Header{proxiedHeader: {"node-b"}, proxyIPHeader: {"203.0.113.7"}, proxySigHeader: {a.srv.proxyMAC("node-b", "203.0.113.7")}}
	if got := ip(signed); got != "203.0.113.7" {
		t.Fatalf("signed: %s", got)
	}
	forged := http.Header{proxiedHeader: {"node-b"}, proxyIPHeader: {"203.0.113.7"}, proxySigHeader: {a.srv.proxyMAC("node-b", "203.0.113.8")}}
	if got := ip(forged); got != "10.0.0.2" {
		t.Fatalf("forged: %s", got)
	}
	if got := ip(http.Header{}); got != "10.0.0.2" {
		t.Fatalf("direct: %s", got)
	}
}

// TestWHIPAndWHEPThroughAnyNode: an encoder's WHIP POST and a player's
// WHEP POST that reach a node other than the room's host are served by the
// host, and their DELETEs through that other node end the sessions there.
func TestWHIPAndWHEPThroughAnyNode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		dsn := d.NewDSN(t)
		a := newNodeApp(t, dsn, "node-a")
		b := newNodeApp(t, dsn, "node-b")
		owner := a.newUser()
		room := owner.createRoom("broadcast across nodes")
		owner.dial(room.ID, nil)
		waitFor(t, func() bool { return hostOf(owner.as(b), room.ID) == "node-a http://node-a.example" })

		stop := make(chan struct{})
		defer close(stop)
		whip := startWHIP(t, b.testApp, room.ID, owner.token, vp8Keyframe, stop)
		whipID := strings.TrimPrefix(whip, "/api/whip/")
		if !a.srv.whip.has(whipID) || b.srv.whip.has(whipID) {
			t.Fatalf("the WHIP session %s posted through node-b is not on the host node-a", whipID)
		}

		player, err := sfuclient.NewPlayer(mustSFUTestAPI(t), false)
		if err != nil {
			t.Fatal(err)
		}
		defer player.Close()
		code, header, answer := sdpPost(t, b.testApp, "/api/rooms/"+room.ID+"/whep", owner.token, "application/sdp", player.Offer())
		if code != http.StatusCreated {
			t.Fatalf("WHEP POST through node-b: %d %s", code, answer)
		}
		whepID := strings.TrimPrefix(header.Get("Location"), "/api/whep/")
		if !a.srv.whep.has(whepID) || b.srv.whep.has(whepID) {
			t.Fatalf("the WHEP session %s posted through node-b is not on the host node-a", whepID)
		}

		if code := deleteAs(t, b.testApp, "/api/whep/"+whepID, ""); code != http.StatusOK && code != http.StatusNoContent {
			t.Fatalf("WHEP DELETE through node-b: %d", code)
		}
		if a.srv.whep.has(whepID) {
			t.Fatal("the WHEP session is still on node-a after its DELETE through node-b")
		}
		if code := deleteAs(t, b.testApp, whip, owner.token); code != http.StatusOK && code != http.StatusNoContent {
			t.Fatalf("WHIP DELETE through node-b: %d", code)
		}
		if a.srv.whip.has(whipID) {
			t.Fatal("the WHIP session is still on node-a after its DELETE through node-b")
		}
		if code := deleteAs(t, b.testApp, "/api/whep/v_nosuchsession", ""); code != http.StatusNotFound {
			t.Fatalf("DELETE of a session no node holds: %d, want 404", code)
		}
	})
}

// mustSFUTestAPI is the tests' Pion client API.
func mustSFUTestAPI(t *testing.T) *webrtc.API {
	t.Helper()
	api, err := sfuTestAPI()
	if err != nil {
		t.Fatal(err)
	}
	return api
}
