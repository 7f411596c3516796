package protocol

// Recording (issue 17): a host starts and stops the room's recording, on
// the socket or with POST /api/rooms/:id/recording; everyone is told
// while it records, and a joiner sees it on the room before entering
// (Room.Recording).
const (
	TypeRecord    = "record"    // host: start or stop the room's recording
	TypeRecording = "recording" // to everyone: the room records now, or stopped
)

// The actions of a record message (and of the HTTP API's body).
const (
	RecordStart = "start"
	RecordStop  = "stop"
)

// Error codes of recording.
const (
	CodeRecording       = "recording"        // the room records already (start), or the recording cannot be deleted while it runs
	CodeNotRecording    = "not_recording"    // stop: the room does not record
	CodeRecordingFailed = "recording_failed" // the server could not start or keep recording (disk full, size limit)
)

// Record asks to start or stop the room's recording.
type Record struct {
	Type   string `json:"type"`
	Action string `json:"action"`
}

func (m *Record) validate() error {
	if m.Action != RecordStart && m.Action != RecordStop {
		return invalid(`%s needs "action": %q or %q.`, TypeRecord, RecordStart, RecordStop)
	}
	return nil
}

// Recording tells the room whether it records. Error says why a recording
// stopped on its own (its size limit, a full disk), for the hosts to see.
type Recording struct {
	Type      string `json:"type"`
	Active    bool   `json:"active"`
	ID        string `json:"id,omitempty"`
	StartedAt string `json:"startedAt,omitempty"`
	Error     string `json:"error,omitempty"`
}

// RecordingInfo is one recording as GET /api/rooms/:id/recordings lists it.
type RecordingInfo struct {
	ID        string          `json:"id"`
	State     string          `json:"state"` // recording, done, interrupted
	StartedAt string          `json:"startedAt"`
	StoppedAt string          `json:"stoppedAt,omitempty"`
	Error     string          `json:"error,omitempty"`
	Files     []RecordingFile `json:"files"`
}

// RecordingFile is one file of a recording: one publisher's source.
type RecordingFile struct {
	Name          string `json:"name"`
	URL           string `json:"url"`
	Source        string `json:"source"`
	ParticipantID string `json:"participantId"`
	Participant   string `json:"participant"`
	Codec         string `json:"codec"`
	StartOffsetMs int64  `json:"startOffsetMs"`
	DurationMs    int64  `json:"durationMs"`
	Bytes         int64  `json:"bytes"`
}
