package mesh

import (
	"encoding/json"
	"errors"
	"testing"

	"meet/protocol"
)

type fakePeer struct{ got [][]byte }

func (f *fakePeer) Send(msg []byte) { f.got = append(f.got, msg) }

type fakeRoom map[string]*fakePeer

func (r fakeRoom) Peer(id string) (Peer, bool) {
	p, ok := r[id]
	if !ok {
		return nil, false
	}
	return p, true
}

func TestForwardStampsSender(t *testing.T) {
	bob := &fakePeer{}
	room := fakeRoom{"alice": {}, "bob": bob}
	msg := &protocol.Signal{Type: protocol.TypeSignal, From: "mallory", To: "bob", Kind: protocol.KindOffer, SDP: "v=0"}
	if err := Forward(room, "alice", msg); err != nil {
		t.Fatal(err)
	}
	if len(bob.got) != 1 {
		t.Fatalf("bob got %d messages", len(bob.got))
	}
	var out protocol.Signal
	if err := json.Unmarshal(bob.got[0], &out); err != nil {
		t.Fatal(err)
	}
	if out.From != "alice" || out.Type != protocol.TypeSignal || out.SDP != "v=0" || out.To != "bob" {
		t.Fatalf("relayed %+v", out)
	}
	if msg.From != "mallory" {
		t.Fatal("Forward modified the caller's message")
	}
}

func TestForwardRefusals(t *testing.T) {
	room := fakeRoom{"alice": {}}
	err := Forward(room, "alice", &protocol.Signal{To: "carol", Kind: protocol.KindOffer, SDP: "v=0"})
	if !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("unknown target: %v", err)
	}
	err = Forward(room, "alice", &protocol.Signal{To: "alice", Kind: protocol.KindOffer, SDP: "v=0"})
	if !errors.Is(err, ErrSelf) {
		t.Fatalf("self target: %v", err)
	}
	if len(room["alice"].got) != 0 {
		t.Fatal("a refused signal was delivered")
	}
}
