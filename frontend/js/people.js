// @ts-check
// The participant list in the left panel: who is here, who owns the room,
// who is watching only, and the state of everyone's mic, camera and screen.
//
// Items carry data-member-id, not data-participant-id: that attribute
// belongs to the video tiles, and tests select tiles by it.
//
// Stage members and raised hands get badges; the owner gets a menu on each
// of the others (stage on/off, ask to mute, make owner, remove). The server
// checks every one of those requests again.

import { avatarClass, el, icon, initials } from './dom.js';
import { language, t } from './i18n.js';
import { Connection, Role, Source, TrackState } from './protocol.js';

/** @typedef {import('./protocol.js').Participant} Participant */

/**
 * What the list needs to know of the stage, and the owner's actions.
 * @typedef {Object} StageContext
 * @property {(userId: string) => boolean} onStage
 * @property {(id: string) => number} handPosition 1-based; 0 when the hand is down
 * @property {boolean} owner whether I own the room (shows the menus)
 */

/**
 * The owner's actions on a participant (by participant id).
 * @typedef {Object} MemberActions
 * @property {(id: string, on: boolean) => void} stage
 * @property {(id: string) => void} mute
 * @property {(id: string) => void} makeOwner
 * @property {(id: string) => void} remove
 * @property {() => void} [rename] opens the dialog that renames me (everyone has it)
 */

/** @type {StageContext} */
const NO_STAGE = { onStage: () => false, handPosition: () => 0, owner: false };

/** Sort order: owner first, then participants, then spectators; by name within. */
const ROLE_ORDER = { [Role.OWNER]: 0, [Role.PARTICIPANT]: 1, [Role.SPECTATOR]: 2 };

export class PeopleList {
  /**
   * @param {HTMLElement} list the <ul>
   * @param {HTMLElement[]} counters elements that show the number of people
   * @param {MemberActions} [actions] the owner's menu actions
   */
  constructor(list, counters, actions) {
    this.list = list;
    this.counters = counters;
    this.actions = actions;
    /** @type {StageContext} */
    this.ctx = NO_STAGE;
    /** @type {Map<string, HTMLElement>} */
    this.items = new Map();
    this.selfId = '';
  }

  /**
   * Renders the whole list from the current participants (mine included).
   * Items are reused, so a state change does not rebuild the list.
   * @param {Participant[]} participants
   * @param {string} selfId
   * @param {StageContext} [ctx]
   */
  render(participants, selfId, ctx = NO_STAGE) {
    this.selfId = selfId;
    this.ctx = ctx;
    const sorted = [...participants].sort(
      (a, b) =>
        (ROLE_ORDER[a.role] ?? 1) - (ROLE_ORDER[b.role] ?? 1) ||
        Number(b.id === selfId) - Number(a.id === selfId) ||
        a.name.localeCompare(b.name, language()),
    );
    const seen = new Set();
    sorted.forEach((p, index) => {
      seen.add(p.id);
      const li = this.item(p);
      if (this.list.children[index] !== li) this.list.insertBefore(li, this.list.children[index] || null);
    });
    for (const [id, li] of this.items) {
      if (!seen.has(id)) {
        li.remove();
        this.items.delete(id);
      }
    }
    for (const counter of this.counters) counter.textContent = String(participants.length);
  }

  clear() {
    this.list.replaceChildren();
    this.items.clear();
    for (const counter of this.counters) counter.textContent = '0';
  }

  /**
   * @param {Participant} p
   * @returns {HTMLElement}
   */
  item(p) {
    let li = this.items.get(p.id);
    if (!li) {
      li = el('li', { class: 'member', 'data-member-id': p.id });
      this.items.set(p.id, li);
    }
    const media = p.media || {};
    const isSelf = p.id === this.selfId;
    const spectator = p.role === Role.SPECTATOR;

    const badges = [];
    if (p.role === Role.OWNER) badges.push(el('span', { class: 'badge badge-owner', title: t('people.ownerTitle') }, [icon('crown'), t('people.owner')]));
    if (spectator) badges.push(el('span', { class: 'badge badge-spectator', title: t('people.spectatorTitle') }, [icon('eye'), t('people.spectator')]));
    const onStage = this.ctx.onStage(p.userId);
    if (onStage) badges.push(el('span', { class: 'badge badge-stage', 'data-testid': 'stage-badge', title: t('people.onStageTitle'), text: t('people.onStage') }));
    if (p.connection === Connection.RECONNECTING) {
      badges.push(el('span', { class: 'badge badge-reconnecting', 'data-testid': 'reconnecting-badge', title: t('people.reconnectingTitle'), text: t('people.reconnecting') }));
    }
    const hand = this.ctx.handPosition(p.id);
    if (hand) badges.push(el('span', { class: 'badge badge-hand', 'data-testid': 'hand-badge', title: t('people.handTitle', { count: hand }), text: `✋ ${hand}` }));

    const states = [];
    if (!spectator || onStage) {
      states.push(stateIcon(media[Source.MICROPHONE], 'mic', 'mic-off', [t('people.mic.on'), t('people.mic.paused'), t('people.mic.off')]));
      states.push(stateIcon(media[Source.CAMERA], 'camera', 'camera-off', [t('people.camera.on'), t('people.camera.paused'), t('people.camera.off')]));
      if (media[Source.SCREEN]) states.push(stateIcon(media[Source.SCREEN], 'screen', 'screen-off', [t('people.screen.on'), t('people.screen.paused'), t('people.screen.off')]));
    }

    // A re-render (any media change) must not close a menu the owner has open.
    const menuOpen = !!(/** @type {HTMLDetailsElement|null} */ (li.querySelector('details.member-menu'))?.open);
    // Nor drop the keyboard focus from its button: it moves to the new copy.
    const focused = li.contains(document.activeElement) ? document.activeElement?.getAttribute('data-testid') : null;
    li.replaceChildren(
      el('span', { class: 'avatar avatar-sm ' + avatarClass(p.userId || p.id), 'aria-hidden': 'true', text: initials(p.name) }),
      el('span', { class: 'member-main' }, [
        el('span', { class: 'member-name', text: p.name }, [isSelf ? el('span', { class: 'muted', text: t('people.you') }) : null]),
        badges.length ? el('span', { class: 'member-badges' }, badges) : null,
      ]),
      el('span', { class: 'member-states' }, states),
      ...(isSelf && this.actions?.rename ? [this.renameButton(this.actions.rename)] : []),
      ...(this.ctx.owner && !isSelf && this.actions ? [this.menu(p, onStage, menuOpen)] : []),
    );
    li.classList.toggle('is-self', isSelf);
    li.classList.toggle('is-spectator', spectator);
    if (focused && !li.contains(document.activeElement)) /** @type {HTMLElement|null} */ (li.querySelector(`[data-testid="${focused}"]`))?.focus();
    return li;
  }

  /**
   * The button on my own entry that opens the rename dialog (rename.js).
   * @param {() => void} run
   * @returns {HTMLElement}
   */
  renameButton(run) {
    const button = el('button', {
      type: 'button',
      class: 'icon-btn member-rename',
      'data-testid': 'rename',
      title: t('room.renameTitle'),
      'aria-label': t('room.renameTitle'),
    }, [icon('edit')]);
    button.addEventListener('click', run);
    return button;
  }

  /**
   * The owner's menu on one participant: a <details> that needs no script
   * to open and close.
   * @param {Participant} p
   * @param {boolean} onStage
   * @param {boolean} open
   * @returns {HTMLElement}
   */
  menu(p, onStage, open) {
    const actions = /** @type {MemberActions} */ (this.actions);
    const details = /** @type {HTMLDetailsElement} */ (el('details', { class: 'member-menu', open }));
    /**
     * @param {string} testid
     * @param {string} text
     * @param {() => void} run
     */
    const item = (testid, text, run) => {
      const button = el('button', { type: 'button', class: 'member-action', role: 'menuitem', 'data-testid': testid, text });
      button.addEventListener('click', () => {
        details.open = false;
        run();
      });
      return button;
    };
    const micOn = (p.media || {})[Source.MICROPHONE] === TrackState.LIVE;
    const isOwner = p.role === Role.OWNER;
    details.append(
      el('summary', { class: 'icon-btn', 'aria-label': t('people.actionsFor', { name: p.name }), title: t('people.ownerActions'), 'data-testid': 'member-menu', text: '⋯' }),
      el('div', { class: 'member-menu-list', role: 'menu' }, [
        item('member-stage', onStage ? t('people.takeOffStage') : t('people.putOnStage'), () => actions.stage(p.id, !onStage)),
        micOn ? item('member-mute', t('people.askMute'), () => actions.mute(p.id)) : null,
        isOwner ? null : item('member-owner', t('people.makeOwner'), () => actions.makeOwner(p.id)),
        isOwner ? null : item('member-remove', t('people.remove'), () => actions.remove(p.id)),
      ]),
    );
    return details;
  }
}

/**
 * One state icon: on, paused (struck through) or not published (struck, dim).
 * @param {string|undefined} state
 * @param {string} onIcon
 * @param {string} offIcon
 * @param {[string, string, string]} labels its text when on, paused and off
 * @returns {HTMLElement}
 */
function stateIcon(state, onIcon, offIcon, labels) {
  const on = state === TrackState.LIVE;
  const text = on ? labels[0] : state === TrackState.PAUSED ? labels[1] : labels[2];
  return el('span', { class: 'state' + (on ? ' is-on' : ' is-off'), title: text, role: 'img', 'aria-label': text }, [
    icon(on ? onIcon : offIcon),
  ]);
}
