package room

import "errors"

// Refusal is a request the room turned down: what the participant did not
// have the right to do, or asked of someone not there. The room changes
// nothing when it refuses; the caller words the refusal to the participant
// as an error message, and the connection stays.
type Refusal struct {
	Code    string // a protocol.Code* value
	Message string // for the person, in plain words
	Ref     string // the type of the message refused
}

func (e *Refusal) Error() string { return e.Ref + " refused: " + e.Code + ": " + e.Message }

// refuse returns a refusal as an error, so that no nil *Refusal ever ends
// up in a non-nil error.
func refuse(code, message, ref string) error {
	return &Refusal{Code: code, Message: message, Ref: ref}
}

// Reasons a join is turned away; the caller tells the joiner.
var (
	// ErrRoomFull: the room has as many participants as it may.
	ErrRoomFull = errors.New("room: the room is full")
	// ErrRoomEnded: the room ended while the join was on its way.
	ErrRoomEnded = errors.New("room: the room has ended")
	// ErrRoomLocked: the owner locked the room to newcomers.
	ErrRoomLocked = errors.New("room: the room is locked")
	// ErrBanned: a host banned the joiner's identity from the room.
	ErrBanned = errors.New("room: the identity is banned from the room")
	// ErrServerFull: a new live room would pass the hub's cap.
	ErrServerFull = errors.New("room: the hub has as many live rooms as it may")
)

// errRetired refuses a join into a room that emptied and that the hub
// forgot after the joiner found it; Hub.Enter retries in its successor.
var errRetired = errors.New("room: the live room retired")
