package sfu

import "meet/protocol"

// What a subscriber's page shows of each track it receives (protocol.View):
// the tile sizes the layer choice follows (layers.go, layerplan.go), and
// the tracks it does not watch, which are not forwarded.

// SetViews takes a page's view message: SetView for each of its tracks.
func (p *Peer) SetViews(m *protocol.View) {
	for _, v := range m.Views {
		p.SetView(v.ID, v.Source, View{Width: v.Width, Height: v.Height, Pinned: v.Pinned})
	}
}

// SetView takes what this peer's page shows of publisher's source (View).
// A simulcast track is then forwarded at the layer that fits (layers.go);
// an unwatched video is not forwarded at all. It reports false when the
// peer does not receive that track.
func (p *Peer) SetView(publisher, source string, v View) bool {
	var down *downTrack
	p.subMu.Lock()
	key := publisher + "|" + source
	if _, known := p.views[key]; known || len(p.views) < maxViews {
		p.views[key] = v
	}
	for up, d := range p.downs {
		if up.publisher.id == publisher && up.source == source {
			down = d
			break
		}
	}
	p.subMu.Unlock()
	if down == nil {
		return false
	}
	// Outside the lock: a tile shown again asks for a keyframe, an RTCP
	// write on the publisher's connection.
	if down.up.video {
		down.setView(v)
		p.log.Debug("view", "publisher", publisher, "source", source, "width", v.Width, "height", v.Height, "pinned", v.Pinned, "layer", down.desired.Load(), "hidden", down.hidden.Load())
	}
	return true
}

// View is how a page shows a track: the size of its tile in device pixels,
// 0x0 when it does not watch it (an off-screen or paused tile, a hidden
// page, audio only). Pinned asks for the best layer whatever the size,
// and for this track first when the viewer's bandwidth is short.
type View struct {
	Width, Height int
	Pinned        bool
}

// maxViews bounds what a page can make a peer remember: far more tracks
// than a room has.
const maxViews = 1024
