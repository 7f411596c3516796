package room

import (
	"slices"
	"sync"
	"testing"
	"time"

	"meet/protocol"
	"meet/sfu"
)

// fakeEdges serves no viewer: its first link fails at once, as a dial to
// a node that died does, and then it has no node to offer.
type fakeEdges struct {
	mu     sync.Mutex
	opened int
}

type fakeLink struct{}

func (fakeLink) HandleSignal(*protocol.SFU) error { return nil }
func (fakeLink) SetViews(*protocol.View)          {}
func (fakeLink) Close()                           {}

func (e *fakeEdges) Open(_, _ string, _ func([]byte), lost func()) EdgeLink {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.opened++
	if e.opened > 1 {
		return nil
	}
	go lost() // before Open has returned, as a fast failure may
	return fakeLink{}
}

// TestLostEdgeRestartsTheViewer: with a node capacity of one viewer, the
// second viewer's media is opened on another node; that link fails before
// Open even returns. The viewer is told to restart its SFU connections
// (sfu-restart), and its sfu-close gets it a subscription here.
func TestLostEdgeRestartsTheViewer(t *testing.T) {
	db, stored, log := newTestStore(t, "class")
	media, err := sfu.New(sfu.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = media.Close() })
	edges := &fakeEdges{}
	h := NewHub(Config{Store: db, Log: log, Policy: Policy{MeshMax: 0, BackDelay: time.Hour, SFU: media, NodeCapacity: 1, Edges: edges}})

	join := func(id string, spectator bool) (*Room, *Participant, *fakeConn) {
		return enterAs(t, h, stored, Profile{ID: id, UserID: "u_" + id, Name: id, Spectator: spectator})
	}
	join("owner", false)
	join("v1", true)
	r, v2, conn := join("v2", true)

	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(conn.types(), protocol.TypeSFURestart) {
		if time.Now().After(deadline) {
			t.Fatalf("the viewer whose edge failed got %v, no %s", conn.types(), protocol.TypeSFURestart)
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.mu.Lock()
	epoch := r.epoch
	r.mu.Unlock()
	r.CloseSFU(v2, epoch)
	r.mu.Lock()
	defer r.mu.Unlock()
	if v2.edge != nil || v2.sfuPeer == nil {
		t.Fatalf("after its restart the viewer has edge %v and SFU peer %v, want a peer here", v2.edge, v2.sfuPeer)
	}
	if edges.opened != 2 {
		t.Fatalf("edges opened %d times, want 2 (the failed link, then none to offer)", edges.opened)
	}
}
