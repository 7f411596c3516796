// @ts-check
// Invite links, the hosts' side (docs/PROTOCOL.md, "Invite links"; the
// joiner's side, the grant in the page's address, is grant.js).
//
// The "Invite links" part of the room settings makes a link for a role and
// a lifetime (POST /api/rooms/:id/invites), shows it with a Copy button,
// and lists the room's links with their expiry and a Revoke button (GET,
// DELETE). Hooks: [data-testid="invite-role"],
// "invite-ttl", "invite-create", "invite-copy" (the new link in
// "invite-url"), "invite-list" with items data-invite-id and data-state
// (active, expired, revoked), each with "invite-revoke" while active.

import { ApiError, createInvite, listInvites, revokeInvite } from './api.js';
import { el, icon } from './dom.js';
import { HostList } from './hostlist.js';
import { errorText, language, t } from './i18n.js';
import { toast } from './toast.js';
import { copyLink } from './ui.js';

/** @typedef {import('./api.js').Invite} Invite */

/** The lifetimes the hosts can pick, in seconds; three days is the default. */
export const INVITE_TTLS = Object.freeze([3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400]);
export const DEFAULT_INVITE_TTL = 3 * 86400;

/**
 * An invite link's state. Pure.
 * @param {{revoked?: boolean, expiresAt: string}} invite
 * @param {number} now ms since the epoch
 * @returns {'active'|'expired'|'revoked'}
 */
export function inviteState(invite, now) {
  if (invite.revoked) return 'revoked';
  const at = Date.parse(invite.expiresAt);
  return !Number.isNaN(at) && at <= now ? 'expired' : 'active';
}

/**
 * The list's order: the links that still work first, then newest first.
 * Pure; returns a new array.
 * @template {{revoked?: boolean, expiresAt: string, createdAt?: string}} T
 * @param {T[]} invites
 * @param {number} now
 * @returns {T[]}
 */
export function sortInvites(invites, now) {
  const created = (/** @type {T} */ i) => Date.parse(i.createdAt || '') || 0;
  return [...invites].sort(
    (a, b) => Number(inviteState(b, now) === 'active') - Number(inviteState(a, now) === 'active') || created(b) - created(a),
  );
}

/**
 * "in 3 days", "2 hours ago", "tomorrow": a moment relative to now, in
 * words of the language, in the largest unit that fits (days, hours,
 * minutes; at least one minute). Pure.
 * @param {number} at ms since the epoch
 * @param {number} now
 * @param {string} lang a BCP 47 code
 * @returns {string}
 */
export function relativeTime(at, now, lang) {
  const diff = at - now;
  const abs = Math.abs(diff);
  const sign = diff < 0 ? -1 : 1;
  /** @type {[Intl.RelativeTimeFormatUnit, number][]} */
  const units = [['day', 86400000], ['hour', 3600000], ['minute', 60000]];
  const rtf = new Intl.RelativeTimeFormat(lang, { numeric: 'auto' });
  for (const [unit, size] of units) {
    if (abs >= size) return rtf.format(sign * Math.round(abs / size), unit);
  }
  return rtf.format(sign, 'minute');
}

/**
 * A link as the page opens it: the server may answer a path; the hosts
 * share a full address.
 * @param {string} url
 * @returns {string}
 */
function absolute(url) {
  try {
    return new URL(url, location.origin).href;
  } catch {
    return url;
  }
}

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));


/** The hosts' invite links in the room settings. */
export class InviteLinks {
  /** @param {{roomId: string}} params */
  constructor(params) {
    this.roomId = params.roomId;
    this.roleSelect = /** @type {HTMLSelectElement} */ ($('invite-role'));
    this.ttlSelect = /** @type {HTMLSelectElement} */ ($('invite-ttl'));
    this.createButton = /** @type {HTMLButtonElement} */ ($('invite-create'));
    this.created = $('invite-created');
    this.urlInput = /** @type {HTMLInputElement} */ ($('invite-url'));
    this.copyButton = /** @type {HTMLButtonElement} */ ($('invite-copy'));
    this.list = $('invite-list');
    this.empty = $('invites-empty');

    /** @type {HostList<Invite>} */
    this.invites = new HostList(() => listInvites(this.roomId), () => this.render(), 'invites');

    this.createButton.addEventListener('click', () => this.create());
    this.copyButton.addEventListener('click', () => copyLink(this.urlInput.value, this.copyButton, t('invites.copied')));
    this.urlInput.addEventListener('focus', () => this.urlInput.select());
    this.list.addEventListener('click', (e) => {
      const button = /** @type {HTMLElement} */ (e.target).closest('button[data-action]');
      const item = /** @type {HTMLElement|null|undefined} */ (button?.closest('[data-invite-id]'));
      if (!button || !item) return;
      const invite = this.invites.items.find((i) => i.id === item.dataset.inviteId);
      if (!invite) return;
      if (button.getAttribute('data-action') === 'revoke') this.revoke(invite, /** @type {HTMLButtonElement} */ (button));
      else if (invite.url) copyLink(absolute(invite.url), button, t('invites.copied'));
    });
  }

  /**
   * Follows my role: a host's page loads the list; anyone else's forgets it.
   * @param {boolean} host
   */
  setHost(host) {
    if (!this.invites.setHost(host) || host) return;
    this.created.hidden = true;
    this.urlInput.value = '';
  }

  /** Loads the room's links again (a host's page only). */
  refresh() {
    this.invites.refresh();
  }

  /** Makes a link for the chosen role and lifetime, and shows it. */
  async create() {
    const role = /** @type {'presenter'|'participant'|'viewer'} */ (this.roleSelect.value || 'participant');
    const ttl = Number(this.ttlSelect.value) || DEFAULT_INVITE_TTL;
    this.createButton.disabled = true;
    try {
      const made = await createInvite(this.roomId, role, ttl);
      this.urlInput.value = absolute(made.url);
      this.created.hidden = false;
      this.created.dataset.inviteId = made.id;
      toast(t('invites.created'), 'success');
      this.copyButton.focus();
      await this.refresh();
    } catch (err) {
      toast(err instanceof ApiError ? errorText(err.code, err.message) : t('invites.failed'), 'error');
    } finally {
      this.createButton.disabled = false;
    }
  }

  /**
   * @param {Invite} invite
   * @param {HTMLButtonElement} button
   */
  async revoke(invite, button) {
    button.disabled = true;
    try {
      await revokeInvite(this.roomId, invite.id);
      invite.revoked = true;
      if (this.created.dataset.inviteId === invite.id) this.created.hidden = true;
      this.render();
      toast(t('invites.revoked'), 'info');
      await this.refresh();
    } catch (err) {
      button.disabled = false;
      toast(err instanceof ApiError ? errorText(err.code, err.message) : t('invites.failed'), 'error');
    }
  }

  render() {
    const now = Date.now();
    const lang = language();
    const items = sortInvites(this.invites.items, now).map((invite) => {
      const state = inviteState(invite, now);
      const at = Date.parse(invite.expiresAt);
      const when = Number.isNaN(at) ? '' : relativeTime(at, now, lang);
      const status = state === 'revoked' ? t('invites.stateRevoked') : state === 'expired' ? t('invites.expired', { when }) : t('invites.expires', { when });
      const role = roleLabel(invite.role);
      return el('li', { class: 'settings-item invite-item' + (state === 'active' ? '' : ' is-inactive'), 'data-invite-id': invite.id, 'data-state': state, 'data-role': invite.role }, [
        el('span', { class: 'settings-item-main' }, [
          el('span', { class: 'settings-item-name', text: role }),
          el('span', { class: 'settings-item-meta', text: status, title: Number.isNaN(at) ? undefined : new Date(at).toLocaleString(lang) }),
        ]),
        state === 'active' && invite.url
          ? el('button', { class: 'icon-btn settings-item-icon', type: 'button', 'data-action': 'copy', 'data-testid': 'invite-item-copy', title: t('invites.copy'), 'aria-label': t('invites.copyRole', { role }) }, [icon('link')])
          : null,
        state === 'active'
          ? el('button', { class: 'btn btn-small', type: 'button', 'data-action': 'revoke', 'data-testid': 'invite-revoke', text: t('invites.revoke'), 'aria-label': t('invites.revokeRole', { role }) })
          : null,
      ]);
    });
    this.list.replaceChildren(...items);
    this.list.hidden = items.length === 0;
    this.empty.hidden = items.length > 0 || !this.invites.loaded;
    this.empty.textContent = this.invites.failed ? t('access.loadFailed') : t('invites.empty');
  }
}

/**
 * @param {string} role an invite's role
 * @returns {string}
 */
function roleLabel(role) {
  switch (role) {
    case 'presenter':
      return t('invites.role.presenterShort');
    case 'viewer':
      return t('invites.role.viewerShort');
    default:
      return t('invites.role.participantShort');
  }
}
