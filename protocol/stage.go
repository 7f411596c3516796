package protocol

// Messages of the stage, the raised hands, the owner's controls and the
// room's settings. The server checks every permission: a request the
// sender may not make is answered with an error (code "forbidden") and
// changes nothing.
const (
	// Server → client.
	TypeStage       = "stage"        // the stage or the queue of raised hands changed
	TypeRoomUpdated = "room-updated" // the room's settings or owner changed

	// Client → server.
	TypeStageSet     = "stage-set"     // put a participant (or myself) on or off the stage
	TypeHand         = "hand"          // raise or lower my hand
	TypeHandAnswer   = "hand-answer"   // owner: accept (onto the stage) or decline a raised hand
	TypeRoomSettings = "room-settings" // owner: change classroom / allowStage / lobby / locked
	TypeRemove       = "remove"        // owner: remove a participant from the room
	TypeOwnerSet     = "owner-set"     // owner: hand the room to another participant's identity
	TypeEndRoom      = "end-room"      // owner: end the room for everyone
	TypeMuteAll      = "mute-all"      // owner: ask everyone else to mute (a mute-request to each)
	TypeLowerHands   = "lower-hands"   // owner: lower every raised hand at once

	// Both ways: the owner asks a participant to mute (client → server
	// with id); the participant is told (server → client with from) and
	// mutes itself, announcing it with a media message.
	TypeMuteRequest = "mute-request"
)

// StageMember is one identity on the stage. Membership follows the
// identity: every tab of that identity is on the stage.
type StageMember struct {
	UserID string `json:"userId"`
	// Name is the display name it had when it stepped on, for members
	// who are not connected now.
	Name string `json:"name"`
}

// Hand is one raised hand, per participant (connection).
type Hand struct {
	ID     string `json:"id"` // participant id
	UserID string `json:"userId"`
	Name   string `json:"name"`
}

// Stage carries the whole stage and hand queue after any change, so a
// client never has to merge deltas. Both lists are in order: the stage in
// the order its members stepped on, the hands in the order they went up.
type Stage struct {
	Type    string        `json:"type"`
	Members []StageMember `json:"members"`
	Hands   []Hand        `json:"hands"`
}

// RoomUpdated carries the room's view after a change of its settings or
// of its owner.
type RoomUpdated struct {
	Type string `json:"type"`
	Room Room   `json:"room"`
}

// StageSet puts a participant on or off the stage. Without id and userId
// it is about the sender ("go on stage", "step down"). UserID names an
// identity that may not be connected now, to take it off the stage.
type StageSet struct {
	Type   string `json:"type"`
	ID     string `json:"id,omitempty"`
	UserID string `json:"userId,omitempty"`
	On     bool   `json:"on"`
}

// RaiseHand raises or lowers the sender's hand.
type RaiseHand struct {
	Type   string `json:"type"`
	Raised bool   `json:"raised"`
}

// HandAnswer answers a raised hand: accept puts the participant's identity
// on the stage; either way the hand goes down.
type HandAnswer struct {
	Type   string `json:"type"`
	ID     string `json:"id"`
	Accept bool   `json:"accept"`
}

// RoomSettings changes the room's settings; a missing field stays as it is.
type RoomSettings struct {
	Type       string `json:"type"`
	Classroom  *bool  `json:"classroom,omitempty"`
	AllowStage *bool  `json:"allowStage,omitempty"`
	Lobby      *bool  `json:"lobby,omitempty"`
	Locked     *bool  `json:"locked,omitempty"`
	HostStart  *bool  `json:"hostStart,omitempty"`
	// PublicStage: the stage may be watched without a token over WHEP.
	PublicStage *bool `json:"publicStage,omitempty"`
}

// Remove removes a participant (one connection) from the room; with Ban,
// its identity may not come back until a host lifts the ban.
type Remove struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Ban  bool   `json:"ban,omitempty"`
}

// MuteRequest asks a participant to mute a source (microphone when
// empty). ID names the target on the way in; From names the owner's
// participant on the way out.
type MuteRequest struct {
	Type   string `json:"type"`
	ID     string `json:"id,omitempty"`
	From   string `json:"from,omitempty"`
	Source string `json:"source,omitempty"`
}

// MuteAll asks everyone but the owner's own tabs to mute a source
// (microphone when empty): each participant whose source is live gets a
// MuteRequest from the owner, as if asked one by one.
type MuteAll struct {
	Type   string `json:"type"`
	Source string `json:"source,omitempty"`
}

// LowerHands lowers every raised hand; the queue empties.
type LowerHands struct {
	Type string `json:"type"`
}

// OwnerSet hands the room to the identity of participant ID.
type OwnerSet struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// EndRoom ends the room, as POST /api/rooms/:id/end does.
type EndRoom struct {
	Type string `json:"type"`
}

func (m *StageSet) validate() error {
	if m.ID != "" && m.UserID != "" {
		return invalid(`stage-set names a participant "id" or a "userId", not both.`)
	}
	if len(m.ID) > MaxIDBytes || len(m.UserID) > MaxIDBytes {
		return invalid("stage-set: the id is longer than %d bytes.", MaxIDBytes)
	}
	if m.UserID != "" && m.On {
		return invalid(`stage-set with "userId" can only take someone off the stage; to put a participant on it, name its "id".`)
	}
	return nil
}

func (m *RaiseHand) validate() error { return nil }

func (m *HandAnswer) validate() error { return needID(m.ID, TypeHandAnswer) }

func (m *RoomSettings) validate() error {
	if m.Classroom == nil && m.AllowStage == nil && m.Lobby == nil && m.Locked == nil && m.HostStart == nil && m.PublicStage == nil {
		return invalid(`room-settings changes nothing: send "classroom", "allowStage", "lobby", "locked", "hostStart" and/or "publicStage".`)
	}
	return nil
}

func (m *Remove) validate() error { return needID(m.ID, TypeRemove) }

func (m *OwnerSet) validate() error { return needID(m.ID, TypeOwnerSet) }

func (m *EndRoom) validate() error { return nil }

func (m *MuteRequest) validate() error {
	if err := needID(m.ID, TypeMuteRequest); err != nil {
		return err
	}
	return checkMuteSource(m.Source, TypeMuteRequest)
}

func (m *MuteAll) validate() error { return checkMuteSource(m.Source, TypeMuteAll) }

func (m *LowerHands) validate() error { return nil }

// checkMuteSource checks the source a mute asks for: the microphone (the
// default, when empty) or the camera.
func checkMuteSource(source, typ string) error {
	switch source {
	case "", SourceMicrophone, SourceCamera:
		return nil
	}
	return invalid("%s: source must be microphone or camera, not %q.", typ, truncate(source, 40))
}

// needID checks the participant id that a message of type typ targets.
func needID(id, typ string) error {
	if id == "" {
		return invalid(`%s needs the participant "id" it is about.`, typ)
	}
	if len(id) > MaxIDBytes {
		return invalid("%s: the id is longer than %d bytes.", typ, MaxIDBytes)
	}
	return nil
}
