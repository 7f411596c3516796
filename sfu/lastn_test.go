package sfu

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/pion/webrtc/v4"

	"meet/protocol"
)

func TestRecentFor(t *testing.T) {
	recent := []string{"a", "b", "c", "d"}
	for _, c := range []struct {
		sub, pub string
		want     bool
	}{
		{"z", "a", true}, {"z", "b", true}, {"z", "c", false},
		{"a", "b", true}, {"a", "c", true}, {"a", "d", false}, // a does not count for itself
		{"c", "a", true}, {"c", "b", true}, {"c", "d", false},
		{"z", "nobody", false},
	} {
		if got := recentFor(recent, c.sub, 2, c.pub); got != c.want {
			t.Errorf("recentFor(%s sees %s) = %v, want %v", c.sub, c.pub, got, c.want)
		}
	}
}

// TestLastNHoldsBackAllButRecentSpeakers: five publishers, last-N 2: each
// subscriber gets two videos, is told the others are held, and a new
// speaker's video is forwarded to everyone at once; whoever is on the
// stage is forwarded to everyone besides the two.
func TestLastNHoldsBackAllButRecentSpeakers(t *testing.T) {
	r := newRoom(&SFU{lastN: 2}, "lastn")
	var mu sync.Mutex
	told := map[string][]string{}
	names := []string{"a", "b", "c", "d", "e"}
	peers := map[string]*Peer{}
	for _, id := range names {
		p := &Peer{room: r, id: id}
		p.send = func(data []byte) {
			var m protocol.LastN
			if json.Unmarshal(data, &m) == nil && m.Type == protocol.TypeLastN {
				mu.Lock()
				told[id] = m.Off
				mu.Unlock()
			}
		}
		peers[id] = p
		r.peers = append(r.peers, p)
	}
	downs := map[[2]string]*downTrack{}
	for _, pub := range names {
		up := &upTrack{publisher: peers[pub], source: "camera", kind: webrtc.RTPCodecTypeVideo, video: true}
		up.downs.Store(&[]*downTrack{})
		for _, sub := range names {
			if sub != pub {
				d := &downTrack{up: up, subscriber: peers[sub]}
				up.addDown(d)
				downs[[2]string{sub, pub}] = d
			}
		}
		r.tracks = append(r.tracks, up)
	}
	gets := func(sub string) []string {
		var out []string
		for _, pub := range names {
			if d := downs[[2]string{sub, pub}]; d != nil && !d.lastNOff.Load() {
				out = append(out, pub)
			}
		}
		return out
	}
	r.applyLastN()
	// Nobody spoke: the first two publishers, in order.
	if got := gets("e"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("e gets %v", got)
	}
	if got := gets("a"); !slices.Equal(got, []string{"b", "c"}) {
		t.Fatalf("a gets %v (never itself)", got)
	}
	if st := r.Stats(); st.LastNHeld != 5*4-5*2 {
		t.Fatalf("%d videos held, want 10", st.LastNHeld)
	}
	mu.Lock()
	if !slices.Equal(told["e"], []string{"c", "d"}) {
		t.Fatalf("e was told %v are held", told["e"])
	}
	mu.Unlock()
	// d speaks: everyone but d gets d first.
	r.spoke("d")
	if got := gets("e"); !slices.Equal(got, []string{"a", "d"}) {
		t.Fatalf("after d spoke, e gets %v", got)
	}
	if got := gets("d"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after d spoke, d gets %v", got)
	}
	mu.Lock()
	if !slices.Equal(told["e"], []string{"b", "c"}) {
		t.Fatalf("after d spoke, e was told %v are held", told["e"])
	}
	mu.Unlock()
	// c goes on the stage: everyone gets c besides the two recent ones.
	peers["c"].SetFeatured(true)
	r.applyLastN()
	if got := gets("e"); !slices.Equal(got, []string{"a", "c", "d"}) {
		t.Fatalf("with c on the stage, e gets %v", got)
	}
	if got := gets("c"); !slices.Equal(got, []string{"a", "d"}) {
		t.Fatalf("with c on the stage, c gets %v", got)
	}
	peers["c"].SetFeatured(false)
	r.applyLastN()
	if got := gets("e"); !slices.Equal(got, []string{"a", "d"}) {
		t.Fatalf("with c off the stage, e gets %v", got)
	}
}
