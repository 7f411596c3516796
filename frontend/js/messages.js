// @ts-check
// The messages a client sends, built in one place from the constants and
// types of protocol.js (the mirror of the Go definitions in protocol/), and
// the rules both sides apply to them (media state, publish rights).

import { Action, MessageType, Source, TrackState } from './protocol.js';

/** @typedef {import('./protocol.js').Candidate} Candidate */
/** @typedef {import('./protocol.js').Signal} Signal */
/** @typedef {import('./protocol.js').Media} Media */
/** @typedef {import('./protocol.js').Rename} Rename */
/** @typedef {import('./protocol.js').Leave} Leave */
/** @typedef {import('./protocol.js').ChatSend} ChatSend */
/** @typedef {import('./protocol.js').ChatSync} ChatSync */
/** @typedef {import('./protocol.js').StageSet} StageSet */
/** @typedef {import('./protocol.js').RaiseHand} RaiseHand */
/** @typedef {import('./protocol.js').HandAnswer} HandAnswer */
/** @typedef {import('./protocol.js').MuteAll} MuteAll */
/** @typedef {import('./protocol.js').LowerHands} LowerHands */
/** @typedef {import('./protocol.js').Reaction} Reaction */
/** @typedef {import('./protocol.js').AudioLevel} AudioLevel */
/** @typedef {import('./protocol.js').Participant} Participant */

/**
 * Builds a `signal` message.
 * @param {string} to Participant id of the receiver.
 * @param {'offer'|'answer'|'candidate'} kind
 * @param {{sdp?: string, candidate?: Candidate|null}} payload
 * @param {number} [epoch]
 * @returns {Signal}
 */
export function signalMessage(to, kind, payload, epoch) {
  /** @type {Signal} */
  const msg = { type: MessageType.SIGNAL, to, kind };
  if (payload.sdp !== undefined) msg.sdp = payload.sdp;
  if (payload.candidate !== undefined) msg.candidate = payload.candidate;
  if (epoch) msg.epoch = epoch;
  return msg;
}

/**
 * Builds a `media` message.
 * @param {'camera'|'microphone'|'screen'} source
 * @param {'published'|'paused'|'resumed'|'unpublished'} action
 * @param {string} [streamId]
 * @returns {Media}
 */
export function mediaMessage(source, action, streamId) {
  /** @type {Media} */
  const msg = { type: MessageType.MEDIA, source, action };
  if (streamId) msg.streamId = streamId;
  return msg;
}

/**
 * @param {string} name
 * @returns {Rename}
 */
export function renameMessage(name) {
  return { type: MessageType.RENAME, name };
}

/** @returns {Leave} */
export function leaveMessage() {
  return { type: MessageType.LEAVE };
}

/**
 * Applies a media action to a participant's media map, as the server does.
 * @param {Object<string, string>} media
 * @param {string} source
 * @param {string} action
 */
export function applyMediaAction(media, source, action) {
  switch (action) {
    case Action.PUBLISHED:
    case Action.RESUMED:
      media[source] = TrackState.LIVE;
      break;
    case Action.PAUSED:
      media[source] = TrackState.PAUSED;
      break;
    case Action.UNPUBLISHED:
      delete media[source];
      break;
  }
}

/**
 * The media changes that bring the server's view of my tracks up to what
 * this tab sends, after a resume: whatever I opened, closed, paused or
 * resumed while offline. A screen is never paused.
 * @param {Object<string, string>} known my media as the server has it (resumed.self.media)
 * @param {Map<'camera'|'microphone'|'screen', boolean>} live the sources this tab sends, and whether each is enabled
 * @returns {['camera'|'microphone'|'screen', 'published'|'paused'|'resumed'|'unpublished'][]} in the order to send them
 */
export function resyncActions(known, live) {
  /** @type {['camera'|'microphone'|'screen', 'published'|'paused'|'resumed'|'unpublished'][]} */
  const actions = [];
  for (const source of Object.keys(known)) {
    if (!live.has(/** @type {any} */ (source))) actions.push([/** @type {any} */ (source), Action.UNPUBLISHED]);
  }
  for (const [source, enabled] of live) {
    const want = source === Source.SCREEN || enabled ? TrackState.LIVE : TrackState.PAUSED;
    if (!known[source]) actions.push([source, Action.PUBLISHED]);
    if (known[source] !== want && want === TrackState.PAUSED) actions.push([source, Action.PAUSED]);
    if (known[source] === TrackState.PAUSED && want === TrackState.LIVE) actions.push([source, Action.RESUMED]);
  }
  return actions;
}

// --- Chat (protocol/chat.go) ----------------------------------------------

/**
 * Builds a `chat-send` message.
 * @param {string} text 1-2000 characters after trimming (the server decides).
 * @param {string} clientId Printable ASCII, at most 64 bytes; send the same one
 *   again after a reconnect and the server answers with the message it stored.
 * @returns {ChatSend}
 */
export function chatSendMessage(text, clientId) {
  return { type: MessageType.CHAT_SEND, text, clientId };
}

/**
 * Builds a `chat-sync` message: send me the messages with a seq above after.
 * @param {number} after
 * @returns {ChatSync}
 */
export function chatSyncMessage(after) {
  return { type: MessageType.CHAT_SYNC, after };
}

// --- Stage and owner controls (protocol/stage.go) -------------------------

/**
 * Builds a `stage-set` message.
 * @param {boolean} on
 * @param {string} [id] Participant id; omit for myself.
 * @returns {StageSet}
 */
export function stageSetMessage(on, id) {
  /** @type {StageSet} */
  const msg = { type: MessageType.STAGE_SET, on };
  if (id) msg.id = id;
  return msg;
}

/**
 * @param {boolean} raised
 * @returns {RaiseHand}
 */
export function handMessage(raised) {
  return { type: MessageType.HAND, raised };
}

/**
 * @param {string} id
 * @param {boolean} accept
 * @returns {HandAnswer}
 */
export function handAnswerMessage(id, accept) {
  return { type: MessageType.HAND_ANSWER, id, accept };
}

/**
 * @param {'microphone'|'camera'} [source] Microphone when omitted.
 * @returns {MuteAll}
 */
export function muteAllMessage(source) {
  /** @type {MuteAll} */
  const msg = { type: MessageType.MUTE_ALL };
  if (source) msg.source = source;
  return msg;
}

/** @returns {LowerHands} */
export function lowerHandsMessage() {
  return { type: MessageType.LOWER_HANDS };
}

// --- Reactions (protocol/reaction.go) --------------------------------------

/**
 * @param {string} emoji One of REACTIONS.
 * @returns {Reaction}
 */
export function reactionMessage(emoji) {
  return { type: MessageType.REACTION, emoji };
}

// --- Speaking levels of a mesh room (protocol/level.go) ----------------------

/**
 * @param {number} level 0..1, sent with two decimals
 * @returns {AudioLevel}
 */
export function audioLevelMessage(level) {
  return { type: MessageType.AUDIO_LEVEL, level: Math.round(Math.min(1, Math.max(0, level)) * 100) / 100 };
}

/**
 * The one rule of who may send media (app/room/stage.go): stage members always;
 * in a classroom nobody else; otherwise everyone but spectators.
 * @param {{onStage: boolean, classroom: boolean, spectator: boolean}} s
 * @returns {boolean}
 */
export function mayPublish(s) {
  return s.onStage || (!s.classroom && !s.spectator);
}

/**
 * The participants a join announcement brings that this page does not know
 * yet, in order: a `participant-joined` names one, a `participants-joined`
 * several, and since the latter goes to the whole room it may name this
 * page's own participant or ones its welcome listed.
 * @param {import('./protocol.js').ParticipantJoined|import('./protocol.js').ParticipantsJoined} msg
 * @param {string} selfId
 * @param {(id: string) => boolean} known
 * @returns {Participant[]}
 */
export function newcomers(msg, selfId, known) {
  const list = msg.type === MessageType.PARTICIPANTS_JOINED ? msg.participants || [] : [msg.participant];
  const seen = new Set();
  return list.filter((p) => {
    if (!p || p.id === selfId || known(p.id) || seen.has(p.id)) return false;
    seen.add(p.id);
    return true;
  });
}
