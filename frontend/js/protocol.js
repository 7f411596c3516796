// @ts-check
// The wire protocol of the room WebSocket, mirrored once from the Go
// definitions in protocol/ and documented in docs/PROTOCOL.md. Every other
// module imports its constants from here.

/** Message types. Client-to-server and server-to-client share one namespace. */
export const MessageType = Object.freeze({
  // Server -> client.
  WELCOME: 'welcome', // first message after the socket opens
  PARTICIPANT_JOINED: 'participant-joined', // someone else joined
  PARTICIPANTS_JOINED: 'participants-joined', // several joined at once (a burst of joins in an SFU room)
  PARTICIPANT_LEFT: 'participant-left', // someone left or dropped
  PARTICIPANT_UPDATED: 'participant-updated', // name or role changed
  ROOM_ENDED: 'room-ended', // the owner ended the room; the socket closes next
  ERROR: 'error', // a request failed; the connection stays up

  // Both ways.
  SIGNAL: 'signal', // WebRTC offer, answer or ICE candidate, relayed peer to peer
  MEDIA: 'media', // a track was published, paused, resumed or unpublished

  // Client -> server.
  RENAME: 'rename', // change my display name
  LEAVE: 'leave', // I am leaving; the server closes the socket
  PASSCODE: 'passcode', // the room's passcode, the first frame on a new socket

  // Mode switch and SFU (protocol/sfu.go).
  MODE: 'mode', // server -> client: the room's topology changed
  SFU: 'sfu', // both ways: negotiation of one of my two PeerConnections with the SFU
  SFU_CLOSE: 'sfu-close', // client -> server: I no longer need my SFU connections
  SFU_RESTART: 'sfu-restart', // server -> client: the server's side of my SFU connections is gone; start them afresh
  VIEW: 'view', // client -> server: the sizes I show SFU video tracks at (protocol/view.go)
  ACTIVE_SPEAKER: 'active-speaker', // server -> client: the SFU room's dominant speaker changed (protocol/speaker.go)
  LAST_N: 'last-n', // server -> client: the videos the SFU holds back from me (-last-n)
  RECORD: 'record', // client -> server, host: start or stop the room's recording (protocol/recording.go)
  RECORDING: 'recording', // server -> client: the room records now, or stopped (and why, when on its own)
  AUDIO_LEVEL: 'audio-level', // both ways, mesh mode only: my microphone's level; relayed to the others with id (protocol/level.go)

  // Chat (protocol/chat.go).
  CHAT_SEND: 'chat-send', // client -> server: post a message to my room
  CHAT_SYNC: 'chat-sync', // client -> server: send me the messages after a seq
  CHAT_MESSAGE: 'chat-message', // server -> client: one new message (my own copy is the ack)
  CHAT_HISTORY: 'chat-history', // server -> client: a page of stored messages

  // Stage, raised hands and owner controls (protocol/stage.go).
  STAGE: 'stage', // server -> client: the stage or the queue of raised hands changed
  ROOM_UPDATED: 'room-updated', // server -> client: the room's settings or owner changed
  STAGE_SET: 'stage-set', // client -> server: put a participant (or myself) on or off the stage
  HAND: 'hand', // client -> server: raise or lower my hand
  HAND_ANSWER: 'hand-answer', // client -> server, owner: accept or decline a raised hand
  ROOM_SETTINGS: 'room-settings', // client -> server, host: change classroom / allowStage / lobby / locked / hostStart / publicStage
  REMOVE: 'remove', // client -> server, owner: remove a participant
  OWNER_SET: 'owner-set', // client -> server, owner: hand the room to another participant
  END_ROOM: 'end-room', // client -> server, owner: end the room
  MUTE_REQUEST: 'mute-request', // both ways: the owner asks a participant to mute
  MUTE_ALL: 'mute-all', // client -> server, owner: ask everyone else to mute (a mute-request each)
  LOWER_HANDS: 'lower-hands', // client -> server, owner: lower every raised hand

  // The lobby (protocol/lobby.go).
  LOBBY: 'lobby', // server -> owner: the whole queue of waiters, in arrival order
  LOBBY_WAIT: 'lobby-wait', // server -> client: I wait in the lobby (code in_lobby) or for a host (not_started)
  LOBBY_ADMIT: 'lobby-admit', // client -> server, owner: let one waiter in
  LOBBY_DENY: 'lobby-deny', // client -> server, owner: refuse one waiter
  LOBBY_ADMIT_ALL: 'lobby-admit-all', // client -> server, owner: let every waiter in

  // Co-hosts and bans (protocol/access.go).
  ROLE_SET: 'role-set', // client -> server, host: make a participant a moderator, presenter or participant
  UNBAN: 'unban', // client -> server, host: lift an identity's ban

  // Reactions (protocol/reaction.go).
  REACTION: 'reaction', // both ways: an emoji of REACTIONS; the server relays it to everyone with from

  // Resume (protocol/resume.go).
  RESUMED: 'resumed', // server -> client: my stream resumed on this socket; what I missed follows
});

/** Participant.connection: absent while connected. */
export const Connection = Object.freeze({
  RECONNECTING: 'reconnecting', // the socket dropped; the participant may resume
});

/** The two PeerConnections a participant has with the SFU. */
export const SFUConnection = Object.freeze({
  PUBLISH: 'publish', // my tracks up; I offer
  SUBSCRIBE: 'subscribe', // everyone else's tracks down; the server offers
});

/** Chat limits (protocol/chat.go). */
export const MAX_CHAT_CHARS = 2000;
export const MAX_CHAT_CLIENT_ID_BYTES = 64;

/**
 * The reactions a client may send, in the picker's order (protocol/
 * reaction.go): matched exactly, the heart with its variation selector.
 */
export const REACTIONS = Object.freeze(['👍', '👏', '😂', '❤️', '🎉', '😮', '🤔', '✋']);

/** Reactions per participant: a burst, then a steady rate (app/room/reaction.go). */
export const REACTION_BURST = 5;
export const REACTIONS_PER_SECOND = 2;

/** Roles of a participant in a room. */
export const Role = Object.freeze({
  OWNER: 'owner',
  MODERATOR: 'moderator', // a co-host: every owner power but ending the room and handing it over
  PRESENTER: 'presenter', // may step on the stage by itself, even in a classroom
  PARTICIPANT: 'participant',
  SPECTATOR: 'spectator',
});

/** Media topologies of a room. */
export const Mode = Object.freeze({
  MESH: 'mesh',
  SFU: 'sfu',
});

/** Media sources a participant can publish. */
export const Source = Object.freeze({
  CAMERA: 'camera',
  MICROPHONE: 'microphone',
  SCREEN: 'screen',
});

/** What happened to a source. */
export const Action = Object.freeze({
  PUBLISHED: 'published',
  PAUSED: 'paused',
  RESUMED: 'resumed',
  UNPUBLISHED: 'unpublished',
});

/** Per-source state in Participant.media. A missing source is not published. */
export const TrackState = Object.freeze({
  LIVE: 'live',
  PAUSED: 'paused',
});

/** Kinds of a `signal` message. */
export const SignalKind = Object.freeze({
  OFFER: 'offer',
  ANSWER: 'answer',
  CANDIDATE: 'candidate',
});

/** Reasons carried by `participant-left`. */
export const LeaveReason = Object.freeze({
  LEFT: 'left',
  DISCONNECTED: 'disconnected',
  REMOVED: 'removed',
  ENDED: 'ended',
});

/** Room.status values. */
export const RoomStatus = Object.freeze({
  OPEN: 'open',
  LIVE: 'live',
  ENDED: 'ended',
});

/** Room.visibility values (protocol/messages.go). */
export const Visibility = Object.freeze({
  PUBLIC: 'public',
  UNLISTED: 'unlisted',
});

/**
 * Error codes of the REST API and of the WebSocket `error` message
 * (app/errors.go; invalid_message and the chat codes come from protocol/).
 */
export const ErrorCode = Object.freeze({
  BAD_REQUEST: 'bad_request',
  INVALID_JSON: 'invalid_json',
  INVALID_NAME: 'invalid_name',
  INVALID_MESSAGE: 'invalid_message',
  NOT_FOUND: 'not_found',
  FORBIDDEN: 'forbidden',
  TOO_LARGE: 'too_large',
  ROOM_ENDED: 'room_ended',
  METHOD_NOT_ALLOWED: 'method_not_allowed',
  UNAUTHORIZED: 'unauthorized',
  UNKNOWN_TYPE: 'unknown_type',
  UNKNOWN_PEER: 'unknown_peer',
  INTERNAL: 'internal',
  SERVER_RESTARTING: 'server_restarting',
  RATE_LIMITED: 'rate_limited',
  NOT_SFU: 'not_sfu',
  ROOM_FULL: 'room_full',
  SERVER_FULL: 'server_full',
  BAD_ORIGIN: 'bad_origin',
  UNSUPPORTED_MEDIA_TYPE: 'unsupported_media_type',
  PASSCODE_REQUIRED: 'passcode_required',
  BAD_PASSCODE: 'bad_passcode',
  IN_LOBBY: 'in_lobby',
  DENIED: 'denied',
  ROOM_LOCKED: 'room_locked',
  BANNED: 'banned',
  INVITE_EXPIRED: 'invite_expired',
  NOT_STARTED: 'not_started',
  CHAT_EMPTY: 'chat_empty',
  CHAT_TOO_LONG: 'chat_too_long',
  RECORDING: 'recording',
  NOT_RECORDING: 'not_recording',
  RECORDING_FAILED: 'recording_failed',
});

/** The actions of a record message (protocol/recording.go). */
export const RecordAction = Object.freeze({
  START: 'start',
  STOP: 'stop',
});

/**
 * WebSocket close codes of the server (protocol/codes.go): the private
 * 4000-4999 range for the app's own reasons, and the standard codes it
 * means. signaling.js decides from them whether to reconnect.
 */
export const CloseCode = Object.freeze({
  LEFT: 4000, // I sent leave
  REMOVED: 4003, // the owner removed me
  ROOM_GONE: 4004, // join refused: unknown room, bad name, ...
  TOO_SLOW: 4008, // my send queue overflowed: reconnect and resume
  REPLACED: 4009, // I resumed on a newer socket
  ROOM_ENDED: 4010, // the room ended
  ROOM_FULL: 4011, // join refused: the room is full (retried with backoff)
  SERVER_FULL: 4013, // join refused: the server is full (retried with backoff)
  RATE_LIMITED: 4029, // join refused: too many joins from my address (retried)
  TOO_BIG: 1009, // I sent a frame over the read limit
  INTERNAL: 1011, // a fault of the server's (retried)
  RESTARTING: 1012, // the server is restarting (retried)
});

/**
 * @typedef {Object} Participant One connected participant: one browser tab.
 * @property {string} id Per connection; two tabs of one person differ.
 * @property {string} userId The identity behind it; ownership follows this.
 * @property {string} name
 * @property {'owner'|'moderator'|'presenter'|'participant'|'spectator'} role
 * @property {Object<string, 'live'|'paused'>} media Source -> state; missing = not published.
 * @property {Object<string, string>} [streams] Source -> id of the MediaStream (SDP
 *   msid) that carries it, so receivers can tell a screen from a camera.
 * @property {'reconnecting'} [connection] While its socket is down and it may resume.
 */

/**
 * The first message on a socket that resumed my stream (?resume=&seen=);
 * not counted in the stream. Every message I missed follows, in order.
 * @typedef {Object} Resumed
 * @property {'resumed'} type
 * @property {Participant} self
 * @property {string} mode
 * @property {number} epoch
 */

/** @typedef {{id: string, name: string}} Owner */

/**
 * @typedef {Object} Room The public view of a room (REST API and welcome).
 * @property {string} id
 * @property {string} name
 * @property {'open'|'live'|'ended'} status
 * @property {Owner} owner
 * @property {number} online
 * @property {'mesh'|'sfu'} mode
 * @property {string} createdAt RFC 3339.
 * @property {string} [endedAt] RFC 3339, only once ended.
 * @property {boolean} classroom Only stage members publish; everyone else receives.
 * @property {boolean} allowStage Others than the owner may step on the stage themselves.
 * @property {boolean} [lobby] Joiners wait in the lobby until the owner admits them.
 * @property {boolean} [locked] Nobody new may join.
 * @property {boolean} [hostStart] Joiners wait (not_started) until a host is in the room.
 * @property {boolean} [publicStage] The stage may be watched without a token over WHEP.
 * @property {StageMember[]} stage The identities on the stage, in order.
 * @property {'public'|'unlisted'} visibility Unlisted rooms are listed only for their owner and who joined.
 * @property {boolean} hasPasscode Joining takes the passcode (not for the owner).
 * @property {boolean} [recording] The room is being recorded now: in the welcome and in
 *   GET /api/rooms/:id (a joiner is told before entering); not in room-updated.
 * @property {boolean} [yours] Only in the room list: I own the room or joined it.
 * @property {{id: string, url: string}} [node] Only in the room list and GET /api/rooms/:id:
 *   the node hosting the room, while placed on a live node; url '' is the page's own origin.
 */

/**
 * @typedef {Object} StageMember One identity on the stage (all its tabs are on it).
 * @property {string} userId
 * @property {string} name Its name when it stepped on.
 */

/**
 * @typedef {Object} Hand One raised hand, per participant (connection).
 * @property {string} id Participant id.
 * @property {string} userId
 * @property {string} name
 */

/**
 * @typedef {Object} ICEServer One entry of RTCConfiguration.iceServers.
 * @property {string[]} urls
 * @property {string} [username]
 * @property {string} [credential]
 */

/**
 * @typedef {Object} Welcome
 * @property {'welcome'} type
 * @property {Participant} self Me, with my per-connection id.
 * @property {Room} room
 * @property {Participant[]} participants The others, in join order.
 * @property {'mesh'|'sfu'} mode
 * @property {number} epoch Increases with every mode change.
 * @property {ICEServer[]} iceServers
 * @property {Hand[]} [hands] The queue of raised hands, in order.
 */

/**
 * @typedef {Object} ParticipantJoined
 * @property {'participant-joined'} type
 * @property {Participant} participant
 */

/**
 * Several joined at once. Sent to everyone, so it may name the receiver and
 * participants its welcome listed: skip those.
 * @typedef {Object} ParticipantsJoined
 * @property {'participants-joined'} type
 * @property {Participant[]} participants In join order.
 */

/**
 * @typedef {Object} ParticipantLeft
 * @property {'participant-left'} type
 * @property {string} id
 * @property {'left'|'disconnected'|'removed'|'ended'} reason
 */

/**
 * @typedef {Object} ParticipantUpdated
 * @property {'participant-updated'} type
 * @property {Participant} participant
 */

/**
 * @typedef {Object} RoomEnded
 * @property {'room-ended'} type
 * @property {Room} room
 */

/**
 * @typedef {Object} ErrorMessage
 * @property {'error'} type
 * @property {string} code One of ErrorCode.
 * @property {string} message Readable text, fit to show to the user.
 * @property {string} [ref] The type of the message that caused it.
 */

/**
 * @typedef {Object} Candidate Mirrors RTCIceCandidateInit.
 * @property {string} candidate
 * @property {string} [sdpMid]
 * @property {number} [sdpMLineIndex]
 * @property {string} [usernameFragment]
 */

/**
 * @typedef {Object} Signal One piece of WebRTC negotiation between two participants.
 * @property {'signal'} type
 * @property {string} [from] Set by the server; a client's value is overwritten.
 * @property {string} to
 * @property {'offer'|'answer'|'candidate'} kind
 * @property {string} [sdp] With offer and answer.
 * @property {Candidate|null} [candidate] With candidate; null or missing = end of candidates.
 * @property {number} [epoch] The mode epoch the sender negotiates for.
 */

/**
 * @typedef {Object} Media A change to one of a participant's tracks.
 * @property {'media'} type
 * @property {string} [from] Set by the server.
 * @property {'camera'|'microphone'|'screen'} source
 * @property {'published'|'paused'|'resumed'|'unpublished'} action
 * @property {string} [streamId] Id of the MediaStream that carries the source's
 *   track; sent with "published" (printable ASCII, at most 64 bytes).
 */

/**
 * @typedef {Object} Rename
 * @property {'rename'} type
 * @property {string} name
 */

/** @typedef {{type: 'leave'}} Leave */

/**
 * @typedef {Object} PasscodeMessage The room's passcode, sent as the first
 *   frame of a socket (never in the URL, which proxies log).
 * @property {'passcode'} type
 * @property {string} passcode
 */

/**
 * @typedef {Object} ModeMessage The room's media topology changed.
 * @property {'mode'} type
 * @property {'mesh'|'sfu'} mode
 * @property {number} epoch Ignore a mode whose epoch is not newer than the last.
 */

/**
 * @typedef {Object} SFUMessage One step of negotiation with the SFU.
 * @property {'sfu'} type
 * @property {'publish'|'subscribe'} pc
 * @property {'offer'|'answer'|'candidate'} kind
 * @property {string} [sdp]
 * @property {Candidate|null} [candidate]
 * @property {Object<string, string>} [tracks] mid -> source (publish offer) or
 *   "participantId|source" (subscribe offer).
 * @property {number} [epoch]
 */

/** @typedef {{type: 'sfu-restart', epoch: number}} SFURestart echo its epoch in the sfu-close */

/**
 * @typedef {Object} SFUClose
 * @property {'sfu-close'} type
 * @property {number} [epoch] the mesh epoch in which I closed them
 */

/**
 * @typedef {Object} ChatSend
 * @property {'chat-send'} type
 * @property {string} text 1-2000 characters after trimming.
 * @property {string} [clientId] Chosen by the client, echoed back; resend it after a reconnect.
 */

/**
 * @typedef {Object} ChatSync
 * @property {'chat-sync'} type
 * @property {number} after Send the messages with a greater seq.
 */

/**
 * @typedef {Object} ChatMessage One stored chat message (render text as text).
 * @property {'chat-message'} type
 * @property {number} seq Per room, increasing.
 * @property {string} from Sender's participant id.
 * @property {string} fromName Sender's name when sent.
 * @property {string} userId Sender's identity.
 * @property {string} text
 * @property {string} time RFC 3339 UTC with milliseconds.
 * @property {string} [clientId]
 */

/**
 * @typedef {Object} ChatHistory Stored messages, oldest first.
 * @property {'chat-history'} type
 * @property {ChatMessage[]} messages
 * @property {boolean} hasMore
 */

/**
 * @typedef {Object} StageMessage The whole stage and hand queue, after any change.
 * @property {'stage'} type
 * @property {StageMember[]} members In the order they stepped on.
 * @property {Hand[]} hands In the order they went up.
 */

/**
 * @typedef {Object} RoomUpdated The room's settings or owner changed.
 * @property {'room-updated'} type
 * @property {Room} room
 */

/**
 * @typedef {Object} StageSet Put a participant on or off the stage; without
 *   id and userId it is about me ("go on stage", "step down").
 * @property {'stage-set'} type
 * @property {string} [id] Participant id.
 * @property {string} [userId] An identity, to take it off the stage (on: false only).
 * @property {boolean} on
 */

/**
 * @typedef {Object} RaiseHand
 * @property {'hand'} type
 * @property {boolean} raised
 */

/**
 * @typedef {Object} HandAnswer Owner: accept (onto the stage) or decline.
 * @property {'hand-answer'} type
 * @property {string} id Participant id of the raised hand.
 * @property {boolean} accept
 */

/**
 * @typedef {Object} RoomSettingsMessage Owner: change settings; a missing field stays.
 * @property {'room-settings'} type
 * @property {boolean} [classroom]
 * @property {boolean} [allowStage]
 * @property {boolean} [lobby]
 * @property {boolean} [locked]
 * @property {boolean} [hostStart]
 * @property {boolean} [publicStage]
 */

/**
 * @typedef {Object} RemoveMessage Host: remove a participant, and with ban keep its identity out.
 * @property {'remove'} type
 * @property {string} id
 * @property {boolean} [ban]
 */

/**
 * @typedef {Object} RoleSetMessage Host: make a participant's identity a moderator, presenter or participant.
 * @property {'role-set'} type
 * @property {string} id
 * @property {'moderator'|'presenter'|'participant'} role
 */

/**
 * @typedef {Object} UnbanMessage Host: lift an identity's ban.
 * @property {'unban'} type
 * @property {string} userId
 */

/**
 * @typedef {Object} OwnerSet Owner: hand the room to a participant's identity.
 * @property {'owner-set'} type
 * @property {string} id
 */

/**
 * @typedef {Object} EndRoom Owner: end the room for everyone.
 * @property {'end-room'} type
 */

/**
 * @typedef {Object} MuteRequest Owner asks a participant to mute a source.
 * @property {'mute-request'} type
 * @property {string} [id] Target participant (client -> server).
 * @property {string} [from] The owner's participant (server -> client).
 * @property {'microphone'|'camera'} [source] Microphone when missing.
 */

/**
 * @typedef {Object} MuteAll Owner: ask everyone but the owner's own tabs to
 *   mute; each whose source is live gets a MuteRequest.
 * @property {'mute-all'} type
 * @property {'microphone'|'camera'} [source] Microphone when missing.
 */

/**
 * @typedef {Object} LowerHands Owner: lower every raised hand.
 * @property {'lower-hands'} type
 */

/**
 * @typedef {Object} Reaction An emoji reaction, relayed to everyone
 *   (the sender included) and never stored.
 * @property {'reaction'} type
 * @property {string} emoji One of REACTIONS.
 * @property {string} [from] The sender's participant id (server -> client).
 */

/**
 * @typedef {Object} LastN The videos the SFU holds back from me: the room has more video
 *   publishers than -last-n, and these have not spoken lately.
 * @property {'last-n'} type
 * @property {string[]} off participant ids
 */

/**
 * @typedef {Object} ActiveSpeaker The SFU room's dominant speaker changed.
 * @property {'active-speaker'} type
 * @property {string} id
 */

/**
 * @typedef {Object} AudioLevel A microphone's level in a mesh room, 0..1 with two decimals.
 * @property {'audio-level'} type
 * @property {number} level
 * @property {string} [id] The sender's participant id (server -> client).
 */

/**
 * @typedef {Object} RecordMessage Host: start or stop the room's recording.
 * @property {'record'} type
 * @property {'start'|'stop'} action One of RecordAction.
 */

/**
 * @typedef {Object} RecordingMessage To everyone: the room records now, or stopped.
 * @property {'recording'} type
 * @property {boolean} active
 * @property {string} [id] The recording's id.
 * @property {string} [startedAt] RFC 3339, while it records.
 * @property {string} [error] Why it stopped on its own (its size limit, a full disk).
 */

/** @typedef {Welcome|ParticipantJoined|ParticipantsJoined|ParticipantLeft|ParticipantUpdated|RoomEnded|ErrorMessage|Signal|Media|ModeMessage|SFUMessage|SFURestart|ChatMessage|ChatHistory|StageMessage|RoomUpdated|MuteRequest|Resumed|Reaction|import('./lobby.js').LobbyMessage|import('./lobby.js').LobbyWait|ActiveSpeaker|LastN|AudioLevel|RecordingMessage} ServerMessage */
/** @typedef {Signal|Media|Rename|Leave|PasscodeMessage|SFUMessage|SFUClose|ChatSend|ChatSync|StageSet|RaiseHand|HandAnswer|RoomSettingsMessage|RemoveMessage|OwnerSet|EndRoom|MuteRequest|MuteAll|LowerHands|Reaction|import('./lobby.js').LobbyAnswer|import('./lobby.js').LobbyAdmitAll|RoleSetMessage|UnbanMessage|AudioLevel|RecordMessage} ClientMessage */
