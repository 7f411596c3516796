package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on what a client may send. The socket's read limit (MaxFrameBytes)
// bounds everything; the finer limits give clear errors for each field.
const (
	MaxFrameBytes     = 64 << 10 // an SDP with many codecs and candidates fits easily
	MaxSDPBytes       = 60 << 10
	MaxCandidateBytes = 1024
	MaxIDBytes        = 64
)

// DecodeError says why a client message was refused. Code is a protocol
// error code, Message is for people.
type DecodeError struct {
	Code    string
	Message string
	// Ref is the type of the refused message when it was known, so the
	// client can tell which of its requests failed.
	Ref string
}

func (e *DecodeError) Error() string { return e.Code + ": " + e.Message }

// Protocol error codes used by the decoder.
const (
	CodeInvalidJSON    = "invalid_json"
	CodeUnknownType    = "unknown_type"
	CodeInvalidMessage = "invalid_message"
)

func invalid(format string, args ...any) error {
	return &DecodeError{Code: CodeInvalidMessage, Message: fmt.Sprintf(format, args...)}
}

// Decode parses one client frame into a typed, validated message: *Signal,
// *Media, *Rename, *Leave, *Passcode, *SFU, *SFUClose, *ChatSend, *ChatSync, or one
// of the stage and owner messages (*StageSet, *RaiseHand, *HandAnswer,
// *RoomSettings, *Remove, *MuteRequest, *MuteAll, *LowerHands, *OwnerSet,
// *EndRoom), a lobby message (*LobbyAdmit, *LobbyDeny, *LobbyAdmitAll), a host's
// *RoleSet or *Unban, a *Record, a *View, an *AudioLevel, or a *Reaction.
// Anything else is a *DecodeError; decoding never
// panics, whatever the input.
func Decode(data []byte) (any, error) {
	if len(data) > MaxFrameBytes {
		err := &DecodeError{Code: CodeInvalidMessage, Message: fmt.Sprintf("Message is %d bytes; the limit is %d.", len(data), MaxFrameBytes)}
		// The socket reads at most a few times the limit, so this parse is
		// bounded; it tells the client which of its requests failed (a
		// chat-send waiting for its echo, say).
		var env Envelope
		if json.Unmarshal(data, &env) == nil && printableID(env.Type) {
			err.Ref = env.Type
		}
		return nil, err
	}
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, jsonError(err)
	}
	if env.Type == "" {
		return nil, &DecodeError{Code: CodeInvalidMessage, Message: `Message has no "type".`}
	}
	msg := newMessage(env.Type)
	if msg == nil {
		return nil, &DecodeError{Code: CodeUnknownType, Message: fmt.Sprintf("Unknown message type %q.", truncate(env.Type, 40))}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(msg)
	if err != nil {
		err = jsonError(err)
	} else {
		err = msg.validate()
	}
	if err != nil {
		var de *DecodeError
		if errors.As(err, &de) {
			de.Ref = env.Type
		}
		return nil, err
	}
	return msg, nil
}

// message is a client message the decoder fills, then validates.
type message interface{ validate() error }

// newMessage returns an empty client message of type typ, nil for a type
// the server does not know.
func newMessage(typ string) message {
	switch typ {
	case TypeSignal:
		return &Signal{}
	case TypeMedia:
		return &Media{}
	case TypeRename:
		return &Rename{}
	case TypeLeave:
		return &Leave{}
	case TypePasscode:
		return &Passcode{}
	case TypeSFU:
		return &SFU{}
	case TypeSFUClose:
		return &SFUClose{}
	case TypeChatSend:
		return &ChatSend{}
	case TypeChatSync:
		return &ChatSync{}
	case TypeStageSet:
		return &StageSet{}
	case TypeHand:
		return &RaiseHand{}
	case TypeHandAnswer:
		return &HandAnswer{}
	case TypeRoomSettings:
		return &RoomSettings{}
	case TypeRemove:
		return &Remove{}
	case TypeMuteRequest:
		return &MuteRequest{}
	case TypeOwnerSet:
		return &OwnerSet{}
	case TypeEndRoom:
		return &EndRoom{}
	case TypeMuteAll:
		return &MuteAll{}
	case TypeLowerHands:
		return &LowerHands{}
	case TypeReaction:
		return &Reaction{}
	case TypeLobbyAdmit:
		return &LobbyAdmit{}
	case TypeLobbyDeny:
		return &LobbyDeny{}
	case TypeLobbyAdmitAll:
		return &LobbyAdmitAll{}
	case TypeRoleSet:
		return &RoleSet{}
	case TypeUnban:
		return &Unban{}
	case TypeView:
		return &View{}
	case TypeRecord:
		return &Record{}
	case TypeAudioLevel:
		return &AudioLevel{}
	}
	return nil
}

// printableID reports a short printable-ASCII string, fit to be echoed.
func printableID(s string) bool {
	if s == "" || len(s) > MaxIDBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return &DecodeError{Code: CodeInvalidJSON, Message: fmt.Sprintf("Field %q has the wrong type: got %s, want %s.", typeErr.Field, typeErr.Value, typeErr.Type)}
	}
	return &DecodeError{Code: CodeInvalidJSON, Message: "Message is not valid JSON."}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary so the error message stays valid UTF-8.
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func (m *Signal) validate() error {
	if m.To == "" {
		return invalid(`Signal needs a "to" participant id.`)
	}
	if len(m.To) > MaxIDBytes {
		return invalid(`Signal "to" is not a participant id.`)
	}
	switch m.Kind {
	case KindOffer, KindAnswer:
		if m.SDP == "" {
			return invalid("A %s needs an \"sdp\".", m.Kind)
		}
		if len(m.SDP) > MaxSDPBytes {
			return invalid("SDP is %d bytes; the limit is %d.", len(m.SDP), MaxSDPBytes)
		}
		if err := checkSDPStart(m.SDP); err != nil {
			return err
		}
		if m.Candidate != nil {
			return invalid("A %s carries no candidate.", m.Kind)
		}
	case KindCandidate:
		if m.SDP != "" {
			return invalid("A candidate carries no sdp.")
		}
		// A null candidate is legal: it is the end-of-candidates marker.
		if m.Candidate != nil && len(m.Candidate.Candidate) > MaxCandidateBytes {
			return invalid("Candidate is %d bytes; the limit is %d.", len(m.Candidate.Candidate), MaxCandidateBytes)
		}
	case "":
		return invalid(`Signal needs a "kind": offer, answer or candidate.`)
	default:
		return invalid("Unknown signal kind %q: want offer, answer or candidate.", truncate(m.Kind, 40))
	}
	return nil
}

// checkSDPStart refuses what cannot be a session description: every SDP
// begins with its version line, "v=0" (RFC 8866). The server reads no
// further into a mesh peer's SDP: its meaning is for the other browser.
func checkSDPStart(sdp string) error {
	if !strings.HasPrefix(sdp, "v=0") {
		return invalid("This is not an SDP: a session description starts with \"v=0\".")
	}
	return nil
}

func (m *Media) validate() error {
	switch m.Source {
	case SourceCamera, SourceMicrophone, SourceScreen:
	default:
		return invalid("Unknown media source %q: want camera, microphone or screen.", truncate(m.Source, 40))
	}
	switch m.Action {
	case ActionPublished, ActionPaused, ActionResumed, ActionUnpublished:
	default:
		return invalid("Unknown media action %q: want published, paused, resumed or unpublished.", truncate(m.Action, 40))
	}
	if len(m.StreamID) > MaxIDBytes {
		return invalid("streamId is longer than %d bytes.", MaxIDBytes)
	}
	for i := 0; i < len(m.StreamID); i++ {
		if c := m.StreamID[i]; c < 0x21 || c > 0x7e {
			return invalid("streamId must be printable ASCII without spaces.")
		}
	}
	return nil
}

// Rename's name is checked by app, which owns the naming rules.
func (m *Rename) validate() error { return nil }

func (m *Leave) validate() error { return nil }

// MaxPasscodeBytes bounds a passcode: bcrypt reads no more than 72 bytes.
const MaxPasscodeBytes = 64

func (m *Passcode) validate() error {
	if len(m.Passcode) > MaxPasscodeBytes {
		return invalid("A passcode has at most %d bytes.", MaxPasscodeBytes)
	}
	return nil
}

func (m *SFUClose) validate() error { return nil }

// maxTracks bounds a publish offer's track map: a camera, a microphone and
// a screen, with room for renegotiation leftovers.
const maxTracks = 16

func (m *SFU) validate() error {
	switch m.PC {
	case PCPublish, PCSubscribe:
	default:
		return invalid(`SFU message needs "pc": publish or subscribe.`)
	}
	switch m.Kind {
	case KindOffer, KindAnswer:
		// The client offers only on its publish connection and answers
		// only on its subscribe connection.
		if (m.Kind == KindOffer) != (m.PC == PCPublish) {
			return invalid("A client sends offers on publish and answers on subscribe, not a %s on %s.", m.Kind, m.PC)
		}
		if m.SDP == "" {
			return invalid("A %s needs an \"sdp\".", m.Kind)
		}
		if len(m.SDP) > MaxSDPBytes {
			return invalid("SDP is %d bytes; the limit is %d.", len(m.SDP), MaxSDPBytes)
		}
		if err := checkSDPStart(m.SDP); err != nil {
			return err
		}
	case KindCandidate:
		if m.Candidate != nil && len(m.Candidate.Candidate) > MaxCandidateBytes {
			return invalid("Candidate is %d bytes; the limit is %d.", len(m.Candidate.Candidate), MaxCandidateBytes)
		}
	default:
		return invalid("Unknown SFU kind %q: want offer, answer or candidate.", truncate(m.Kind, 40))
	}
	if len(m.Tracks) > maxTracks {
		return invalid("Too many tracks: %d (at most %d).", len(m.Tracks), maxTracks)
	}
	for mid, source := range m.Tracks {
		if len(mid) > MaxIDBytes {
			return invalid("Track mid is too long.")
		}
		switch source {
		case SourceCamera, SourceMicrophone, SourceScreen:
		default:
			return invalid("Unknown track source %q for mid %q.", truncate(source, 40), truncate(mid, 20))
		}
	}
	return nil
}
