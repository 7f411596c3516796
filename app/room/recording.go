package room

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"meet/protocol"
	"meet/record"
	"meet/sfu"
	"meet/store"
)

// Recordings is where and how much a hub's rooms may record (-recordings-dir,
// -max-recording-mb).
type Recordings struct {
	Dir      string
	MaxBytes int64  // per recording; 0 is no cap
	Node     string // the node that records, named in the store
}

// The recording of a live room (issue 17). A recording needs the SFU: the
// media of a mesh room never reaches the server. So a mesh room that
// starts recording switches to the SFU, through the same make-before-break
// switch as a room that grows, and stays there while it records; once it
// stops, the usual back-to-mesh delay runs. The SFU taps every track of
// the room (sfu/tap.go) into a record.Recording, which writes a WebM file
// per publisher and source.
//
// Starting and stopping write files and a stored row, never under the
// room's lock: the lock only decides and then swaps the room's recording.

// recordingState is the room's recording, under r.mu.
type recordingState struct {
	rec      *record.Recording
	id       string
	starting bool // a start is writing its first files
}

// Recording reports whether the room records now, and which recording.
func (r *Room) Recording() (active bool, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recording.rec != nil, r.recording.id
}

// recordingMessageLocked is the recording message a joiner's welcome is
// followed by, and what everyone is told when it starts.
func (r *Room) recordingMessageLocked() protocol.Recording {
	msg := protocol.Recording{Type: protocol.TypeRecording, Active: r.recording.rec != nil, ID: r.recording.id}
	if rec := r.recording.rec; rec != nil {
		msg.StartedAt = rec.StartedAt().UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	return msg
}

// StartRecording starts recording the room as recording id, for the
// identity by (whose right to it the caller checked). It refuses when the
// room records already, is empty or has ended, when the server has no SFU,
// and when the recording's directory cannot be made.
func (r *Room) StartRecording(id, by, ref string) error {
	cfg := r.cfg
	if cfg.Policy.SFU == nil || cfg.Recordings.Dir == "" {
		return refuse(protocol.CodeRecordingFailed, "This server does not record.", ref)
	}
	r.mu.Lock()
	switch {
	case r.ended || r.retired:
		r.mu.Unlock()
		return refuse(protocol.CodeRoomEnded, "The room has ended.", ref)
	case r.recording.rec != nil || r.recording.starting:
		r.mu.Unlock()
		return refuse(protocol.CodeRecording, "The room is being recorded already.", ref)
	case len(r.participants) == 0:
		r.mu.Unlock()
		return refuse(protocol.CodeBadRequest, "Nobody is in the room to record.", ref)
	}
	r.recording.starting = true
	r.mu.Unlock()

	dir := filepath.Join(cfg.Recordings.Dir, r.id, id)
	rec, err := record.Start(dir, id, r.id, record.Options{
		MaxBytes: cfg.Recordings.MaxBytes,
		OnFault:  func(err error) { r.StopRecording(id, err) },
		Logger:   cfg.Log,
	})
	if err == nil && cfg.Store != nil {
		if err = cfg.Store.CreateRecording(store.Recording{ID: id, RoomID: r.id, NodeID: cfg.Recordings.Node, State: store.RecordingActive,
			StartedBy: by, Dir: dir, StartedAt: rec.StartedAt()}); err != nil {
			rec.Stop(err)
			_ = os.RemoveAll(dir)
		}
	}
	r.mu.Lock()
	r.recording.starting = false
	if err == nil && (r.ended || r.retired) {
		err = errors.New("the room ended")
	}
	if err != nil {
		r.mu.Unlock()
		if rec != nil {
			r.finishRecording(id, rec, err)
		}
		r.cfg.Log.Error("recording could not start", "room", r.id, "err", err)
		return refuse(protocol.CodeRecordingFailed, "The recording could not start: "+err.Error()+".", ref)
	}
	r.recording.rec, r.recording.id = rec, id
	r.broadcastLocked(encode(r.recordingMessageLocked()), nil)
	r.moveToSFULocked()
	r.mu.Unlock()
	cfg.Policy.SFU.Tap(r.id, r.tapMaker(rec))
	r.cfg.Log.Info("recording started", "room", r.id, "recording", id, "by", by)
	return nil
}

// StopRecording stops recording id ("" for whichever runs), with cause
// when it stops on its own. It reports whether it stopped one.
func (r *Room) StopRecording(id string, cause error) bool {
	r.mu.Lock()
	rec := r.recording.rec
	if rec == nil || (id != "" && id != r.recording.id) {
		r.mu.Unlock()
		return false
	}
	id = r.recording.id
	r.recording.rec, r.recording.id = nil, ""
	msg := protocol.Recording{Type: protocol.TypeRecording, Active: false, ID: id}
	if cause != nil {
		msg.Error = cause.Error()
	}
	r.broadcastLocked(encode(msg), nil)
	r.reconsiderModeLocked()
	r.mu.Unlock()
	r.finishRecording(id, rec, cause)
	return true
}

// stopRecordingLocked stops the room's recording from under its lock (the
// room ends or empties): the files are finished by another goroutine.
func (r *Room) stopRecordingLocked() {
	rec, id := r.recording.rec, r.recording.id
	if rec == nil {
		return
	}
	r.recording.rec, r.recording.id = nil, ""
	go r.finishRecording(id, rec, nil)
}

// finishRecording stops the taps, closes the files and stores the end.
func (r *Room) finishRecording(id string, rec *record.Recording, cause error) {
	if sfu := r.cfg.Policy.SFU; sfu != nil {
		sfu.Tap(r.id, nil)
	}
	man := rec.Stop(cause)
	reason := ""
	if cause != nil {
		reason = cause.Error()
	}
	if r.cfg.Store != nil {
		if err := r.cfg.Store.FinishRecording(id, store.RecordingDone, reason, time.Now()); err != nil {
			r.cfg.Log.Error("recording: store its end", "recording", id, "err", err)
		}
	}
	r.cfg.Log.Info("recording stopped", "room", r.id, "recording", id, "files", len(man.Files), "bytes", rec.Written(), "reason", reason)
}

// tapMaker gives each VP8 or Opus track of the room a track of rec.
func (r *Room) tapMaker(rec *record.Recording) sfu.TapMaker {
	return func(info sfu.TapInfo) sfu.Tap {
		video := strings.EqualFold(info.MimeType, "video/VP8")
		if !video && !strings.EqualFold(info.MimeType, "audio/opus") {
			return nil
		}
		r.mu.Lock()
		name := ""
		if p := r.findLocked(info.Publisher); p != nil {
			name = p.name
		}
		r.mu.Unlock()
		track, err := rec.AddTrack(record.TrackInfo{
			ParticipantID: info.Publisher, Participant: name, Source: info.Source,
			Video: video, ClockRate: info.ClockRate, RequestKeyframe: info.RequestKeyframe,
		})
		if err != nil {
			return nil
		}
		return track
	}
}
