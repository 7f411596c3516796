// @ts-check
// Who gets in, the hosts' side (docs/PROTOCOL.md, "Hosts and bans"): the
// "Wait for the host" setting (hostStart: joiners wait until a host is in
// the room), the "Public stage" setting (publicStage: the stage may be
// watched without a token over WHEP), the list of banned identities with
// Unban, and, after a ban in a room that nothing else guards, the offer to
// turn the lobby on: a banned person may come back as a new guest through
// the link, which the lobby stops.
//
// Hooks: [data-testid="setting-host-start"];
// [data-testid="setting-public-stage"]; [data-testid="ban-list"]
// with items data-user-id, each with [data-testid="unban"], and
// [data-testid="bans-empty"]; the notice's button
// [data-testid="offer-lobby"].

import { ApiError, deleteBan, listBans } from './api.js';
import { el } from './dom.js';
import { HostList } from './hostlist.js';
import { errorText, language, t } from './i18n.js';
import { relativeTime } from './invites.js';
import { MessageType } from './protocol.js';
import { shouldOfferLobby } from './roles.js';
import { toast } from './toast.js';

/** @typedef {import('./api.js').Ban} Ban */
/** @typedef {import('./protocol.js').Room} Room */
/** @typedef {import('./protocol.js').ClientMessage} ClientMessage */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * Runs fn each time the people panel (where the settings are) is opened
 * from its button (the drawer of a narrow window).
 * @param {() => void} fn
 */
export function onPeoplePanelOpen(fn) {
  for (const button of document.querySelectorAll('.panel-toggle[data-panel="people-panel"]')) {
    // After ui.js's own listener has opened it.
    button.addEventListener('click', () => setTimeout(() => {
      if (button.getAttribute('aria-expanded') === 'true') fn();
    }));
  }
}

export class Access {
  /**
   * @param {{roomId: string, send: (msg: ClientMessage) => void}} params
   */
  constructor(params) {
    this.roomId = params.roomId;
    this.send = params.send;
    this.hostStartBox = /** @type {HTMLInputElement} */ ($('setting-host-start'));
    this.publicStageBox = /** @type {HTMLInputElement} */ ($('setting-public-stage'));
    this.list = $('ban-list');
    this.empty = $('bans-empty');

    /** @type {Room|null} */
    this.room = null;
    /** @type {HostList<Ban>} */
    this.bans = new HostList(() => listBans(this.roomId), () => this.render(), 'access');
    this.refreshTimer = 0;
    /** Participants I asked to ban, until their removal comes. */
    /** @type {Set<string>} */
    this.banning = new Set();
    /** @type {(() => void)|null} */
    this.dismissOffer = null;

    this.hostStartBox.addEventListener('change', () =>
      this.send({ type: MessageType.ROOM_SETTINGS, hostStart: this.hostStartBox.checked }),
    );
    this.publicStageBox.addEventListener('change', () =>
      this.send({ type: MessageType.ROOM_SETTINGS, publicStage: this.publicStageBox.checked }),
    );
    this.list.addEventListener('click', (e) => {
      const button = /** @type {HTMLButtonElement|null} */ (/** @type {HTMLElement} */ (e.target).closest('button[data-testid="unban"]'));
      const item = /** @type {HTMLElement|null|undefined} */ (button?.closest('[data-user-id]'));
      if (button && item) this.unban(item.dataset.userId || '', button);
    });
  }

  /**
   * The room's settings, from welcome or room-updated.
   * @param {Room} room
   */
  setRoom(room) {
    this.room = room;
    this.hostStartBox.checked = !!room.hostStart;
    this.publicStageBox.checked = !!room.publicStage;
    // The lobby, a passcode or the lock came: the offer has no point now.
    if (this.dismissOffer && !shouldOfferLobby(room)) {
      this.dismissOffer();
      this.dismissOffer = null;
    }
  }

  /**
   * Follows my role: a host's page loads the bans; anyone else's forgets them.
   * @param {boolean} host
   */
  setHost(host) {
    if (!this.bans.setHost(host) || host) return;
    this.banning.clear();
    this.dismissOffer?.();
    this.dismissOffer = null;
  }

  /** Loads the bans again (a host's page only). */
  refresh() {
    this.bans.refresh();
  }

  /** A refresh soon, once for a burst of removals (a ban removes every tab). */
  refreshSoon() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = window.setTimeout(() => this.refresh(), 250);
  }

  /**
   * I asked to remove and ban a participant.
   * @param {string} id its participant id
   */
  banned(id) {
    this.banning.add(id);
  }

  /**
   * A participant was removed (participant-left, reason removed). After my
   * own ban, in a room that nothing else guards, offer the lobby.
   * @param {string} id
   */
  removed(id) {
    if (!this.bans.host) return;
    this.refreshSoon();
    if (!this.banning.delete(id)) return;
    if (!shouldOfferLobby(this.room)) return;
    this.dismissOffer?.();
    this.dismissOffer = toast(t('bans.offerLobby'), 'info', {
      sticky: true,
      action: {
        label: t('bans.turnOnLobby'),
        testid: 'offer-lobby',
        run: () => {
          this.dismissOffer = null;
          this.send({ type: MessageType.ROOM_SETTINGS, lobby: true });
        },
      },
    });
  }

  /**
   * Lifts a ban (DELETE /api/rooms/:id/bans/:userId).
   * @param {string} userId
   * @param {HTMLButtonElement} button
   */
  async unban(userId, button) {
    if (!userId) return;
    const ban = this.bans.items.find((b) => b.userId === userId);
    button.disabled = true;
    try {
      await deleteBan(this.roomId, userId);
      this.bans.items = this.bans.items.filter((b) => b.userId !== userId);
      this.render();
      toast(t('bans.unbanned', { name: ban?.name || t('room.someone') }), 'success');
    } catch (err) {
      button.disabled = false;
      // Lifted already (by another host): the list was stale.
      if (err instanceof ApiError && err.status === 404) this.refresh();
      else toast(err instanceof ApiError ? errorText(err.code, err.message) : t('bans.unbanFailed'), 'error');
    }
  }

  reset() {
    this.setHost(false);
  }

  render() {
    const now = Date.now();
    const lang = language();
    const items = this.bans.items.map((b) => {
      const at = Date.parse(b.bannedAt);
      const name = b.name || t('room.someone');
      return el('li', { class: 'settings-item ban-item', 'data-user-id': b.userId }, [
        el('span', { class: 'settings-item-main' }, [
          el('span', { class: 'settings-item-name', text: name }),
          el('span', {
            class: 'settings-item-meta',
            text: Number.isNaN(at) ? shortIdentity(b.userId) : t('bans.when', { when: relativeTime(at, now, lang) }),
            title: b.userId,
          }),
        ]),
        el('button', { class: 'btn btn-small', type: 'button', 'data-testid': 'unban', text: t('bans.unban'), 'aria-label': t('bans.unbanName', { name }) }),
      ]);
    });
    this.list.replaceChildren(...items);
    this.list.hidden = items.length === 0;
    this.empty.hidden = items.length > 0 || !this.bans.loaded;
    this.empty.textContent = this.bans.failed ? t('access.loadFailed') : t('bans.empty');
  }
}

/**
 * An identity's id, short enough to tell two guests of the same name apart.
 * @param {string} userId
 */
function shortIdentity(userId) {
  return userId.length > 8 ? userId.slice(0, 8) + '…' : userId;
}
