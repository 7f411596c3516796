// @ts-check
// Emoji reactions. The `reaction` button of the controls bar opens a small
// picker of the fixed set (protocol.js REACTIONS); choosing one sends a
// `reaction` message, and every page, this one included (from the server's
// echo), floats the emoji over the sender's tile for a moment. Nothing is
// kept: a reaction is not chat, and the server stores none.
//
// The module shares the call's socket through a tap, as the chat does, and
// finds a sender's tile by the tiles' own hook, [data-participant-id]; the
// floating element is its own (tiles.js knows nothing of it):
//   <span class="reaction-float" data-testid="reaction-float"
//         data-emoji="👍" data-from="p_…" aria-hidden="true">👍</span>
// It is removed after FLOAT_MS. The picker's buttons are
// [data-testid="reaction-option"][data-emoji].

import { el } from './dom.js';
import { errorText, t } from './i18n.js';
import { reactionMessage } from './messages.js';
import { ErrorCode, MessageType, REACTIONS, REACTION_BURST, REACTIONS_PER_SECOND } from './protocol.js';
import { toast } from './toast.js';

/** @typedef {import('./signaling.js').Signaling} Signaling */
/** @typedef {import('./signaling.js').ConnectionState} ConnectionState */
/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */

/** How long a reaction floats (keep in step with the animation in tools.css). */
const FLOAT_MS = 2600;
/** At most this many reactions float over one tile at once; older ones go first. */
const MAX_FLOATS_PER_TILE = 6;

/** Each emoji's name, for screen readers and tooltips. */
const NAMES = /** @type {Record<string, () => string>} */ ({
  '👍': () => t('room.reactionThumbsUp'),
  '👏': () => t('room.reactionClap'),
  '😂': () => t('room.reactionLaugh'),
  '❤️': () => t('room.reactionHeart'),
  '🎉': () => t('room.reactionParty'),
  '😮': () => t('room.reactionWow'),
  '🤔': () => t('room.reactionThinking'),
  '✋': () => t('room.reactionHand'),
});

const SVG_NS = 'http://www.w3.org/2000/svg';

/** The picker button's icon: a smiling face, stroked like dom.js icons. */
function smileIcon() {
  const svg = /** @type {SVGSVGElement} */ (document.createElementNS(SVG_NS, 'svg'));
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  for (const d of ['M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z', 'M8 14.5s1.5 2 4 2 4-2 4-2', 'M9 9.5h.01', 'M15 9.5h.01']) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/**
 * A token bucket like the server's (app/room/reaction.go), so the page says
 * "slow down" itself rather than send what the server would refuse.
 */
export class Pacer {
  /**
   * @param {number} burst
   * @param {number} perSecond
   */
  constructor(burst, perSecond) {
    this.burst = burst;
    this.perSecond = perSecond;
    this.tokens = burst;
    this.last = -Infinity;
  }

  /**
   * Takes a token at now (ms) and reports whether there was one.
   * @param {number} now
   * @returns {boolean}
   */
  take(now) {
    if (this.last === -Infinity) this.last = now;
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * @typedef {Object} ReactionsParams
 * @property {HTMLElement|null} controls the controls bar; the button goes in it
 * @property {(id: string) => string} nameOf a participant's display name, '' if unknown
 * @property {(id: string) => boolean} isSelf whether a participant id is this tab
 */

export class Reactions {
  /** @param {ReactionsParams} params */
  constructor(params) {
    this.nameOf = params.nameOf;
    this.isSelf = params.isSelf;
    /** @type {Signaling|null} */
    this.signaling = null;
    /** @type {(() => void)|null} */
    this.untap = null;
    this.pacer = new Pacer(REACTION_BURST, REACTIONS_PER_SECOND);

    this.button = /** @type {HTMLButtonElement} */ (
      el(
        'button',
        {
          class: 'control control-reaction',
          id: 'reaction',
          type: 'button',
          'data-testid': 'reaction',
          'aria-haspopup': 'true',
          'aria-expanded': 'false',
          'aria-controls': 'reaction-picker',
          title: t('room.reactionsTitle'),
        },
        [smileIcon(), el('span', { class: 'control-label', text: t('room.reactions') })],
      )
    );
    this.picker = el(
      'div',
      { class: 'reaction-picker', id: 'reaction-picker', role: 'group', 'aria-label': t('room.reactionsPicker'), hidden: true },
      REACTIONS.map((emoji) => {
        const name = NAMES[emoji] ? NAMES[emoji]() : emoji;
        return el('button', {
          type: 'button',
          class: 'reaction-option',
          'data-testid': 'reaction-option',
          'data-emoji': emoji,
          title: name,
          'aria-label': name,
          text: emoji,
        });
      }),
    );
    this.root = el('div', { class: 'reaction-control' }, [this.picker, this.button]);
    // Screen readers hear "Ana reacted 👍" (not my own reactions, as the
    // room's announcer says nothing of what I do); the floating emoji is
    // decoration.
    this.announcer = el('div', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });

    const controls = params.controls;
    if (controls) {
      const leave = controls.querySelector('#leave');
      controls.insertBefore(this.root, leave && leave.parentElement === controls ? leave : null);
    }
    document.body.append(this.announcer);

    this.button.addEventListener('click', () => this.toggle());
    this.picker.addEventListener('click', (e) => {
      const option = /** @type {HTMLElement} */ (e.target).closest('[data-emoji]');
      if (option) this.pick(/** @type {string} */ (option.getAttribute('data-emoji')));
    });
    this.picker.addEventListener('keydown', (e) => this.pickerKey(e));
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.isOpen()) {
        // Handled: the same Escape must not also close a drawer.
        e.preventDefault();
        this.close();
        this.button.focus();
      }
    });
    document.addEventListener('pointerdown', (e) => {
      if (this.isOpen() && !this.root.contains(/** @type {Node} */ (e.target))) this.close();
    });
  }

  /**
   * Shares a call's socket (a new one on every join).
   * @param {Signaling} signaling
   */
  attach(signaling) {
    this.untap?.();
    this.signaling = signaling;
    this.untap = signaling.follow(this);
  }

  /** @returns {boolean} */
  isOpen() {
    return !this.picker.hidden;
  }

  toggle() {
    if (this.isOpen()) this.close();
    else this.open();
  }

  open() {
    // On a phone the picker is centred on the screen (tools.css): keep it
    // just above the controls bar, however many rows it wrapped to.
    const top = (this.button.closest('.controls') || this.button).getBoundingClientRect().top;
    this.picker.style.setProperty('--picker-bottom', `${Math.max(0, Math.round(window.innerHeight - top + 8))}px`);
    this.picker.hidden = false;
    this.button.setAttribute('aria-expanded', 'true');
    /** @type {HTMLElement|null} */ (this.picker.querySelector('button'))?.focus();
  }

  close() {
    this.picker.hidden = true;
    this.button.setAttribute('aria-expanded', 'false');
  }

  /**
   * Arrow keys move along the picker; Home and End jump to its ends.
   * @param {KeyboardEvent} e
   */
  pickerKey(e) {
    const options = /** @type {HTMLElement[]} */ ([...this.picker.querySelectorAll('button')]);
    const at = options.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    let next = -1;
    if (e.key === 'ArrowRight' || e.key === 'ArrowDown') next = (at + 1) % options.length;
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') next = (at - 1 + options.length) % options.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = options.length - 1;
    if (next < 0) return;
    e.preventDefault();
    options[next].focus();
  }

  /**
   * Sends one reaction, paced like the server. The picker stays open, so
   * that applause is several clicks.
   * @param {string} emoji
   */
  pick(emoji) {
    if (!REACTIONS.includes(emoji)) return;
    if (!this.signaling || this.signaling.state !== 'connected') {
      toast(t('room.reactionOffline'), 'info');
      return;
    }
    if (!this.pacer.take(performance.now())) {
      toast(t('room.reactionSlowDown'), 'info');
      return;
    }
    if (!this.signaling.send(reactionMessage(emoji))) toast(t('room.reactionOffline'), 'info');
  }

  /**
   * Claims reactions and the errors of reaction requests.
   * @param {ServerMessage} msg
   * @returns {boolean}
   */
  handle(msg) {
    if (msg.type === MessageType.REACTION) {
      if (msg.from) this.show(msg.from, msg.emoji);
      return true;
    }
    if (msg.type === MessageType.ERROR && msg.ref === MessageType.REACTION) {
      toast(msg.code === ErrorCode.RATE_LIMITED ? t('room.reactionSlowDown') : errorText(msg.code, msg.message), 'info');
      return true;
    }
    return false;
  }

  /** @param {ConnectionState} state */
  stateChanged(state) {
    const connected = state === 'connected';
    this.button.disabled = !connected;
    if (!connected) this.close();
  }

  /**
   * Floats emoji over the tile of participant from, and says so to screen
   * readers. A reaction of someone without a tile here shows nothing.
   * @param {string} from
   * @param {string} emoji
   */
  show(from, emoji) {
    if (!REACTIONS.includes(emoji)) return;
    const tile = document.querySelector(`[data-participant-id="${CSS.escape(from)}"]`);
    if (!tile) return;
    const floats = tile.querySelectorAll(':scope > .reaction-float');
    for (let i = 0; i <= floats.length - MAX_FLOATS_PER_TILE; i++) floats[i].remove();
    const float = el('span', {
      class: 'reaction-float',
      'data-testid': 'reaction-float',
      'data-emoji': emoji,
      'data-from': from,
      'aria-hidden': 'true',
      text: emoji,
    });
    // A little sideways drift, so that several reactions do not stack
    // exactly (CSSOM custom property: the CSP allows it).
    float.style.setProperty('--drift', `${Math.round((Math.random() - 0.5) * 60)}px`);
    tile.append(float);
    window.setTimeout(() => float.remove(), FLOAT_MS);

    if (this.isSelf(from)) return;
    const name = this.nameOf(from) || t('room.someone');
    this.announcer.textContent = t('room.reactionAnnounce', { name, emoji });
  }
}
