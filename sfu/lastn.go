package sfu

import (
	"encoding/json"
	"slices"

	"meet/protocol"
)

// Last-N (issue 16): in a room with more video publishers than the SFU's
// LastN, each subscriber receives video only from the N who spoke most
// recently (others than itself); the rest of the videos are held back
// (their downTracks count as paused) until their publisher speaks. Sound
// always flows. Each subscriber is told which videos it does not get
// (protocol.LastN), so its page shows those people's avatars. Whoever is
// on the room's stage (Peer.SetFeatured) is forwarded to everyone besides
// the N: the class came to see the teacher.

// lastNLocked updates r.recent with a change (a new speaker, who moves to
// the front; a new or gone publisher) and applies the limit. It returns
// the downTracks that were held back and are forwarded again, which need
// a keyframe: the caller asks for them once r.mu is released. The caller
// holds r.mu.
func (r *Room) lastNLocked() []*downTrack {
	n := r.sfu.lastN
	if n <= 0 {
		return nil
	}
	// Publishers of video in the room, in recency order.
	publishing := map[string]bool{}
	for _, up := range r.tracks {
		if limited(up) {
			publishing[up.publisher.id] = true
		}
	}
	r.recent = slices.DeleteFunc(r.recent, func(id string) bool { return !publishing[id] })
	for _, up := range r.tracks {
		if limited(up) && !slices.Contains(r.recent, up.publisher.id) {
			r.recent = append(r.recent, up.publisher.id)
		}
	}
	snap := slices.Clone(r.recent)
	r.recentSnap.Store(&snap)
	var resumed []*downTrack
	off := map[*Peer][]string{}
	for _, up := range r.tracks {
		if !limited(up) {
			continue
		}
		for _, d := range *up.downs.Load() {
			held := !forwardedFor(r.recent, d.subscriber.id, n, up.publisher)
			if held {
				off[d.subscriber] = append(off[d.subscriber], up.publisher.id)
			}
			if d.lastNOff.Swap(held) && !held {
				resumed = append(resumed, d)
			}
		}
	}
	for _, p := range r.peers {
		ids := off[p]
		slices.Sort(ids)
		ids = slices.Compact(ids)
		if slices.Equal(ids, p.lastNOff) {
			continue
		}
		p.lastNOff = ids
		msg := protocol.LastN{Type: protocol.TypeLastN, Off: ids}
		if msg.Off == nil {
			msg.Off = []string{}
		}
		data, _ := json.Marshal(msg) // strings only: it cannot fail
		p.send(data)
	}
	return resumed
}

// limited reports whether the last-N limit applies to a track: cameras
// only. A shared screen is what everyone came to see, and sound always
// flows.
func limited(up *upTrack) bool {
	return up.video && up.source != protocol.SourceScreen
}

// forwardedFor reports whether the limit lets publisher's video through to
// subscriber: on the stage, or among the recent speakers.
func forwardedFor(recent []string, subscriber string, n int, publisher *Peer) bool {
	return publisher.featured.Load() || recentFor(recent, subscriber, n, publisher.id)
}

// SetFeatured puts the peer's video beside the last-N limit, or back
// under it: the app features whoever is on the room's stage. The limit is
// applied again by the peer's own goroutine, so the call never waits on
// the room.
func (p *Peer) SetFeatured(on bool) {
	if p.featured.Swap(on) != on && p.room.sfu.lastN > 0 {
		p.kick()
	}
}

// recentFor reports whether publisher is among the n most recent
// speakers of recent, not counting the subscriber itself.
func recentFor(recent []string, subscriber string, n int, publisher string) bool {
	seen := 0
	for _, id := range recent {
		if id == subscriber {
			continue
		}
		if id == publisher {
			return true
		}
		seen++
		if seen >= n {
			return false
		}
	}
	return false
}

// spoke moves peer to the front of the room's recent speakers and applies
// the limit again.
func (r *Room) spoke(peer string) {
	r.mu.Lock()
	if i := slices.Index(r.recent, peer); i > 0 {
		r.recent = slices.Insert(slices.Delete(r.recent, i, i+1), 0, peer)
	} else if i < 0 {
		r.recent = slices.Insert(r.recent, 0, peer)
	}
	resumed := r.lastNLocked()
	r.mu.Unlock()
	requestKeyframes(resumed)
}

// applyLastN applies the limit after the room's tracks or peers changed.
func (r *Room) applyLastN() {
	r.mu.Lock()
	resumed := r.lastNLocked()
	r.mu.Unlock()
	requestKeyframes(resumed)
}

// requestKeyframes asks for a keyframe for each downTrack, outside every
// lock (an RTCP write).
func requestKeyframes(downs []*downTrack) {
	for _, d := range downs {
		d.requestKeyframe()
	}
}
