// @ts-check
// The participant list in the left panel: who is here, who hosts the room,
// who presents, who is watching only, and the state of everyone's mic,
// camera and screen.
//
// Items carry data-member-id, not data-participant-id: that attribute
// belongs to the video tiles, and tests select tiles by it.
//
// Stage members and raised hands get badges; a host (the owner or a
// co-host) gets a menu on each of the others: stage on/off, ask to mute,
// co-host and presenter on/off, make owner (the owner's only), remove, and
// remove and ban. Which items, roles.js decides; the server checks every
// one of those requests again.

import { avatarClass, el, icon, initials } from './dom.js';
import { language, t } from './i18n.js';
import { Connection, Role, Source, TrackState } from './protocol.js';
import { memberActions, roleRank } from './roles.js';

/** @typedef {import('./protocol.js').Participant} Participant */
/** @typedef {import('./roles.js').MemberAction} MemberAction */

/**
 * What the list needs to know of the stage, and my role (a host's page
 * shows the menus).
 * @typedef {Object} StageContext
 * @property {(userId: string) => boolean} onStage
 * @property {(id: string) => number} handPosition 1-based; 0 when the hand is down
 * @property {string} role my role in the room ('' before the welcome)
 */

/**
 * A host's actions on a participant (by participant id).
 * @typedef {Object} MemberActions
 * @property {(id: string, on: boolean) => void} stage
 * @property {(id: string) => void} mute
 * @property {(id: string, role: 'moderator'|'presenter'|'participant') => void} setRole
 * @property {(id: string) => void} makeOwner
 * @property {(id: string) => void} remove
 * @property {(id: string) => void} ban removes and bans, once confirmed
 * @property {() => void} [rename] opens the dialog that renames me (everyone has it)
 */

/** @type {StageContext} */
const NO_STAGE = { onStage: () => false, handPosition: () => 0, role: '' };

/**
 * The badge of a role that has one: the owner's crown, a co-host's shield,
 * a presenter's screen, a spectator's eye. Also on the tiles (tiles.js).
 * @param {string} role
 * @returns {HTMLElement|null}
 */
export function roleBadge(role) {
  switch (role) {
    case Role.OWNER:
      return el('span', { class: 'badge badge-owner', 'data-role': role, title: t('people.ownerTitle') }, [icon('crown'), t('people.owner')]);
    case Role.MODERATOR:
      return el('span', { class: 'badge badge-moderator', 'data-role': role, title: t('people.moderatorTitle') }, [icon('shield'), t('people.moderator')]);
    case Role.PRESENTER:
      return el('span', { class: 'badge badge-presenter', 'data-role': role, title: t('people.presenterTitle') }, [icon('present'), t('people.presenter')]);
    case Role.SPECTATOR:
      return el('span', { class: 'badge badge-spectator', 'data-role': role, title: t('people.spectatorTitle') }, [icon('eye'), t('people.spectator')]);
    default:
      return null;
  }
}

export class PeopleList {
  /**
   * @param {HTMLElement} list the <ul>
   * @param {HTMLElement[]} counters elements that show the number of people
   * @param {MemberActions} [actions] the hosts' menu actions
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
        roleRank(a.role) - roleRank(b.role) ||
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
    const role = roleBadge(p.role);
    if (role) badges.push(role);
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

    // A re-render (any media change) must not close a menu a host has open.
    const menuOpen = !!(/** @type {HTMLDetailsElement|null} */ (li.querySelector('details.member-menu'))?.open);
    // Nor drop the keyboard focus from its button: it moves to the new copy.
    const focused = li.contains(document.activeElement) ? document.activeElement?.getAttribute('data-testid') : null;
    const menu = this.actions ? this.menu(p, onStage, isSelf, menuOpen) : null;
    li.replaceChildren(
      el('span', { class: 'avatar avatar-sm ' + avatarClass(p.userId || p.id), 'aria-hidden': 'true', text: initials(p.name) }),
      el('span', { class: 'member-main' }, [
        el('span', { class: 'member-name', text: p.name }, [isSelf ? el('span', { class: 'muted', text: t('people.you') }) : null]),
        badges.length ? el('span', { class: 'member-badges' }, badges) : null,
      ]),
      el('span', { class: 'member-states' }, states),
      ...(isSelf && this.actions?.rename ? [this.renameButton(this.actions.rename)] : []),
      ...(menu ? [menu] : []),
    );
    li.dataset.role = p.role;
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
   * A host's menu on one participant: a <details> that needs no script to
   * open and close. Null when it would offer nothing (I am no host, or it
   * is me).
   * @param {Participant} p
   * @param {boolean} onStage
   * @param {boolean} isSelf
   * @param {boolean} open
   * @returns {HTMLElement|null}
   */
  menu(p, onStage, isSelf, open) {
    const micOn = (p.media || {})[Source.MICROPHONE] === TrackState.LIVE;
    const offered = memberActions(this.ctx.role, { role: p.role, onStage, micOn, self: isSelf });
    if (offered.length === 0) return null;
    const actions = /** @type {MemberActions} */ (this.actions);
    const details = /** @type {HTMLDetailsElement} */ (el('details', { class: 'member-menu', open }));
    /**
     * @param {string} testid
     * @param {string} text
     * @param {() => void} run
     * @param {string} [kind] a class for its look (danger)
     */
    const item = (testid, text, run, kind) => {
      const button = el('button', { type: 'button', class: 'member-action' + (kind ? ' ' + kind : ''), role: 'menuitem', 'data-testid': testid, text });
      button.addEventListener('click', () => {
        details.open = false;
        run();
      });
      return button;
    };
    /** @param {MemberAction} action */
    const build = (action) => {
      switch (action) {
        case 'stage-on':
          return item('member-stage', t('people.putOnStage'), () => actions.stage(p.id, true));
        case 'stage-off':
          return item('member-stage', t('people.takeOffStage'), () => actions.stage(p.id, false));
        case 'mute':
          return item('member-mute', t('people.askMute'), () => actions.mute(p.id));
        case 'make-moderator':
          return item('member-moderator', t('people.makeCoHost'), () => actions.setRole(p.id, Role.MODERATOR));
        case 'unmake-moderator':
          return item('member-moderator', t('people.removeCoHost'), () => actions.setRole(p.id, Role.PARTICIPANT));
        case 'make-presenter':
          return item('member-presenter', t('people.makePresenter'), () => actions.setRole(p.id, Role.PRESENTER));
        case 'unmake-presenter':
          return item('member-presenter', t('people.removePresenter'), () => actions.setRole(p.id, Role.PARTICIPANT));
        case 'make-owner':
          return item('member-owner', t('people.makeOwner'), () => actions.makeOwner(p.id));
        case 'remove':
          return item('member-remove', t('people.remove'), () => actions.remove(p.id), 'is-danger');
        case 'ban':
          return item('member-ban', t('people.ban'), () => actions.ban(p.id), 'is-danger');
      }
      return null;
    };
    // A thin line between the groups: stage and sound, roles, the room.
    /** @type {(HTMLElement|null)[]} */
    const children = [];
    let group = -1;
    for (const action of offered) {
      const g = action === 'stage-on' || action === 'stage-off' || action === 'mute' ? 0 : action === 'remove' || action === 'ban' ? 2 : 1;
      if (group >= 0 && g !== group) children.push(el('span', { class: 'member-menu-sep', role: 'separator' }));
      group = g;
      children.push(build(action));
    }
    details.append(
      el('summary', { class: 'icon-btn', 'aria-label': t('people.actionsFor', { name: p.name }), title: t('people.ownerActions'), 'data-testid': 'member-menu', text: '⋯' }),
      el('div', { class: 'member-menu-list', role: 'menu' }, children),
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
