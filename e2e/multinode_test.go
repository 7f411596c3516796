package e2e

import (
	"bufio"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"meet/protocol"
	"meet/store/storetest"
)

// Issue 18's browser tests, Done-when 1 and 2: three `meet` processes (the
// real binary, so that one can be killed with SIGKILL) on loopback share
// one real PostgreSQL database, a fresh one on the cluster of
// MEET_TEST_POSTGRES (scripts/test.sh starts it). Each node serves HTTPS
// with the tests' certificate (https_test.go) on its own port of pageHost,
// so every page is in a secure context on the node it was loaded from.
// The nodes forward joins to each other at their default internal address,
// https://127.0.0.1:<port>, and trust that certificate as an operator
// trusts a private CA: through SSL_CERT_FILE.
//
// Every room uses the SFU (-mesh-max 0), so that media goes to the hosting
// node's own candidates and must restart on a new host when that node dies.

// multinodeWait bounds each wait of these tests: three Chromium tabs and
// three servers share the machine's cores.
const multinodeWait = 45 * time.Second

// nodeTimeout is the nodes' -node-timeout: a node that misses its
// heartbeats this long is dead and its rooms are placed again.
const nodeTimeout = 3 * time.Second

// meetNode is one `meet` process of the cluster.
type meetNode struct {
	t    *testing.T
	id   string
	url  string // https://meet.test:<port>, as the browsers reach it
	addr string // 127.0.0.1:<port>
	// metrics is the node's metrics listener, http://127.0.0.1:<port>.
	metrics string
	cmd     *exec.Cmd
	log     *eventLog
	done    chan struct{} // closed when the process has exited
	err     error         // its exit, once done
}

// meetCluster is the nodes of a test on one database.
type meetCluster struct {
	t     *testing.T
	dsn   string
	nodes []*meetNode
}

// buildMeet builds cmd/meet into the test's temporary directory.
func buildMeet(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "meet")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/meet")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/meet: %v\n%s", err, out)
	}
	return bin
}

// writeTestCertificate writes the tests' certificate and key (the one the
// Go clients trust, for pageHost and 127.0.0.1) as PEM files.
func writeTestCertificate(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	cert, err := serverCertificate()
	if err != nil {
		t.Fatalf("making the server's certificate: %v", err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatalf("encoding the key: %v", err)
	}
	var certPEM []byte
	for _, der := range cert.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// freeTCPPort and freeUDPPort return a port of 127.0.0.1 free a moment ago.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// startCluster starts n nodes (ids A, B, C, ...) on a fresh PostgreSQL
// database, each ready (GET /readyz answers 200) before it returns. Start
// it before the browser, so that the browser closes first.
// extra are flags every node gets.
func startCluster(t *testing.T, n int, extra ...string) *meetCluster {
	t.Helper()
	requirePrivateNetwork(t)
	if os.Getenv(storetest.EnvPostgres) == "" {
		skipOrFail(t, "%s is empty: no PostgreSQL cluster for the nodes to share (scripts/test.sh starts one)", storetest.EnvPostgres)
	}
	dsn := storetest.PostgresDSN(t) // dropped last: after the nodes stop
	bin := buildMeet(t)
	certFile, keyFile := writeTestCertificate(t, t.TempDir())
	c := &meetCluster{t: t, dsn: dsn}
	for i := 0; i < n; i++ {
		id := string(rune('A' + i))
		port, metricsAddr := freeTCPPort(t), net.JoinHostPort("127.0.0.1", strconv.Itoa(freeTCPPort(t)))
		node := &meetNode{
			t: t, id: id,
			metrics: "http://" + metricsAddr,
			addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			url:     "https://" + net.JoinHostPort(pageHost, strconv.Itoa(port)),
			log:     newEventLog(),
			done:    make(chan struct{}),
		}
		args := []string{
			"-node-id", id,
			"-addr", node.addr,
			"-udp-port", strconv.Itoa(freeUDPPort(t)),
			"-tcp-port", "0", // no ICE over TCP: its port would be the UDP one's number
			"-turn-port", "0", // the built-in TURN's 3478 would clash between the nodes
			"-db", dsn,
			"-data-dir", t.TempDir(),
			"-node-timeout", nodeTimeout.String(),
			"-tls-cert", certFile, "-tls-key", keyFile,
			"-metrics-addr", metricsAddr,
			"-mesh-max", "0",
			"-joins-per-minute", "0", "-rooms-per-minute", "0", // every page is 127.0.0.1
			"-log-level", "debug",
		}
		args = append(args, extra...)
		node.cmd = exec.Command(bin, args...)
		node.cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+certFile)
		out, err := node.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		node.cmd.Stderr = node.cmd.Stdout
		if err := node.cmd.Start(); err != nil {
			t.Fatalf("starting node %s: %v", id, err)
		}
		lines := make(chan struct{})
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				node.log.addf("node "+id, "%s", sc.Text())
			}
			io.Copy(io.Discard, out)
		}()
		go func() {
			<-lines
			node.err = node.cmd.Wait()
			close(node.done)
		}()
		t.Logf("node %s: %s (pid %d) %s", id, node.url, node.cmd.Process.Pid, strings.Join(args, " "))
		t.Cleanup(func() {
			node.stop()
			dumpLog(t, "node "+id+" log", node.log)
		})
		c.nodes = append(c.nodes, node)
		// One after another: nodes that start at once on an empty
		// database race in store.Open's AutoMigrate (no lock around it),
		// and the losers exit with "duplicate key value violates unique
		// constraint pg_type_typname_nsp_index" (concurrent CREATE TABLE).
		node.waitReady(30 * time.Second)
	}
	return c
}

// node returns the node of id.
func (c *meetCluster) node(id string) *meetNode {
	for _, n := range c.nodes {
		if n.id == id {
			return n
		}
	}
	c.t.Fatalf("no node %q", id)
	return nil
}

// running reports whether the process is still running.
func (n *meetNode) running() bool {
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// waitReady waits until the node answers GET /readyz with 200.
func (n *meetNode) waitReady(timeout time.Duration) {
	n.t.Helper()
	client := &http.Client{Transport: httpsTransport(), Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for {
		if !n.running() {
			n.t.Fatalf("node %s exited before it was ready: %v\n%s", n.id, n.err, n.log)
		}
		resp, err := client.Get(n.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("node %s not ready after %v: %s\n%s", n.id, timeout, last, n.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill ends the process with SIGKILL: no goodbye to anyone, no last
// heartbeat, as a machine that dies.
func (n *meetNode) kill() {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		n.t.Fatalf("killing node %s: %v", n.id, err)
	}
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.t.Fatalf("node %s still runs 10 s after SIGKILL", n.id)
	}
}

// stop ends the process gently (SIGTERM), and with SIGKILL when it does
// not end within 10 s.
func (n *meetNode) stop() {
	if !n.running() {
		return
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.t.Errorf("node %s did not stop within 10 s of SIGTERM; killing it", n.id)
		n.cmd.Process.Kill()
		<-n.done
	}
}

// api is an API client of the node with an identity of its own.
func (n *meetNode) api() *apiClient {
	srv := &appServer{Server: &httptest.Server{URL: n.url}, t: n.t, log: n.log, metricsURL: n.metrics}
	return srv.newAPIClient()
}

// roomURL is the share link of a room on this node, joining as name.
func (n *meetNode) roomURL(roomID, name string) string {
	return n.url + "/r/" + url.PathEscape(roomID) + "?" + url.Values{"name": {name}, "join": {"1"}}.Encode()
}

// hostOf reads which node hosts the room, through api: "" when it is not
// placed on a live node.
func hostOf(api *apiClient, roomID string) string {
	if r := api.room(roomID); r.Node != nil {
		return r.Node.ID
	}
	return ""
}

// multinodeParticipant is one page in the cluster's room.
type multinodeParticipant struct {
	name string
	node *meetNode // the node the page was loaded from
	tab  *tab
	id   string // its participant id, as its own tile says
}

// localIDJS is the participant id of the page's own tile.
const localIDJS = `document.querySelector('[data-participant-id][data-local]')?.getAttribute('data-participant-id')`

// joinThrough opens a tab in b that loads the room from node and joins it,
// and waits until its own tile is shown.
func joinThrough(b *browser, node *meetNode, roomID, name string) *multinodeParticipant {
	b.t.Helper()
	tb := b.newIdentity(name)
	tb.addInitScript(probeScript)
	tb.navigate(node.roomURL(roomID, name))
	p := &multinodeParticipant{name: name, node: node, tab: tb}
	p.id = waitFor[string](tb, multinodeWait, "my own tile is shown", localIDJS)
	return p
}

func participantIDs(ps []*multinodeParticipant) []string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.id
	}
	return ids
}

// waitOneRoom waits until every page shows exactly the others' tiles, with
// their videos playing, and its chat is connected.
func waitOneRoom(ps []*multinodeParticipant, timeout time.Duration) {
	ids := participantIDs(ps)
	for i, p := range ps {
		p.tab.t.Helper()
		want := slices.Sorted(slices.Values(without(ids, i)))
		waitFor[bool](p.tab, timeout, fmt.Sprintf("the remote tiles are exactly %v", want),
			fmt.Sprintf(`JSON.stringify([...document.querySelectorAll(%q)]
				.map(e => e.getAttribute('data-participant-id')).sort()) === %q`, remoteTiles, jsonString(want)))
		waitFramesAdvance(p.tab, remoteTiles, len(want), timeout)
		waitChatReady(p.tab)
	}
}

// countArrivalsJS makes the page count in window.__mnArrivals the welcome
// and resumed messages its sockets get from now on (probeScript's log of
// WebSocket messages, window.__e2e.ws). A page that reloads loses the
// counter, and is taken as arrived: its new document joined afresh.
const countArrivalsJS = `(() => {
	const log = window.__e2e.ws, push = log.push;
	window.__mnArrivals = 0;
	log.push = function (...lines) {
		for (const l of lines) if (/ in (welcome|resumed)( |$)/.test(l)) window.__mnArrivals++;
		return push.apply(this, lines);
	};
	return true;
})()`

// roomMessages reads the room's chat history through api.
func roomMessages(api *apiClient, roomID string) []string {
	var out struct {
		Messages []protocol.ChatMessage `json:"messages"`
	}
	api.call(http.MethodGet, "/api/rooms/"+url.PathEscape(roomID)+"/messages?limit=500", nil, http.StatusOK, &out)
	texts := make([]string, len(out.Messages))
	for i, m := range out.Messages {
		texts[i] = m.Text
	}
	return texts
}

// TestThreeNodesOneRoom is issue 18's Done-when 1: a room created through
// node A is joined by Chromium participants through nodes A, B and C. They
// all end in one room: each page shows the two others' videos playing, and
// a chat message sent by each reaches everyone, in order.
func TestThreeNodesOneRoom(t *testing.T) {
	cluster := startCluster(t, 3)
	a, b, c := cluster.node("A"), cluster.node("B"), cluster.node("C")
	room := a.api().createRoom("Three nodes e2e")
	br := newBrowser(t)

	// The first join through B places the room (the tie between idle
	// nodes goes to the placing node); C and A forward theirs to the host.
	pb := joinThrough(br, b, room.ID, "Bea")
	host := hostOf(c.api(), room.ID)
	t.Logf("room %s created through A, hosted on node %q", room.ID, host)
	if host == "" {
		t.Fatalf("GET /api/rooms/%s (through C) names no host while Bea is in", room.ID)
	}
	pc := joinThrough(br, c, room.ID, "Cem")
	pa := joinThrough(br, a, room.ID, "Ada")
	ps := []*multinodeParticipant{pa, pb, pc}
	waitOneRoom(ps, multinodeWait)

	// Every node tells the same host and the same three participants.
	for _, n := range cluster.nodes {
		api := n.api()
		if h := hostOf(api, room.ID); h != host {
			t.Errorf("node %s says the room is hosted on %q, want %q", n.id, h, host)
		}
		got := slices.Sorted(slices.Values(func() []string {
			var ids []string
			for _, p := range api.participants(room.ID) {
				ids = append(ids, p.ID)
			}
			return ids
		}()))
		if want := slices.Sorted(slices.Values(participantIDs(ps))); !slices.Equal(got, want) {
			t.Errorf("node %s lists participants %v, want %v", n.id, got, want)
		}
	}

	var said []string
	for _, p := range []*multinodeParticipant{pb, pc, pa, pc} {
		text := fmt.Sprintf("%s through node %s, message %d", p.name, p.node.id, len(said)+1)
		sendChat(p.tab, text, true)
		said = append(said, text)
		for _, q := range ps {
			waitChat(q.tab, chatPanel, said)
		}
	}
	if got := roomMessages(a.api(), room.ID); !slices.Equal(got, said) {
		t.Errorf("the chat history through A is %q, want %q", got, said)
	}
	t.Logf("three nodes, one room on %s: %d participants see each other's video, %d messages in order everywhere", host, len(ps), len(said))
}

// TestHostNodeDies is issue 18's Done-when 2: the node hosting a room is
// killed (SIGKILL) while participants are in through the other nodes. They
// are back in the room, on a new host, within 15 s of the kill: the others'
// video plays and chat works, and the chat sent before the kill is all
// there.
func TestHostNodeDies(t *testing.T) {
	cluster := startCluster(t, 3)
	a, b, c := cluster.node("A"), cluster.node("B"), cluster.node("C")
	room := a.api().createRoom("Dead node e2e")
	br := newBrowser(t)

	// Ada joins first, through A, which places the room there (a tie
	// between idle nodes goes to the placing node); Bea and Cem join
	// through B and C, forwarded to A. Whichever node hosts the room is
	// killed; the pages loaded from the others must come back.
	pa := joinThrough(br, a, room.ID, "Ada")
	pb := joinThrough(br, b, room.ID, "Bea")
	pc := joinThrough(br, c, room.ID, "Cem")
	ps := []*multinodeParticipant{pa, pb, pc}
	waitOneRoom(ps, multinodeWait)

	hostID := hostOf(b.api(), room.ID)
	if hostID == "" {
		t.Fatalf("GET /api/rooms/%s names no host while three are in", room.ID)
	}
	host := cluster.node(hostID)
	var survivors []*multinodeParticipant
	var others []*meetNode
	for _, p := range ps {
		if p.node != host {
			survivors = append(survivors, p)
		}
	}
	for _, n := range cluster.nodes {
		if n != host {
			others = append(others, n)
		}
	}
	t.Logf("room %s hosted on node %s; %d participants through the other nodes", room.ID, hostID, len(survivors))

	var said []string
	say := func(from *multinodeParticipant, to []*multinodeParticipant, text string) {
		t.Helper()
		sendChat(from.tab, text, true)
		said = append(said, text)
		for _, q := range to {
			waitChat(q.tab, chatPanel, said)
		}
	}
	for _, p := range ps {
		say(p, ps, fmt.Sprintf("%s before the kill, through %s", p.name, p.node.id))
	}

	// The host dies. The pages loaded from the other nodes lose their
	// forwarded WebSocket and their SFU connection at once. Each page
	// counts the welcomes (or resumes) it gets from now on, so that "the
	// chat is connected" below means connected again, not still.
	for _, p := range survivors {
		evalJS[bool](p.tab, countArrivalsJS)
	}
	killedAt := time.Now()
	host.kill()
	t.Logf("node %s killed with SIGKILL", hostID)

	// Each surviving page is back: connected, its own tile (perhaps a new
	// participant id), the other survivors' video playing again.
	for _, p := range survivors {
		waitFor[bool](p.tab, multinodeWait, "a welcome (or resumed) arrives after the kill",
			`(window.__mnArrivals ?? 1) > 0`)
		waitChatReady(p.tab)
	}
	chatBack := time.Since(killedAt)
	for _, p := range survivors {
		p.id = waitFor[string](p.tab, multinodeWait, "my own tile is shown after the kill", localIDJS)
	}
	waitOneRoom(survivors, multinodeWait)
	mediaBack := time.Since(killedAt)
	for _, p := range survivors {
		if n := evalJS[*int](p.tab, `window.__mnArrivals ?? null`); n == nil {
			t.Logf("%s (through %s): the page reloaded to come back", p.name, p.node.id)
		} else {
			t.Logf("%s (through %s): back without a reload, %d welcome/resumed after the kill, now %s", p.name, p.node.id, *n, p.id)
		}
	}

	// The history is whole, on the pages and in the database, and chat
	// works on the new host.
	for _, p := range survivors {
		waitChat(p.tab, chatPanel, said)
	}
	say(survivors[0], survivors, fmt.Sprintf("%s after the kill, through %s", survivors[0].name, survivors[0].node.id))
	say(survivors[len(survivors)-1], survivors, fmt.Sprintf("%s after the kill, through %s", survivors[len(survivors)-1].name, survivors[len(survivors)-1].node.id))
	roundTrip := time.Since(killedAt)
	api := others[0].api()
	if got := roomMessages(api, room.ID); !slices.Equal(got, said) {
		t.Errorf("the chat history through %s is %q, want %q", others[0].id, got, said)
	}
	newHost := hostOf(api, room.ID)
	if newHost == "" || newHost == hostID {
		t.Errorf("after the kill the room is hosted on %q, want one of the live nodes", newHost)
	}

	t.Logf("node %s killed: chat connected again after %v, every survivor's video playing after %v, chat round trip done after %v; new host %s",
		hostID, chatBack.Round(time.Millisecond), mediaBack.Round(time.Millisecond), roundTrip.Round(time.Millisecond), newHost)
	t.Logf("kill_to_chat_connected_ms=%d kill_to_frames_ms=%d kill_to_chat_round_trip_ms=%d",
		chatBack.Milliseconds(), mediaBack.Milliseconds(), roundTrip.Milliseconds())
	if limit := 15 * time.Second; mediaBack > limit {
		t.Errorf("the participants were back in the room with video %v after the kill, want within %v", mediaBack.Round(time.Millisecond), limit)
	}
}
