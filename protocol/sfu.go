package protocol

// Message types of the SFU and of the mode switch.
const (
	// Both ways: negotiation of one of the participant's two
	// PeerConnections with the server's SFU.
	TypeSFU = "sfu"
	// Client → server: I no longer need my SFU connections (the room went
	// back to mesh and mesh media flows).
	TypeSFUClose = "sfu-close"
	// Server → client: the room's topology changed.
	TypeMode = "mode"
	// Server → client: the server's side of my SFU connections is gone
	// (the node that served my media left); drop them and ask for fresh
	// ones with sfu-close.
	TypeSFURestart = "sfu-restart"
)

// The two PeerConnections a participant has with the SFU. Publish carries
// the participant's own tracks up and is offered by the client; subscribe
// carries everyone else's tracks down and is offered by the server. Each
// side offers on only one of them, so their negotiations never collide.
const (
	PCPublish   = "publish"
	PCSubscribe = "subscribe"
)

// SFU is one step of negotiation between a participant and the SFU.
type SFU struct {
	Type      string     `json:"type"`
	PC        string     `json:"pc"`                  // publish or subscribe
	Kind      string     `json:"kind"`                // offer, answer or candidate
	SDP       string     `json:"sdp,omitempty"`       // with offer and answer
	Candidate *Candidate `json:"candidate,omitempty"` // with candidate; null ends candidates
	// Tracks maps a transceiver mid to what it carries. On a publish offer
	// the client names the source of each of its mids ("camera",
	// "microphone", "screen"). On a subscribe offer the server names the
	// publisher and source of each mid, as "participantId|source".
	Tracks map[string]string `json:"tracks,omitempty"`
	Epoch  uint64            `json:"epoch,omitempty"`
}

// SFUClose asks the server to drop the sender's SFU connections. Epoch is
// the mesh epoch in which the client closed them: a close that crossed a
// newer switch to the SFU is stale, since that switch replaced them.
type SFUClose struct {
	Type  string `json:"type"`
	Epoch uint64 `json:"epoch,omitempty"`
}

// Mode announces the room's media topology. Epoch increases with every
// change; a client ignores a mode whose epoch is not newer than the last.
type Mode struct {
	Type  string `json:"type"`
	Mode  string `json:"mode"`
	Epoch uint64 `json:"epoch"`
}

// SFURestart tells a client that the server's side of its SFU connections
// is gone, in the room's current epoch: the client closes its own and
// sends sfu-close with that epoch, which gets it fresh ones.
type SFURestart struct {
	Type  string `json:"type"`
	Epoch uint64 `json:"epoch"`
}
