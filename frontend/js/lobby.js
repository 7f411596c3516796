// @ts-check
// The lobby and the lock, the hosts' side (the owner's and the co-hosts'):
// the queue of joiners waiting for an answer (at the top of the people
// panel, in arrival order, with Admit, Deny and Admit all), a notice and a
// soft chime for each arrival, and the two settings, the lobby and the
// lock. The joiner's side is the lobby view of room.html, which room.js
// shows while the server says it waits (showWait: in the lobby, or for a
// host to start the meeting). The server checks that the sender is a host.
//
// Hooks: [data-testid="lobby-queue"] (items with data-participant-id and
// buttons "admit" and "deny"), "admit-all", "setting-lobby", "lock-room";
// the waiting view [data-testid="lobby"] with data-code, in_lobby or
// not_started.

import { el } from './dom.js';
import { t } from './i18n.js';
import { ErrorCode, MessageType } from './protocol.js';
import { toast } from './toast.js';

// The lobby's messages (protocol/lobby.go), typed here where they are read.

/**
 * @typedef {Object} Waiter One joiner waiting in the lobby.
 * @property {string} id The participant id it will have once admitted.
 * @property {string} userId
 * @property {string} name
 */

/**
 * @typedef {Object} LobbyMessage To the owner: the queue after any change.
 * @property {'lobby'} type
 * @property {Waiter[]} waiting In arrival order.
 */

/**
 * @typedef {Object} LobbyWait To a joiner: it waits for a host (in_lobby), or for one to come (not_started).
 * @property {'lobby-wait'} type
 * @property {'in_lobby'|'not_started'} code
 * @property {string} message
 */

/**
 * @typedef {Object} LobbyAnswer Owner: let a waiter in, or refuse it.
 * @property {'lobby-admit'|'lobby-deny'} type
 * @property {string} id
 */

/**
 * @typedef {Object} LobbyAdmitAll Owner: let every waiter in.
 * @property {'lobby-admit-all'} type
 */

/** @typedef {import('./protocol.js').ClientMessage} ClientMessage */

export class Lobby {
  /** @param {{send: (msg: ClientMessage) => void}} params */
  constructor(params) {
    this.send = params.send;
    this.section = /** @type {HTMLElement} */ (document.getElementById('lobby-queue'));
    this.list = /** @type {HTMLElement} */ (this.section.querySelector('ol'));
    this.admitAll = /** @type {HTMLButtonElement} */ (document.getElementById('lobby-admit-all'));
    this.lobbyBox = /** @type {HTMLInputElement} */ (document.getElementById('setting-lobby'));
    this.lockButton = /** @type {HTMLButtonElement} */ (document.getElementById('lock-room'));
    this.badge = /** @type {HTMLElement|null} */ (document.querySelector('[data-testid="lobby-count"]'));

    /** @type {Waiter[]} */
    this.waiting = [];
    this.host = false;
    this.locked = false;

    this.list.addEventListener('click', (e) => {
      const button = /** @type {HTMLElement} */ (e.target).closest('button[data-answer]');
      const item = button?.closest('[data-participant-id]');
      if (!button || !item) return;
      this.answer(/** @type {HTMLElement} */ (item).dataset.participantId || '', button.getAttribute('data-answer') === 'admit');
    });
    this.admitAll.addEventListener('click', () => this.send({ type: MessageType.LOBBY_ADMIT_ALL }));
    this.lobbyBox.addEventListener('change', () => this.send({ type: MessageType.ROOM_SETTINGS, lobby: this.lobbyBox.checked }));
    this.lockButton.addEventListener('click', () => this.send({ type: MessageType.ROOM_SETTINGS, locked: !this.locked }));
  }

  /**
   * @param {string} id the waiter's participant id
   * @param {boolean} admit
   */
  answer(id, admit) {
    this.send({ type: admit ? MessageType.LOBBY_ADMIT : MessageType.LOBBY_DENY, id });
  }

  /**
   * The queue from a lobby message: arrivals get a notice and a chime.
   * @param {Waiter[]} waiting in arrival order
   */
  update(waiting) {
    const before = new Set(this.waiting.map((w) => w.id));
    this.waiting = waiting || [];
    const arrivals = this.waiting.filter((w) => !before.has(w.id));
    if (this.host && arrivals.length > 0) {
      chime();
      for (const w of arrivals) {
        toast(t('lobby.arrived', { name: w.name }), 'info', { action: { label: t('lobby.admit'), run: () => this.answer(w.id, true) } });
      }
    }
    this.render();
  }

  /**
   * The room's settings, from welcome or room-updated.
   * @param {import('./protocol.js').Room} room
   */
  setRoom(room) {
    this.lobbyBox.checked = !!room.lobby;
    this.locked = !!room.locked;
    this.render();
  }

  /** @param {boolean} host whether I am a host (the owner or a co-host) */
  setHost(host) {
    if (host === this.host) return;
    this.host = host;
    this.render();
  }

  reset() {
    this.waiting = [];
    this.host = false;
    this.render();
  }

  render() {
    const items = this.waiting.map((w) =>
      el('li', { class: 'lobby-item', 'data-participant-id': w.id }, [
        el('span', { class: 'lobby-who' }, [
          el('span', { class: 'lobby-name', text: w.name }),
          el('span', { class: 'lobby-identity muted small', text: shortIdentity(w.userId), title: w.userId }),
        ]),
        el('button', { class: 'btn btn-small btn-primary', type: 'button', 'data-answer': 'admit', 'data-testid': 'admit', text: t('lobby.admit'), 'aria-label': t('lobby.admitName', { name: w.name }) }),
        el('button', { class: 'btn btn-small', type: 'button', 'data-answer': 'deny', 'data-testid': 'deny', text: t('lobby.deny'), 'aria-label': t('lobby.denyName', { name: w.name }) }),
      ]),
    );
    this.list.replaceChildren(...items);
    this.section.hidden = !this.host || this.waiting.length === 0;
    this.admitAll.hidden = this.waiting.length < 2;
    if (this.badge) {
      const n = this.host ? this.waiting.length : 0;
      this.badge.textContent = String(n);
      this.badge.hidden = n === 0;
    }
    this.lockButton.setAttribute('aria-pressed', String(this.locked));
    this.lockButton.textContent = this.locked ? t('lobby.unlock') : t('lobby.lock');
    this.lockButton.title = this.locked ? t('lobby.lockedHint') : t('lobby.lockHint');
    document.getElementById('view-room')?.toggleAttribute('data-locked', this.locked);
  }
}

/**
 * The joiner's waiting view says why it waits: in the lobby for a host's
 * answer (in_lobby), or for a host to start the meeting (not_started). A
 * room with both first says not_started, then in_lobby once a host came.
 * @param {string} code the lobby-wait's code
 */
export function showWait(code) {
  const view = document.getElementById('view-lobby');
  const heading = document.getElementById('lobby-wait-title');
  const para = document.getElementById('lobby-wait-text');
  if (!view || !heading || !para) return;
  const notStarted = code === ErrorCode.NOT_STARTED;
  view.dataset.code = notStarted ? ErrorCode.NOT_STARTED : ErrorCode.IN_LOBBY;
  heading.textContent = notStarted ? t('lobby.notStartedTitle') : t('lobby.waitTitle');
  // The text names the room: its name element (ui.js fills it) stays.
  const text = notStarted ? t('lobby.notStartedText') : t('lobby.waitText');
  const slot = para.querySelector('.room-name-text') || el('span', { class: 'room-name-text', text: document.querySelector('.room-name-text')?.textContent || '' });
  para.replaceChildren(...text.split(/(\{name\})/).filter(Boolean).map((part) => (part === '{name}' ? slot : document.createTextNode(part))));
}

/**
 * An identity's id, short enough to tell two guests of the same name apart.
 * @param {string} userId
 */
function shortIdentity(userId) {
  return userId.length > 8 ? userId.slice(0, 8) + '…' : userId;
}

/** @type {AudioContext|null} */
let audio = null;

/**
 * A short, soft two-note chime, generated: nothing to download. A browser
 * that has not allowed sound yet (no click on the page) stays silent.
 */
export function chime() {
  try {
    audio = audio || new AudioContext();
    if (audio.state === 'suspended') audio.resume().catch(() => {});
    const start = audio.currentTime + 0.01;
    for (const [i, freq] of [660, 880].entries()) {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.type = 'sine';
      tone.frequency.value = freq;
      const at = start + i * 0.14;
      gain.gain.setValueAtTime(0, at);
      gain.gain.linearRampToValueAtTime(0.08, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.4);
      tone.connect(gain).connect(audio.destination);
      tone.start(at);
      tone.stop(at + 0.42);
    }
  } catch {
    // No Web Audio, or sound not allowed: the notice is enough.
  }
}
