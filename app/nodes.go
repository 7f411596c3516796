package app

import (
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"meet/protocol"
	"meet/store"
)

// Several nodes may share one database (issue 18). Each writes a
// heartbeat with its load to the nodes table, and a room that goes live is
// placed on one node in the placements table (store/placement.go). A join
// that reaches another node is forwarded to the host (proxy.go), so only
// the host makes the room live.

// DefaultNodeTimeout is how long a node may miss heartbeats before the
// others count it dead.
const DefaultNodeTimeout = 10 * time.Second

// node is this process as one of the nodes: its heartbeat loop and the
// rooms whose placement it holds.
type node struct {
	id      string
	url     string
	timeout time.Duration
	started time.Time
	// internal is the address the other nodes forward joins to
	// (SetInternalURL); it can be set after the first heartbeat.
	internal atomic.Pointer[string]

	// mu orders placing and unplacing on this node: a room is unplaced
	// only while no join holds it (pending) and the hub has no live room
	// for it, and no join can place it meanwhile.
	mu      sync.Mutex
	pending map[string]int

	// The load at the last heartbeat, to turn counters into rates.
	lastAt   time.Time
	lastSent uint64
	lastCPU  time.Duration

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	// events listens to the other nodes' events (events.go).
	events *store.Listener
	// lastLive are the live nodes' ids at the last heartbeat, sorted
	// (leftovers.go); the heartbeat loop's own.
	lastLive []string
}

func newNode(cfg Config) *node {
	n := &node{
		id: cfg.NodeID, url: cfg.PublicURL, timeout: cfg.NodeTimeout, started: time.Now().UTC(),
		pending: map[string]int{},
		stop:    make(chan struct{}), done: make(chan struct{}),
	}
	n.internal.Store(&cfg.InternalURL)
	return n
}

// row is the node's heartbeat row without its load, stamped now.
func (n *node) row() store.Node {
	return store.Node{ID: n.id, PublicURL: n.url, InternalURL: *n.internal.Load(), StartedAt: n.started, HeartbeatAt: time.Now()}
}

// SetInternalURL sets the address the other nodes reach this one at to
// forward joins (http://host:port, the listener's; cmd/meet knows it once
// it listens) and writes it in a heartbeat now.
func (s *Server) SetInternalURL(u string) error {
	u = strings.TrimRight(u, "/")
	s.node.internal.Store(&u)
	return s.store.Heartbeat(s.node.row())
}

// DefaultNodeID is the node id of a server not given one: the host name,
// or "meet" when there is none.
func DefaultNodeID() string {
	if name, err := os.Hostname(); err == nil && name != "" {
		return name
	}
	return "meet"
}

// NodeID is the name this server writes its heartbeats under.
func (s *Server) NodeID() string { return s.node.id }

// startNode starts this server's part among the nodes: it closes in the
// store what its last run left open, listens to the others' events
// (events.go), then beats, so that it is live only once it hears what the
// others change. Shutdown stops both.
func (s *Server) startNode() error {
	if err := s.closeWhatWasOpen(); err != nil {
		return err
	}
	if err := s.startEvents(); err != nil {
		return err
	}
	if err := s.startHeartbeats(); err != nil {
		s.stopEvents()
		return err
	}
	return nil
}

// startHeartbeats writes the first heartbeat, so that this node is live
// before it serves, then beats every third of the node timeout until
// stopHeartbeats.
func (s *Server) startHeartbeats() error {
	if err := s.beat(); err != nil {
		return err
	}
	go s.heartbeats()
	return nil
}

func (s *Server) heartbeats() {
	defer close(s.node.done)
	// The rooms this node reported go with it: the others stop counting
	// them now, not once its heartbeat is stale.
	defer s.clearPresence()
	// Rows a previous run under this id left behind go at once.
	s.writePresence()
	s.watchNodes()
	tick := time.NewTicker(s.node.timeout / 3)
	defer tick.Stop()
	for {
		select {
		case <-s.node.stop:
			return
		case <-tick.C:
		}
		// A server whose sockets were closed without Shutdown (tests)
		// is gone too.
		if s.ws.IsClosed() {
			return
		}
		if err := s.beat(); err != nil {
			s.log.Warn("node heartbeat", "node", s.node.id, "err", err)
			continue
		}
		s.writePresence()
		s.sweepPlacements()
		s.watchNodes()
	}
}

// stopHeartbeats ends the loop and waits for it: the others count this
// node dead once its last heartbeat is older than the node timeout.
func (s *Server) stopHeartbeats() {
	s.node.stopOnce.Do(func() { close(s.node.stop) })
	<-s.node.done
}

// beat writes this node's heartbeat and load now.
func (s *Server) beat() error {
	now := time.Now()
	sent := s.sfu.Totals().Sent
	cpu := processCPU()
	n := s.node
	row := n.row()
	row.HeartbeatAt, row.Participants = now, s.participantsOnline()
	if secs := now.Sub(n.lastAt).Seconds(); !n.lastAt.IsZero() && secs > 0 {
		if sent >= n.lastSent {
			row.DeliveriesPerSecond = float64(sent-n.lastSent) / secs
		}
		if cpu >= n.lastCPU {
			row.CPU = (cpu - n.lastCPU).Seconds() / secs
		}
	}
	n.lastAt, n.lastSent, n.lastCPU = now, sent, cpu
	return s.store.Heartbeat(row)
}

// participantsOnline counts the participants of this node's live rooms.
func (s *Server) participantsOnline() int {
	total := 0
	for _, r := range s.hub.All() {
		n, _ := r.Counts()
		total += n
	}
	return total
}

// processCPU is the processor time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// liveNodes lists the live nodes, this one among them: if its own
// heartbeat is late (a slow database), it beats first.
func (s *Server) liveNodes() ([]store.Node, error) {
	live, err := s.store.LiveNodes(time.Now(), s.node.timeout)
	if err != nil {
		return nil, err
	}
	for _, n := range live {
		if n.ID == s.node.id {
			return live, nil
		}
	}
	if err := s.store.Heartbeat(s.node.row()); err != nil {
		return nil, err
	}
	return s.store.LiveNodes(time.Now(), s.node.timeout)
}

// holdPlacement is called as a join enters room id: it holds the room's
// placement until the returned release, and places the room when it is
// not live here yet. The join was forwarded to the room's host before its
// upgrade (proxy.go), so the room is placed here; if another node took it
// meanwhile (a race, or this node counted dead), it is still served here,
// with a warning, and the next joins go to that host.
func (s *Server) holdPlacement(id string) (release func()) {
	s.node.mu.Lock()
	s.node.pending[id]++
	s.node.mu.Unlock()
	if _, ok := s.hub.Room(id); !ok {
		s.placeRoom(id)
	}
	return func() {
		s.node.mu.Lock()
		if s.node.pending[id]--; s.node.pending[id] <= 0 {
			delete(s.node.pending, id)
		}
		s.node.mu.Unlock()
		s.unplaceIfIdle(id)
	}
}

func (s *Server) placeRoom(id string) {
	live, err := s.liveNodes()
	var host store.Node
	if err == nil {
		host, err = s.store.PlaceRoom(id, s.node.id, live)
	}
	switch {
	case err != nil:
		s.log.Error("place room", "room", id, "node", s.node.id, "err", err)
	case host.ID != s.node.id:
		s.log.Warn("room placed on another node since its join was routed here; serving it here", "room", id, "node", s.node.id, "host", host.ID)
	}
}

// unplaceIfIdle removes this node's placement of room id once no join
// holds it and it is not live here.
func (s *Server) unplaceIfIdle(id string) {
	s.node.mu.Lock()
	defer s.node.mu.Unlock()
	if s.node.pending[id] > 0 {
		return
	}
	if _, ok := s.hub.Room(id); ok {
		return
	}
	if err := s.store.Unplace(id, s.node.id); err != nil {
		s.log.Error("unplace room", "room", id, "node", s.node.id, "err", err)
	}
}

// sweepPlacements unplaces the rooms placed on this node that are no
// longer live here, however they emptied (a resume that expired, a WHIP
// encoder gone, the room ended). A room placed here by another node gets
// the node timeout to arrive before it counts as empty.
func (s *Server) sweepPlacements() {
	placed, err := s.store.PlacedOn(s.node.id)
	if err != nil {
		s.log.Warn("rooms placed on this node", "node", s.node.id, "err", err)
		return
	}
	for _, p := range placed {
		if time.Since(p.PlacedAt) >= s.node.timeout {
			s.unplaceIfIdle(p.RoomID)
		}
	}
}

// hostOf is the live node hosting room id, or nil.
func (s *Server) hostOf(id string) *protocol.RoomNode {
	p, err := s.store.Placement(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	var live []store.Node
	if err == nil {
		live, err = s.store.LiveNodes(time.Now(), s.node.timeout)
	}
	if err != nil {
		s.log.Error("host of room", "room", id, "err", err)
		return nil
	}
	return roomNode(live, p.NodeID)
}

// hostsOf are the live nodes hosting each of rooms ids, by room; rooms
// without one are missing.
func (s *Server) hostsOf(ids []string) (map[string]*protocol.RoomNode, error) {
	placed, err := s.store.PlacementsOf(ids)
	if err != nil || len(placed) == 0 {
		return nil, err
	}
	live, err := s.store.LiveNodes(time.Now(), s.node.timeout)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*protocol.RoomNode, len(placed))
	for room, nodeID := range placed {
		if n := roomNode(live, nodeID); n != nil {
			out[room] = n
		}
	}
	return out, nil
}

// roomNode is the node of live named id, or nil when it is not live.
func roomNode(live []store.Node, id string) *protocol.RoomNode {
	for _, n := range live {
		if n.ID == id {
			return &protocol.RoomNode{ID: n.ID, URL: n.PublicURL}
		}
	}
	return nil
}

// watchNodes reads the live nodes at a heartbeat: the cascade may serve
// viewers from them, and what the dead ones left open is closed.
func (s *Server) watchNodes() {
	live, err := s.store.LiveNodes(time.Now(), s.node.timeout)
	if err != nil {
		s.log.Warn("live nodes", "node", s.node.id, "err", err)
		return
	}
	if s.cascade != nil {
		s.cascade.setOthers(live, s.node.id)
	}
	s.sweepDeadNodes(live)
}
