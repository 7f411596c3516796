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

// TypeLastN is sent by the server to a participant of an SFU room whose
// last-N limit holds back some videos from it (issue 16): the room has
// more video publishers than -last-n, and only the most recent speakers'
// videos are forwarded to each participant.
const TypeLastN = "last-n"

// LastN lists the participants whose video the SFU does not forward to
// this participant now; empty when it gets every video. The page shows
// their avatars until they speak.
type LastN struct {
	Type string   `json:"type"`
	Off  []string `json:"off"`
}
