// Package protocol defines the wire protocol: every message that travels
// on a participant's WebSocket, every error code and every close code. It
// is a leaf that imports nothing of the project, shared by app, mesh, sfu,
// chat and the load tool; frontend/js/protocol.js mirrors it and
// docs/PROTOCOL.md documents it (protocol_sync_test.go keeps the three in
// step).
package protocol

// Message types. Client-to-server and server-to-client types share one
// namespace; the comment says who sends each.
const (
	// Server → client.
	TypeWelcome            = "welcome"             // first message after the socket opens
	TypeParticipantJoined  = "participant-joined"  // someone else joined
	TypeParticipantsJoined = "participants-joined" // several joined at once (a burst of joins in an SFU room)
	TypeParticipantLeft    = "participant-left"    // someone left or dropped
	TypeParticipantUpdated = "participant-updated" // name or role changed
	TypeRoomEnded          = "room-ended"          // the owner ended the room; the socket closes next
	TypeError              = "error"               // a request failed; the connection stays up

	// Both ways.
	TypeSignal = "signal" // WebRTC offer, answer or ICE candidate, relayed peer to peer
	TypeMedia  = "media"  // a track was published, paused, resumed or unpublished

	// Client → server.
	TypeRename = "rename" // change my display name
	TypeLeave  = "leave"  // I am leaving; the server closes the socket
	// The first frame on a socket to a room with a passcode: a query
	// parameter of /ws would be written to the logs of every proxy on the
	// way, a frame is not.
	TypePasscode = "passcode"
)

// Visibility of a room: a public room is listed for everyone; an unlisted
// one only for its owner and those who have joined it, and is reached by
// its link.
const (
	VisibilityPublic   = "public"
	VisibilityUnlisted = "unlisted"
)

// Roles of a participant in a room. The owner and moderators are the
// room's hosts (access.go); a presenter may step on the stage by itself,
// even in a classroom; a spectator only receives.
const (
	RoleOwner       = "owner"
	RoleModerator   = "moderator"
	RolePresenter   = "presenter"
	RoleParticipant = "participant"
	RoleSpectator   = "spectator"
)

// Modes of a room's media topology.
const (
	ModeMesh = "mesh"
	ModeSFU  = "sfu"
)

// Media sources a participant can publish.
const (
	SourceCamera     = "camera"
	SourceMicrophone = "microphone"
	SourceScreen     = "screen"
)

// Media actions, in the words users of such systems expect.
const (
	ActionPublished   = "published"
	ActionPaused      = "paused"
	ActionResumed     = "resumed"
	ActionUnpublished = "unpublished"
)

// Track states kept per source in Participant.Media. A source missing from
// the map is not published.
const (
	TrackLive   = "live"
	TrackPaused = "paused"
)

// Signal kinds.
const (
	KindOffer     = "offer"
	KindAnswer    = "answer"
	KindCandidate = "candidate"
)

// Envelope is decoded first to learn a message's type.
type Envelope struct {
	Type string `json:"type"`
}

// Participant describes one connected participant: one browser tab.
type Participant struct {
	ID     string `json:"id"`     // per connection; two tabs of one person differ
	UserID string `json:"userId"` // the identity behind it; ownership follows this
	Name   string `json:"name"`
	Role   string `json:"role"`
	// Media maps a source (camera, microphone, screen) to "live" or "paused".
	Media map[string]string `json:"media"`
	// Streams maps a source to the id of the MediaStream (SDP msid) that
	// carries it, so receivers can tell a screen from a camera.
	Streams map[string]string `json:"streams,omitempty"`
	// Connection is "reconnecting" while the participant's socket is down
	// and it may resume (resume.go); absent while connected.
	Connection string `json:"connection,omitempty"`
}

// Owner is a room's owner as shown in the room list.
type Owner struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Room is the public view of a room, as the REST API and welcome carry it.
type Room struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Owner     Owner  `json:"owner"`
	Online    int    `json:"online"`
	Mode      string `json:"mode"`
	CreatedAt string `json:"createdAt"`
	EndedAt   string `json:"endedAt,omitempty"`
	// Classroom: only stage members publish; everyone else receives.
	Classroom bool `json:"classroom"`
	// AllowStage: participants other than the owner may step on the stage
	// themselves.
	AllowStage bool `json:"allowStage"`
	// Lobby: joiners wait in the lobby until the owner admits them.
	Lobby bool `json:"lobby"`
	// Locked: nobody new may join; those in the room may still resume.
	Locked bool `json:"locked"`
	// HostStart: joiners wait, told not_started, until a host is in the
	// room.
	HostStart bool `json:"hostStart"`
	// PublicStage: the room's stage may be watched without a token over
	// WHEP.
	PublicStage bool `json:"publicStage"`
	// Stage lists the identities on the stage, in order.
	Stage []StageMember `json:"stage"`
	// Visibility is public or unlisted.
	Visibility string `json:"visibility"`
	// HasPasscode: joining takes the room's passcode (its owner's excepted).
	// The passcode itself is never sent, only its bcrypt hash is stored.
	HasPasscode bool `json:"hasPasscode"`
	// Recording: the room is being recorded now (issue 17); a joiner is
	// told before entering.
	Recording bool `json:"recording"`
	// Yours is set only in GET /api/rooms: the caller owns the room or has
	// joined it.
	Yours bool `json:"yours,omitempty"`
	// Node is the node hosting the room, set only in GET /api/rooms and
	// GET /api/rooms/:id, and only while the room is placed on a live
	// node (issue 18).
	Node *RoomNode `json:"node,omitempty"`
}

// RoomNode names the node that hosts a live room.
type RoomNode struct {
	ID string `json:"id"`
	// URL is the address browsers reach the node at (-public-url); empty:
	// the same origin as the page.
	URL string `json:"url"`
}

// ICEServer is one entry of RTCConfiguration.iceServers.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Welcome is the first message a participant receives.
type Welcome struct {
	Type         string        `json:"type"`
	Self         Participant   `json:"self"`
	Room         Room          `json:"room"`
	Participants []Participant `json:"participants"` // the others, in join order
	Mode         string        `json:"mode"`
	Epoch        uint64        `json:"epoch"`
	ICEServers   []ICEServer   `json:"iceServers"`
	// Hands is the queue of raised hands, in order (the stage itself is
	// in Room.Stage).
	Hands []Hand `json:"hands"`
}

// ParticipantJoined announces a new participant to the others.
type ParticipantJoined struct {
	Type        string      `json:"type"`
	Participant Participant `json:"participant"`
}

// ParticipantsJoined announces, in one message, the participants who
// joined an SFU room within a short window of each other, as a class does
// when a lesson starts: one participant-joined per joiner to each of N
// participants is N² messages. It is sent to everyone in the room, so it
// may name the receiver itself and participants its welcome already
// listed; a receiver skips those.
type ParticipantsJoined struct {
	Type         string        `json:"type"`
	Participants []Participant `json:"participants"`
}

// ParticipantLeft announces that a participant is gone.
type ParticipantLeft struct {
	Type   string `json:"type"`
	ID     string `json:"id"`
	Reason string `json:"reason"` // "left", "disconnected", "removed", "ended"
}

// ParticipantUpdated carries a participant's new name or role.
type ParticipantUpdated struct {
	Type        string      `json:"type"`
	Participant Participant `json:"participant"`
}

// RoomEnded tells everyone that the room is over.
type RoomEnded struct {
	Type string `json:"type"`
	Room Room   `json:"room"`
}

// Error answers a request that failed. Ref echoes the type of the message
// that caused it.
type Error struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Ref     string `json:"ref,omitempty"`
}

// Candidate mirrors RTCIceCandidateInit.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Signal carries one piece of WebRTC negotiation between two participants.
// From is set by the server; whatever a client puts there is overwritten.
type Signal struct {
	Type      string     `json:"type"`
	From      string     `json:"from,omitempty"`
	To        string     `json:"to"`
	Kind      string     `json:"kind"`                // offer, answer or candidate
	SDP       string     `json:"sdp,omitempty"`       // with offer and answer
	Candidate *Candidate `json:"candidate,omitempty"` // with candidate; null means end of candidates
	Epoch     uint64     `json:"epoch,omitempty"`
}

// Media announces a change to one of a participant's tracks. From is set by
// the server.
type Media struct {
	Type   string `json:"type"`
	From   string `json:"from,omitempty"`
	Source string `json:"source"`
	Action string `json:"action"`
	// StreamID is the MediaStream id that carries the source's track; sent
	// with "published".
	StreamID string `json:"streamId,omitempty"`
}

// Rename asks to change the sender's display name.
type Rename struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// Passcode carries a room's passcode on a new socket, before the welcome.
type Passcode struct {
	Type     string `json:"type"`
	Passcode string `json:"passcode"`
}

// Leave asks the server to end the sender's participation.
type Leave struct {
	Type string `json:"type"`
}
