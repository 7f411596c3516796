package protocol

// TypeResumed is the server's first message on a socket that resumed a
// participant's stream (?resume=<id>&seen=<count>): what follows is every
// message the client had not received, in order, then the live stream.
const TypeResumed = "resumed"

// ConnectionReconnecting is Participant.Connection while the participant's
// socket is down and it may come back.
const ConnectionReconnecting = "reconnecting"

// Resumed confirms a resume. It is not counted in the stream: the client's
// count goes on from the seen it sent.
type Resumed struct {
	Type  string      `json:"type"`
	Self  Participant `json:"self"`
	Mode  string      `json:"mode"`
	Epoch uint64      `json:"epoch"`
}
