package app

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"meet/app/room"
	"meet/protocol"
	"meet/store"
)

var errStateUnavailable = newError(http.StatusInternalServerError, protocol.CodeInternal, "Could not load the room. Try again.")

// What a participant is told when the room could not carry out its
// request for a fault of ours (a failed write), which the room has
// logged; a refusal the room words itself.
const (
	stageFailed    = "The stage could not be changed. Try again."
	settingsFailed = "The settings could not be saved. Try again."
	handOverFailed = "The room could not be handed over. Try again."
	// failedUnexpectedly answers requests the room has no way to fail:
	// only a refusal is expected of them.
	failedUnexpectedly = "Something went wrong on the server. Try again."
)

// handleStage takes a decoded stage or owner message of p and reports
// whether msg was one. Every permission is checked by the room, on the
// server; a refusal is an error message and changes nothing.
func (s *Server) handleStage(p *room.Participant, live *room.Room, msg any) bool {
	switch m := msg.(type) {
	case *protocol.StageSet:
		answer(p, live.SetStage(p, m), protocol.TypeStageSet, stageFailed)
	case *protocol.RaiseHand:
		answer(p, live.RaiseHand(p, m.Raised), protocol.TypeHand, failedUnexpectedly)
	case *protocol.HandAnswer:
		answer(p, live.AnswerHand(p, m.ID, m.Accept), protocol.TypeHandAnswer, stageFailed)
	case *protocol.RoomSettings:
		change := store.SettingsChange{Classroom: m.Classroom, AllowStage: m.AllowStage, Lobby: m.Lobby, Locked: m.Locked, HostStart: m.HostStart, PublicStage: m.PublicStage}
		answer(p, live.ChangeSettings(p, change), protocol.TypeRoomSettings, settingsFailed)
	case *protocol.MuteRequest:
		answer(p, live.AskToMute(p, m.ID, m.Source), protocol.TypeMuteRequest, failedUnexpectedly)
	case *protocol.MuteAll:
		answer(p, live.AskAllToMute(p, m.Source), protocol.TypeMuteAll, failedUnexpectedly)
	case *protocol.LowerHands:
		answer(p, live.LowerHands(p), protocol.TypeLowerHands, failedUnexpectedly)
	case *protocol.OwnerSet:
		answer(p, live.HandOver(p, m.ID), protocol.TypeOwnerSet, handOverFailed)
	case *protocol.EndRoom:
		s.endFromSocket(p, live)
	default:
		return false
	}
	return true
}

// answer tells p how its request went, when not well: a refusal as the
// room worded it, or, for any other error, failed with CodeInternal and
// ref.
func answer(p *room.Participant, err error, ref, failed string) {
	var refusal *room.Refusal
	switch {
	case err == nil:
	case errors.As(err, &refusal):
		sendError(p, refusal.Code, refusal.Message, refusal.Ref)
	default:
		sendError(p, protocol.CodeInternal, failed, ref)
	}
}

// endFromSocket handles end-room: the same end as POST /api/rooms/:id/end.
func (s *Server) endFromSocket(p *room.Participant, live *room.Room) {
	if err := live.RequireOwner(p, protocol.TypeEndRoom, "end the room"); err != nil {
		answer(p, err, protocol.TypeEndRoom, failedUnexpectedly)
		return
	}
	if _, err := s.finishRoom(live.ID()); err != nil {
		s.log.Error("end room", "room", live.ID(), "err", err)
		sendError(p, protocol.CodeInternal, "The room could not be ended. Try again.", protocol.TypeEndRoom)
	}
}

// settingsRequest is the body of PATCH /api/rooms/:id; a missing field
// stays as it is.
type settingsRequest struct {
	Classroom  *bool `json:"classroom"`
	AllowStage *bool `json:"allowStage"`
	Lobby      *bool `json:"lobby"`
	Locked     *bool `json:"locked"`
	HostStart  *bool `json:"hostStart"`
	// PublicStage: the stage may be watched without a token over WHEP.
	PublicStage *bool `json:"publicStage"`
	// Passcode: a string sets it, null or "" removes it (passcode.go).
	Passcode json.RawMessage `json:"passcode"`
}

// patchRoom changes a room's settings: only its hosts may.
func (s *Server) patchRoom(c *gin.Context) {
	stored, ok := s.hostedRoom(c)
	if !ok {
		return
	}
	var req settingsRequest
	if err := decodeBody(c, &req); err != nil {
		s.abortWithError(c, err)
		return
	}
	passcodeHash, err := s.passcodeChange(req.Passcode)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	change := store.SettingsChange{Classroom: req.Classroom, AllowStage: req.AllowStage, Lobby: req.Lobby, Locked: req.Locked, HostStart: req.HostStart, PublicStage: req.PublicStage, PasscodeHash: passcodeHash}
	if change == (store.SettingsChange{}) {
		s.abortWithError(c, newError(http.StatusBadRequest, protocol.CodeBadRequest, `Nothing to change: send "classroom", "allowStage", "lobby", "locked", "hostStart", "publicStage" and/or "passcode".`))
		return
	}
	if stored.Status == store.StatusEnded {
		s.abortWithError(c, errRoomEnded)
		return
	}
	stored, err = s.hub.ChangeSettings(stored.ID, change)
	if errors.Is(err, store.ErrNotFound) {
		err = errRoomNotFound
	}
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	s.log.Info("room settings changed", "room", stored.ID, "by", identityOf(c).ID)
	// The room may be live on another node (events.go).
	s.publish(store.EventRoomChanged, stored.ID, "")
	c.JSON(http.StatusOK, s.roomView(stored))
}
