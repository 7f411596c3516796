package app

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"

	"github.com/gin-gonic/gin"

	"meet/app/room"
	"meet/protocol"
	"meet/record"
	"meet/store"
)

// Recording at the edge (issue 17): a host starts and stops it on the
// socket or with POST /api/rooms/:id/recording; the owner lists, downloads
// and deletes recordings over the REST API. The live room does the
// recording itself (app/room/recording.go).

var (
	errNotRecording   = newError(http.StatusConflict, protocol.CodeNotRecording, "The room is not being recorded.")
	errNobodyToRecord = newError(http.StatusConflict, protocol.CodeBadRequest,
		"Nobody is in the room to record. Join it first.")
	errRecordingNotFound = newError(http.StatusNotFound, protocol.CodeNotFound, "There is no such recording.")
	errRecordingRunning  = newError(http.StatusConflict, protocol.CodeRecording,
		"The recording is still running. Stop it first.")
	errRecordingFileNotFound = newError(http.StatusNotFound, protocol.CodeNotFound, "The recording has no such file.")
)

// handleRecord takes a host's record message.
func (s *Server) handleRecord(p *room.Participant, live *room.Room, m *protocol.Record) {
	if err := live.RequireHost(p, protocol.TypeRecord, "record the room"); err != nil {
		answer(p, err, protocol.TypeRecord, failedUnexpectedly)
		return
	}
	if m.Action == protocol.RecordStart {
		answer(p, live.StartRecording(newRecordingID(), p.UserID(), protocol.TypeRecord), protocol.TypeRecord, failedUnexpectedly)
		return
	}
	if !live.StopRecording("", nil) {
		sendError(p, protocol.CodeNotRecording, "The room is not being recorded.", protocol.TypeRecord)
	}
}

func newRecordingID() string { return randomID("rec_", 8) }

// postRecording starts or stops a room's recording, for its hosts.
func (s *Server) postRecording(c *gin.Context) {
	stored, ok := s.hostedRoom(c)
	if !ok {
		return
	}
	var req protocol.Record
	if err := decodeBody(c, &req); err != nil {
		s.abortWithError(c, err)
		return
	}
	if req.Action != protocol.RecordStart && req.Action != protocol.RecordStop {
		s.abortWithError(c, newError(http.StatusBadRequest, protocol.CodeBadRequest, `"action" must be "start" or "stop".`))
		return
	}
	live, ok := s.hub.Room(stored.ID)
	if req.Action == protocol.RecordStop {
		if !ok || !live.StopRecording("", nil) {
			s.abortWithError(c, errNotRecording)
			return
		}
		c.JSON(http.StatusOK, gin.H{"recording": false})
		return
	}
	if !ok {
		s.abortWithError(c, errNobodyToRecord)
		return
	}
	id := newRecordingID()
	if err := live.StartRecording(id, identityOf(c).ID, protocol.TypeRecord); err != nil {
		s.abortWithError(c, recordingRefusal(err))
		return
	}
	c.JSON(http.StatusCreated, gin.H{"recording": true, "id": id})
}

// recordingRefusal words a room's refusal to record as an HTTP error.
func recordingRefusal(err error) error {
	var refusal *room.Refusal
	if !errors.As(err, &refusal) {
		return err
	}
	status := http.StatusConflict
	switch refusal.Code {
	case protocol.CodeRoomEnded:
		status = http.StatusGone
	case protocol.CodeRecordingFailed:
		status = http.StatusInternalServerError
	}
	return newError(status, refusal.Code, refusal.Message)
}

// getRecordings lists a room's recordings, newest first, for its owner.
func (s *Server) getRecordings(c *gin.Context) {
	stored, ok := s.ownedRoom(c)
	if !ok {
		return
	}
	recs, err := s.store.Recordings(stored.ID)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	out := make([]protocol.RecordingInfo, 0, len(recs))
	for _, rec := range recs {
		out = append(out, s.recordingView(rec))
	}
	c.JSON(http.StatusOK, gin.H{"recordings": out})
}

// recordingView is a stored recording with the files its manifest lists.
func (s *Server) recordingView(rec store.Recording) protocol.RecordingInfo {
	v := protocol.RecordingInfo{ID: rec.ID, State: rec.State, StartedAt: rec.StartedAt.UTC().Format(timeMillis),
		Error: rec.Error, Files: []protocol.RecordingFile{}}
	if rec.StoppedAt != nil {
		v.StoppedAt = rec.StoppedAt.UTC().Format(timeMillis)
	}
	man, err := record.ReadManifest(rec.Dir)
	if err != nil {
		s.log.Warn("recording: read its manifest", "recording", rec.ID, "err", err)
		return v
	}
	for _, f := range man.Files {
		v.Files = append(v.Files, protocol.RecordingFile{
			Name: f.Name, URL: "/api/recordings/" + rec.ID + "/files/" + f.Name,
			Source: f.Source, ParticipantID: f.ParticipantID, Participant: f.Participant, Codec: f.Codec,
			StartOffsetMs: f.StartOffsetMs, DurationMs: f.DurationMs, Bytes: f.Bytes,
		})
	}
	return v
}

// ownedRecording loads the recording of the :rid path parameter for its
// room's owner.
func (s *Server) ownedRecording(c *gin.Context) (*store.Recording, bool) {
	rec, err := s.store.Recording(c.Param("rid"))
	if errors.Is(err, store.ErrNotFound) {
		err = errRecordingNotFound
	}
	var stored *store.Room
	if err == nil {
		stored, err = s.loadRoom(rec.RoomID)
	}
	if err == nil && stored.OwnerID != identityOf(c).ID {
		err = errNotOwner
	}
	if err != nil {
		s.abortWithError(c, err)
		return nil, false
	}
	return rec, true
}

// getRecordingFile serves one file of a recording to its room's owner,
// with Range requests (a player seeks, a download resumes).
func (s *Server) getRecordingFile(c *gin.Context) {
	rec, ok := s.ownedRecording(c)
	if !ok {
		return
	}
	man, err := record.ReadManifest(rec.Dir)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	var file *record.File
	for i := range man.Files {
		if man.Files[i].Name == c.Param("name") {
			file = &man.Files[i]
		}
	}
	if file == nil {
		s.abortWithError(c, errRecordingFileNotFound)
		return
	}
	f, err := os.Open(filepath.Join(rec.Dir, file.Name))
	if err != nil {
		s.abortWithError(c, errRecordingFileNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	kind := "audio/webm"
	if file.Codec == "VP8" {
		kind = "video/webm"
	}
	c.Header("Content-Type", kind)
	c.Header("Content-Disposition", `attachment; filename="`+file.Name+`"`)
	http.ServeContent(c.Writer, c.Request, file.Name, st.ModTime(), f)
}

// deleteRecording deletes a finished recording and its files, for its
// room's owner.
func (s *Server) deleteRecording(c *gin.Context) {
	rec, ok := s.ownedRecording(c)
	if !ok {
		return
	}
	if rec.State == store.RecordingActive {
		s.abortWithError(c, errRecordingRunning)
		return
	}
	if err := os.RemoveAll(rec.Dir); err != nil {
		s.abortWithError(c, err)
		return
	}
	if err := s.store.DeleteRecording(rec.ID); err != nil {
		s.abortWithError(c, err)
		return
	}
	s.log.Info("recording deleted", "room", rec.RoomID, "recording", rec.ID, "by", identityOf(c).ID)
	c.Status(http.StatusNoContent)
}

// timeMillis is how recordings' times are written: RFC 3339 in UTC with
// milliseconds, so that a file's duration can be checked against them.
const timeMillis = "2006-01-02T15:04:05.000Z07:00"
