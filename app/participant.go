package app

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/olahol/melody"

	"meet/protocol"
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

// How often the server pings each socket, and how long it waits for any
// sign of life before it counts the socket dropped.
const (
	pingPeriod = 10 * time.Second
	pongWait   = 15 * time.Second
)

// participant is one connected browser tab. Its mutable fields (name, role,
// media) belong to its room and are guarded by the room's lock.
type participant struct {
	id       string
	identity Identity
	roomID   string
	log      *slog.Logger

	// stream is the participant's ordered stream of server messages, which
	// outlives one socket: a client that reconnects resumes it (resume.go).
	stream stream

	name      string
	role      string
	spectator bool
	media     map[string]string
	streams   map[string]string
	sfuPeer   *sfu.Peer // while the participant has SFU connections

	// reactions paces the participant's emoji reactions (reaction.go).
	reactions reactionLimit

	// pending counts messages queued to the current socket and not yet
	// written.
	pending atomic.Int64
	// closing is set once the server has decided to close the current
	// socket.
	closing atomic.Bool
	// left is set when the participant said goodbye, as opposed to dropping.
	left atomic.Bool
	// reconnecting is set while the participant has no socket and may
	// resume; guarded by the room's lock, like graceTimer.
	reconnecting bool
	graceTimer   *time.Timer
	graceGen     uint64 // tells one grace period's timer from the next's
	expired      bool   // the grace ran out: no resume any more
}

// Send queues msg for the participant without blocking. Every message is
// numbered in the participant's stream first, so that one the socket could
// not carry (no socket, a socket being closed) can be replayed when the
// client resumes. It never drops in silence: a participant too slow to keep
// up is disconnected, and resumes or rejoins.
func (p *participant) Send(msg []byte) {
	tooSlow := false
	p.stream.send(msg, func(ss *melody.Session) {
		if p.closing.Load() {
			return
		}
		if p.pending.Add(1) > maxPendingSend {
			tooSlow = true
			return
		}
		if err := ss.Write(msg); err != nil {
			p.pending.Add(-1)
		}
	})
	if tooSlow {
		p.log.Warn("participant too slow, disconnecting", "participant", p.id, "room", p.roomID)
		p.close(protocol.CloseTooSlow, "too slow to keep up")
	}
}

// sent is called by melody once a text message has gone out on ss.
func (p *participant) sent(ss *melody.Session) {
	if p.stream.current() == ss {
		p.pending.Add(-1)
	}
}

// close sends a close frame on the current socket once. Later calls do
// nothing until a resume brings a new socket.
func (p *participant) close(code int, reason string) {
	if p.closing.Swap(true) {
		return
	}
	if ss := p.stream.current(); ss != nil {
		_ = ss.CloseWithMsg(websocket.FormatCloseMessage(code, reason))
	}
}

// view is the public description of the participant. The caller holds the
// room's lock.
func (p *participant) view() protocol.Participant {
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
	view := protocol.Participant{ID: p.id, UserID: p.identity.ID, Name: p.name, Role: p.role, Media: media, Streams: streams}
	if p.reconnecting {
		view.Connection = protocol.ConnectionReconnecting
	}
	return view
}

// applyMedia records a media change and reports whether it changed
// anything. The caller holds the room's lock.
func (p *participant) applyMedia(source, action, streamID string) bool {
	before, had := p.media[source]
	beforeStream := p.streams[source]
	switch action {
	case protocol.ActionPublished, protocol.ActionResumed:
		p.media[source] = protocol.TrackLive
		if action == protocol.ActionPublished && streamID != "" {
			p.streams[source] = streamID
		}
	case protocol.ActionPaused:
		p.media[source] = protocol.TrackPaused
	case protocol.ActionUnpublished:
		delete(p.media, source)
		delete(p.streams, source)
		return had
	}
	return !had || before != p.media[source] || beforeStream != p.streams[source]
}

func closeMessage(code int, text string) []byte {
	return websocket.FormatCloseMessage(code, text)
}
