package e2e

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"meet/protocol"
)

// TestCascadedClassroom is issue 18's Done-when 3: three nodes with
// -node-capacity 3, a teacher on the stage of a classroom and six
// students. The room's host serves three of them; the next three get
// their media from a second node, which receives each of the teacher's
// tracks exactly once from the host (meet_sfu_piped_tracks_total) and
// fans them out. Every student plays the teacher's video, and chat stays
// one room for everyone. Then the edge is killed (SIGKILL): its students'
// media restarts on the third node or the host, and they play the teacher
// again within 15 s.
//
// The students load the room from the host, as a load balancer may send
// them anywhere: a page loaded from the node that is killed would lose
// its socket as well (TestHostNodeDies covers that), and this test is
// about the media an edge serves.
func TestCascadedClassroom(t *testing.T) {
	cluster := startCluster(t, 3, "-node-capacity", "3")
	a := cluster.node("A")
	br := newBrowser(t)

	// The teacher creates the classroom through A, joins and goes on
	// stage: the first join places the room, on A (the tie between idle
	// nodes goes to the placing node).
	teacher := br.newIdentity("teacher")
	teacher.addInitScript(probeScript)
	teacher.addInitScript(smallCameraScript)
	teacher.navigate(a.url + "/")
	teacher.typeText(`[data-testid="create-room-name"]`, "Cascaded lecture")
	teacher.click(`[data-testid="create-classroom"]`)
	teacher.click(`[data-testid="create-room"]`)
	roomID := waitFor[string](teacher, multinodeWait, "the page is the new room's link",
		`(() => { const m = location.pathname.match(/^\/r\/([^/]+)$/); return m && decodeURIComponent(m[1]); })()`)
	fillDisplayName(teacher, `'Teacher'`)
	teacher.click(`[data-testid="join"]`)
	teacherID := waitFor[string](teacher, multinodeWait, "my own tile is shown", localIDJS)
	teacher.click(`[data-testid="go-on-stage"]`)
	waitFramesAdvance(teacher, stageTile(teacherID), 1, multinodeWait)
	api := a.api()
	published := api.waitParticipants(roomID, "the teacher publishes a camera", multinodeWait, func(list []protocol.Participant) bool {
		return len(list) == 1 && list[0].Media[protocol.SourceCamera] == protocol.TrackLive
	})[0].Media
	hostID := hostOf(api, roomID)
	host := cluster.node(hostID)
	t.Logf("classroom %s hosted on %s; the teacher publishes %v", roomID, hostID, published)

	// Six students join receive-only.
	var students []*multinodeParticipant
	for i := range 6 {
		node := host
		name := fmt.Sprintf("Student %d", i+1)
		tb := br.newIdentity(name)
		tb.addInitScript(probeScript)
		tb.navigate(node.url + "/r/" + url.PathEscape(roomID) + "?" + url.Values{"name": {name}, "spectator": {"1"}, "join": {"1"}}.Encode())
		p := &multinodeParticipant{name: name, node: node, tab: tb}
		p.id = waitFor[string](tb, multinodeWait, "my own tile is shown", localIDJS)
		students = append(students, p)
	}
	for _, s := range students {
		waitFor[bool](s.tab, multinodeWait, "the teacher's tile is on my stage", `!!document.querySelector(`+jsonString(stageTile(teacherID))+`)`)
		waitFramesAdvance(s.tab, stageTile(teacherID), 1, multinodeWait)
		stats := waitFramesAdvance(s.tab, stageTile(teacherID), 1, multinodeWait)
		t.Logf("%s (through %s) sees the teacher on the stage: %s", s.name, s.node.id, jsonString(stats))
	}

	// Three students are served by one other node, which received each of
	// the teacher's tracks once; the third node serves nobody.
	if got := host.metric("meet_cascade_edge_viewers"); got != 3 {
		t.Errorf("the host serves %v viewers' media on other nodes, want 3 (six students, capacity 3)", got)
	}
	var edges []string
	for _, n := range cluster.nodes {
		if n == host {
			continue
		}
		piped, pipes := n.metric("meet_sfu_piped_tracks_total"), n.metric("meet_cascade_pipes")
		t.Logf("node %s: %v tracks piped, %v pipes open, %v SFU peers", n.id, piped, pipes, n.metric("meet_sfu_peers"))
		switch {
		case piped == 0 && pipes == 0:
		case pipes == 1 && int(piped) == len(published):
			edges = append(edges, n.id)
		default:
			t.Errorf("node %s received %v tracks over %v pipes, want the teacher's %d once over one pipe, or none", n.id, piped, pipes, len(published))
		}
	}
	if len(edges) != 1 {
		t.Errorf("the nodes serving students besides the host are %v, want exactly one", edges)
	}

	// Chat is one room: a message from a student served by the edge and
	// one from the teacher reach everyone, in order.
	everyone := append([]*multinodeParticipant{{name: "Teacher", node: a, tab: teacher, id: teacherID}}, students...)
	var said []string
	for _, p := range []*multinodeParticipant{students[5], everyone[0]} {
		text := fmt.Sprintf("%s through node %s", p.name, p.node.id)
		sendChat(p.tab, text, true)
		said = append(said, text)
		for _, q := range everyone {
			waitChat(q.tab, chatPanel, said)
		}
	}
	if got := roomMessages(api, roomID); !slices.Equal(got, said) {
		t.Errorf("the chat history is %q, want %q", got, said)
	}
	if len(edges) != 1 || t.Failed() {
		return
	}

	// The edge dies: the students it served get their media from the third
	// node or the host, and everyone plays the teacher again.
	edge := cluster.node(edges[0])
	// Registered last, this runs first: a failure's head says what the
	// students' pages received, and what each node forwarded.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, n := range cluster.nodes {
			if n != edge {
				t.Logf("node %s: %s", n.id, n.sfuSummary())
			}
		}
		tabs := make([]*tab, 0, len(students))
		for _, s := range students[3:] {
			tabs = append(tabs, s.tab)
		}
		logReceiveDiagnosis(t, tabs...)
	})
	edge.kill()
	killed := time.Now()
	// The host served the first three; the edge the last three, whose
	// media restarts (sfu-restart) before it plays again.
	for _, s := range students[3:] {
		waitFor[bool](s.tab, multinodeWait, "the server restarts my SFU connections", `window.__e2e.ws.some(l => / in sfu-restart /.test(l))`)
	}
	for _, s := range students {
		waitFramesAdvance(s.tab, stageTile(teacherID), 1, multinodeWait)
	}
	back := time.Since(killed)
	t.Logf("edge %s killed: every student plays the teacher again %.1f s later", edge.id, back.Seconds())
	if back > 15*time.Second {
		t.Errorf("the students played the teacher again %.1f s after their edge died, want within 15 s", back.Seconds())
	}
	for _, n := range cluster.nodes {
		if n != edge {
			t.Logf("node %s after the edge died: %v tracks piped, %v pipes open, %v SFU peers", n.id, n.metric("meet_sfu_piped_tracks_total"), n.metric("meet_cascade_pipes"), n.metric("meet_sfu_peers"))
		}
	}
}

// metric reads one unlabelled metric of the node's.
func (n *meetNode) metric(name string) float64 {
	n.t.Helper()
	srv := &appServer{t: n.t, metricsURL: n.metrics}
	return srv.metric(name)
}

// sfuSummary is the node's forwarding counters, in one line.
func (n *meetNode) sfuSummary() string {
	n.t.Helper()
	srv := &appServer{t: n.t, metricsURL: n.metrics}
	var parts []string
	for _, m := range metricLine.FindAllStringSubmatch(srv.metricsText(), -1) {
		if strings.HasPrefix(m[1], "meet_sfu_") || strings.HasPrefix(m[1], "meet_cascade_") {
			parts = append(parts, m[1][len("meet_"):]+"="+m[2])
		}
	}
	return strings.Join(parts, " ")
}
