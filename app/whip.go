package app

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"meet/app/room"
	"meet/protocol"
	"meet/sfu"
	"meet/store"
)

// WHIP ingest (RFC 9725, issue 17): an encoder such as a streaming studio
// publishes its camera and sound into a room with one HTTP request.
//
//	POST /api/rooms/:id/whip?name=Studio   Authorization: Bearer <token>
//	Content-Type: application/sdp           body: the SDP offer
//	→ 201 Created, Location: /api/whip/<session>, body: the SDP answer
//	DELETE /api/whip/<session>              ends it (the publisher leaves)
//
// The token is an identity token of one of the room's hosts (GET /api/me
// gives a page's own). The encoder joins as a participant of that identity
// that publishes only, on the stage, and the room stays on the SFU while it
// is in. Trickle ICE is not taken (PATCH answers 405, as the RFC allows):
// the answer carries every candidate of the SFU's one port.

// whipSession is one encoder publishing into a room.
type whipSession struct {
	live   *room.Room
	p      *room.Participant
	userID string
}

// whipSessions are the encoders publishing now, by session (participant) id.
type whipSessions struct {
	mu sync.Mutex
	m  map[string]*whipSession
}

func (w *whipSessions) add(id string, ws *whipSession) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]*whipSession{}
	}
	w.m[id] = ws
}

func (w *whipSessions) take(id string) *whipSession {
	w.mu.Lock()
	defer w.mu.Unlock()
	ws := w.m[id]
	delete(w.m, id)
	return ws
}

func (w *whipSessions) get(id string) *whipSession {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.m[id]
}

// has reports whether session id is one of this node's.
func (w *whipSessions) has(id string) bool { return w.get(id) != nil }

// whipAnswerWait is how long an answer may take to gather its candidates.
const whipAnswerWait = 10 * time.Second

var (
	errWHIPNoToken = newError(http.StatusUnauthorized, protocol.CodeUnauthorized,
		"WHIP needs Authorization: Bearer <token>, the identity token of one of the room's hosts.")
	errWHIPNotSDP = newError(http.StatusUnsupportedMediaType, protocol.CodeUnsupportedMediaType,
		"Send the SDP offer with Content-Type: application/sdp.")
	errWHIPNotHost = newError(http.StatusForbidden, protocol.CodeForbidden,
		"Only the room's hosts can publish into it over WHIP.")
	errWHIPNoSession = newError(http.StatusNotFound, protocol.CodeNotFound, "There is no such WHIP session.")
	errWHIPNoTrickle = newError(http.StatusMethodNotAllowed, protocol.CodeMethod,
		"This server takes no trickled candidates: its answer has them all.")
)

// requireBearer refuses a WHIP request without a bearer token, as the RFC
// asks, before withIdentity would make it a new guest.
func requireBearer(c *gin.Context) {
	if !bearerAuthenticated(c.Request) {
		c.Header("WWW-Authenticate", `Bearer realm="meet"`)
		c.AbortWithStatusJSON(errWHIPNoToken.Status, errorBody{Error: errorDetail{Code: errWHIPNoToken.Code, Message: errWHIPNoToken.Message}})
		return
	}
	c.Next()
}

// postWHIP starts a WHIP session.
func (s *Server) postWHIP(c *gin.Context) {
	if err := requireSDP(c); err != nil {
		s.abortWithError(c, err)
		return
	}
	stored, err := s.loadRoom(c.Param("id"))
	if err == nil && !s.isHost(stored, identityOf(c).ID) {
		err = errWHIPNotHost
	}
	if err == nil && stored.Status == store.StatusEnded {
		err = errRoomEnded
	}
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	body, err := readOffer(c)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	name, nerr := cleanDisplayName(c.DefaultQuery("name", "Studio"))
	if nerr != nil {
		s.abortWithError(c, nerr)
		return
	}
	identity := identityOf(c)
	p := room.NewParticipant(room.Profile{ID: randomID("p_", 8), RoomID: stored.ID, UserID: identity.ID, Name: name, PublishOnly: true},
		discardConn{}, s.log)
	// The encoder makes the room live here: placed on this node, as a
	// socket's join does (nodes.go).
	release := s.holdPlacement(stored.ID)
	live, _, refusal := s.enterRoom(p, stored, nil)
	release()
	if refusal != nil {
		s.abortWithError(c, refusal)
		return
	}
	if err := s.store.RecordJoin(store.Attendance{NodeID: s.node.id, RoomID: stored.ID, ParticipantID: p.ID(), UserID: identity.ID, Name: name, Role: live.RoleOf(p)}); err != nil {
		s.log.Error("record join", "participant", p.ID(), "err", err)
	}
	peer := live.SFUPeerOf(p)
	if peer == nil {
		s.leaveWHIP(live, p)
		s.abortWithError(c, newError(http.StatusServiceUnavailable, protocol.CodeInternal, "The SFU could not take the publisher. Try again."))
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), whipAnswerWait)
	defer cancel()
	answer, err := peer.AnswerWHIP(ctx, body)
	if err != nil {
		s.leaveWHIP(live, p)
		msg := "The offer could not be answered: " + err.Error() + "."
		if errors.Is(err, sfu.ErrNoMedia) {
			msg = "The offer sends no VP8 video or Opus sound, which is all this server forwards."
		}
		s.abortWithError(c, newError(http.StatusBadRequest, protocol.CodeBadRequest, msg))
		return
	}
	// On the stage first: in a classroom only the stage publishes.
	if err := live.PutOnStage(p); err != nil {
		s.log.Warn("whip: put the publisher on stage", "room", stored.ID, "err", err)
	}
	for _, source := range whipSources(body) {
		if err := live.UpdateMedia(p, &protocol.Media{Type: protocol.TypeMedia, Source: source, Action: protocol.ActionPublished}); err != nil {
			s.log.Warn("whip: announce the publisher's media", "room", stored.ID, "source", source, "err", err)
		}
	}
	s.whip.add(p.ID(), &whipSession{live: live, p: p, userID: identity.ID})
	go s.endWHIPWhenGone(p.ID(), peer)
	s.log.Info("whip session started", "room", stored.ID, "participant", p.ID(), "name", name)
	c.Header("Location", "/api/whip/"+p.ID())
	c.Data(http.StatusCreated, "application/sdp", []byte(answer))
}

// requireSDP refuses a WHIP or WHEP request whose body is not labelled
// as SDP.
func requireSDP(c *gin.Context) error {
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/sdp" {
		return errWHIPNotSDP
	}
	return nil
}

// readOffer reads a WHIP or WHEP request's SDP offer.
func readOffer(c *gin.Context) (string, error) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, protocol.MaxSDPBytes+1))
	if err != nil || len(body) > protocol.MaxSDPBytes || !strings.HasPrefix(strings.TrimSpace(string(body)), "v=0") {
		return "", newError(http.StatusBadRequest, protocol.CodeBadRequest, "The body is not an SDP offer (at most 60 KB, starting with v=0).")
	}
	return string(body), nil
}

// whipSources are the sources an offer sends, as the room names them.
func whipSources(offer string) []string {
	var out []string
	if strings.Contains(offer, "m=video") {
		out = append(out, protocol.SourceCamera)
	}
	if strings.Contains(offer, "m=audio") {
		out = append(out, protocol.SourceMicrophone)
	}
	return out
}

// endWHIPWhenGone ends a session whose encoder went away without a DELETE.
func (s *Server) endWHIPWhenGone(id string, peer *sfu.Peer) {
	<-peer.PublishEnded()
	s.endWHIP(id, "disconnected")
}

// endWHIP ends a session: its participant leaves the room.
func (s *Server) endWHIP(id, reason string) bool {
	ws := s.whip.take(id)
	if ws == nil {
		return false
	}
	if s.hub.Exit(ws.live, ws.p, reason) {
		s.log.Info("whip session ended", "room", ws.live.ID(), "participant", id, "reason", reason)
		s.recordLeave(ws.p)
	}
	return true
}

// leaveWHIP takes out a publisher whose session did not start.
func (s *Server) leaveWHIP(live *room.Room, p *room.Participant) {
	if s.hub.Exit(live, p, "left") {
		s.recordLeave(p)
	}
}

// deleteWHIP ends a session, for the identity that started it.
func (s *Server) deleteWHIP(c *gin.Context) {
	ws := s.whip.get(c.Param("session"))
	if ws == nil {
		s.abortWithError(c, errWHIPNoSession)
		return
	}
	if ws.userID != identityOf(c).ID {
		s.abortWithError(c, errWHIPNotHost)
		return
	}
	s.endWHIP(c.Param("session"), "left")
	c.Status(http.StatusOK)
}

// refuseTrickle refuses trickled candidates for a WHIP or WHEP session
// (RFC 9725 allows a 405).
func (s *Server) refuseTrickle(c *gin.Context) {
	c.Header("Allow", "DELETE")
	s.abortWithError(c, errWHIPNoTrickle)
}

// discardConn is a WHIP publisher's side of the room's messages: an
// encoder has no page to show them.
type discardConn struct{}

func (discardConn) Write([]byte) error      { return nil }
func (discardConn) Close(int, string) error { return nil }
