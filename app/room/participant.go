package room

import (
	"log/slog"
	"sync/atomic"
	"time"

	"meet/protocol"
	"meet/sfu"
)

// Conn is the socket a participant's messages go out on. The room only
// queues on it: Write must not block, and Close sends a close frame with
// code and reason. The caller makes one Conn per socket and keeps it, since
// the room compares Conns to tell the current socket from an older one.
type Conn interface {
	Write(msg []byte) error
	Close(code int, reason string) error
}

// SendBuffer is how many messages a Conn must be able to hold unwritten.
// A participant stops short of it (maxPendingSend), so that the last free
// slots carry a close frame and a slow client is disconnected (it resyncs
// on reconnect) instead of silently missing messages.
const SendBuffer = 1024

const maxPendingSend = SendBuffer - 8

// Profile is who joins: the participant's id, its room, the identity it
// speaks for, the name it asked for, and whether it only watches.
type Profile struct {
	ID, RoomID, UserID, Name string
	Spectator                bool
	// ICEServers are the STUN and TURN servers the participant's page is
	// told in its welcome, with credentials of its own.
	ICEServers []protocol.ICEServer
	// Standing is what an invite or a join token grants the identity
	// (store.Standing*, "" for nothing more than a participant); the
	// caller stored it before the join (GrantedStanding). SkipLobby: the
	// invite or token lets it past the lobby.
	Standing  string
	SkipLobby bool
	// PublishOnly: an encoder publishing over WHIP (no page, no socket): it
	// sends media to the SFU and receives none, and the room stays on the
	// SFU while it is in.
	PublishOnly bool
}

// Participant is one connected browser tab. Its mutable fields (name, role,
// media) belong to its room and are guarded by the room's lock.
type Participant struct {
	id     string
	userID string
	roomID string
	log    *slog.Logger
	ice    []protocol.ICEServer // told in every welcome (Profile.ICEServers)

	// stream is the participant's ordered stream of server messages, which
	// outlives one socket: a client that reconnects resumes it (stream.go).
	stream stream

	name      string
	role      string
	spectator bool
	standing  string // granted with the join (Profile.Standing)
	skipLobby bool
	// publishOnly: a WHIP encoder (Profile.PublishOnly).
	publishOnly bool
	media       map[string]string
	streams     map[string]string
	sfuPeer     *sfu.Peer // while the participant has SFU connections
	// edge is the participant's subscription on another node, while it
	// has one (edge.go).
	edge EdgeLink

	// reactions paces the participant's emoji reactions (reaction.go).
	reactions reactionLimit
	// levels paces the microphone levels it shares in mesh mode (level.go).
	levels bucket

	// pending counts messages queued to the current socket and not yet
	// written.
	pending atomic.Int64
	// closing is set once the server has decided to close the current
	// socket.
	closing atomic.Bool
	// left is set when the participant said goodbye, as opposed to dropping.
	left atomic.Bool
	// waiting is set while the participant waits in the lobby (lobby.go).
	waiting atomic.Bool
	// reconnecting is set while the participant has no socket and may
	// resume; guarded by the room's lock, like graceTimer.
	reconnecting bool
	graceTimer   *time.Timer
	graceGen     uint64 // tells one grace period's timer from the next's
	expired      bool   // the grace ran out: no resume any more
}

// NewParticipant makes the participant who writes on conn. Its role is the
// room's to decide, in Join.
func NewParticipant(who Profile, conn Conn, log *slog.Logger) *Participant {
	p := &Participant{
		id:          who.ID,
		userID:      who.UserID,
		roomID:      who.RoomID,
		log:         log,
		name:        who.Name,
		spectator:   who.Spectator,
		standing:    who.Standing,
		skipLobby:   who.SkipLobby,
		publishOnly: who.PublishOnly,
		ice:         who.ICEServers,
		media:       map[string]string{},
		streams:     map[string]string{},
	}
	p.stream.attach(conn)
	return p
}

// iceServers is the welcome's list: never null on the wire.
func (p *Participant) iceServers() []protocol.ICEServer {
	if p.ice == nil {
		return []protocol.ICEServer{}
	}
	return p.ice
}

// ID is the participant's id in its room.
func (p *Participant) ID() string { return p.id }

// UserID is the identity the participant speaks for.
func (p *Participant) UserID() string { return p.userID }

// RoomID is the id of the participant's room.
func (p *Participant) RoomID() string { return p.roomID }

// Log is the logger of what happens to the participant.
func (p *Participant) Log() *slog.Logger { return p.log }

// Send queues msg for the participant without blocking. Every message is
// numbered in the participant's stream first, so that one the socket could
// not carry (no socket, a socket being closed) can be replayed when the
// client resumes. It never drops in silence: a participant too slow to keep
// up is disconnected, and resumes or rejoins.
func (p *Participant) Send(msg []byte) {
	tooSlow := false
	p.stream.send(msg, func(c Conn) {
		if p.closing.Load() {
			return
		}
		if p.pending.Add(1) > maxPendingSend {
			tooSlow = true
			return
		}
		if err := c.Write(msg); err != nil {
			p.pending.Add(-1)
		}
	})
	if tooSlow {
		p.log.Warn("participant too slow, disconnecting", "participant", p.id, "room", p.roomID)
		p.Close(protocol.CloseTooSlow, "too slow to keep up")
	}
}

// Sent is told that a text message has gone out on c.
func (p *Participant) Sent(c Conn) {
	if p.stream.current() == c {
		p.pending.Add(-1)
	}
}

// Close sends a close frame on the current socket once. Later calls do
// nothing until a resume brings a new socket.
func (p *Participant) Close(code int, reason string) {
	if p.closing.Swap(true) {
		return
	}
	if c := p.stream.current(); c != nil {
		_ = c.Close(code, reason)
	}
}

// StopWriting marks the current socket as closing, as when its buffer is
// full, and reports whether it was still being written to.
func (p *Participant) StopWriting() bool {
	if p.closing.Load() {
		return false
	}
	p.closing.Store(true)
	return true
}

// Detach forgets c if it is still the participant's socket, and reports
// whether it was: the socket of a participant that has resumed elsewhere
// closes without consequence.
func (p *Participant) Detach(c Conn) bool { return p.stream.detach(c) }

// MarkLeft records that the participant said goodbye: its socket's close
// is a leave, with no grace to resume.
func (p *Participant) MarkLeft() { p.left.Store(true) }

// Left reports whether the participant said goodbye (or was removed), as
// opposed to dropping.
func (p *Participant) Left() bool { return p.left.Load() }

// view is the public description of the participant. The caller holds the
// room's lock.
func (p *Participant) view() protocol.Participant {
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
	view := protocol.Participant{ID: p.id, UserID: p.userID, Name: p.name, Role: p.role, Media: media, Streams: streams}
	if p.reconnecting {
		view.Connection = protocol.ConnectionReconnecting
	}
	return view
}

// applyMedia records a media change and reports whether it changed
// anything. The caller holds the room's lock.
func (p *Participant) applyMedia(source, action, streamID string) bool {
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
