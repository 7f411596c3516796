package app

import (
	"encoding/json"
	"net/url"
	"testing"

	"meet/protocol"
)

// audioLevelsBefore sends a reaction from marker and reads c's messages up
// to it, returning the audio levels that came before: what c got of what
// was sent before the marker.
func (c *client) audioLevelsBefore(marker *client) []protocol.AudioLevel {
	c.t.Helper()
	marker.send(protocol.Reaction{Type: protocol.TypeReaction, Emoji: "👍"})
	var levels []protocol.AudioLevel
	for {
		typ, data, err := c.next()
		if err != nil {
			c.t.Fatalf("waiting for the marker reaction: %v", err)
		}
		switch typ {
		case protocol.TypeAudioLevel:
			var m protocol.AudioLevel
			if err := json.Unmarshal(data, &m); err != nil {
				c.t.Fatal(err)
			}
			levels = append(levels, m)
		case protocol.TypeReaction:
			var m protocol.Reaction
			if json.Unmarshal(data, &m) == nil && m.From == marker.self.ID {
				return levels
			}
		}
	}
}

// micLive publishes c's microphone and waits until watcher knows it.
func micLive(c, watcher *client, action string) {
	c.t.Helper()
	c.send(protocol.Media{Type: protocol.TypeMedia, Source: protocol.SourceMicrophone, Action: action, StreamID: "s1"})
	watcher.readUntil(protocol.TypeMedia, func(data []byte) bool {
		var m protocol.Media
		return json.Unmarshal(data, &m) == nil && m.From == c.self.ID && m.Action == action
	})
}

// TestAudioLevelRelay: in a mesh room a participant's microphone level
// goes to everyone else (not back to the sender), stamped with the
// sender's id whatever the client wrote, rounded to two decimals. A level
// above 0 of a microphone that is not live reaches nobody, and 0 always
// does.
func TestAudioLevelRelay(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("levels")
	oc := owner.dial(room.ID, url.Values{"name": {"Owner"}})
	bob := a.newUser().dial(room.ID, url.Values{"name": {"Bob"}})
	carol := a.newUser().dial(room.ID, url.Values{"name": {"Carol"}})
	if bob.wel.Mode != protocol.ModeMesh {
		t.Fatalf("the room's mode is %s, want mesh", bob.wel.Mode)
	}

	// Bob's microphone is not published: only silence passes.
	bob.send(`{"type":"audio-level","level":0.5}`)
	bob.send(`{"type":"audio-level","level":0}`)
	if got := oc.audioLevelsBefore(bob); len(got) != 1 || got[0].ID != bob.self.ID || got[0].Level.Value != 0 {
		t.Fatalf("owner got %+v before Bob published his microphone, want his 0 alone", got)
	}

	micLive(bob, oc, protocol.ActionPublished)
	micLive(bob, carol, protocol.ActionPublished)
	bob.send(`{"type":"audio-level","level":0.4251,"id":"` + oc.self.ID + `"}`)
	for _, c := range []*client{oc, carol} {
		got := c.audioLevelsBefore(bob)
		if len(got) != 1 || got[0].ID != bob.self.ID || got[0].Level.Value != 0.43 || got[0].Type != protocol.TypeAudioLevel {
			t.Fatalf("%s got %+v, want Bob's 0.43", c.self.Name, got)
		}
	}
	// Not back to Bob.
	if got := bob.audioLevelsBefore(carol); len(got) != 0 {
		t.Fatalf("Bob got his own levels back: %+v", got)
	}

	// Paused: 0 passes, more does not.
	micLive(bob, oc, protocol.ActionPaused)
	bob.send(`{"type":"audio-level","level":0.8}`)
	bob.send(`{"type":"audio-level","level":0}`)
	if got := oc.audioLevelsBefore(bob); len(got) != 1 || got[0].Level.Value != 0 {
		t.Fatalf("owner got %+v from a paused microphone, want the 0 alone", got)
	}
}

// TestAudioLevelRefusals: a level that is not a number from 0 to 1 is
// refused with invalid_message (ref audio-level) and reaches nobody.
func TestAudioLevelRefusals(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("levels")
	oc := owner.dial(room.ID, nil)
	bob := a.newUser().dial(room.ID, nil)
	micLive(bob, oc, protocol.ActionPublished)
	for _, frame := range []string{
		`{"type":"audio-level"}`,
		`{"type":"audio-level","level":null}`,
		`{"type":"audio-level","level":"0.5"}`,
		`{"type":"audio-level","level":true}`,
		`{"type":"audio-level","level":-0.1}`,
		`{"type":"audio-level","level":1.5}`,
		`{"type":"audio-level","level":1e999}`,
	} {
		bob.send(frame)
		if e := bob.readError(); e.Code != protocol.CodeInvalidMessage || e.Ref != protocol.TypeAudioLevel || e.Message == "" {
			t.Fatalf("%s: error = %+v, want invalid_message with ref audio-level", frame, e)
		}
	}
	if got := oc.audioLevelsBefore(bob); len(got) != 0 {
		t.Fatalf("refused levels reached the owner: %+v", got)
	}
}

// TestAudioLevelRateLimit: past its burst a participant's levels are
// dropped without an answer, and the others get at most the burst (and
// one more for a token that came back meanwhile).
func TestAudioLevelRateLimit(t *testing.T) {
	a := newTestApp(t)
	owner := a.newUser()
	room := owner.createRoom("levels")
	oc := owner.dial(room.ID, nil)
	bob := a.newUser().dial(room.ID, nil)
	micLive(bob, oc, protocol.ActionPublished)
	const sent = 50
	for i := range sent {
		bob.send(protocol.AudioLevel{Type: protocol.TypeAudioLevel, Level: protocol.NewLevel(float64(i%10) / 10)})
	}
	got := oc.audioLevelsBefore(bob)
	if len(got) < protocol.AudioLevelBurst || len(got) > protocol.AudioLevelBurst+1 {
		t.Fatalf("owner got %d of %d levels, want the burst of %d", len(got), sent, protocol.AudioLevelBurst)
	}
	// Nothing came back to Bob: no error, no echo.
	for _, typ := range bob.typesUntil(protocol.TypeReaction, reactionFrom(bob.self.ID)) {
		if typ == protocol.TypeError || typ == protocol.TypeAudioLevel {
			t.Fatalf("Bob got an answer to his levels: %s", typ)
		}
	}
}

// TestAudioLevelIgnoredInSFU: in SFU mode the SFU reads the levels from the
// audio itself; a page's level reaches nobody.
func TestAudioLevelIgnoredInSFU(t *testing.T) {
	a := newTestAppWith(t, Config{MeshMax: -1})
	owner := a.newUser()
	room := owner.createRoom("levels")
	oc := owner.dial(room.ID, nil)
	bob := a.newUser().dial(room.ID, nil)
	if bob.wel.Mode != protocol.ModeSFU {
		t.Fatalf("the room's mode is %s, want sfu", bob.wel.Mode)
	}
	micLive(bob, oc, protocol.ActionPublished)
	bob.send(`{"type":"audio-level","level":0.7}`)
	if got := oc.audioLevelsBefore(bob); len(got) != 0 {
		t.Fatalf("a level was relayed in SFU mode: %+v", got)
	}
}
