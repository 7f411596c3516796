package app

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"meet/protocol"
	"meet/sfu"
	"meet/store"
)

// WHEP playback (issue 17): a player, an embed or a hallway screen that
// does not run the app watches a room's stage with one HTTP request.
//
//	POST /api/rooms/:id/whep               Authorization: Bearer <token>
//	Content-Type: application/sdp           body: the SDP offer (receive only)
//	→ 201 Created, Location: /api/whep/<session>, body: the SDP answer
//	DELETE /api/whep/<session>              ends it
//
// The session gets one video and one sound: the camera (or the shared
// screen) and microphone of whoever is on the stage, following it as it
// changes; with nobody on it, the hosts in the room. The token is one of:
// an identity token of one of the room's hosts, an invite link's token or
// a join token (`meet apikey`) for the room. With the room's public stage
// on, no token is needed. The session's URL is its only key: whoever holds
// it may end it. Trickle ICE is not taken (PATCH answers 405).
//
// A browser player on another site must be able to call this, so these
// two resources answer CORS requests from anywhere; they use no cookie.

// maxWHEPViewers caps the players of one room on this node: each is a
// subscriber the SFU forwards to.
const maxWHEPViewers = 500

// whepSession is one player watching a room.
type whepSession struct {
	roomID string
	viewer *sfu.Viewer
}

// whepSessions are the players watching now, by session id.
type whepSessions struct {
	mu sync.Mutex
	m  map[string]whepSession
}

func (w *whepSessions) add(id string, ws whepSession) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]whepSession{}
	}
	w.m[id] = ws
}

// has reports whether session id is one of this node's.
func (w *whepSessions) has(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.m[id]
	return ok
}

func (w *whepSessions) take(id string) (whepSession, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ws, ok := w.m[id]
	delete(w.m, id)
	return ws, ok
}

var (
	errWHEPNoToken = newError(http.StatusUnauthorized, protocol.CodeUnauthorized,
		"This room's stage is not public: send Authorization: Bearer <token> (a host's identity token, an invite's or a join token).")
	errWHEPNotAllowed = newError(http.StatusForbidden, protocol.CodeForbidden,
		"This token does not let you watch this room: only its hosts, its invites and join tokens for it do, unless the owner makes the stage public.")
	errWHEPNoSession = newError(http.StatusNotFound, protocol.CodeNotFound, "There is no such WHEP session.")
	errWHEPFull      = newError(http.StatusServiceUnavailable, protocol.CodeRoomFull, "Too many players watch this room already. Try again later.")
	errNoSFU         = newError(http.StatusServiceUnavailable, protocol.CodeInternal, "This server has no SFU to serve players from.")
)

// whepCORS lets a player on any site call the WHEP resources: they take
// no cookie, only a bearer token or nothing.
func whepCORS(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "POST, DELETE, PATCH, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Expose-Headers", "Location")
	if c.Request.Method == http.MethodOptions {
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}

// postWHEP starts a WHEP session.
func (s *Server) postWHEP(c *gin.Context) {
	if s.sfu == nil {
		s.abortWithError(c, errNoSFU)
		return
	}
	if err := requireSDP(c); err != nil {
		s.abortWithError(c, err)
		return
	}
	stored, err := s.loadRoom(c.Param("id"))
	if err == nil && stored.Status == store.StatusEnded {
		err = errRoomEnded
	}
	if err == nil && !stored.PublicStage {
		err = s.checkWHEPToken(c, stored)
	}
	if err == nil && s.hub.Viewers(stored.ID) >= maxWHEPViewers {
		err = errWHEPFull
	}
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	offer, err := readOffer(c)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	sfuRoom, err := s.sfu.Room(stored.ID)
	if err != nil {
		s.abortWithError(c, errNoSFU)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), whipAnswerWait)
	defer cancel()
	id := randomID("v_", 16)
	viewer, answer, err := sfuRoom.JoinViewer(ctx, id, offer, s.hub.StageIDs(stored.ID))
	if err != nil {
		msg := "The offer could not be answered: " + err.Error() + "."
		if errors.Is(err, sfu.ErrNothingToReceive) {
			msg = "The offer receives no VP8 video or Opus sound, which is all this server sends."
		}
		s.abortWithError(c, newError(http.StatusBadRequest, protocol.CodeBadRequest, msg))
		return
	}
	s.whep.add(id, whepSession{roomID: stored.ID, viewer: viewer})
	s.hub.AddViewer(stored.ID, viewer)
	go s.endWHEPWhenGone(id, viewer)
	s.log.Info("whep session started", "room", stored.ID, "session", id)
	c.Header("Location", "/api/whep/"+id)
	c.Data(http.StatusCreated, "application/sdp", []byte(answer))
}

// checkWHEPToken lets in a bearer of a host's identity token, of an
// invite for the room or of a join token for it.
func (s *Server) checkWHEPToken(c *gin.Context, stored *store.Room) error {
	auth := c.GetHeader("Authorization")
	if !strings.HasPrefix(auth, "Bearer ") {
		c.Header("WWW-Authenticate", `Bearer realm="meet"`)
		return errWHEPNoToken
	}
	token := strings.TrimPrefix(auth, "Bearer ")
	if isJoinToken(token) {
		if _, err := s.verifyInvite(token, stored.ID); err == nil {
			return nil
		}
		claims, kid, verr := s.verifyJoinToken(token, stored.ID)
		if verr != nil {
			return verr
		}
		if m, merr := s.store.Member(stored.ID, tokenIdentity(claims, kid).ID); merr == nil && m.Standing == store.StandingBanned {
			return errWHEPNotAllowed
		}
		return nil
	}
	identity, err := s.tokens.verify(token, time.Now())
	switch {
	case err != nil:
		return errInvalidToken
	case !s.isHost(stored, identity.ID):
		return errWHEPNotAllowed
	}
	return nil
}

// endWHEPWhenGone ends a session whose player went away without a DELETE.
func (s *Server) endWHEPWhenGone(id string, viewer *sfu.Viewer) {
	<-viewer.Ended()
	s.endWHEP(id, "disconnected")
}

// endWHEP ends a session: the player is disconnected and the room no
// longer keeps to the SFU for it.
func (s *Server) endWHEP(id, reason string) bool {
	ws, ok := s.whep.take(id)
	if !ok {
		return false
	}
	ws.viewer.Close()
	s.hub.RemoveViewer(ws.roomID, ws.viewer)
	s.log.Info("whep session ended", "room", ws.roomID, "session", id, "reason", reason)
	return true
}

// deleteWHEP ends a session, for whoever holds its URL.
func (s *Server) deleteWHEP(c *gin.Context) {
	if !s.endWHEP(c.Param("session"), "left") {
		s.abortWithError(c, errWHEPNoSession)
		return
	}
	c.Status(http.StatusOK)
}
