package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"meet/app"
	"meet/protocol"
)

// The network tests of the issue "Meetings across real networks": real
// Chromium in network namespaces (netns_test.go) that reach the app only as
// a real network lets them. They log parsable lines for docs/:
//
//	network_first_frame room=R network=N participants=K welcome_to_first_frame_ms=A welcome_to_all_frames_ms=B
//	network_first_frame_summary room=R udp_ms=B1 udp_blocked_ms=B2
//	network_pair test=T participant=P local=TYPE/PROTO[/via-RELAYPROTO][/TCPTYPE] ADDR:PORT remote=...
//
// The times are those of the participant who joins last, into a room whose
// others already see each other: from its welcome to the first frame of
// its first remote video (A), and of the last one (B). Nothing but the
// network and the machine is waited for then.

// netWait bounds each wait of the network tests: media over TCP, five tabs
// on a small machine. Nothing is asserted about time beyond it.
const netWait = 45 * time.Second

// networkConfig is the app of the network tests: the SFU also on ICE over
// TCP, announcing serverIP, and the built-in TURN server on serverIP, whose
// relays may reach the test's internet (and only it: the clients' LANs stay
// forbidden, as in production).
func networkConfig(meshMax int) func(*app.Config) {
	return func(c *app.Config) {
		c.MeshMax = meshMax
		c.PublicIP = serverIP
		c.ICETCP = true
		c.TURN = app.TURNConfig{
			Enabled:  true,
			ListenIP: netip.MustParseAddr(serverIP),
			RelayIP:  netip.MustParseAddr(serverIP),
			// The address, not pageHost: how Chromium resolves a TURN
			// server's name is not what these tests are about.
			Host:       serverIP,
			AllowPeers: []netip.Prefix{netip.MustParsePrefix(internetNet)},
			Secret:     []byte("e2e-turn-secret-e2e-turn-secret-e2e-turn"),
			TTL:        time.Hour,
		}
	}
}

// TestNetworkUDPBlocked: with every UDP packet dropped in the clients'
// namespace, a 3-person mesh room and a 5-person SFU room each play every
// remote video. The mesh can only go through the TURN server over TCP (the
// browsers' own TCP candidates are active ones, which cannot meet); the SFU
// through ICE over TCP or TURN over TCP. Each room runs first over plain
// UDP, in a namespace without the firewall, for the times to compare.
//
// Topology: the app (HTTPS, SFU on UDP and TCP, TURN on UDP and TCP) at
// serverIP on the test's bridge; one client namespace per run on the same
// bridge (198.51.100.21-24), every participant a tab (an identity) of one
// Chromium there; with the firewall, iptables DROP on all UDP in INPUT and
// OUTPUT of that namespace (its loopback too).
func TestNetworkUDPBlocked(t *testing.T) {
	lab := newNetLab(t)
	rooms := []struct {
		name    string
		size    int
		meshMax int
		mode    string
	}{
		{"mesh3", 3, 4, protocol.ModeMesh},
		{"sfu5", 5, -1, protocol.ModeSFU}, // negative: the SFU from the first participant
	}
	addr := 20
	for _, rc := range rooms {
		t.Run(rc.name, func(t *testing.T) {
			srv := startInternetApp(t, networkConfig(rc.meshMax))
			times := map[bool]float64{}
			for _, blocked := range []bool{false, true} {
				network := map[bool]string{false: "udp", true: "udp-blocked"}[blocked]
				addr++
				t.Run(network, func(t *testing.T) {
					client := lab.forTest(t).onInternet(rc.name+"-"+network, fmt.Sprintf("198.51.100.%d", addr))
					if blocked {
						client.dropUDP()
					}
					ps := joinNetRoom(t, srv, client.chromium(), rc.size, rc.mode)
					for _, p := range ps {
						checkUDPBlockedPairs(t, p, rc.mode, blocked, rc.size-1)
					}
					if rc.mode == protocol.ModeSFU {
						// With UDP gone, the SFU's own ICE over TCP must
						// answer: TURN over TCP alone would hide it broken.
						if succeeded := logICETCP(t, ps); blocked && succeeded == 0 {
							t.Error("no page reached the SFU over ICE-TCP with UDP dropped")
						}
					}
					times[blocked] = logFirstFrames(t, ps[len(ps)-1], rc.name, network, rc.size)
					if blocked {
						t.Logf("the client's firewall: %s", udpDropCounts(client))
					}
				})
			}
			if !t.Failed() {
				t.Logf("network_first_frame_summary room=%s udp_ms=%.0f udp_blocked_ms=%.0f", rc.name, times[false], times[true])
			}
		})
	}
}

// checkUDPBlockedPairs checks the candidate pair of each of the page's
// connections with the firewall: through TURN over TCP (mesh), or over TCP
// to the SFU, directly or through TURN. Without it, any pair will do, and
// the log says which: ICE usually settles on host candidates over UDP, but
// a relay pair that was checked first can stay selected (seen with the SFU
// under -race: Pion, controlling, nominates the best pair valid after a
// wait, and a relay over TCP can be it on a starved machine).
func checkUDPBlockedPairs(t *testing.T, p *tab, mode string, blocked bool, peers int) {
	t.Helper()
	want := 1 // the SFU: one or two connections
	if mode == protocol.ModeMesh {
		want = peers
	}
	pairs := waitSelectedPairs(p, want, func(sp selectedPair) bool {
		switch {
		case !blocked:
			return true
		case mode == protocol.ModeMesh:
			return sp.Local.Type == "relay" && sp.Local.RelayProtocol == "tcp"
		default:
			return sp.Local.Protocol == "tcp" || (sp.Local.Type == "relay" && sp.Local.RelayProtocol == "tcp")
		}
	})
	for _, sp := range pairs {
		t.Logf("network_pair test=%s participant=%s %s", t.Name(), p.name, sp)
	}
}

// logICETCP says whether the SFU answered ICE checks over TCP on any of
// the pages' connections (a pair of a TCP host or peer-reflexive candidate
// of the browser that succeeded), whichever pair ICE then selected, and
// returns how many such pairs succeeded.
func logICETCP(t *testing.T, ps []*tab) int {
	t.Helper()
	succeeded, tried := 0, 0
	for _, p := range ps {
		r := evalJS[struct{ Succeeded, Tried int }](p, `(async () => {
  let succeeded = 0, tried = 0;
  for (const pc of window.__e2e.pcs) {
    if (pc.connectionState !== 'connected') continue;
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (s.type !== 'candidate-pair') return;
      const local = stats.get(s.localCandidateId);
      if (!local || local.protocol !== 'tcp' || local.candidateType === 'relay') return;
      tried++;
      if (s.state === 'succeeded') succeeded++;
    });
  }
  return { Succeeded: succeeded, Tried: tried };
})()`)
		succeeded += r.Succeeded
		tried += r.Tried
	}
	t.Logf("network_ice_tcp test=%s direct_tcp_pairs_succeeded=%d of=%d", t.Name(), succeeded, tried)
	return succeeded
}

// TestNetworkTwoNATs: two browsers, each behind its own NAT router, with
// the server on the internet between them, hold a mesh call, and the media
// goes straight from one NAT to the other.
//
// Topology: the app at serverIP on the test's bridge; the routers nat-alice
// (wan 198.51.100.11, lan 10.0.1.1/24) and nat-bob (wan 198.51.100.12, lan
// 192.168.2.1/24) on the bridge, each with MASQUERADE and a stateful
// firewall (natRouter); alice at 10.0.1.2 behind the first and bob at
// 192.168.2.2 behind the second, each with a Chromium of their own.
//
// What the topology implies: the host candidates (10.0.1.2, 192.168.2.2)
// cannot reach each other, as no route leads from one LAN to the other. The
// server's STUN (the TURN server's port) tells each browser its router's
// address, with the port kept (Linux's NAT keeps a free source port), and
// each router lets in the answers to what went out from the inside to an
// address and port. Checks sent both ways open both NATs (hole punching),
// so the pair ICE selects joins the browser's server-reflexive candidate
// (its router's wan address, sent from its own host address) to the other
// router's wan address and port (the other's srflx candidate, or a
// peer-reflexive one when its check came before the candidate): UDP, with
// no relay. The TURN server offers relay candidates too, of lower
// priority: a relay pair must not be the one left selected.
func TestNetworkTwoNATs(t *testing.T) {
	lab := newNetLab(t)
	srv := startInternetApp(t, networkConfig(4))
	sides := []struct {
		name, wan, lan string
	}{
		{"alice", "198.51.100.11", "10.0.1"},
		{"bob", "198.51.100.12", "192.168.2"},
	}
	room := srv.newAPIClient().createRoom("Two NATs e2e")
	// Both browsers run before either joins: the start of the second
	// would count in the first one's time to a remote frame.
	bs := make([]*browser, len(sides))
	for i, s := range sides {
		router := lab.natRouter("nat-"+s.name, s.wan, s.lan)
		bs[i] = lab.behind(router, s.name, s.lan).chromium()
	}
	ps := make([]*tab, len(sides))
	for i, s := range sides {
		ps[i] = openNetTabs(t, bs[i], srv, room.ID, s.name)[0]
		if i == 0 {
			waitOwnTile(ps[0]) // alice is in the room before bob joins
		}
	}
	waitNetRoom(t, ps, protocol.ModeMesh)
	for i, p := range ps {
		other := sides[1-i]
		pairs := waitSelectedPairs(p, 1, func(sp selectedPair) bool {
			return sp.Local.Type != "relay" && sp.Remote.Type != "relay" && sp.Local.Protocol == "udp" &&
				sp.Remote.Address == other.wan && slices.Contains([]string{"srflx", "prflx"}, sp.Remote.Type)
		})
		t.Logf("network_pair test=%s participant=%s %s", t.Name(), p.name, pairs[0])
	}
	logFirstFrames(t, ps[1], "nat2", "two-nats", len(ps))
}

// joinNetRoom opens size participants as identities of b in a new room:
// all but the last at once, and once those see each other play, the last.
// It waits until every page is in mode, shows the others' tiles and plays
// their videos.
func joinNetRoom(t *testing.T, srv *appServer, b *browser, size int, mode string) []*tab {
	t.Helper()
	room := srv.newAPIClient().createRoom("Network e2e")
	names := make([]string, size)
	for i := range names {
		names[i] = fmt.Sprintf("P%d", i+1)
	}
	first := openNetTabs(t, b, srv, room.ID, names[:size-1]...)
	waitNetRoom(t, first, mode)
	ps := append(first, openNetTabs(t, b, srv, room.ID, names[size-1])...)
	waitNetRoom(t, ps, mode)
	return ps
}

// openNetTabs opens an identity of b per name and navigates them all at
// once to the room's link, joining at once.
func openNetTabs(t *testing.T, b *browser, srv *appServer, roomID string, names ...string) []*tab {
	t.Helper()
	ps := make([]*tab, len(names))
	for i, name := range names {
		p := b.newIdentity(name)
		p.addInitScript(probeScript)
		p.addInitScript(tinyCameraScript)
		p.addInitScript(netProbeScript)
		ps[i] = p
	}
	// tab.navigate fails the test, which only the test's goroutine may do.
	errs := make(chan error, len(ps))
	for _, p := range ps {
		go func() {
			ctx, cancel := context.WithTimeout(p.drv.context(), actionTimeout)
			defer cancel()
			u := srv.roomURL(roomID, url.Values{"name": {p.name}, "join": {"1"}})
			if err := p.drv.navigate(ctx, u); err != nil {
				errs <- fmt.Errorf("%s: navigating to %s: %w", p.name, u, err)
				return
			}
			errs <- nil
		}()
	}
	for range ps {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	return ps
}

// waitOwnTile waits until the page shows its own tile, and returns the
// participant's id.
func waitOwnTile(p *tab) string {
	p.t.Helper()
	return waitFor[string](p, netWait, "my own tile is shown",
		`document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`)
}

// waitNetRoom waits until every page is in mode with the others' tiles,
// and every remote video plays.
func waitNetRoom(t *testing.T, ps []*tab, mode string) {
	t.Helper()
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = waitOwnTile(p)
	}
	for i, p := range ps {
		waitFor[bool](p, netWait, "the room page is in "+mode+" mode",
			fmt.Sprintf(`document.querySelector('[data-testid="room"]')?.getAttribute('data-mode') === %q`, mode))
		waitRemoteTiles(p, without(ids, i))
	}
	waitAllFramesAdvance(t, ps, len(ps)-1)
}

// waitAllFramesAdvance is waitFramesAdvance on every page at once: want
// remote videos each, all presenting new frames between two samples about
// a second apart.
func waitAllFramesAdvance(t *testing.T, ps []*tab, want int) {
	t.Helper()
	deadline := time.Now().Add(netWait)
	for {
		before := make([]map[string]videoStat, len(ps))
		for i, p := range ps {
			before[i] = videoStats(p, remoteTiles)
		}
		time.Sleep(time.Second)
		var problems []string
		for i, p := range ps {
			if problem := framesProblem(before[i], videoStats(p, remoteTiles), want); problem != "" {
				problems = append(problems, p.name+": "+problem)
			}
		}
		if len(problems) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the remote videos did not all play within %v: %s", netWait, strings.Join(problems, "; "))
		}
	}
}

// tinyCameraScript asks the fake camera for 320x180 at 10 frames per
// second, whatever the page asks for: five tabs that each encode one
// stream and decode four are CPU-bound on two cores otherwise, and then
// the times measure the machine, not the network.
const tinyCameraScript = `(() => {
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) return;
  const gum = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => {
    if (c && c.video) c = { ...c, video: { width: { ideal: 320 }, height: { ideal: 180 }, frameRate: { ideal: 10, max: 10 } } };
    return gum(c);
  };
})();`

// netProbeScript records in window.__net.firstFrames, per remote
// participant id, the performance.now() time of the first frame a video of
// that participant's tile presented.
const netProbeScript = `(() => {
  if (window.__net) return;
  const net = window.__net = { firstFrames: {} };
  const watch = (v) => {
    if (v.__netWatched || !v.requestVideoFrameCallback) return;
    v.__netWatched = true;
    const onFrame = () => {
      const tile = v.closest('[data-participant-id]:not([data-local])');
      const id = tile && tile.getAttribute('data-participant-id');
      if (id && !(id in net.firstFrames)) net.firstFrames[id] = performance.now();
      if (!id) v.requestVideoFrameCallback(onFrame); // not in a remote tile yet
    };
    v.requestVideoFrameCallback(onFrame);
  };
  new MutationObserver(() => document.querySelectorAll('video').forEach(watch)).observe(document, { childList: true, subtree: true });
})();`

// logFirstFrames logs the times of the page that joined last, from its
// welcome to its first remote frame and to the first frame of the last of
// its size-1 remote participants, and returns the latter.
func logFirstFrames(t *testing.T, p *tab, room, network string, size int) float64 {
	t.Helper()
	r := evalJS[struct {
		Welcome float64            `json:"welcome"`
		First   float64            `json:"first"`
		Each    map[string]float64 `json:"each"`
	}](p, `({ welcome: window.__e2e.welcomeAt || 0, first: window.__e2e.firstRemoteFrameAt || 0, each: window.__net.firstFrames })`)
	if r.Welcome == 0 || r.First == 0 || len(r.Each) < size-1 {
		t.Fatalf("%s: incomplete times: %+v", p.name, r)
	}
	all := 0.0
	for _, at := range r.Each {
		all = max(all, at)
	}
	t.Logf("network_first_frame room=%s network=%s participants=%d welcome_to_first_frame_ms=%.0f welcome_to_all_frames_ms=%.0f",
		room, network, size, r.First-r.Welcome, all-r.Welcome)
	return all - r.Welcome
}

// candidate is one end of a candidate pair, from getStats.
type candidate struct {
	Type          string `json:"type"`          // host, srflx, prflx, relay
	Protocol      string `json:"protocol"`      // udp, tcp: between the two ends
	RelayProtocol string `json:"relayProtocol"` // a relay's: to its TURN server
	TCPType       string `json:"tcpType"`
	Address       string `json:"address"`
	Port          int    `json:"port"`
}

func (c candidate) String() string {
	s := c.Type + "/" + c.Protocol
	if c.RelayProtocol != "" {
		s += "/via-" + c.RelayProtocol
	}
	if c.TCPType != "" {
		s += "/" + c.TCPType
	}
	return fmt.Sprintf("%s %s:%d", s, c.Address, c.Port)
}

// selectedPair is the candidate pair a connection uses.
type selectedPair struct {
	Local  candidate `json:"local"`
	Remote candidate `json:"remote"`
}

func (sp selectedPair) String() string {
	return fmt.Sprintf("local=%s remote=%s", sp.Local, sp.Remote)
}

// selectedPairsJS lists the selected candidate pair of every connected
// RTCPeerConnection of the page (probeScript keeps them), null for one
// that has none.
const selectedPairsJS = `(async () => {
  const out = [];
  for (const pc of (window.__e2e && window.__e2e.pcs) || []) {
    if (pc.connectionState !== 'connected') continue;
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
    if (!pair) { out.push(null); continue; }
    const c = (s) => s ? { type: s.candidateType, protocol: s.protocol, relayProtocol: s.relayProtocol || '',
      tcpType: s.tcpType || '', address: s.address || s.ip || '', port: s.port } : {};
    out.push({ local: c(stats.get(pair.localCandidateId)), remote: c(stats.get(pair.remoteCandidateId)) });
  }
  return out;
})()`

// waitSelectedPairs waits until the page has at least want connected
// connections and ok accepts the selected pair of each, and returns the
// pairs. ICE can select a pair and then move to a better one, so it polls.
func waitSelectedPairs(p *tab, want int, ok func(selectedPair) bool) []selectedPair {
	p.t.Helper()
	deadline := time.Now().Add(netWait)
	for {
		var bad []string
		pairs, err := tryEval[[]*selectedPair](p, selectedPairsJS)
		if err != nil {
			bad = append(bad, err.Error())
		}
		if len(pairs) < want {
			bad = append(bad, fmt.Sprintf("%d connected connections, want %d", len(pairs), want))
		}
		var out []selectedPair
		for _, sp := range pairs {
			switch {
			case sp == nil:
				bad = append(bad, "a connection has no selected pair")
			case !ok(*sp):
				bad = append(bad, "unexpected pair "+sp.String())
			default:
				out = append(out, *sp)
			}
		}
		if len(bad) == 0 {
			return out
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: the selected candidate pairs are not what the network implies after %v: %s",
				p.name, netWait, strings.Join(bad, "; "))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

var dropCounter = regexp.MustCompile(`(?m)^\s*(\d+)\s+\d+\s+DROP\s+(?:17|udp)\b`)

// udpDropCounts says how many UDP packets the client's firewall dropped on
// the way in and out: the browsers did try UDP.
func udpDropCounts(n *netns) string {
	var parts []string
	for _, chain := range []string{"INPUT", "OUTPUT"} {
		out := n.output("iptables", "-w", "-L", chain, "-v", "-n", "-x")
		count := "?"
		if m := dropCounter.FindStringSubmatch(out); m != nil {
			count = m[1]
		}
		parts = append(parts, fmt.Sprintf("udp_dropped_%s=%s", strings.ToLower(chain), count))
	}
	return strings.Join(parts, " ")
}
