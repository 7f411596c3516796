// @ts-check
// Accessibility of the room page beyond the markup:
//
// - Announcer: a visually hidden aria-live="polite" region
//   ([data-testid="announcer"]) that tells screen-reader users what others
//   do: joins, leaves, raised hands and new chat messages. It listens on the
//   call's socket (a Signaling tap). Nothing one does oneself is announced
//   (nor one's other tabs), and bursts are coalesced: what happens within
//   COALESCE_MS is said once ("Ana, and 4 others joined").
// - Focus care (setupFocusReturn): Escape closes an open menu (<details>)
//   or a non-modal dialog, and the focus goes back to what opened it when
//   a menu or dialog closes. Modal <dialog>s close on Escape natively.
//
// summarize, summarizeMessages and clip are pure, for node --test.

import { el } from './dom.js';
import { t } from './i18n.js';
import { newcomers } from './messages.js';
import { LeaveReason, MessageType } from './protocol.js';

/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */
/** @typedef {import('./signaling.js').Signaling} Signaling */

/** Events of one kind within this time are announced together. */
export const COALESCE_MS = 1000;
/** A chat message is read up to this many characters. */
const MAX_TEXT = 140;
/** Lines kept in the region (older ones are gone from it, not unsaid). */
const KEEP = 5;

/** @typedef {'joined'|'left'|'hand'} NameKind */
/** @typedef {{key: string, params: Record<string, string|number>}} Announcement */

/**
 * One announcement for the names of one kind of event, in order. Pure.
 * @param {NameKind} kind
 * @param {string[]} names
 * @returns {Announcement|null}
 */
export function summarize(kind, names) {
  if (names.length === 0) return null;
  const key = 'a11y.' + kind;
  if (names.length === 1) return { key, params: { name: names[0] } };
  if (names.length === 2) return { key: key + 'Two', params: { first: names[0], second: names[1] } };
  return { key: key + 'Many', params: { name: names[0], count: names.length - 1 } };
}

/**
 * A message's text as one short line: whitespace runs become one space,
 * and a long text is cut (by characters, not UTF-16 units) with "…". Pure.
 * @param {string} text
 * @param {number} [max]
 */
export function clip(text, max = MAX_TEXT) {
  const chars = Array.from(text.replace(/\s+/g, ' ').trim());
  return chars.length > max ? chars.slice(0, max - 1).join('') + '…' : chars.join('');
}

/**
 * One announcement for new chat messages: the message itself when it came
 * alone, else how many came. Pure.
 * @param {{name: string, text: string}[]} messages
 * @returns {Announcement|null}
 */
export function summarizeMessages(messages) {
  if (messages.length === 0) return null;
  if (messages.length === 1) return { key: 'a11y.message', params: { name: messages[0].name, text: clip(messages[0].text) } };
  return { key: 'a11y.messages', params: { count: messages.length } };
}

export class Announcer {
  constructor() {
    this.region = el('div', { class: 'visually-hidden', 'data-testid': 'announcer', 'aria-live': 'polite' });
    document.body.append(this.region);
    this.selfId = '';
    this.selfUserId = '';
    /** @type {Map<string, {name: string, userId: string}>} the others, by participant id */
    this.people = new Map();
    /** @type {Set<string>} participant ids with a raised hand */
    this.hands = new Set();
    /** @type {Record<NameKind, string[]>} */
    this.pending = { joined: [], left: [], hand: [] };
    /** @type {{name: string, text: string}[]} */
    this.messages = [];
    this.timer = 0;
    /** @type {(() => void)|null} */
    this.untap = null;
  }

  /**
   * Says one line. A new node in the region is what screen readers read.
   * @param {string} text
   */
  say(text) {
    this.region.append(el('p', { text }));
    while (this.region.childElementCount > KEEP) this.region.firstElementChild?.remove();
  }

  /**
   * Follows a connection (every join makes a new one). Attach before the
   * chat: the chat's tap claims the chat messages.
   * @param {Signaling} signaling
   */
  attach(signaling) {
    this.untap?.();
    this.untap = signaling.addTap({
      onMessage: (msg) => {
        this.handle(msg);
        return false; // only listening
      },
    });
  }

  /** @param {ServerMessage} msg */
  handle(msg) {
    switch (msg.type) {
      case MessageType.WELCOME:
        // A (re)start: who is here already is not news.
        this.selfId = msg.self.id;
        this.selfUserId = msg.self.userId;
        this.people = new Map((msg.participants || []).map((p) => [p.id, { name: p.name, userId: p.userId }]));
        this.hands = new Set((msg.hands || []).map((h) => h.id));
        this.pending = { joined: [], left: [], hand: [] };
        this.messages = [];
        break;
      case MessageType.PARTICIPANT_JOINED:
      case MessageType.PARTICIPANTS_JOINED:
        for (const p of newcomers(msg, this.selfId, (id) => this.people.has(id))) {
          this.people.set(p.id, { name: p.name, userId: p.userId });
          if (!this.mine(p.userId)) this.queue('joined', p.name);
        }
        break;
      case MessageType.PARTICIPANT_LEFT: {
        const who = this.people.get(msg.id);
        this.people.delete(msg.id);
        this.hands.delete(msg.id);
        if (who && msg.id !== this.selfId && msg.reason !== LeaveReason.ENDED && !this.mine(who.userId)) this.queue('left', who.name);
        break;
      }
      case MessageType.PARTICIPANT_UPDATED: {
        const p = msg.participant;
        if (this.people.has(p.id)) this.people.set(p.id, { name: p.name, userId: p.userId });
        break;
      }
      case MessageType.STAGE: {
        const hands = msg.hands || [];
        for (const h of hands) {
          if (!this.hands.has(h.id) && h.id !== this.selfId && !this.mine(h.userId)) this.queue('hand', h.name);
        }
        this.hands = new Set(hands.map((h) => h.id));
        break;
      }
      case MessageType.CHAT_MESSAGE:
        if (this.mine(msg.userId) || msg.from === this.selfId) break;
        this.messages.push({ name: msg.fromName, text: msg.text });
        this.schedule();
        break;
      default:
    }
  }

  /**
   * Whether an identity is mine (this tab or another of my tabs).
   * @param {string} userId
   */
  mine(userId) {
    return !!userId && userId === this.selfUserId;
  }

  /**
   * @param {NameKind} kind
   * @param {string} name
   */
  queue(kind, name) {
    this.pending[kind].push(name);
    this.schedule();
  }

  schedule() {
    if (!this.timer) this.timer = window.setTimeout(() => this.flush(), COALESCE_MS);
  }

  /** Says what gathered since the first event of the burst. */
  flush() {
    this.timer = 0;
    /** @type {(Announcement|null)[]} */
    const lines = [
      summarize('joined', this.pending.joined),
      summarize('left', this.pending.left),
      summarize('hand', this.pending.hand),
      summarizeMessages(this.messages),
    ];
    this.pending = { joined: [], left: [], hand: [] };
    this.messages = [];
    for (const line of lines) if (line) this.say(t(line.key, line.params));
  }
}

/** @param {Element|null} node */
function focusable(node) {
  return node instanceof HTMLElement && node.isConnected && node.getClientRects().length > 0;
}

/**
 * Escape closes the innermost open menu (<details>) or non-modal dialog,
 * and the focus returns to its opener (the <summary>, or what had the
 * focus before the dialog) whenever one closes. Runs before the page's own
 * Escape (closing drawers), which skips an Escape handled here
 * (defaultPrevented).
 */
export function setupFocusReturn() {
  /** @type {WeakMap<Element, HTMLElement>} */
  const openers = new WeakMap();

  document.addEventListener(
    'keydown',
    (e) => {
      if (e.key !== 'Escape' || e.defaultPrevented) return;
      const target = e.target instanceof Element ? e.target : null;
      const dialog = target?.closest('dialog[open]');
      if (dialog instanceof HTMLDialogElement) {
        // Modal dialogs close on Escape by themselves.
        if (!dialog.matches(':modal')) {
          e.preventDefault();
          dialog.close();
        }
        return;
      }
      const menu =
        target?.closest('details[open]') ||
        [...document.querySelectorAll('details[open]')].find((d) => focusable(d) && d.querySelector(':scope > [role="menu"]'));
      if (menu instanceof HTMLDetailsElement) {
        e.preventDefault();
        menu.open = false;
        /** @type {HTMLElement|null} */ (menu.querySelector(':scope > summary'))?.focus();
      }
    },
    true,
  );

  // A menu closed by one of its items: the focus, on the item that is no
  // longer shown, goes back to the menu's button.
  document.addEventListener(
    'toggle',
    (e) => {
      const details = e.target;
      if (!(details instanceof HTMLDetailsElement) || details.open) return;
      const active = document.activeElement;
      if (active === document.body || (active && details.contains(active))) {
        /** @type {HTMLElement|null} */ (details.querySelector(':scope > summary'))?.focus();
      }
    },
    true,
  );

  // Dialogs: remember what had the focus before one, give it back after.
  document.addEventListener(
    'focusin',
    (e) => {
      const target = e.target instanceof Element ? e.target : null;
      const dialog = target?.closest('dialog, [role="dialog"], [role="alertdialog"]');
      const from = e.relatedTarget;
      if (dialog && !openers.has(dialog) && from instanceof HTMLElement && !dialog.contains(from)) openers.set(dialog, from);
    },
    true,
  );
  document.addEventListener(
    'close',
    (e) => {
      const dialog = e.target;
      if (!(dialog instanceof HTMLDialogElement)) return;
      const opener = openers.get(dialog);
      openers.delete(dialog);
      const active = document.activeElement;
      if (opener && focusable(opener) && (active === document.body || (active && dialog.contains(active)))) opener.focus({ preventScroll: true });
    },
    true,
  );
}
