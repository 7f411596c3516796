package app

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"

	"meet/protocol"
)

// publishLive has c publish source and waits until watcher sees it.
func publishLive(c, watcher *client, source string) {
	c.t.Helper()
	c.send(protocol.Media{Type: protocol.TypeMedia, Source: source, Action: protocol.ActionPublished, StreamID: "s-" + c.self.ID})
	watcher.readUntil(protocol.TypeMedia, func(data []byte) bool {
		var m protocol.Media
		return json.Unmarshal(data, &m) == nil && m.From == c.self.ID && m.Source == source
	})
}

// TestMuteAllAsksEveryoneButTheOwner: mute-all sends the ordinary
// mute-request to every participant whose microphone is live, and to no
// tab of the owner, nobody already muted and no listener; with source
// camera, the cameras. A bad source is refused.
func TestMuteAllAsksEveryoneButTheOwner(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("mute all")
	laptop := owner.dial(room.ID, url.Values{"name": {"Ana laptop"}})
	phone := owner.dial(room.ID, url.Values{"name": {"Ana phone"}})
	bob := a.newUser().dial(room.ID, url.Values{"name": {"Bob"}})
	carol := a.newUser().dial(room.ID, url.Values{"name": {"Carol"}})
	dan := a.newUser().dial(room.ID, url.Values{"name": {"Dan"}})
	eve := a.newUser().dial(room.ID, url.Values{"name": {"Eve"}, "spectator": {"1"}})
	everyone := []*client{laptop, phone, bob, carol, dan, eve}

	for _, c := range []*client{laptop, phone, bob, carol, dan} {
		publishLive(c, eve, protocol.SourceMicrophone)
	}
	publishLive(dan, eve, protocol.SourceCamera)
	publishLive(bob, eve, protocol.SourceCamera)
	dan.send(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceMicrophone, Action: protocol.ActionPaused})
	eve.readUntil(protocol.TypeMedia, func(data []byte) bool {
		var m protocol.Media
		return json.Unmarshal(data, &m) == nil && m.From == dan.self.ID && m.Action == protocol.ActionPaused
	})

	// Up to a marker, nobody was asked anything yet.
	if asked := scanMuteRequests(t, everyone, laptop); len(asked) != 0 {
		t.Fatalf("asked to mute before mute-all: %+v", asked)
	}
	laptop.send(protocol.MuteAll{Type: protocol.TypeMuteAll})
	asked := scanMuteRequests(t, everyone, laptop)
	want := map[string]string{"Bob": protocol.SourceMicrophone, "Carol": protocol.SourceMicrophone}
	if len(asked) != len(want) {
		t.Fatalf("asked to mute: %+v, want only Bob and Carol", asked)
	}
	for name, source := range want {
		got := asked[name]
		if len(got) != 1 || got[0].Source != source || got[0].From != laptop.self.ID {
			t.Fatalf("%s was asked %+v, want one %s request from the owner's laptop", name, got, source)
		}
	}

	// The cameras: Bob's and Dan's.
	phone.send(protocol.MuteAll{Type: protocol.TypeMuteAll, Source: protocol.SourceCamera})
	// The phone's request is handled on the phone's socket; wait until it
	// is through before the laptop's marker.
	for _, c := range []*client{bob, dan} {
		var m protocol.MuteRequest
		c.readInto(protocol.TypeMuteRequest, &m)
		if m.Source != protocol.SourceCamera || m.From != phone.self.ID {
			t.Fatalf("%s was asked %+v, want the camera by the owner's phone", c.self.Name, m)
		}
	}
	asked = scanMuteRequests(t, everyone, laptop)
	if len(asked) != 0 {
		t.Fatalf("after the camera requests, also asked: %+v", asked)
	}

	// A bad source is refused and asks nobody.
	laptop.send(`{"type":"mute-all","source":"screen"}`)
	if e := laptop.readError(); e.Code != protocol.CodeInvalidMessage || e.Ref != protocol.TypeMuteAll {
		t.Fatalf("mute-all screen = %+v", e)
	}
	if asked := scanMuteRequests(t, everyone, laptop); len(asked) != 0 {
		t.Fatalf("a refused mute-all asked %+v", asked)
	}
}

// scanMuteRequests sends a marker reaction from marker and reads every
// client's messages up to it, returning the mute-requests each got, by
// name.
func scanMuteRequests(t *testing.T, clients []*client, marker *client) map[string][]protocol.MuteRequest {
	t.Helper()
	marker.send(protocol.Reaction{Type: protocol.TypeReaction, Emoji: "✋"})
	asked := map[string][]protocol.MuteRequest{}
	for _, c := range clients {
		for {
			typ, data, err := c.next()
			if err != nil {
				t.Fatalf("%s: waiting for the marker: %v", c.self.Name, err)
			}
			if typ == protocol.TypeMuteRequest {
				var m protocol.MuteRequest
				_ = json.Unmarshal(data, &m)
				asked[c.self.Name] = append(asked[c.self.Name], m)
				continue
			}
			if typ == protocol.TypeReaction && reactionFrom(marker.self.ID)(data) {
				break
			}
		}
	}
	return asked
}

// TestLowerHandsClearsTheQueue: lower-hands takes every hand down at once,
// keeps the stage, and everyone is told; with no hand up it sends
// nothing; hands can go up again afterwards.
func TestLowerHandsClearsTheQueue(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("hands")
	oc := owner.dial(room.ID, nil)
	var cs []*client
	for i := range 4 {
		q := url.Values{"name": {"S" + string(rune('1'+i))}}
		if i == 3 {
			q.Set("spectator", "1")
		}
		cs = append(cs, a.newUser().dial(room.ID, q))
	}
	// S1 is on the stage; the three others raise their hands.
	oc.send(protocol.StageSet{Type: protocol.TypeStageSet, ID: cs[0].self.ID, On: true})
	oc.waitStage(func(st protocol.Stage) bool { return len(st.Members) == 1 })
	for _, c := range cs[1:] {
		c.send(protocol.RaiseHand{Type: protocol.TypeHand, Raised: true})
	}
	oc.waitStage(func(st protocol.Stage) bool { return len(st.Hands) == 3 })

	oc.send(protocol.LowerHands{Type: protocol.TypeLowerHands})
	for _, c := range append([]*client{oc}, cs...) {
		st := c.waitStage(func(st protocol.Stage) bool { return len(st.Hands) == 0 })
		if !slices.Equal(memberIDs(st.Members), []string{cs[0].self.UserID}) {
			t.Fatalf("the stage after lower-hands = %+v", st.Members)
		}
	}
	if late := a.newUser().dial(room.ID, nil); len(late.wel.Hands) != 0 {
		t.Fatalf("a newcomer's welcome lists hands %+v", late.wel.Hands)
	}

	// Nothing to lower: nothing is sent. The owner's reaction after it
	// is the next thing everyone gets, once what came before is read.
	oc.send(protocol.Reaction{Type: protocol.TypeReaction, Emoji: "🎉"})
	for _, c := range cs {
		c.typesUntil(protocol.TypeReaction, reactionFrom(oc.self.ID))
	}
	oc.send(protocol.LowerHands{Type: protocol.TypeLowerHands})
	oc.send(protocol.Reaction{Type: protocol.TypeReaction, Emoji: "👍"})
	for _, c := range cs {
		if before := c.typesUntil(protocol.TypeReaction, reactionFrom(oc.self.ID)); slices.Contains(before, protocol.TypeStage) {
			t.Fatalf("lowering no hands sent %v", before)
		}
	}

	// Hands go up again, in a fresh queue.
	cs[2].send(protocol.RaiseHand{Type: protocol.TypeHand, Raised: true})
	st := oc.waitStage(func(st protocol.Stage) bool { return len(st.Hands) == 1 })
	if st.Hands[0].ID != cs[2].self.ID {
		t.Fatalf("queue = %+v", st.Hands)
	}
}
