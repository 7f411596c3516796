package protocol

// Error codes of the REST API's error envelope and of the WebSocket `error`
// message. Clients switch on them; frontend/js/protocol.js mirrors them as
// ErrorCode and docs/PROTOCOL.md explains each. The decoder's own codes
// (invalid_json, unknown_type, invalid_message) are in decode.go and the
// chat's in chat.go.
const (
	CodeBadRequest           = "bad_request"
	CodeInvalidName          = "invalid_name"
	CodeNotFound             = "not_found"
	CodeForbidden            = "forbidden"
	CodeTooLarge             = "too_large"
	CodeRoomEnded            = "room_ended"
	CodeMethod               = "method_not_allowed"
	CodeUnauthorized         = "unauthorized"
	CodeUnknownPeer          = "unknown_peer"
	CodeInternal             = "internal"
	CodeRestarting           = "server_restarting"
	CodeRateLimited          = "rate_limited"
	CodeNotSFU               = "not_sfu"
	CodeRoomFull             = "room_full"
	CodeServerFull           = "server_full"
	CodeBadOrigin            = "bad_origin"
	CodeUnsupportedMediaType = "unsupported_media_type"
	// A room with a passcode refuses a join (or a read of its chat and
	// participants) without one, and a wrong one; neither is said of a room
	// without a passcode, nor to its owner.
	CodePasscodeRequired = "passcode_required"
	CodeBadPasscode      = "bad_passcode"
	// The lobby (lobby.go): a joiner of a room with a lobby waits, told
	// in_lobby, until the owner admits it, or refuses it with denied. A
	// locked room refuses every new join with room_locked.
	CodeInLobby    = "in_lobby"
	CodeDenied     = "denied"
	CodeRoomLocked = "room_locked"
	// A banned identity is refused every join of the room (access.go).
	CodeBanned = "banned"
	// An invite link or join token past its expiry, or a revoked invite.
	CodeInviteExpired = "invite_expired"
	// A room with the host-start setting keeps joiners waiting, told
	// not_started, until a host (its owner or a moderator) is in it.
	CodeNotStarted = "not_started"
)

// WebSocket close codes the server uses: the private range 4000-4999 for
// the app's own reasons, and the standard ones it means. The page decides
// from the code whether to reconnect (frontend/js/protocol.js CloseCode,
// docs/PROTOCOL.md).
const (
	CloseLeft        = 4000 // the client sent leave
	CloseRemoved     = 4003 // the owner removed the participant
	CloseRoomGone    = 4004 // join refused: unknown room, bad name, ...
	CloseTooSlow     = 4008 // the client's send queue overflowed
	CloseReplaced    = 4009 // the participant resumed on a newer socket
	CloseRoomEnded   = 4010 // the room ended
	CloseRoomFull    = 4011 // join refused: the room has -max-participants
	CloseServerFull  = 4013 // join refused: the server has -max-rooms live rooms
	CloseRateLimited = 4029 // join refused: too many joins from the address
	CloseTooBig      = 1009 // a frame over the read limit (RFC 6455 "message too big")
	CloseInternal    = 1011 // a fault of the server's (RFC 6455 "internal error")
	CloseRestarting  = 1012 // the server is restarting (RFC 6455 "service restart")
)
