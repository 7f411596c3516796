// @ts-check
// The REST client. Every call goes through request(), which turns the
// server's one error shape {"error":{"code","message"}} into an ApiError so
// that callers can show it with errorText(error.code, error.message) from
// i18n.js: the code in the page's language (the server writes its messages
// for people, in English).

import { t } from './i18n.js';

/** @typedef {import('./protocol.js').Room} Room */
/** @typedef {import('./protocol.js').Participant} Participant */

/**
 * @typedef {Object} Me The caller's anonymous identity.
 * @property {string} id
 * @property {string} name
 * @property {string} token
 */

/** An error answer of the API, or a network failure (status 0). */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the server could not be reached.
   * @param {string} code Protocol error code (see ErrorCode in protocol.js).
   * @param {string} message Readable text from the server.
   */
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/**
 * Sends one JSON request. The identity travels in the same-origin cookie the
 * server sets on the first request, so nothing is added here.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
async function request(method, path, body) {
  /** @type {RequestInit} */
  const init = {
    method,
    credentials: 'same-origin',
    cache: 'no-store',
    headers: { Accept: 'application/json' },
  };
  if (body !== undefined) {
    init.headers = { ...init.headers, 'Content-Type': 'application/json' };
    init.body = JSON.stringify(body);
  }

  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', t('error.network'));
  }

  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = data && data.error;
    throw new ApiError(
      res.status,
      (err && err.code) || 'http_' + res.status,
      (err && err.message) || t('error.http', { status: res.status }),
    );
  }
  return data;
}

/** @returns {Promise<Me>} */
export function getMe() {
  return request('GET', '/api/me');
}

/**
 * @param {string} name 1-50 characters after trimming.
 * @returns {Promise<Me>}
 */
export function setMyName(name) {
  return request('PUT', '/api/me', { name });
}

/** @returns {Promise<Room[]>} newest first */
export async function listRooms() {
  const data = await request('GET', '/api/rooms');
  return (data && data.rooms) || [];
}

/**
 * Forgets this browser's identity (clears its cookie, even a bad one): the
 * next request starts as a new guest.
 * @returns {Promise<void>}
 */
export function forgetMe() {
  return request('DELETE', '/api/me');
}

/**
 * @param {string} name
 * @param {{classroom?: boolean, allowStage?: boolean, lobby?: boolean, hostStart?: boolean, publicStage?: boolean, visibility?: 'public'|'unlisted', passcode?: string}} [settings]
 *   changeable later by the room's hosts (room-settings, PATCH /api/rooms/:id)
 * @returns {Promise<Room>}
 */
export function createRoom(name, settings = {}) {
  return request('POST', '/api/rooms', { name, ...settings });
}

/**
 * @param {string} id
 * @returns {Promise<Room>}
 */
export function getRoom(id) {
  return request('GET', '/api/rooms/' + encodeURIComponent(id));
}

/**
 * Sets (a string) or removes (null) a room's passcode; a host's.
 * @param {string} id
 * @param {string|null} passcode
 * @returns {Promise<Room>}
 */
export function setPasscode(id, passcode) {
  return request('PATCH', '/api/rooms/' + encodeURIComponent(id), { passcode });
}

/**
 * Checks a room's passcode before joining with it (the join checks it
 * again): resolves when it is right, else an ApiError (bad_passcode,
 * passcode_required, rate_limited).
 * @param {string} id
 * @param {string} passcode
 * @returns {Promise<void>}
 */
export function checkPasscode(id, passcode) {
  return request('POST', '/api/rooms/' + encodeURIComponent(id) + '/passcode', { passcode });
}

/**
 * @param {string} id
 * @returns {Promise<Participant[]>}
 */
export async function listParticipants(id) {
  const data = await request('GET', '/api/rooms/' + encodeURIComponent(id) + '/participants');
  return (data && data.participants) || [];
}

/**
 * Ends a room (owner only; 403 otherwise).
 * @param {string} id
 * @returns {Promise<Room>}
 */
export function endRoom(id) {
  return request('POST', '/api/rooms/' + encodeURIComponent(id) + '/end');
}

// --- Hosts: bans and invite links (docs/PROTOCOL.md, "Hosts and bans") -----

/**
 * One banned identity of a room.
 * @typedef {Object} Ban
 * @property {string} userId
 * @property {string} name its name when it was banned
 * @property {string} bannedAt RFC 3339
 */

/**
 * One invite link of a room. The list may leave out url.
 * @typedef {Object} Invite
 * @property {string} id
 * @property {'presenter'|'participant'|'viewer'} role
 * @property {string} createdAt RFC 3339
 * @property {string} expiresAt RFC 3339
 * @property {boolean} revoked
 * @property {string} [url] the link, /r/<room>?invite=<token>
 */

/**
 * The identities banned from a room (hosts only).
 * @param {string} id
 * @returns {Promise<Ban[]>}
 */
export async function listBans(id) {
  const data = await request('GET', '/api/rooms/' + encodeURIComponent(id) + '/bans');
  return (data && data.bans) || [];
}

/**
 * Lifts a ban (hosts only): that identity may join again.
 * @param {string} id
 * @param {string} userId
 * @returns {Promise<void>}
 */
export function deleteBan(id, userId) {
  return request('DELETE', '/api/rooms/' + encodeURIComponent(id) + '/bans/' + encodeURIComponent(userId));
}

/**
 * Makes an invite link (hosts only).
 * @param {string} id
 * @param {'presenter'|'participant'|'viewer'} role what the link lets its bearer join as
 * @param {number} ttl its lifetime in seconds; 0 for the server's default (3 days)
 * @returns {Promise<{url: string, expiresAt: string, id: string}>}
 */
export function createInvite(id, role, ttl) {
  return request('POST', '/api/rooms/' + encodeURIComponent(id) + '/invites', { role, ttl });
}

/**
 * A room's invite links, revoked and expired ones included (hosts only).
 * @param {string} id
 * @returns {Promise<Invite[]>}
 */
export async function listInvites(id) {
  const data = await request('GET', '/api/rooms/' + encodeURIComponent(id) + '/invites');
  return (data && data.invites) || [];
}

/**
 * Revokes an invite link (hosts only): nobody new can join with it.
 * @param {string} id
 * @param {string} inviteId
 * @returns {Promise<void>}
 */
export function revokeInvite(id, inviteId) {
  return request('DELETE', '/api/rooms/' + encodeURIComponent(id) + '/invites/' + encodeURIComponent(inviteId));
}

// --- The owner: recordings (docs/PROTOCOL.md, "Recording") -----------------

/**
 * One file of a recording: one publisher's source, a WebM file.
 * @typedef {Object} RecordingFile
 * @property {string} name
 * @property {string} url where it downloads (the owner only)
 * @property {'camera'|'microphone'|'screen'} source
 * @property {string} participantId
 * @property {string} participant the publisher's name when it was recorded
 * @property {string} codec
 * @property {number} startOffsetMs where the file starts in the recording
 * @property {number} durationMs
 * @property {number} bytes
 */

/**
 * One recording of a room.
 * @typedef {Object} RecordingInfo
 * @property {string} id
 * @property {'recording'|'done'|'interrupted'} state
 * @property {string} startedAt RFC 3339
 * @property {string} [stoppedAt] RFC 3339, once stopped
 * @property {string} [error] why it stopped on its own
 * @property {RecordingFile[]} files
 */

/**
 * A room's recordings, newest first (the owner only; 403 otherwise).
 * @param {string} id
 * @returns {Promise<RecordingInfo[]>}
 */
export async function listRecordings(id) {
  const data = await request('GET', '/api/rooms/' + encodeURIComponent(id) + '/recordings');
  return (data && data.recordings) || [];
}

/**
 * Deletes a recording and its files (the owner only; 409 recording while it runs).
 * @param {string} recordingId
 * @returns {Promise<void>}
 */
export function deleteRecording(recordingId) {
  return request('DELETE', '/api/recordings/' + encodeURIComponent(recordingId));
}

/** localStorage key of the display name typed in the pre-join screen. */
const NAME_KEY = 'meet.displayName';

/** @returns {string} the remembered display name, or '' */
export function rememberedName() {
  try {
    return localStorage.getItem(NAME_KEY) || '';
  } catch {
    return ''; // storage can be disabled (private mode, policies)
  }
}

/** @param {string} name */
export function rememberName(name) {
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch {
    // Not remembering a name is harmless.
  }
}
