package app

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/olahol/melody"

	"meet/app/room"
	"meet/mesh"
	"meet/protocol"
	"meet/store"
)

// newMelody configures the WebSocket hub: a read limit large enough for
// SDP, a session buffer we account for ourselves, and the handlers.
func (s *Server) newMelody() *melody.Melody {
	m := melody.New()
	m.Config.MaxMessageSize = socketReadLimit
	m.Upgrader.CheckOrigin = s.origins.allows
	m.Config.MessageBufferSize = room.SendBuffer
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
			p.Sent(socketOf(ss))
		}
	})
	m.HandleError(s.onSocketError)
	return m
}

// serveWS upgrades the request, or forwards it to the room's host when
// that is another node (proxy.go). The room is checked after the upgrade,
// so that a browser, which cannot read a failed upgrade's status, gets the
// reason as an error message.
func (s *Server) serveWS(c *gin.Context) {
	q := c.Request.URL.Query()
	keys := map[string]any{
		"identity":  identityOf(c),
		"room":      q.Get("room"),
		"name":      q.Get("name"),
		"spectator": q.Get("spectator") == "1" || q.Get("spectator") == "true",
		"ip":        s.clientIP(c),   // the client's, also when another node forwarded the join
		"resume":    q.Get("resume"), // resume.go
		"seen":      q.Get("seen"),
		"invite":    q.Get("invite"), // invites.go
		"joinToken": "",
	}
	if token := q.Get("token"); isJoinToken(token) {
		keys["joinToken"] = token
	}
	// Before the upgrade, unlike the room checks: a socket from a foreign
	// page is never opened, and only its page could have read a reason.
	if !s.origins.allows(c.Request) {
		s.abortWithError(c, errBadOrigin)
		return
	}
	if s.joinElsewhere(c, q.Get("room")) {
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
	sock := attachSocket(ss)
	identity := ss.Keys["identity"].(Identity)
	ip, _ := ss.Keys["ip"].(string)
	if err := s.allowJoin(ip); err != nil {
		s.refuse(ss, err, protocol.CloseRateLimited)
		return
	}
	identity, g, err := s.grantFor(ss, identity)
	if err != nil {
		s.refuse(ss, err, closeCodeFor(err))
		return
	}
	ss.Set("identity", identity)
	ss.Set(grantKey, g)
	s.join(ss, sock, identity)
}

// join admits a socket and records its participant's attendance; for a
// room with a passcode it runs again once the passcode frame came.
func (s *Server) join(ss *melody.Session, sock *socket, identity Identity) {
	live, p, ok := s.admit(ss, sock, identity)
	if !ok {
		return
	}
	s.joined(live, p, identity.ID)
}

// joined finishes the join of p, welcomed into live: the chat and the
// attendance. A joiner from the lobby gets here when the owner admits it.
func (s *Server) joined(live *room.Room, p *room.Participant, userID string) {
	// After the welcome, so the client knows its own id before any chat.
	s.chat.join(p)
	role := live.RoleOf(p) // a hand-over may change it from now on
	s.log.Info("participant joined", "room", p.RoomID(), "participant", p.ID(), "role", role)
	if err := s.store.RecordJoin(store.Attendance{NodeID: s.node.id, RoomID: p.RoomID(), ParticipantID: p.ID(), UserID: userID, Name: live.NameOf(p), Role: role}); err != nil {
		s.log.Error("record join", "room", p.RoomID(), "err", err)
	}
}

// admit runs a socket's join up to its welcome, one of the server's
// admission slots held. It reports false when the socket resumed an
// earlier participant, was refused (and told why), must first send the
// room's passcode, or waits in the room's lobby.
func (s *Server) admit(ss *melody.Session, sock *socket, identity Identity) (*room.Room, *room.Participant, bool) {
	// The room is read before a slot is taken: a slot bounds the joins
	// that use the CPU at once, and a read that waits for the database
	// would hold one idle while the other joins queue behind it.
	stored, ok := s.roomToJoin(ss)
	if !ok {
		return nil, nil, false
	}
	s.admission <- struct{}{}
	defer func() { <-s.admission }()
	if s.tryResume(ss, sock, identity, stored) || (grantOf(ss) == nil && s.awaitPasscode(ss, identity, stored)) {
		return nil, nil, false
	}
	p, err := s.newParticipant(ss, sock, identity, stored.ID)
	if err == nil {
		// This check keeps a join that cannot fit from marking the room
		// live; room.Join has the exact one.
		err = s.joinWouldNotFit(stored.ID)
	}
	if err != nil {
		ss.Set(participantKey, nil)
		s.refuse(ss, err, closeCodeFor(err))
		return nil, nil, false
	}
	// Only the first join writes: a write takes SQLite's one write lock,
	// which every join, leave and chat message queues for.
	if stored.Status == store.StatusOpen {
		if err := s.store.MarkLive(stored.ID); err != nil {
			s.log.Error("mark room live", "room", stored.ID, "err", err)
		}
	}
	stored.Status = store.StatusLive
	ticket := &lobbyTicket{}
	live, waiting, err := s.enterRoom(p, stored, s.admitted(ticket, p, identity.ID))
	if err != nil {
		ss.Set(participantKey, nil)
		s.refuse(ss, err, closeCodeFor(err))
		return nil, nil, false
	}
	if waiting {
		ss.Set(lobbyKey, ticket)
		return nil, nil, false
	}
	return live, p, true
}

// roomToJoin loads the room a socket asks for, or refuses the socket.
func (s *Server) roomToJoin(ss *melody.Session) (*store.Room, bool) {
	roomID, _ := ss.Keys["room"].(string)
	stored, err := s.store.Room(roomID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.refuse(ss, errRoomNotFound, protocol.CloseRoomGone)
		return nil, false
	case err != nil:
		s.log.Error("load room for join", "room", roomID, "err", err)
		s.refuse(ss, newError(http.StatusInternalServerError, protocol.CodeInternal, "Could not load the room. Try again."), protocol.CloseRoomGone)
		return nil, false
	case stored.Status == store.StatusEnded:
		s.refuse(ss, errRoomEnded, protocol.CloseRoomEnded)
		return nil, false
	}
	return stored, true
}

// newParticipant makes the participant a socket joins as, with the name
// it asked for (cleaned) or its identity's. Its role is the room's to
// decide, in room.Join.
func (s *Server) newParticipant(ss *melody.Session, sock *socket, identity Identity, roomID string) (*room.Participant, *Error) {
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
	profile := room.Profile{
		ID:         randomID("p_", 8),
		RoomID:     roomID,
		UserID:     identity.ID,
		Name:       name,
		Spectator:  spectator,
		ICEServers: s.turn.iceServers(s.iceServers, identity.ID, ss.Request.Host),
	}
	if g := grantOf(ss); g != nil {
		profile.Standing, profile.SkipLobby = g.standing, true
	}
	p := room.NewParticipant(profile, sock, s.log)
	ss.Set(participantKey, p)
	return p, nil
}

// enterRoom puts p in the live room, or in its lobby (waiting; admitted
// runs when the owner lets it in), loading the room's stage and settings
// the first time. It returns the refusal a client can act on.
func (s *Server) enterRoom(p *room.Participant, stored *store.Room, admitted func(*room.Room)) (*room.Room, bool, *Error) {
	waiting := false
	// The room is placed on a node before it goes live here (nodes.go).
	release := s.holdPlacement(stored.ID)
	defer release()
	live, err := s.hub.Enter(stored.ID, func(r *room.Room) error {
		if err := r.LoadState(); err != nil {
			s.log.Error("load the room's stage", "room", stored.ID, "err", err)
			return errStateUnavailable
		}
		var err error
		waiting, err = r.JoinOrWait(p, stored, s.maxParticipants, admitted)
		return err
	})
	var refusal *Error
	switch {
	case err == nil:
	case errors.Is(err, room.ErrRoomFull):
		refusal = errRoomFull
	case errors.Is(err, room.ErrRoomEnded):
		refusal = errRoomEnded
	case errors.Is(err, room.ErrServerFull):
		refusal = errServerFull
	case errors.Is(err, room.ErrRoomLocked):
		refusal = errRoomLocked
	case errors.Is(err, room.ErrBanned):
		refusal = errBanned
	case !errors.As(err, &refusal):
		s.log.Error("join", "room", stored.ID, "err", err)
		refusal = errStateUnavailable
	}
	return live, waiting, refusal
}

func (s *Server) onDisconnect(ss *melody.Session) {
	p := participantOf(ss)
	if p == nil {
		dropPendingPasscode(ss)
		return // not joined
	}
	if s.leaveLobby(ss, p) {
		return // never got in
	}
	if !p.Detach(socketOf(ss)) {
		return // resumed on a newer socket
	}
	// Before the live-room lookup: an ended room is gone from the hub, but
	// its participants must still leave the chat.
	s.chat.leave(p)
	live, ok := s.hub.Room(p.RoomID())
	if !ok {
		return
	}
	// A dropped socket is not a leave yet: the client reconnects and
	// resumes, or the grace runs out.
	if !p.Left() && s.reconnectGrace > 0 &&
		live.Suspend(p, s.reconnectGrace, func() { s.expireResume(live, p) }) {
		s.log.Info("participant reconnecting", "room", p.RoomID(), "participant", p.ID())
		return
	}
	reason := "disconnected"
	if p.Left() {
		reason = "left"
	}
	if s.hub.Exit(live, p, reason) {
		s.log.Info("participant left", "room", p.RoomID(), "participant", p.ID(), "reason", reason)
		s.recordLeave(p)
	}
	// The last one out: the room is no longer placed here (nodes.go).
	s.unplaceIfIdle(p.RoomID())
}

func (s *Server) recordLeave(p *room.Participant) {
	if err := s.store.RecordLeave(p.ID()); err != nil {
		s.log.Error("record leave", "participant", p.ID(), "err", err)
	}
}

// onSocketError sees melody's errors. A full buffer must never pass in
// silence; Participant.Send normally disconnects a slow client before it
// comes to that, so this is the backstop.
func (s *Server) onSocketError(ss *melody.Session, err error) {
	p := participantOf(ss)
	if errors.Is(err, melody.ErrMessageBufferFull) {
		if p != nil && p.StopWriting() {
			s.log.Warn("websocket buffer full, disconnecting", "participant", p.ID())
		}
		return
	}
	s.log.Debug("websocket error", "err", err)
}

// sendError answers a failed request on the socket; the connection stays.
func sendError(p *room.Participant, code, message, ref string) {
	p.Log().Debug("request refused", "participant", p.ID(), "code", code, "ref", ref)
	p.Send(encode(protocol.Error{Type: protocol.TypeError, Code: code, Message: message, Ref: ref}))
}

// onMessage handles one client frame. Melody calls it from the session's
// read loop, so one participant's messages are handled in order.
func (s *Server) onMessage(ss *melody.Session, data []byte) {
	defer s.recoverMessage(ss)
	p := participantOf(ss)
	if p == nil {
		s.passcodeFrame(ss, data)
		return
	}
	if p.Waiting() {
		return // a waiter in the lobby has nothing to say to the room yet
	}
	live, ok := s.hub.Room(p.RoomID())
	if !ok {
		return
	}
	msg, err := protocol.Decode(data)
	if err != nil {
		var de *protocol.DecodeError
		if errors.As(err, &de) {
			s.log.Debug("bad message", "participant", p.ID(), "code", de.Code)
			sendError(p, de.Code, de.Message, de.Ref)
		}
		return
	}
	if s.chat.handle(p, live, msg) || s.handleStage(p, live, msg) || s.handleLobby(p, live, msg) ||
		s.handleAccess(p, live, msg) || s.handleReaction(p, live, msg) {
		return
	}
	switch m := msg.(type) {
	case *protocol.Signal:
		s.relaySignal(p, live, m)
	case *protocol.Media:
		answer(p, live.UpdateMedia(p, m), protocol.TypeMedia, failedUnexpectedly)
	case *protocol.Rename:
		name, err := cleanDisplayName(m.Name)
		if err != nil {
			var apiErr *Error
			errors.As(err, &apiErr)
			sendError(p, apiErr.Code, apiErr.Message, protocol.TypeRename)
			return
		}
		live.Rename(p, name)
		s.renameOwner(p.UserID(), name)
	case *protocol.SFU:
		s.handleSFU(p, live, m)
	case *protocol.SFUClose:
		live.CloseSFU(p, m.Epoch)
	case *protocol.View:
		live.SetViews(p, m)
	case *protocol.Record:
		s.handleRecord(p, live, m)
	case *protocol.AudioLevel:
		live.AudioLevel(p, m.Level, time.Now())
	case *protocol.Leave:
		p.MarkLeft()
		p.Close(protocol.CloseLeft, "left")
	}
}

// relaySignal passes a mesh signal to the participant it names.
func (s *Server) relaySignal(p *room.Participant, live *room.Room, m *protocol.Signal) {
	err := mesh.Forward(live, p.ID(), m)
	if err == nil {
		return
	}
	s.log.Debug("signal refused", "participant", p.ID(), "to", m.To, "err", err)
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

// handleSFU passes a negotiation message to the participant's SFU peer.
func (s *Server) handleSFU(p *room.Participant, live *room.Room, m *protocol.SFU) {
	if err := live.MayPublishOffer(p, m); err != nil {
		answer(p, err, protocol.TypeSFU, failedUnexpectedly)
		return
	}
	peer := live.SFUSignaler(p, m.PC)
	if peer == nil {
		sendError(p, protocol.CodeNotSFU, "This room is not using the SFU.", protocol.TypeSFU)
		return
	}
	if err := peer.HandleSignal(m); err != nil {
		s.log.Debug("sfu signal refused", "participant", p.ID(), "pc", m.PC, "kind", m.Kind, "err", err)
		sendError(p, protocol.CodeBadRequest, "The media server refused that message: "+err.Error(), protocol.TypeSFU)
	}
}
