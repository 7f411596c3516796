package app

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"
)

// TestTURNForLiveParticipants covers the built-in TURN server as the app
// runs it: a participant's welcome carries STUN and TURN URLs on the host
// its page asked for, with credentials of its own; they allocate a relay
// while the participant is in the room, and are refused once it left. The
// metrics count both.
func TestTURNForLiveParticipants(t *testing.T) {
	a := newTestAppWith(t, Config{TURN: TURNConfig{
		Enabled: true, ListenIP: netip.MustParseAddr("127.0.0.1"),
		Secret: []byte("turn-secret-turn-secret-turn-secret"), TTL: time.Hour,
		AllowPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	}})
	port := a.srv.TURNPort()
	if port == 0 {
		t.Fatal("the TURN server is not running")
	}
	owner := a.newUser()
	room := owner.createRoom("turn")
	c := owner.dial(room.ID, nil)

	var turnURLs []string
	var username, password string
	hasSTUN := false
	for _, s := range c.wel.ICEServers {
		for _, u := range s.URLs {
			switch {
			case u == "stun:127.0.0.1:"+strconv.Itoa(port):
				hasSTUN = true
			case strings.HasPrefix(u, "turn:"):
				turnURLs = append(turnURLs, u)
				username, password = s.Username, s.Credential
			}
		}
	}
	want := []string{"turn:127.0.0.1:" + strconv.Itoa(port) + "?transport=udp", "turn:127.0.0.1:" + strconv.Itoa(port) + "?transport=tcp"}
	if !hasSTUN || strings.Join(turnURLs, " ") != strings.Join(want, " ") {
		t.Fatalf("welcome iceServers = %+v, want stun: and %v on the page's host", c.wel.ICEServers, want)
	}
	if !strings.HasSuffix(username, ":"+owner.id) || password == "" {
		t.Fatalf("credential %q/%q is not the participant's own", username, password)
	}

	allocate := func() (net.PacketConn, error) {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		addr := "127.0.0.1:" + strconv.Itoa(port)
		client, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn, Username: username, Password: password})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(client.Close)
		if err := client.Listen(); err != nil {
			t.Fatal(err)
		}
		return client.Allocate()
	}
	relay, err := allocate()
	if err != nil {
		t.Fatalf("a participant's credential was refused: %v", err)
	}
	defer relay.Close()
	if got := scrape(t, a, "meet_turn_allocations"); got != 1 {
		t.Errorf("live allocations = %v, want 1", got)
	}

	// Gone from every room: the same, still valid, credential is refused.
	c.conn.Close()
	waitFor(t, func() bool { return !a.srv.hub.HasUser(owner.id) })
	if second, err := allocate(); err == nil {
		second.Close()
		t.Fatal("a credential of someone in no live room allocated a relay")
	}
	if got := scrape(t, a, `meet_turn_allocations_refused_total{reason="not_allowed"}`); got != 1 {
		t.Errorf("refusals for not_allowed = %v, want 1", got)
	}
}

// TestExternalTURN: with an external TURN server, the browsers get its
// URLs with the same kind of credential, and no server runs here.
func TestExternalTURN(t *testing.T) {
	a := newTestAppWith(t, Config{TURN: TURNConfig{
		Enabled: true, External: []string{"turn:turn.example.org:3478"},
		Secret: []byte("turn-secret-turn-secret-turn-secret"), TTL: time.Hour,
	}})
	if a.srv.TURNPort() != 0 {
		t.Fatal("the built-in TURN server runs beside an external one")
	}
	owner := a.newUser()
	c := owner.dial(owner.createRoom("external").ID, nil)
	last := c.wel.ICEServers[len(c.wel.ICEServers)-1]
	if strings.Join(last.URLs, " ") != "turn:turn.example.org:3478" || !strings.HasSuffix(last.Username, ":"+owner.id) || last.Credential == "" {
		t.Fatalf("iceServers = %+v", c.wel.ICEServers)
	}
}
