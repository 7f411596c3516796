package app

import (
	"log/slog"
	"sync/atomic"

	"github.com/gorilla/websocket"
	"github.com/olahol/melody"

	"meet/app/signal"
	"meet/sfu"
)

// Session buffer sizes. Melody drops a message silently when a session's
// buffer is full; we stop short of that point ourselves, so that the last
// free slots carry a close frame and a slow client is disconnected (it
// resyncs on reconnect) instead of silently missing messages.
const (
	sessionBuffer  = 1024
	maxPendingSend = sessionBuffer - 8
)

// Close codes the server uses, in the 4000-4999 private range.
const (
	closeTooSlow    = 4008
	closeRoomEnded  = 4010
	closeRoomGone   = 4004
	closeLeft       = 4000
	closeRestarting = websocket.CloseServiceRestart
)

// participant is one connected browser tab. Its mutable fields (name, role,
// media) belong to its room and are guarded by the room's lock.
type participant struct {
	id       string
	identity Identity
	roomID   string
	session  *melody.Session
	log      *slog.Logger

	name      string
	role      string
	spectator bool
	media     map[string]string
	streams   map[string]string
	sfuPeer   *sfu.Peer // while the participant has SFU connections

	// pending counts messages queued to melody and not yet written.
	pending atomic.Int64
	// closing is set once the server has decided to close this socket.
	closing atomic.Bool
	// left is set when the participant said goodbye, as opposed to dropping.
	left atomic.Bool
}

// Send queues msg for the participant without blocking. It never drops in
// silence: a participant too slow to keep up is disconnected.
func (p *participant) Send(msg []byte) {
	if p.closing.Load() {
		return
	}
	if p.pending.Add(1) > maxPendingSend {
		p.log.Warn("participant too slow, disconnecting", "participant", p.id, "room", p.roomID)
		p.close(closeTooSlow, "too slow to keep up")
		return
	}
	if err := p.session.Write(msg); err != nil {
		p.pending.Add(-1)
	}
}

// sent is called by melody once a text message has gone out.
func (p *participant) sent() { p.pending.Add(-1) }

// close sends a close frame once. Later calls do nothing.
func (p *participant) close(code int, reason string) {
	if p.closing.Swap(true) {
		return
	}
	_ = p.session.CloseWithMsg(websocket.FormatCloseMessage(code, reason))
}

// view is the public description of the participant. The caller holds the
// room's lock.
func (p *participant) view() signal.Participant {
	media := make(map[string]string, len(p.media))
	for k, v := range p.media {
		media[k] = v
	}
	var streams map[string]string
	if len(p.streams) > 0 {
		streams = make(map[string]string, len(p.streams))
		for k, v := range p.streams {
			streams[k] = v
		}
	}
	return signal.Participant{ID: p.id, UserID: p.identity.ID, Name: p.name, Role: p.role, Media: media, Streams: streams}
}

// applyMedia records a media change and reports whether it changed
// anything. The caller holds the room's lock.
func (p *participant) applyMedia(source, action, streamID string) bool {
	before, had := p.media[source]
	beforeStream := p.streams[source]
	switch action {
	case signal.ActionPublished, signal.ActionResumed:
		p.media[source] = signal.TrackLive
		if action == signal.ActionPublished && streamID != "" {
			p.streams[source] = streamID
		}
	case signal.ActionPaused:
		p.media[source] = signal.TrackPaused
	case signal.ActionUnpublished:
		delete(p.media, source)
		delete(p.streams, source)
		return had
	}
	return !had || before != p.media[source] || beforeStream != p.streams[source]
}

func closeMessage(code int, text string) []byte {
	return websocket.FormatCloseMessage(code, text)
}
