package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"meet/app/room"
	"meet/protocol"
	"meet/sfu"
	"meet/store"
)

// A classroom larger than one node (issue 18, room/edge.go): the room's
// host, the origin, serves NodeCapacity viewers itself and opens each
// further viewer's subscription on another node, an edge, over a node
// socket (edgeLink here, serveEdge there). The edge receives the room's
// tracks once, over a pipe it opens to the origin (servePipe here), and
// fans them out to the viewers it serves.

// cascade is the origin's side: which edges serve how many viewers of
// each room, and the live nodes it may pick from.
type cascade struct {
	s        *Server
	capacity int
	// others are the live nodes but this one, as of the last heartbeat.
	others atomic.Pointer[[]store.Node]

	mu    sync.Mutex
	links map[string]map[string]int // room → edge node → viewers it serves
	// failed are the nodes a link to failed lately, by when: they are not
	// picked for a while, so that a viewer whose edge died moves to
	// another one, or here, rather than back to the dead one.
	failed map[string]time.Time
}

func newCascade(s *Server, capacity int) *cascade {
	return &cascade{s: s, capacity: capacity, links: map[string]map[string]int{}, failed: map[string]time.Time{}}
}

// setOthers takes the live nodes of a heartbeat.
func (c *cascade) setOthers(live []store.Node, self string) {
	others := make([]store.Node, 0, len(live))
	for _, n := range live {
		if n.ID != self {
			others = append(others, n)
		}
	}
	c.others.Store(&others)
}

// Open implements room.Edges: nil when no other node is live, and the
// viewer is served here.
func (c *cascade) Open(roomID, participant string, send func([]byte), lost func()) room.EdgeLink {
	edge, ok := c.pick(roomID)
	if !ok {
		return nil
	}
	l := &edgeLink{c: c, room: roomID, edge: edge.ID, sock: newNodeSocket()}
	go l.run(edge, participant, send, lost)
	return l
}

// pick chooses the edge for the next viewer of room: the node already
// serving it with room for more, else the least loaded of the others that
// serves none of it yet, else the one serving the fewest.
func (c *cascade) pick(roomID string) (store.Node, bool) {
	others := c.others.Load()
	if others == nil || len(*others) == 0 {
		return store.Node{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	counts := c.links[roomID]
	var best *store.Node
	better := func(n *store.Node) bool {
		if best == nil {
			return true
		}
		a, b := counts[n.ID], counts[best.ID]
		aOpen, bOpen := a > 0 && a < c.capacity, b > 0 && b < c.capacity
		switch {
		case aOpen != bOpen:
			return aOpen
		case aOpen:
			return a > b // fill the one already receiving the room
		case (a == 0) != (b == 0):
			return a == 0
		case a != b:
			return a < b
		}
		return n.Participants < best.Participants
	}
	for i := range *others {
		n := &(*others)[i]
		if at, failed := c.failed[n.ID]; failed && time.Since(at) < c.failedFor() {
			continue
		}
		if better(n) {
			best = n
		}
	}
	if best == nil {
		return store.Node{}, false
	}
	if counts == nil {
		counts = map[string]int{}
		c.links[roomID] = counts
	}
	counts[best.ID]++
	return *best, true
}

// failedFor is how long a node that failed a link is not picked: long
// enough for its heartbeats to tell whether it is dead.
func (c *cascade) failedFor() time.Duration { return 2 * c.s.node.timeout }

// markFailed notes that a link to edge failed now.
func (c *cascade) markFailed(edge string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failed[edge] = time.Now()
}

// release counts one viewer of room fewer on edge.
func (c *cascade) release(roomID, edge string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if counts := c.links[roomID]; counts != nil {
		if counts[edge]--; counts[edge] <= 0 {
			delete(counts, edge)
		}
		if len(counts) == 0 {
			delete(c.links, roomID)
		}
	}
}

// edgeViewers counts the viewers other nodes serve for this one's rooms.
func (c *cascade) edgeViewers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, counts := range c.links {
		for _, k := range counts {
			n += k
		}
	}
	return n
}

// edgeMessage is what the origin sends an edge about one viewer: its
// subscribe negotiation, or what its page shows.
type edgeMessage struct {
	SFU  *protocol.SFU  `json:"sfu,omitempty"`
	View *protocol.View `json:"view,omitempty"`
}

// edgeLink is one viewer's subscription on an edge, seen from the origin.
type edgeLink struct {
	c          *cascade
	room, edge string
	sock       *nodeSocket
	closed     atomic.Bool
}

// run connects to the edge and relays what it sends to the viewer, until
// Close or the link fails (lost).
func (l *edgeLink) run(edge store.Node, participant string, send func([]byte), lost func()) {
	defer l.c.release(l.room, l.edge)
	ctx, cancel := context.WithTimeout(context.Background(), proxyDialTimeout)
	conn, err := l.c.s.dialNode(ctx, edge, "/internal/edge", url.Values{"room": {l.room}, "participant": {participant}})
	cancel()
	if err == nil {
		l.c.s.log.Debug("viewer served by another node", "room", l.room, "participant", participant, "edge", edge.ID)
		l.sock.serve(conn, send)
	} else {
		l.c.s.log.Warn("open a viewer's media on another node", "room", l.room, "participant", participant, "edge", edge.ID, "err", err)
	}
	if !l.closed.Load() {
		l.c.markFailed(l.edge)
		lost()
	}
}

func (l *edgeLink) push(m edgeMessage) {
	if data, err := json.Marshal(m); err == nil {
		l.sock.push(data)
	}
}

// HandleSignal implements room.EdgeLink.
func (l *edgeLink) HandleSignal(m *protocol.SFU) error {
	l.push(edgeMessage{SFU: m})
	return nil
}

// SetViews implements room.EdgeLink.
func (l *edgeLink) SetViews(m *protocol.View) { l.push(edgeMessage{View: m}) }

// Close implements room.EdgeLink.
func (l *edgeLink) Close() {
	l.closed.Store(true)
	l.sock.close()
}

// servePipe is the origin's end of a pipe: a node socket from an edge
// that serves viewers of a room live here, over which the edge receives
// the room's tracks as one subscriber of the room's SFU.
func (s *Server) servePipe(c *gin.Context) {
	edge := s.callingNode(c.Request)
	if edge == "" {
		c.AbortWithStatus(http.StatusForbidden)
		return
	}
	roomID := c.Query("room")
	if _, live := s.hub.Room(roomID); !live {
		c.AbortWithStatus(http.StatusNotFound)
		return
	}
	media, err := s.sfu.Room(roomID)
	if err != nil {
		c.AbortWithStatus(http.StatusServiceUnavailable)
		return
	}
	conn, err := nodeUpgrader.Upgrade(c.Writer, c.Request, nil)
	if err != nil {
		return
	}
	sock := newNodeSocket()
	peer, err := media.Join(sfu.PipePeerID(edge), sock.push)
	if err != nil {
		_ = conn.Close()
		return
	}
	defer peer.Close()
	s.log.Info("pipe to another node opened", "room", roomID, "edge", edge)
	go closeWhenDone(sock, peer.Done())
	sock.serve(conn, func(data []byte) {
		var m protocol.SFU
		if json.Unmarshal(data, &m) == nil && m.Type == protocol.TypeSFU {
			if err := peer.HandleSignal(&m); err != nil {
				s.log.Debug("pipe signal refused", "room", roomID, "edge", edge, "err", err)
			}
		}
	})
	s.log.Info("pipe to another node closed", "room", roomID, "edge", edge)
}

// closeWhenDone closes sock once done is, or sock is.
func closeWhenDone(sock *nodeSocket, done <-chan struct{}) {
	select {
	case <-done:
		sock.close()
	case <-sock.done:
	}
}
