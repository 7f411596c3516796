package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"meet/protocol"
)

// TestPlacementRace is issue 18's Done-when 4 with three meet processes:
// 50 rooms go live at once, each by a WebSocket join through one of the
// three nodes in turn. Every room is hosted exactly once (every node names
// the same host, and the nodes' live rooms add up to 50), and the rooms
// are spread over the nodes by load.
func TestPlacementRace(t *testing.T) {
	cluster := startCluster(t, 3)
	api := cluster.node("A").api()
	const rooms = 50
	ids := make([]string, rooms)
	for i := range ids {
		ids[i] = api.createRoom(fmt.Sprintf("Race %d", i)).ID
	}

	// Every join starts at once, each on a socket of its own.
	start := make(chan struct{})
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, rooms)
	errs := make([]error, rooms)
	for i, id := range ids {
		node := cluster.nodes[i%len(cluster.nodes)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			conns[i], errs[i] = joinOverSocket(node, id, fmt.Sprintf("Joiner %d", i))
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("join of room %d (%s) through node %s: %v", i, ids[i], cluster.nodes[i%3].id, err)
		}
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()

	hosted := map[string]int{}
	for _, id := range ids {
		host := hostOf(cluster.nodes[0].api(), id)
		for _, n := range cluster.nodes[1:] {
			if h := hostOf(n.api(), id); h != host {
				t.Errorf("room %s: node A says it is hosted on %q, node %s on %q", id, host, n.id, h)
			}
		}
		if host == "" {
			t.Errorf("room %s has someone in it and no host", id)
		}
		hosted[host]++
	}
	live := 0.0
	for _, n := range cluster.nodes {
		live += n.metric("meet_rooms_live")
	}
	t.Logf("50 rooms placed at once: hosted %v, %v live rooms across the nodes", hosted, live)
	if live != rooms {
		t.Errorf("the nodes have %v live rooms between them, want %d: a room is live on two nodes, or on none", live, rooms)
	}
	// The load a node is placed by is its participants as of its last
	// heartbeat plus one for each room placed on it since, an estimate:
	// the spread need not be even, but every node takes a share
	// (store.TestPlaceRoomRace and TestPlaceRoomHeartbeatMidCrowd check
	// the rule itself).
	for _, n := range cluster.nodes {
		if hosted[n.id] < rooms/10 || hosted[n.id] > rooms*7/10 {
			t.Errorf("node %s hosts %d of %d rooms: not spread by load (%v)", n.id, hosted[n.id], rooms, hosted)
		}
	}
}

// joinOverSocket joins room id through node as a new guest over a Go
// WebSocket, and returns the socket once it is welcomed.
func joinOverSocket(node *meetNode, id, name string) (*websocket.Conn, error) {
	u := wsURL(node.url) + "/ws?" + url.Values{"room": {id}, "name": {name}}.Encode()
	conn, _, err := wsDialer().Dial(u, nil)
	if err != nil {
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(multinodeWait))
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			conn.Close()
			return nil, err
		}
		var m struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(data, &m) == nil && m.Type == protocol.TypeWelcome {
			_ = conn.SetReadDeadline(time.Time{})
			return conn, nil
		}
	}
}
