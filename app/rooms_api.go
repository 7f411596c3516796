package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"meet/app/room"
	"meet/protocol"
	"meet/store"
)

// roomListLimit bounds the home page's list; the newest rooms come first.
const roomListLimit = 200

// decodeBody reads a JSON body into dst with errors a person can act on:
// malformed JSON, a field of the wrong type and a body over the limit each
// say so.
func decodeBody(c *gin.Context, dst any) error {
	dec := json.NewDecoder(c.Request.Body)
	err := dec.Decode(dst)
	if err == nil {
		// A second value after the object is as malformed as a broken one.
		if dec.Decode(&struct{}{}) != io.EOF {
			return newError(http.StatusBadRequest, protocol.CodeInvalidJSON, "Request body must be one JSON object.")
		}
		return nil
	}
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooLarge):
		return newError(http.StatusRequestEntityTooLarge, protocol.CodeTooLarge,
			fmt.Sprintf("Request body is larger than %d KiB.", tooLarge.Limit>>10))
	case errors.As(err, &typeErr):
		return newError(http.StatusBadRequest, protocol.CodeInvalidJSON,
			fmt.Sprintf("Field %q must be a %s, not a %s.", typeErr.Field, typeErr.Type, typeErr.Value))
	case errors.Is(err, io.EOF):
		return newError(http.StatusBadRequest, protocol.CodeInvalidJSON, "Request body is empty; send a JSON object.")
	default:
		return newError(http.StatusBadRequest, protocol.CodeInvalidJSON, "Request body is not valid JSON.")
	}
}

// renameOwner makes the owner shown for an identity's rooms its new name.
// A failure is logged: the rename itself has been done.
func (s *Server) renameOwner(userID, name string) {
	if err := s.store.RenameOwner(userID, name); err != nil {
		s.log.Error("rename owner", "user", userID, "err", err)
	}
}

// roomView joins a stored room with its live state and its stage.
func (s *Server) roomView(r *store.Room) protocol.Room {
	online, mode := s.hub.Online(r.ID)
	v := room.View(r, online, mode)
	members, err := s.store.StageMembers(r.ID)
	if err != nil {
		s.log.Error("load the stage", "room", r.ID, "err", err)
	}
	v.Stage = room.StageView(members)
	if live, ok := s.hub.Room(r.ID); ok {
		v.Recording, _ = live.Recording()
	}
	return v
}

// presence is a room's online count and media mode across the nodes.
type presence struct {
	online int
	mode   string
}

// presenceOf is the presence of each of rooms ids across the live nodes,
// read in one query: this node's hub for a room live here (immediate, not
// as of its last heartbeat, so that one node alone is its own source), plus
// what the other live nodes last wrote of it (store.PresenceOf); this
// node's own rows are as old as its last heartbeat and are skipped. Only a
// room being served by two nodes at once has both. The mode is this node's
// when the room is live here, else that of the node with the most online.
func (s *Server) presenceOf(ids []string) (map[string]presence, error) {
	rows, err := s.store.PresenceOf(ids, time.Now(), s.node.timeout)
	if err != nil {
		return nil, err
	}
	out := make(map[string]presence, len(ids))
	for _, id := range ids {
		p, most := presence{mode: protocol.ModeMesh}, -1
		if live, ok := s.hub.Room(id); ok {
			p.online, p.mode = live.Counts()
			most = math.MaxInt
		}
		for _, r := range rows[id] {
			if r.NodeID == s.node.id {
				continue
			}
			p.online += r.Online
			if r.Online > most {
				most, p.mode = r.Online, r.Mode
			}
		}
		out[id] = p
	}
	return out, nil
}

// writePresence replaces this node's presence rows (store.ReplacePresence)
// with the online count and mode of each room live here now. The
// heartbeat loop calls it after each heartbeat.
func (s *Server) writePresence() {
	live := s.hub.All()
	rows := make([]store.RoomPresence, 0, len(live))
	for _, r := range live {
		online, mode := r.Counts()
		rows = append(rows, store.RoomPresence{RoomID: r.ID(), Online: online, Mode: mode})
	}
	if err := s.store.ReplacePresence(s.node.id, rows, time.Now()); err != nil {
		s.log.Warn("room presence", "node", s.node.id, "err", err)
	}
}

// clearPresence removes this node's presence rows as it stops.
func (s *Server) clearPresence() {
	if err := s.store.ReplacePresence(s.node.id, nil, time.Now()); err != nil {
		s.log.Warn("clear room presence", "node", s.node.id, "err", err)
	}
}

// loadRoom fetches the room named by the :id path parameter.
func (s *Server) loadRoom(id string) (*store.Room, error) {
	stored, err := s.store.Room(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errRoomNotFound
	}
	return stored, err
}

type meResponse struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Token string `json:"token"`
}

func (s *Server) getMe(c *gin.Context) {
	id := identityOf(c)
	c.JSON(http.StatusOK, meResponse{ID: id.ID, Name: id.Name, Token: s.tokens.sign(id)})
}

type nameRequest struct {
	Name string `json:"name"`
}

// putMe renames the identity. The id stays, so ownership is kept.
func (s *Server) putMe(c *gin.Context) {
	var req nameRequest
	if err := decodeBody(c, &req); err != nil {
		s.abortWithError(c, err)
		return
	}
	name, err := cleanDisplayName(req.Name)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	id := identityOf(c)
	id.Name = name
	id.IssuedAt = time.Now().Unix()
	token := s.issueToken(c, id)
	s.renameOwner(id.ID, name)
	c.JSON(http.StatusOK, meResponse{ID: id.ID, Name: id.Name, Token: token})
}

// listRooms lists the public rooms and the caller's own: those it owns
// or has joined, marked "yours". An unlisted room of someone else's is
// never listed; its link is the way in.
func (s *Server) listRooms(c *gin.Context) {
	me := identityOf(c).ID
	rooms, err := s.store.VisibleRooms(me, roomListLimit)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	ids := make([]string, len(rooms))
	for i := range rooms {
		ids[i] = rooms[i].ID
	}
	// One query for every stage of the page, not one per room.
	stages, err := s.store.StageMembersOf(ids)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	attended, err := s.store.RoomsAttended(me, ids)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	hosts, err := s.hostsOf(ids)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	online, err := s.presenceOf(ids)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	out := make([]protocol.Room, 0, len(rooms))
	for i := range rooms {
		p := online[rooms[i].ID]
		v := room.View(&rooms[i], p.online, p.mode)
		v.Stage = room.StageView(stages[rooms[i].ID])
		v.Yours = rooms[i].OwnerID == me || attended[rooms[i].ID]
		v.Node = hosts[rooms[i].ID]
		out = append(out, v)
	}
	c.JSON(http.StatusOK, gin.H{"rooms": out})
}

// createRoomRequest is the body of POST /api/rooms: a name, and the
// settings the owner may change later (PATCH /api/rooms/:id).
type createRoomRequest struct {
	Name       string `json:"name"`
	Classroom  bool   `json:"classroom"`
	AllowStage bool   `json:"allowStage"`
	Lobby      bool   `json:"lobby"`
	HostStart  bool   `json:"hostStart"`
	// PublicStage: the stage may be watched without a token over WHEP.
	PublicStage bool `json:"publicStage"`
	// Visibility is "public" (the default) or "unlisted".
	Visibility string `json:"visibility"`
	// Passcode, when not empty, is asked of everyone but the owner.
	Passcode string `json:"passcode"`
}

// settings checks the request's choices; the passcode is hashed.
func (s *Server) settings(req createRoomRequest) (store.RoomSettings, error) {
	settings := store.RoomSettings{Classroom: req.Classroom, AllowStage: req.AllowStage, Lobby: req.Lobby, HostStart: req.HostStart, PublicStage: req.PublicStage, Visibility: req.Visibility}
	switch req.Visibility {
	case "":
		settings.Visibility = store.VisibilityPublic
	case store.VisibilityPublic, store.VisibilityUnlisted:
	default:
		return settings, newError(http.StatusBadRequest, protocol.CodeBadRequest, `Field "visibility" must be "public" or "unlisted".`)
	}
	if req.Passcode != "" {
		hash, err := s.hashPasscode(req.Passcode)
		if err != nil {
			return settings, err
		}
		settings.PasscodeHash = hash
	}
	return settings, nil
}

func (s *Server) createRoom(c *gin.Context) {
	if err := s.allowRoomCreation(c); err != nil {
		s.abortWithError(c, err)
		return
	}
	var req createRoomRequest
	if err := decodeBody(c, &req); err != nil {
		s.abortWithError(c, err)
		return
	}
	name, err := cleanRoomName(req.Name)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	settings, err := s.settings(req)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	owner := identityOf(c)
	stored, err := s.store.CreateRoomWith(name, owner.ID, owner.Name, settings)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	s.log.Info("room created", "room", stored.ID, "owner", owner.ID, "visibility", stored.Visibility, "passcode", stored.PasscodeHash != "")
	c.JSON(http.StatusCreated, s.roomView(stored))
}

func (s *Server) getRoom(c *gin.Context) {
	stored, err := s.loadRoom(c.Param("id"))
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	v := s.roomView(stored)
	// The room's live state across the nodes; a failure leaves this
	// node's own.
	if online, err := s.presenceOf([]string{stored.ID}); err != nil {
		s.log.Error("presence of room", "room", stored.ID, "err", err)
	} else {
		v.Online, v.Mode = online[stored.ID].online, online[stored.ID].mode
	}
	v.Node = s.hostOf(stored.ID)
	c.JSON(http.StatusOK, v)
}

func (s *Server) getParticipants(c *gin.Context) {
	stored, err := s.loadRoom(c.Param("id"))
	if err == nil {
		err = s.mayRead(stored, identityOf(c).ID)
	}
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	participants := []protocol.Participant{}
	if live, ok := s.hub.Room(stored.ID); ok {
		participants = live.Snapshot()
	}
	c.JSON(http.StatusOK, gin.H{"participants": participants})
}

// endRoom ends a room for good: only its owner may, and everyone in it is
// told and disconnected.
func (s *Server) endRoom(c *gin.Context) {
	stored, ok := s.ownedRoom(c)
	if !ok {
		return
	}
	stored, err := s.finishRoom(stored.ID)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.roomView(stored))
}

// finishRoom ends a room for good, for the REST API and the end-room
// message alike: the room is stored as ended, and everyone in it is told
// and disconnected.
func (s *Server) finishRoom(id string) (*store.Room, error) {
	stored, err := s.store.EndRoom(id)
	if err != nil {
		return nil, err
	}
	s.endLiveRoom(stored)
	s.log.Info("room ended", "room", stored.ID)
	// The room may be live on another node (events.go).
	s.publish(store.EventRoomEnded, stored.ID, "")
	return stored, nil
}

// endLiveRoom ends the live room of a room stored as ended, if it is live
// here: everyone in it is told and disconnected, and its placement goes.
// finishRoom calls it, and so does an end another node made (events.go).
func (s *Server) endLiveRoom(stored *store.Room) {
	if live, ok := s.hub.Remove(stored.ID); ok {
		view := s.roomView(stored)
		for _, p := range live.End(encode(protocol.RoomEnded{Type: protocol.TypeRoomEnded, Room: view}), protocol.CloseRoomEnded, "room ended") {
			s.recordLeave(p)
		}
	}
	s.unplaceIfIdle(stored.ID)
}

// ownedRoom loads the room the path names for its owner; anyone else gets
// errNotOwner. It reports whether the handler may go on.
func (s *Server) ownedRoom(c *gin.Context) (*store.Room, bool) {
	stored, err := s.loadRoom(c.Param("id"))
	if err == nil && stored.OwnerID != identityOf(c).ID {
		err = errNotOwner
	}
	if err != nil {
		s.abortWithError(c, err)
		return nil, false
	}
	return stored, true
}
