// @ts-check
// Who may do what in a room, as the page shows it (docs/PROTOCOL.md, "Hosts
// and bans"). The room's hosts are its owner and its moderators (co-hosts):
// a moderator has every owner power but ending the room and handing it
// over. A presenter may step on the stage by itself, even in a classroom.
// The server checks every request again; these rules only decide which
// controls a page offers. Pure, for node --test.

import { Role } from './protocol.js';

/**
 * Whether a role has the host's powers (settings, the stage, hands, the
 * lobby, removals and bans, invites).
 * @param {string|undefined} role
 * @returns {boolean}
 */
export function isHost(role) {
  return role === Role.OWNER || role === Role.MODERATOR;
}

/**
 * Whether a participant may step on the stage by itself: hosts and
 * presenters always, anyone else when the room allows it.
 * @param {string|undefined} role
 * @param {boolean} allowStage
 * @returns {boolean}
 */
export function maySelfStage(role, allowStage) {
  return isHost(role) || role === Role.PRESENTER || allowStage;
}

/** The people list's order of roles: hosts first, spectators last. */
const ROLE_ORDER = {
  [Role.OWNER]: 0,
  [Role.MODERATOR]: 1,
  [Role.PRESENTER]: 2,
  [Role.PARTICIPANT]: 3,
  [Role.SPECTATOR]: 4,
};

/**
 * A role's place in the people list (an unknown role sits with the
 * participants).
 * @param {string|undefined} role
 * @returns {number}
 */
export function roleRank(role) {
  return ROLE_ORDER[/** @type {keyof ROLE_ORDER} */ (role)] ?? ROLE_ORDER[Role.PARTICIPANT];
}

/**
 * One item of a host's menu on another participant.
 * @typedef {'stage-on'|'stage-off'|'mute'|'make-moderator'|'unmake-moderator'|'make-presenter'|'unmake-presenter'|'make-owner'|'remove'|'ban'} MemberAction
 */

/**
 * The items a participant's menu offers me, in order, grouped: the stage
 * and the microphone; the roles; the hand-over; removal. Nothing for a
 * page that is not a host's, nor about myself. The owner (any of its
 * tabs) gets no role, removal or ban items: the server refuses them. A
 * moderator gets every item but the hand-over, which is the owner's.
 * @param {string|undefined} myRole
 * @param {{role: string, onStage: boolean, micOn: boolean, self?: boolean}} target
 * @returns {MemberAction[]}
 */
export function memberActions(myRole, target) {
  if (!isHost(myRole) || target.self) return [];
  /** @type {MemberAction[]} */
  const items = [target.onStage ? 'stage-off' : 'stage-on'];
  if (target.micOn) items.push('mute');
  if (target.role === Role.OWNER) return items;
  if (target.role === Role.MODERATOR) {
    items.push('unmake-moderator');
  } else {
    items.push('make-moderator');
    items.push(target.role === Role.PRESENTER ? 'unmake-presenter' : 'make-presenter');
  }
  if (myRole === Role.OWNER) items.push('make-owner');
  items.push('remove', 'ban');
  return items;
}

/**
 * The role-set a menu item sends, or '' for an item that sets no role.
 * Taking a role away makes a plain participant again.
 * @param {MemberAction} action
 * @returns {''|'moderator'|'presenter'|'participant'}
 */
export function roleOfAction(action) {
  switch (action) {
    case 'make-moderator':
      return Role.MODERATOR;
    case 'make-presenter':
      return Role.PRESENTER;
    case 'unmake-moderator':
    case 'unmake-presenter':
      return Role.PARTICIPANT;
    default:
      return '';
  }
}

/**
 * What a change of role means, for the news: someone became a co-host or
 * stopped being one, or the same for a presenter; '' for anything else
 * (the owner's hand-over has its own news, and a spectator's role is its
 * own choice). Pure.
 * @param {string|undefined} before
 * @param {string|undefined} after
 * @returns {''|'co-host'|'no-co-host'|'presenter'|'no-presenter'}
 */
export function roleChange(before, after) {
  if (!before || !after || before === after || after === Role.OWNER || before === Role.OWNER) return '';
  if (after === Role.MODERATOR) return 'co-host';
  if (before === Role.MODERATOR) return 'no-co-host';
  if (after === Role.PRESENTER) return 'presenter';
  if (before === Role.PRESENTER) return 'no-presenter';
  return '';
}

/** The i18n keys of each change's news: about me, and about another. */
const ROLE_NEWS = {
  'co-host': ['call.youCoHost', 'call.nowCoHost'],
  'no-co-host': ['call.youNoLongerCoHost', 'call.noLongerCoHost'],
  presenter: ['call.youPresenter', 'call.nowPresenter'],
  'no-presenter': ['call.youNoLongerPresenter', 'call.noLongerPresenter'],
};

/**
 * The news of a change of role (roleChange), as an i18n key: about me, or
 * about another (whose name the text takes); null when there is none.
 * @param {string|undefined} before
 * @param {string|undefined} after
 * @param {boolean} mine
 * @returns {{key: string, gained: boolean}|null} gained: a role was given, not taken
 */
export function roleNews(before, after, mine) {
  const change = roleChange(before, after);
  if (!change) return null;
  return { key: ROLE_NEWS[change][mine ? 0 : 1], gained: !change.startsWith('no-') };
}

/**
 * Whether to offer turning the lobby on after a ban: a ban alone cannot
 * keep a person out of an open room, since anyone may come back through
 * the link as a new guest. Not when something already stands in the way
 * (the lobby, a passcode, the lock).
 * @param {{lobby?: boolean, hasPasscode?: boolean, locked?: boolean}|null} room
 * @returns {boolean}
 */
export function shouldOfferLobby(room) {
  return !!room && !room.lobby && !room.hasPasscode && !room.locked;
}
