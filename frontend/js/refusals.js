// @ts-check
// What a refused join means for the page: the server's error code (with
// ref "join") mapped to why the call ended (call.js EndReason), which
// room.js turns into the view the person sees. Pure, for node --test.

import { ErrorCode } from './protocol.js';

/** @typedef {import('./call.js').EndReason} EndReason */

/**
 * What a refused join means for the page.
 * @param {string} code
 * @returns {EndReason}
 */
export function joinRefusal(code) {
  switch (code) {
    case ErrorCode.NOT_FOUND:
      return 'missing';
    case ErrorCode.ROOM_ENDED:
      return 'ended';
    case ErrorCode.INVALID_NAME:
      return 'invalid_name';
    case ErrorCode.PASSCODE_REQUIRED:
    case ErrorCode.BAD_PASSCODE:
      return 'passcode';
    case ErrorCode.DENIED:
      return 'denied';
    case ErrorCode.ROOM_LOCKED:
      return 'locked';
    case ErrorCode.BANNED:
      return 'banned';
    case ErrorCode.INVITE_EXPIRED:
      return 'invite_expired';
    case ErrorCode.UNAUTHORIZED:
      // An invite or join token that fails verification (a bad identity
      // token is refused before the socket opens).
      return 'bad_grant';
    default:
      return 'refused';
  }
}
