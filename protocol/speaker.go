package protocol

// TypeActiveSpeaker is sent by the server to everyone in an SFU room when
// its dominant speaker changes (issue 16): the loudest microphone over the
// last moments, with hysteresis, as the SFU reads the audio level each
// packet carries.
const TypeActiveSpeaker = "active-speaker"

// ActiveSpeaker names the room's dominant speaker, by participant id.
type ActiveSpeaker struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}
