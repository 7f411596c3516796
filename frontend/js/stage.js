// @ts-check
// The stage: the participants whose screen (or camera) is the main view,
// large and the same for everyone, with everyone else in a strip under it.
// Also the controls around it: go on stage / step down, raise hand, the
// hosts' queue of raised hands (accept, decline) and the hosts' room
// settings (classroom, allow others on stage; ending the room is the
// owner's alone). Hosts are the owner and the co-hosts (roles.js).
//
// The server decides everything (app/room/stage.go); this module shows its
// state and sends requests. Stage membership follows the identity
// (userId): every tab of a member is on the stage.
//
// DOM hooks: [data-testid="stage"] holds the stage members' tiles (moved
// there from the grid, so each keeps its <video> elements playing);
// [data-testid="go-on-stage"], [data-testid="leave-stage"],
// [data-testid="raise-hand"]; the queue items carry data-hand-id (a
// participant id) with [data-testid="hand-accept"] and
// [data-testid="hand-decline"] buttons.

import { el } from './dom.js';
import { t } from './i18n.js';
import { handAnswerMessage, handMessage, stageSetMessage } from './messages.js';
import { MessageType, Role } from './protocol.js';
import { isHost, maySelfStage } from './roles.js';
import { shortcutTitle } from './shortcuts.js';

/** @typedef {import('./protocol.js').Participant} Participant */
/** @typedef {import('./protocol.js').Room} Room */
/** @typedef {import('./protocol.js').Hand} Hand */
/** @typedef {import('./protocol.js').StageMember} StageMember */
/** @typedef {import('./protocol.js').ClientMessage} ClientMessage */
/** @typedef {import('./tiles.js').VideoGrid} VideoGrid */

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Outlines of the stage controls' icons (24x24, stroked, like dom.js). */
const ICONS = {
  stage: ['M3 5h18v11H3z', 'M7 20h10', 'M12 16v4', 'M9 12l3-3 3 3'],
  'stage-off': ['M3 5h18v11H3z', 'M7 20h10', 'M12 16v4', 'M9 9l3 3 3-3'],
  hand: ['M8 13V6a1.5 1.5 0 0 1 3 0v5', 'M11 11V4.5a1.5 1.5 0 0 1 3 0V11', 'M14 11V6a1.5 1.5 0 0 1 3 0v8a6 6 0 0 1-6 6h-1a5 5 0 0 1-4.2-2.3L4 15a1.5 1.5 0 0 1 2.5-1.6L8 15'],
};

/**
 * @param {string} name
 * @returns {SVGSVGElement}
 */
export function stageIcon(name) {
  const svg = /** @type {SVGSVGElement} */ (document.createElementNS(SVG_NS, 'svg'));
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  for (const d of ICONS[/** @type {keyof ICONS} */ (name)] || []) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/**
 * Sets a control button's icon and label.
 * @param {HTMLElement|null} button
 * @param {string} iconName
 * @param {string} label
 * @param {string} title
 */
function labelButton(button, iconName, label, title) {
  if (!button) return;
  const old = button.querySelector('svg.icon');
  const next = stageIcon(iconName);
  if (old) old.replaceWith(next);
  else button.prepend(next);
  const text = button.querySelector('.control-label');
  if (text) text.textContent = label;
  button.title = shortcutTitle(button, title);
}

const $ = (/** @type {string} */ id) => document.getElementById(id);

/**
 * @typedef {Object} StageParams
 * @property {VideoGrid} grid the grid whose tiles move onto the stage
 * @property {(msg: ClientMessage) => void} send
 * @property {() => void} [onEndRoom] the owner confirmed "End room"
 */

export class Stage {
  /** @param {StageParams} params */
  constructor(params) {
    this.grid = params.grid;
    this.send = params.send;
    this.onEndRoom = params.onEndRoom;
    this.view = /** @type {HTMLElement} */ ($('stage-view'));
    this.area = /** @type {HTMLElement} */ (this.view.parentElement);
    this.queue = /** @type {HTMLElement} */ ($('hand-queue'));
    this.queueList = /** @type {HTMLElement} */ (this.queue.querySelector('ol'));
    this.settings = /** @type {HTMLElement} */ ($('room-settings'));
    this.classroomBox = /** @type {HTMLInputElement} */ ($('setting-classroom'));
    this.allowStageBox = /** @type {HTMLInputElement} */ ($('setting-allow-stage'));
    this.handCount = /** @type {HTMLElement|null} */ (document.querySelector('[data-testid="hand-count"]'));

    /** @type {StageMember[]} */
    this.members = [];
    /** @type {Hand[]} */
    this.hands = [];
    this.classroom = false;
    this.allowStage = false;
    this.ownerId = '';
    /** @type {Participant|null} */
    this.self = null;
    /** I lowered my own hand: its going down is not an answer. */
    this.lowered = false;

    $('go-on-stage')?.addEventListener('click', () => this.send(stageSetMessage(true)));
    $('leave-stage')?.addEventListener('click', () => this.send(stageSetMessage(false)));
    $('raise-hand')?.addEventListener('click', () => {
      const up = this.handUp();
      this.lowered = up;
      this.send(handMessage(!up));
    });
    this.classroomBox.addEventListener('change', () =>
      this.send({ type: MessageType.ROOM_SETTINGS, classroom: this.classroomBox.checked }),
    );
    this.allowStageBox.addEventListener('change', () =>
      this.send({ type: MessageType.ROOM_SETTINGS, allowStage: this.allowStageBox.checked }),
    );
    $('end-room')?.addEventListener('click', () => {
      if (window.confirm(t('stage.confirmEnd'))) this.onEndRoom?.();
    });
    this.queueList.addEventListener('click', (e) => {
      const button = /** @type {HTMLElement} */ (e.target).closest('button[data-answer]');
      const item = button?.closest('[data-hand-id]');
      if (!button || !item) return;
      this.answer(/** @type {HTMLElement} */ (item).dataset.handId || '', button.getAttribute('data-answer') === 'accept');
    });
  }

  /**
   * The room's settings and stage, from welcome or room-updated.
   * @param {Room} room
   */
  setRoom(room) {
    this.classroom = !!room.classroom;
    this.allowStage = !!room.allowStage;
    this.ownerId = room.owner ? room.owner.id : '';
    if (room.stage) this.members = room.stage;
  }

  /**
   * @param {StageMember[]} members
   * @param {Hand[]} hands
   */
  setStage(members, hands) {
    this.members = members || [];
    this.hands = hands || [];
  }

  /** @param {Participant|null} self */
  setSelf(self) {
    this.self = self;
  }

  /** Forgets everything of one connection. */
  reset() {
    this.members = [];
    this.hands = [];
    this.self = null;
    this.arrange([]);
    this.render();
  }

  /**
   * @param {string} userId
   * @returns {boolean}
   */
  isOnStage(userId) {
    return this.members.some((m) => m.userId === userId);
  }

  /** @returns {boolean} whether my identity is on the stage */
  selfOnStage() {
    return !!this.self && this.isOnStage(this.self.userId);
  }

  /** @returns {boolean} whether I own the room (only the owner ends it or hands it over) */
  isOwner() {
    return !!this.self && this.self.role === Role.OWNER;
  }

  /** @returns {boolean} whether I am a host: the owner or a co-host */
  isHost() {
    return !!this.self && isHost(this.self.role);
  }

  /** @returns {boolean} whether my hand is up */
  handUp() {
    return !!this.self && this.hands.some((h) => h.id === this.self?.id);
  }

  /**
   * A participant's place in the hand queue, 1-based; 0 when its hand is down.
   * @param {string} id
   * @returns {number}
   */
  handPosition(id) {
    return this.hands.findIndex((h) => h.id === id) + 1;
  }

  /**
   * @param {string} id participant id
   * @param {boolean} accept
   */
  answer(id, accept) {
    if (id) this.send(handAnswerMessage(id, accept));
  }

  /**
   * Moves the tiles of the stage members' participants onto the stage, in
   * the stage's order (and join order within one identity), and every
   * other tile back into the grid. A moved tile keeps its elements, so
   * video plays on; a video the move paused is started again.
   * @param {Participant[]} participants everyone, me included, in join order
   */
  arrange(participants) {
    /** @type {string[]} */
    const onStage = [];
    for (const m of this.members) {
      for (const p of participants) if (p.userId === m.userId) onStage.push(p.id);
    }
    const staged = new Set(onStage);
    onStage.forEach((id, index) => {
      const tile = this.grid.get(id);
      if (!tile) return;
      if (this.view.children[index] !== tile.root) this.view.insertBefore(tile.root, this.view.children[index] || null);
    });
    for (const node of [...this.view.children]) {
      const id = /** @type {HTMLElement} */ (node).dataset.participantId || '';
      if (staged.has(id) && this.grid.get(id)) continue;
      const tile = this.grid.get(id);
      if (tile) {
        if (tile.local) this.grid.root.prepend(tile.root);
        else this.grid.root.append(tile.root);
      } else {
        node.remove();
      }
    }
    const count = this.view.children.length;
    this.view.hidden = count === 0;
    this.view.dataset.count = String(count);
    this.area.classList.toggle('has-stage', count > 0);
    for (const video of /** @type {NodeListOf<HTMLVideoElement>} */ (this.area.querySelectorAll('video'))) {
      if (video.paused && video.srcObject) video.play().catch(() => {});
    }
    this.grid.layout();
  }

  /** Redraws the controls, the queue and the settings from the state. */
  render() {
    const joined = !!this.self;
    const host = this.isHost();
    // Hosts and presenters step on by themselves; others when the room allows it.
    const selfStage = joined && maySelfStage(this.self?.role, this.allowStage);
    const on = this.selfOnStage();
    const go = $('go-on-stage');
    const leave = $('leave-stage');
    const hand = $('raise-hand');
    if (go) {
      go.hidden = !joined || on || !selfStage;
      labelButton(go, 'stage', t('stage.goOn'), t('stage.goOnTitle'));
    }
    if (leave) {
      leave.hidden = !joined || !on;
      labelButton(leave, 'stage-off', t('stage.leave'), t('stage.leaveTitle'));
    }
    if (hand) {
      const up = this.handUp();
      hand.hidden = !joined || on || selfStage;
      hand.setAttribute('aria-pressed', String(up));
      labelButton(hand, 'hand', up ? t('stage.lowerHand') : t('stage.raiseHand'), up ? t('stage.lowerHandTitle') : t('stage.raiseHandTitle'));
    }

    // The hosts' queue, in order.
    this.queue.hidden = !host || this.hands.length === 0;
    const items = this.hands.map((h, i) =>
      el('li', { class: 'hand-item', 'data-testid': 'hand', 'data-hand-id': h.id }, [
        el('span', { class: 'hand-pos', text: String(i + 1) }),
        el('span', { class: 'hand-name', text: h.name }),
        el('button', { class: 'btn btn-small btn-primary', type: 'button', 'data-answer': 'accept', 'data-testid': 'hand-accept', text: t('stage.accept'), title: t('stage.acceptTitle', { name: h.name }) }),
        el('button', { class: 'btn btn-small', type: 'button', 'data-answer': 'decline', 'data-testid': 'hand-decline', text: t('stage.decline') }),
      ]),
    );
    this.queueList.replaceChildren(...items);
    if (this.handCount) {
      const n = host ? this.hands.length : 0;
      this.handCount.textContent = String(n);
      this.handCount.hidden = n === 0;
    }

    this.settings.hidden = !host;
    const end = $('end-room');
    if (end) end.hidden = !this.isOwner();
    this.classroomBox.checked = this.classroom;
    this.allowStageBox.checked = this.allowStage;
    document.getElementById('view-room')?.toggleAttribute('data-classroom', this.classroom);
  }
}
