package app

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/olahol/melody"

	"meet/mesh"
	"meet/protocol"
	"meet/store"
)

const participantKey = "p"

// newMelody configures the WebSocket hub: a read limit large enough for
// SDP, a session buffer we account for ourselves, and the handlers.
func (s *Server) newMelody() *melody.Melody {
	m := melody.New()
	m.Config.MaxMessageSize = socketReadLimit
	m.Upgrader.CheckOrigin = s.origins.allows
	m.Config.MessageBufferSize = sessionBuffer
	// A connection that vanished without a close (a laptop lid, a dead
	// Wi-Fi) is noticed within pongWait instead of melody's minute, so the
	// others see that participant reconnecting, and the grace starts, soon.
	m.Config.PingPeriod = pingPeriod
	m.Config.PongWait = pongWait
	m.HandleConnect(s.onConnect)
	m.HandleDisconnect(s.onDisconnect)
	m.HandleMessage(s.onMessage)
	m.HandleMessageBinary(s.onBinaryMessage)
	m.HandleSentMessage(func(ss *melody.Session, _ []byte) {
		if p := participantOf(ss); p != nil {
			p.sent(ss)
		}
	})
	m.HandleError(s.onSocketError)
	return m
}

func participantOf(ss *melody.Session) *participant {
	v, ok := ss.Get(participantKey)
	if !ok {
		return nil
	}
	p, _ := v.(*participant)
	return p
}

// serveWS upgrades the request. The room is checked after the upgrade, so
// that a browser, which cannot read a failed upgrade's status, gets the
// reason as an error message.
func (s *Server) serveWS(c *gin.Context) {
	q := c.Request.URL.Query()
	keys := map[string]any{
		"identity":  identityOf(c),
		"room":      q.Get("room"),
		"name":      q.Get("name"),
		"spectator": q.Get("spectator") == "1" || q.Get("spectator") == "true",
		"ip":        c.ClientIP(),
		"resume":    q.Get("resume"), // resume.go
		"seen":      q.Get("seen"),
	}
	// Before the upgrade, unlike the room checks: a socket from a foreign
	// page is never opened, and only its page could have read a reason.
	if !s.origins.allows(c.Request) {
		s.abortWithError(c, errBadOrigin)
		return
	}
	if err := s.ws.HandleRequestWithKeys(c.Writer, c.Request, keys); err != nil {
		s.log.Debug("websocket upgrade failed", "err", err)
	}
}

// refuse tells a socket why it cannot join, then closes it.
func (s *Server) refuse(ss *melody.Session, err *Error, code int) {
	s.log.Debug("join refused", "code", err.Code, "remote", ss.Request.RemoteAddr)
	_ = ss.Write(encode(protocol.Error{Type: protocol.TypeError, Code: err.Code, Message: err.Message, Ref: "join"}))
	_ = ss.CloseWithMsg(closeMessage(code, err.Message))
}

func (s *Server) onConnect(ss *melody.Session) {
	identity := ss.Keys["identity"].(Identity)
	ip, _ := ss.Keys["ip"].(string)
	if err := s.allowJoin(ip); err != nil {
		s.refuse(ss, err, protocol.CloseRateLimited)
		return
	}
	live, p, ok := s.admit(ss, identity)
	if !ok {
		return
	}
	// After the welcome, so the client knows its own id before any chat.
	s.chat.join(p)
	role := live.roleOf(p) // a hand-over may change it from now on
	s.log.Info("participant joined", "room", p.roomID, "participant", p.id, "role", role)
	if err := s.store.RecordJoin(p.roomID, p.id, identity.ID, p.name, role); err != nil {
		s.log.Error("record join", "room", p.roomID, "err", err)
	}
}

// admit runs a socket's join up to its welcome, one of the server's
// admission slots held. It reports false when the socket resumed an
// earlier participant or was refused (and told why).
func (s *Server) admit(ss *melody.Session, identity Identity) (*liveRoom, *participant, bool) {
	s.admission <- struct{}{}
	defer func() { <-s.admission }()
	room, ok := s.roomToJoin(ss)
	if !ok {
		return nil, nil, false
	}
	if s.tryResume(ss, identity, room.ID, func(r *liveRoom, p *participant, others []protocol.Participant, mode string, epoch uint64) []byte {
		return s.welcomeMessage(room, r, p, others, mode, epoch)
	}) {
		return nil, nil, false
	}
	p, err := s.newParticipant(ss, identity, room.ID)
	if err == nil {
		// This check keeps a join that cannot fit from marking the room
		// live; liveRoom.join has the exact one.
		err = s.joinWouldNotFit(room.ID)
	}
	if err != nil {
		ss.Set(participantKey, nil)
		s.refuse(ss, err, closeCodeFor(err))
		return nil, nil, false
	}
	// Only the first join writes: a write takes SQLite's one write lock,
	// which every join, leave and chat message queues for.
	if room.Status == store.StatusOpen {
		if err := s.store.MarkLive(room.ID); err != nil {
			s.log.Error("mark room live", "room", room.ID, "err", err)
		}
	}
	room.Status = store.StatusLive
	live, err := s.enterRoom(p, room)
	if err != nil {
		ss.Set(participantKey, nil)
		s.refuse(ss, err, closeCodeFor(err))
		return nil, nil, false
	}
	return live, p, true
}

// roomToJoin loads the room a socket asks for, or refuses the socket.
func (s *Server) roomToJoin(ss *melody.Session) (*store.Room, bool) {
	roomID, _ := ss.Keys["room"].(string)
	room, err := s.store.Room(roomID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.refuse(ss, errRoomNotFound, protocol.CloseRoomGone)
		return nil, false
	case err != nil:
		s.log.Error("load room for join", "room", roomID, "err", err)
		s.refuse(ss, newError(http.StatusInternalServerError, protocol.CodeInternal, "Could not load the room. Try again."), protocol.CloseRoomGone)
		return nil, false
	case room.Status == store.StatusEnded:
		s.refuse(ss, errRoomEnded, protocol.CloseRoomEnded)
		return nil, false
	}
	return room, true
}

// newParticipant makes the participant a socket joins as, with the name
// it asked for (cleaned) or its identity's. Its role is the room's to
// decide, in liveRoom.join.
func (s *Server) newParticipant(ss *melody.Session, identity Identity, roomID string) (*participant, *Error) {
	name := identity.Name
	if raw, _ := ss.Keys["name"].(string); raw != "" {
		clean, err := cleanDisplayName(raw)
		if err != nil {
			var apiErr *Error
			errors.As(err, &apiErr)
			return nil, apiErr
		}
		name = clean
	}
	spectator, _ := ss.Keys["spectator"].(bool)
	p := &participant{
		id:        randomID("p_", 8),
		identity:  identity,
		roomID:    roomID,
		log:       s.log,
		name:      name,
		spectator: spectator,
		media:     map[string]string{},
		streams:   map[string]string{},
	}
	p.stream.attach(ss)
	ss.Set(participantKey, p)
	return p, nil
}

// enterRoom puts p in the live room, loading the room's stage and
// settings the first time. It returns the refusal a client can act on.
func (s *Server) enterRoom(p *participant, room *store.Room) (*liveRoom, *Error) {
	var live *liveRoom // the room being joined; set before its welcome is built
	welcome := func(others []protocol.Participant, mode string, epoch uint64) []byte {
		return s.welcomeMessage(room, live, p, others, mode, epoch)
	}
	_, err := s.hub.enter(room.ID, func(r *liveRoom) error {
		live = r
		if err := s.loadState(r); err != nil {
			s.log.Error("load the room's stage", "room", room.ID, "err", err)
			return errStateUnavailable
		}
		return r.join(p, s.maxParticipants, welcome)
	})
	var refusal *Error
	if err != nil && !errors.As(err, &refusal) {
		s.log.Error("join", "room", room.ID, "err", err)
		refusal = errStateUnavailable
	}
	return live, refusal
}

// welcomeMessage encodes p's welcome. It runs inside the room's lock, so
// its owner, settings, stage and hands can be read; the view is built from
// what the room passes in.
func (s *Server) welcomeMessage(room *store.Room, live *liveRoom, p *participant, others []protocol.Participant, mode string, epoch uint64) []byte {
	view := roomViewWith(room, len(others)+1, mode)
	live.state.applyTo(&view)
	return encode(protocol.Welcome{
		Type: protocol.TypeWelcome, Self: p.view(), Room: view, Participants: others,
		Mode: mode, Epoch: epoch, ICEServers: s.iceServers, Hands: live.handsLocked(),
	})
}

func (s *Server) onDisconnect(ss *melody.Session) {
	p := participantOf(ss)
	if p == nil || !p.stream.detach(ss) {
		return // not joined, or resumed on a newer socket
	}
	// Before the live-room lookup: an ended room is gone from the hub, but
	// its participants must still leave the chat.
	s.chat.leave(p)
	room, ok := s.hub.room(p.roomID)
	if !ok {
		return
	}
	// A dropped socket is not a leave yet: the client reconnects and
	// resumes, or the grace runs out.
	if !p.left.Load() && s.reconnectGrace > 0 &&
		room.suspend(p, s.reconnectGrace, func() { s.expireResume(room, p) }) {
		s.log.Info("participant reconnecting", "room", p.roomID, "participant", p.id)
		return
	}
	reason := "disconnected"
	if p.left.Load() {
		reason = "left"
	}
	if s.hub.exit(room, p, reason) {
		s.log.Info("participant left", "room", p.roomID, "participant", p.id, "reason", reason)
		s.recordLeave(p)
	}
}

func (s *Server) recordLeave(p *participant) {
	if err := s.store.RecordLeave(p.id); err != nil {
		s.log.Error("record leave", "participant", p.id, "err", err)
	}
}

// onSocketError sees melody's errors. A full buffer must never pass in
// silence; participant.Send normally disconnects a slow client before it
// comes to that, so this is the backstop.
func (s *Server) onSocketError(ss *melody.Session, err error) {
	p := participantOf(ss)
	if errors.Is(err, melody.ErrMessageBufferFull) {
		if p != nil && !p.closing.Load() {
			s.log.Warn("websocket buffer full, disconnecting", "participant", p.id)
			p.closing.Store(true)
		}
		return
	}
	s.log.Debug("websocket error", "err", err)
}

// sendError answers a failed request on the socket; the connection stays.
func sendError(p *participant, code, message, ref string) {
	p.log.Debug("request refused", "participant", p.id, "code", code, "ref", ref)
	p.Send(encode(protocol.Error{Type: protocol.TypeError, Code: code, Message: message, Ref: ref}))
}

// onMessage handles one client frame. Melody calls it from the session's
// read loop, so one participant's messages are handled in order.
func (s *Server) onMessage(ss *melody.Session, data []byte) {
	defer s.recoverMessage(ss)
	p := participantOf(ss)
	if p == nil {
		return
	}
	room, ok := s.hub.room(p.roomID)
	if !ok {
		return
	}
	msg, err := protocol.Decode(data)
	if err != nil {
		var de *protocol.DecodeError
		if errors.As(err, &de) {
			s.log.Debug("bad message", "participant", p.id, "code", de.Code)
			sendError(p, de.Code, de.Message, de.Ref)
		}
		return
	}
	if s.chat.handle(p, room, msg) || s.handleStage(p, room, msg) || s.handleReaction(p, room, msg) {
		return
	}
	switch m := msg.(type) {
	case *protocol.Signal:
		if err := mesh.Forward(room, p.id, m); err != nil {
			s.log.Debug("signal refused", "participant", p.id, "to", m.To, "err", err)
			switch {
			case errors.Is(err, mesh.ErrUnknownPeer):
				sendError(p, protocol.CodeUnknownPeer, "That participant is not in this room.", protocol.TypeSignal)
			case errors.Is(err, mesh.ErrSelf):
				sendError(p, protocol.CodeBadRequest, "You cannot signal yourself.", protocol.TypeSignal)
			default:
				s.log.Error("relay signal", "err", err)
				sendError(p, protocol.CodeInternal, "Could not relay the message.", protocol.TypeSignal)
			}
		}
	case *protocol.Media:
		if refusal := room.updateMedia(p, m); refusal != "" {
			sendError(p, protocol.CodeForbidden, refusal, protocol.TypeMedia)
		}
	case *protocol.Rename:
		name, err := cleanDisplayName(m.Name)
		if err != nil {
			var apiErr *Error
			errors.As(err, &apiErr)
			sendError(p, apiErr.Code, apiErr.Message, protocol.TypeRename)
			return
		}
		room.rename(p, name)
	case *protocol.SFU:
		s.handleSFU(p, room, m)
	case *protocol.SFUClose:
		room.closeSFU(p, m.Epoch)
	case *protocol.Leave:
		p.left.Store(true)
		p.close(protocol.CloseLeft, "left")
	}
}

// handleSFU passes a negotiation message to the participant's SFU peer.
func (s *Server) handleSFU(p *participant, room *liveRoom, m *protocol.SFU) {
	if !s.mayPublishOffer(p, room, m) {
		return
	}
	peer := room.sfuPeerOf(p)
	if peer == nil {
		sendError(p, protocol.CodeNotSFU, "This room is not using the SFU.", protocol.TypeSFU)
		return
	}
	if err := peer.HandleSignal(m); err != nil {
		s.log.Debug("sfu signal refused", "participant", p.id, "pc", m.PC, "kind", m.Kind, "err", err)
		sendError(p, protocol.CodeBadRequest, "The media server refused that message: "+err.Error(), protocol.TypeSFU)
	}
}
