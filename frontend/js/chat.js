// @ts-check
// The room chat: the panel of the call (message list, compose form, unread
// badge) and the read-only history of an ended room.
//
// Chat is a star (docs/PROTOCOL.md, "Chat messages"): the page sends
// chat-send over the room's WebSocket and the server numbers, stores and
// fans out each message, the sender's own copy being its acknowledgement.
// This module shares the socket with the call through a Signaling tap: it
// claims the chat messages and chat errors, and leaves the rest to call.js.
//
// - Messages are kept by seq: history, resync pages and live messages may
//   overlap or arrive in any order, and each seq is shown once, in order.
// - What the user sends goes to an outbox, shown as pending until its echo
//   (same clientId) arrives. The outbox sends one message at a time, so that
//   an error (which names no clientId) always belongs to the one in flight.
//   After a reconnect the head is sent again with the same clientId, and the
//   server answers with what it already stored instead of storing it twice.
// - After a reconnect the page asks chat-sync {after: last seq seen}.
// - A refused message goes back into the input with the server's reason:
//   nothing the user typed is lost.
// - User text is only ever put in the page with textContent; http(s) links
//   become <a> elements built with DOM calls.

import { el } from './dom.js';
import { errorText, formatDateTime, formatFullDateTime, formatTime, plural, t } from './i18n.js';
import { chatSendMessage, chatSyncMessage } from './messages.js';
import { ErrorCode, MAX_CHAT_CHARS, MessageType } from './protocol.js';

/** @typedef {import('./protocol.js').ChatMessage} ChatMessage */
/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */
/** @typedef {import('./signaling.js').Signaling} Signaling */
/** @typedef {import('./signaling.js').ConnectionState} ConnectionState */

/** The counter appears from this many characters on. */
const COUNTER_FROM = Math.floor(MAX_CHAT_CHARS * 0.8);
/**
 * Beyond this many characters a message is refused here: it could not fit
 * in one 64 KiB frame, and the server would drop the connection instead of
 * answering. Up to it, the server decides (and says chat_too_long).
 */
const LOCAL_HARD_LIMIT = MAX_CHAT_CHARS * 4;
/** Messages of one sender closer than this are grouped under one header. */
const GROUP_MS = 3 * 60 * 1000;
/**
 * Sends of one message before giving up on it. Each reconnect sends the
 * head of the outbox again; a message that keeps costing the connection
 * must not do so forever.
 */
const MAX_ATTEMPTS = 4;
/**
 * A mirror of the server's default rate limit (chat/limit.go: a burst of 10,
 * then 2 per second), used only to pace the outbox so that a queue flushed
 * after a reconnect does not run into the limit. The server stays the judge.
 */
const PACE_BURST = 10;
const PACE_RATE = 2;
/** Page size of GET /api/rooms/:id/messages (the server allows 500). */
const REST_PAGE = 500;
/** The ended-room view reads at most this many pages. */
const ARCHIVE_MAX_PAGES = 40;
/** Where the desktop collapse state of the panel is remembered. */
const COLLAPSE_KEY = 'meet.chatCollapsed';
/** Desktop: the side panels sit beside the grid (room.css). */
const DESKTOP = '(min-width: 1001px)';

// --- rendering ---------------------------------------------------------------

/**
 * Control characters other than tab and newlines: the server refuses them,
 * and they are invisible, so they are dropped before sending.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g;

/** http and https links; the rest of the text stays text. */
const LINK = /\bhttps?:\/\/[^\s<>"'`]+/gi;

/**
 * Characters the user sees: code points after trimming, as the server counts.
 * @param {string} text
 */
export function chatLength(text) {
  let n = 0;
  // eslint-disable-next-line no-unused-vars
  for (const _ of text.trim()) n++;
  return n;
}

/**
 * Appends text to a node, with http(s) links as anchors that open in a new
 * tab and do not give the target a handle on this page.
 * @param {HTMLElement} node
 * @param {string} text
 */
export function appendLinkified(node, text) {
  let at = 0;
  for (const match of text.matchAll(LINK)) {
    let raw = match[0];
    // "see https://example.org." ends the sentence, not the link.
    raw = raw.replace(/[.,:;!?'"*]+$/, '');
    if (raw.endsWith(')') && !raw.includes('(')) raw = raw.slice(0, -1);
    let url;
    try {
      url = new URL(raw);
    } catch {
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
    const start = /** @type {number} */ (match.index);
    if (start > at) node.append(document.createTextNode(text.slice(at, start)));
    const a = document.createElement('a');
    a.href = url.href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.textContent = raw;
    node.append(a);
    at = start + raw.length;
  }
  if (at < text.length) node.append(document.createTextNode(text.slice(at)));
}

/**
 * "14:05" today, "12 Mar, 14:05" on another day, in the viewer's time zone
 * and the page's language.
 * @param {Date} d
 */
function shortTime(d) {
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  return sameDay ? formatTime(d) : formatDateTime(d);
}

/**
 * A random clientId: a UUID where the browser has one (secure contexts),
 * 32 hex digits otherwise.
 */
function newClientId() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The list of messages of one room, kept in seq order, with the pending
 * messages of this tab after them. Shared by the live panel and the
 * read-only history of an ended room.
 */
export class MessageList {
  /**
   * @param {HTMLElement} list the <ol>
   * @param {HTMLElement} scroller the element that scrolls the list
   * @param {HTMLElement|null} empty shown while there is nothing to show
   */
  constructor(list, scroller, empty) {
    this.list = list;
    this.scroller = scroller;
    this.empty = empty;
    /** @type {Map<number, HTMLElement>} */
    this.bySeq = new Map();
    /** The identity of this browser: its messages look like mine. */
    this.selfUserId = '';
    this.lastSeq = 0;
    this.firstSeq = 0;
  }

  /** @param {number} seq */
  has(seq) {
    return this.bySeq.has(seq);
  }

  nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 48;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  /**
   * Adds stored messages it does not have yet. Returns the new ones.
   * @param {ChatMessage[]} messages
   * @returns {ChatMessage[]}
   */
  merge(messages) {
    const stick = this.nearBottom();
    const added = [];
    for (const m of messages) {
      if (!m || typeof m.seq !== 'number' || this.bySeq.has(m.seq)) continue;
      this.insert(this.render(m), m.seq);
      added.push(m);
    }
    if (added.length) {
      this.updated();
      if (stick) this.scrollToBottom();
    }
    return added;
  }

  /**
   * Puts a message node at its place by seq: before the first node with a
   * greater seq, else before the pending ones, else last.
   * @param {HTMLElement} node
   * @param {number} seq
   */
  insert(node, seq) {
    this.bySeq.set(seq, node);
    this.lastSeq = Math.max(this.lastSeq, seq);
    this.firstSeq = this.firstSeq ? Math.min(this.firstSeq, seq) : seq;
    /** @type {Element|null} */
    let before = null;
    // Nearly always the newest: look from the end.
    for (let n = this.list.lastElementChild; n; n = n.previousElementSibling) {
      const s = Number(/** @type {HTMLElement} */ (n).dataset.seq);
      if (!s) {
        before = n; // pending
        continue;
      }
      if (s > seq) before = n;
      else break;
    }
    this.list.insertBefore(node, before);
    this.group(node);
    if (node.nextElementSibling) this.group(/** @type {HTMLElement} */ (node.nextElementSibling));
  }

  /**
   * One stored message.
   * @param {ChatMessage} m
   * @returns {HTMLElement}
   */
  render(m) {
    const own = !!this.selfUserId && m.userId === this.selfUserId;
    const when = new Date(m.time);
    const valid = !Number.isNaN(when.getTime());
    const name = el('span', { class: 'chat-name', text: own ? t('chat.you') : m.fromName || t('chat.someone'), title: m.fromName || undefined });
    const time = el('time', {
      class: 'chat-time',
      datetime: valid ? m.time : undefined,
      title: valid ? formatFullDateTime(when) : undefined,
      text: valid ? shortTime(when) : '',
    });
    const text = el('div', { class: 'chat-text' });
    appendLinkified(text, m.text || '');
    const li = el(
      'li',
      {
        class: 'chat-msg' + (own ? ' is-own' : ''),
        'data-testid': 'chat-message',
        'data-seq': String(m.seq),
        'data-user-id': m.userId || '',
        'data-time': valid ? String(when.getTime()) : '',
      },
      [el('div', { class: 'chat-meta' }, [name, time]), text],
    );
    return li;
  }

  /**
   * A message of this tab that the server has not acknowledged yet.
   * @param {string} clientId
   * @param {string} text
   * @returns {HTMLElement}
   */
  addPending(clientId, text) {
    const body = el('div', { class: 'chat-text' });
    appendLinkified(body, text);
    const li = el(
      'li',
      { class: 'chat-msg is-own is-pending', 'data-testid': 'chat-pending', 'data-client-id': clientId },
      [el('div', { class: 'chat-meta' }, [el('span', { class: 'chat-name', text: t('chat.you') }), el('span', { class: 'chat-status', text: t('chat.sending') })]), body],
    );
    this.list.append(li);
    this.updated();
    this.scrollToBottom();
    return li;
  }

  /**
   * Groups a message under the previous one's header when both come from
   * the same person within a few minutes.
   * @param {HTMLElement} node
   */
  group(node) {
    const prev = /** @type {HTMLElement|null} */ (node.previousElementSibling);
    const same =
      !!prev &&
      !!node.dataset.seq &&
      !!prev.dataset.seq &&
      prev.dataset.userId === node.dataset.userId &&
      Number(node.dataset.seq) === Number(prev.dataset.seq) + 1 &&
      Math.abs(Number(node.dataset.time) - Number(prev.dataset.time)) < GROUP_MS;
    node.classList.toggle('is-continued', same);
  }

  /** Re-renders the "own" look once the page knows who it is. */
  restyle() {
    for (const node of this.bySeq.values()) {
      const own = !!this.selfUserId && node.dataset.userId === this.selfUserId;
      if (own === node.classList.contains('is-own')) continue;
      node.classList.toggle('is-own', own);
      const name = node.querySelector('.chat-name');
      if (name) name.textContent = own ? t('chat.you') : name.getAttribute('title') || t('chat.someone');
    }
  }

  updated() {
    if (this.empty) this.empty.hidden = this.list.childElementCount > 0;
  }

  clear() {
    this.list.replaceChildren();
    this.bySeq.clear();
    this.lastSeq = 0;
    this.firstSeq = 0;
    this.updated();
  }
}

// --- REST --------------------------------------------------------------------

/**
 * One page of GET /api/rooms/:id/messages.
 * @param {string} roomId
 * @param {number} after
 * @param {number} limit
 * @returns {Promise<{messages: ChatMessage[], hasMore: boolean}>}
 */
async function fetchMessages(roomId, after, limit) {
  const q = new URLSearchParams({ after: String(after), limit: String(limit) });
  const res = await fetch(`/api/rooms/${encodeURIComponent(roomId)}/messages?${q}`, {
    credentials: 'same-origin',
    cache: 'no-store',
    headers: { Accept: 'application/json' },
  }).catch(() => {
    throw new Error(t('error.network'));
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = data && data.error;
    throw new Error(err && err.code ? errorText(err.code, err.message) : t('error.http', { status: res.status }));
  }
  return { messages: (data && data.messages) || [], hasMore: !!(data && data.hasMore) };
}

// --- the live panel ----------------------------------------------------------

/**
 * @typedef {Object} OutboxEntry
 * @property {string} clientId
 * @property {string} text what is sent (control characters removed)
 * @property {HTMLElement} node its pending bubble
 * @property {number} attempts sends so far
 */

/**
 * @typedef {Object} ChatParams
 * @property {string} roomId
 * @property {HTMLElement} panel the chat panel (data-testid="chat-panel")
 * @property {HTMLElement|null} toggle the top-bar button that opens it
 */

export class Chat {
  /** @param {ChatParams} params */
  constructor(params) {
    this.roomId = params.roomId;
    this.panel = params.panel;
    this.toggle = params.toggle;
    const q = (/** @type {string} */ sel) => /** @type {HTMLElement} */ (this.panel.querySelector(sel));
    this.form = /** @type {HTMLFormElement} */ (q('.chat-compose'));
    this.input = /** @type {HTMLTextAreaElement} */ (q('.chat-input'));
    this.counter = q('.chat-counter');
    this.notice = q('.chat-notice');
    this.offline = q('.chat-offline');
    this.earlier = /** @type {HTMLButtonElement} */ (q('.chat-earlier'));
    this.badge = /** @type {HTMLElement|null} */ (this.toggle?.querySelector('.chat-unread') || null);
    this.list = new MessageList(q('.chat-list'), q('.chat-body'), q('.chat-empty'));

    /** @type {Signaling|null} */
    this.signaling = null;
    /** @type {(() => void)|null} */
    this.untap = null;
    this.connected = false;
    /** Set on welcome: the next chat-history is the join history. */
    this.expectJoinHistory = false;
    /** Some history has been seen: a later welcome is a reconnect. */
    this.joined = false;
    /** @type {OutboxEntry[]} */
    this.outbox = [];
    /** clientId of the outbox head while it waits for its answer. */
    this.inFlight = '';
    this.flushTimer = 0;
    this.syncTimer = 0;
    this.pace = { tokens: PACE_BURST, at: performance.now() };
    this.unread = 0;
    this.shown = false;

    this.wire();
    this.applyCollapse(this.loadCollapse());
    this.updateCounter();
    this.setConnected(false);
  }

  // --- wiring ---------------------------------------------------------

  wire() {
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    // Enter sends, Shift+Enter is a new line; an IME's Enter picks a word.
    let enterSent = false;
    this.input.addEventListener('keydown', (e) => {
      enterSent = false;
      if (e.key !== 'Enter' || e.shiftKey || e.isComposing || e.keyCode === 229) return;
      e.preventDefault();
      enterSent = true;
      this.form.requestSubmit();
    });
    // Some input paths (remote desktops, automation) deliver the Enter's
    // line break apart from its keydown: it must not land in the emptied box.
    this.input.addEventListener('beforeinput', (e) => {
      if (enterSent && (e.inputType === 'insertLineBreak' || e.inputType === 'insertParagraph')) e.preventDefault();
    });
    this.input.addEventListener('keyup', () => {
      enterSent = false;
    });
    this.input.addEventListener('input', () => {
      this.updateCounter();
      this.autosize();
    });
    this.earlier.addEventListener('click', () => this.loadEarlier());

    // Unread: the panel is shown or hidden by CSS (drawer, collapse, the
    // view), and a ResizeObserver sees every one of those changes.
    new ResizeObserver(() => this.visibilityChanged()).observe(this.panel);

    // Desktop: the panel can be collapsed to give the videos the room.
    for (const b of this.panel.querySelectorAll('.panel-close')) {
      b.addEventListener('click', () => {
        if (matchMedia(DESKTOP).matches) this.setCollapsed(true);
      });
    }
    this.toggle?.addEventListener('click', () => {
      if (matchMedia(DESKTOP).matches && this.collapsed()) this.setCollapsed(false);
      // With a mouse, opening the panel puts the cursor in the input (on a
      // touch screen that would pop the keyboard over what one came to read).
      requestAnimationFrame(() => {
        if (this.isShown() && matchMedia('(pointer: fine)').matches) this.input.focus({ preventScroll: true });
      });
    });
  }

  /**
   * Follows a connection (every join makes a new one).
   * @param {Signaling} signaling
   */
  attach(signaling) {
    this.untap?.();
    this.signaling = signaling;
    this.untap = signaling.follow(this);
  }

  /**
   * Claims the chat messages and the errors of chat requests.
   * @param {ServerMessage} msg
   * @returns {boolean}
   */
  handle(msg) {
    switch (msg.type) {
      case MessageType.WELCOME:
      case MessageType.RESUMED:
        // Either way the server's chat has me again and sends its join
        // history; what I missed or had in flight is synced and resent.
        this.welcome(msg);
        return false; // the call needs it too
      case MessageType.CHAT_HISTORY:
        this.history(msg);
        return true;
      case MessageType.CHAT_MESSAGE:
        this.message(msg);
        return true;
      case MessageType.ERROR:
        return this.error(msg);
      default:
        return false;
    }
  }

  /** @param {ConnectionState} state */
  stateChanged(state) {
    // Only a dropped connection is news; the first connect is not.
    this.offline.hidden = state !== 'reconnecting';
    if (state !== 'connected') this.setConnected(false);
    // 'connected' waits for the welcome, which comes right after.
  }

  /** @param {boolean} on */
  setConnected(on) {
    // Whatever was in flight on a dropped socket is sent again after the
    // next welcome; its answer, if any, is lost with the socket.
    this.connected = on;
    if (on) this.offline.hidden = true;
    if (!on) {
      clearTimeout(this.flushTimer);
      clearTimeout(this.syncTimer);
    }
    this.updateStatuses();
  }

  // --- server messages ------------------------------------------------

  /** @param {import('./protocol.js').Welcome|import('./protocol.js').Resumed} msg */
  welcome(msg) {
    const userId = msg.self?.userId || '';
    if (userId !== this.list.selfUserId) {
      this.list.selfUserId = userId;
      this.list.restyle();
    }
    // A new connection: the server's rate limit starts afresh, and whatever
    // was in flight on the old one is sent again (same clientId).
    this.inFlight = '';
    this.pace = { tokens: PACE_BURST, at: performance.now() };
    this.expectJoinHistory = true;
    this.setConnected(true);
    if (this.joined) this.sync(this.list.lastSeq);
    this.flush();
  }

  /** @param {import('./protocol.js').ChatHistory} msg */
  history(msg) {
    const join = this.expectJoinHistory;
    this.expectJoinHistory = false;
    const messages = Array.isArray(msg.messages) ? msg.messages : [];
    // The first history of the page is the past, not news; after that
    // (a reconnect, a sync) anything new arrived while away.
    const news = this.joined;
    this.joined = true;
    for (const m of messages) this.acknowledge(m);
    const added = this.list.merge(messages);
    if (news) this.countUnread(added);
    if (join) {
      // hasMore of a join history: older messages exist.
      this.earlier.hidden = !(msg.hasMore && this.list.firstSeq > 1);
    } else if (msg.hasMore && messages.length) {
      // hasMore of a sync answer: newer ones exist beyond this page.
      this.sync(messages[messages.length - 1].seq);
    }
  }

  /** @param {ChatMessage} msg */
  message(msg) {
    this.acknowledge(msg);
    const added = this.list.merge([msg]);
    this.countUnread(added);
  }

  /**
   * If m is the echo of one of my pending messages, it is delivered: the
   * pending bubble goes and the stored message takes its place.
   * @param {ChatMessage} m
   */
  acknowledge(m) {
    if (!m.clientId) return;
    const i = this.outbox.findIndex((e) => e.clientId === m.clientId);
    if (i >= 0) {
      const [entry] = this.outbox.splice(i, 1);
      entry.node.remove();
      this.list.updated();
    }
    if (m.clientId === this.inFlight) {
      this.inFlight = '';
      this.flush();
    }
  }

  /**
   * @param {import('./protocol.js').ErrorMessage} msg
   * @returns {boolean} whether the error was about chat
   */
  error(msg) {
    // The decoder's refusals (empty, too long) come without a ref today.
    const aboutSend =
      msg.ref === MessageType.CHAT_SEND ||
      (!msg.ref && (msg.code === ErrorCode.CHAT_EMPTY || msg.code === ErrorCode.CHAT_TOO_LONG));
    if (aboutSend) {
      this.refused(msg);
      return true;
    }
    if (msg.ref === MessageType.CHAT_SYNC) {
      // The history could not be read: ask again in a moment.
      this.expectJoinHistory = false;
      this.joined = true;
      clearTimeout(this.syncTimer);
      this.syncTimer = window.setTimeout(() => this.sync(this.list.lastSeq), 3000);
      console.warn('chat:', msg.message);
      return true;
    }
    return false;
  }

  /**
   * The message in flight was refused: it leaves the outbox and its text
   * goes back into the input, with the server's reason.
   * @param {import('./protocol.js').ErrorMessage} msg
   */
  refused(msg) {
    const i = this.outbox.findIndex((e) => e.clientId === this.inFlight);
    this.inFlight = '';
    if (i >= 0) {
      const [entry] = this.outbox.splice(i, 1);
      entry.node.remove();
      this.list.updated();
      this.restore(entry.text);
    }
    this.showNotice(errorText(msg.code, msg.message || t('chat.notSent'), { limit: MAX_CHAT_CHARS }));
    // After a rate limit the next one waits a little; others go on at once.
    this.flush(msg.code === ErrorCode.RATE_LIMITED ? 1000 : 0);
  }

  // --- sending --------------------------------------------------------

  submit() {
    const text = this.input.value.replace(CONTROL, '');
    if (!text.trim()) {
      this.input.focus();
      return;
    }
    const n = chatLength(text);
    if (n > LOCAL_HARD_LIMIT) {
      this.showNotice(t('chat.tooLong', { count: n, limit: MAX_CHAT_CHARS }));
      return;
    }
    this.hideNotice();
    const clientId = newClientId();
    const node = this.list.addPending(clientId, text.trim());
    this.outbox.push({ clientId, text, node, attempts: 0 });
    this.input.value = '';
    this.updateCounter();
    this.autosize();
    this.updateStatuses();
    this.flush();
  }

  /**
   * Sends the outbox head when nothing is in flight, the socket is up and
   * the pace allows.
   * @param {number} [delay]
   */
  flush(delay = 0) {
    clearTimeout(this.flushTimer);
    if (delay > 0) {
      this.flushTimer = window.setTimeout(() => this.flush(), delay);
      return;
    }
    if (!this.connected || this.inFlight || !this.outbox.length || !this.signaling) return;
    const wait = this.takeToken();
    if (wait > 0) {
      this.flushTimer = window.setTimeout(() => this.flush(), wait);
      return;
    }
    const head = this.outbox[0];
    if (head.attempts >= MAX_ATTEMPTS) {
      this.outbox.shift();
      head.node.remove();
      this.list.updated();
      this.restore(head.text);
      this.showNotice(t('chat.notConfirmed'));
      this.flush();
      return;
    }
    if (!this.signaling.send(chatSendMessage(head.text, head.clientId))) return; // the welcome flushes again
    // The server answers every chat-send, in order: nothing else is sent
    // until this one's echo or error arrives (or the socket drops).
    head.attempts++;
    this.inFlight = head.clientId;
    this.updateStatuses();
  }

  /**
   * Takes a token of the pacing bucket. Returns 0, or the milliseconds
   * until one is there.
   */
  takeToken() {
    const now = performance.now();
    this.pace.tokens = Math.min(PACE_BURST, this.pace.tokens + ((now - this.pace.at) / 1000) * PACE_RATE);
    this.pace.at = now;
    if (this.pace.tokens >= 1) {
      this.pace.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.pace.tokens) / PACE_RATE) * 1000) + 20;
  }

  /** @param {number} after */
  sync(after) {
    clearTimeout(this.syncTimer);
    if (!this.connected || !this.signaling) return;
    this.signaling.send(chatSyncMessage(after));
  }

  /** Shows, on each pending bubble, whether it is on its way or waiting. */
  updateStatuses() {
    for (const entry of this.outbox) {
      const status = entry.node.querySelector('.chat-status');
      if (status) status.textContent = this.connected ? t('chat.sending') : t('chat.waiting');
    }
  }

  /**
   * Puts a refused message back into the input, ahead of anything typed
   * since.
   * @param {string} text
   */
  restore(text) {
    const now = this.input.value;
    this.input.value = now.trim() ? `${text}\n${now}` : text;
    this.updateCounter();
    this.autosize();
    if (this.isShown() && (document.activeElement === document.body || document.activeElement === this.input)) {
      this.input.focus({ preventScroll: true });
    }
  }

  /** @param {string} text */
  showNotice(text) {
    this.notice.textContent = text;
    this.notice.hidden = false;
  }

  hideNotice() {
    this.notice.hidden = true;
    this.notice.textContent = '';
  }

  updateCounter() {
    const n = chatLength(this.input.value);
    const show = n >= COUNTER_FROM;
    this.counter.hidden = !show;
    this.counter.textContent = show ? `${n} / ${MAX_CHAT_CHARS}` : '';
    this.counter.classList.toggle('is-over', n > MAX_CHAT_CHARS);
    if (n > MAX_CHAT_CHARS) this.input.setAttribute('aria-invalid', 'true');
    else this.input.removeAttribute('aria-invalid');
  }

  /** Grows the input with its text, up to the CSS max-height. */
  autosize() {
    this.input.style.height = 'auto';
    if (this.input.value) this.input.style.height = `${this.input.scrollHeight + 2}px`;
  }

  // --- earlier messages -----------------------------------------------

  /** Loads the page of messages before the oldest one shown (REST). */
  async loadEarlier() {
    const first = this.list.firstSeq;
    if (first <= 1) {
      this.earlier.hidden = true;
      return;
    }
    this.earlier.disabled = true;
    const scroller = this.list.scroller;
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    try {
      // Seqs are 1, 2, 3, ... per room: the 100 before `first` follow
      // first - 101.
      const limit = Math.min(100, first - 1);
      const page = await fetchMessages(this.roomId, first - 1 - limit, limit);
      this.list.merge(page.messages);
      scroller.scrollTop = scroller.scrollHeight - fromBottom; // keep the view still
      this.earlier.hidden = this.list.firstSeq <= 1 || page.messages.length === 0;
    } catch (err) {
      this.showNotice(err instanceof Error && err.message ? err.message : t('chat.earlierFailed'));
    } finally {
      this.earlier.disabled = false;
    }
  }

  // --- unread and visibility ------------------------------------------

  /** The panel is on screen: open drawer, or desktop and not collapsed. */
  isShown() {
    return this.panel.getClientRects().length > 0;
  }

  visibilityChanged() {
    const shown = this.isShown();
    if (shown && !this.shown) {
      this.setUnread(0);
      this.list.scrollToBottom();
    }
    this.shown = shown;
  }

  /** @param {ChatMessage[]} added */
  countUnread(added) {
    if (this.isShown()) return;
    const others = added.filter((m) => !this.list.selfUserId || m.userId !== this.list.selfUserId);
    if (others.length) this.setUnread(this.unread + others.length);
  }

  /** @param {number} n */
  setUnread(n) {
    this.unread = n;
    if (this.badge) {
      this.badge.hidden = n === 0;
      this.badge.textContent = n > 99 ? '99+' : String(n);
      this.badge.dataset.count = String(n);
    }
    this.toggle?.setAttribute('aria-label', n ? t('chat.showUnread', { count: n }) : t('chat.show'));
  }

  // --- desktop collapse -----------------------------------------------

  collapsed() {
    return !!this.panel.closest('.room')?.classList.contains('chat-collapsed');
  }

  /** @param {boolean} on */
  setCollapsed(on) {
    this.applyCollapse(on);
    try {
      if (on) localStorage.setItem(COLLAPSE_KEY, '1');
      else localStorage.removeItem(COLLAPSE_KEY);
    } catch {
      // Not remembering is harmless.
    }
  }

  /** @param {boolean} on */
  applyCollapse(on) {
    this.panel.closest('.room')?.classList.toggle('chat-collapsed', on);
  }

  loadCollapse() {
    try {
      return localStorage.getItem(COLLAPSE_KEY) === '1';
    } catch {
      return false;
    }
  }

  /** For tests and the console. */
  debugState() {
    return {
      lastSeq: this.list.lastSeq,
      shown: this.list.bySeq.size,
      pending: this.outbox.map((e) => e.clientId),
      inFlight: this.inFlight,
      unread: this.unread,
      connected: this.connected,
    };
  }
}

// --- an ended room -------------------------------------------------------------

/**
 * Shows the chat of an ended room, read-only, in the ended view: every
 * stored message, read over REST.
 * @param {string} roomId
 * @param {HTMLElement} section the archive section (data-testid="chat-archive")
 * @param {string} [selfUserId] my identity, to mark my messages
 */
export async function showChatArchive(roomId, section, selfUserId = '') {
  const list = new MessageList(
    /** @type {HTMLElement} */ (section.querySelector('.chat-list')),
    /** @type {HTMLElement} */ (section.querySelector('.chat-body')),
    null,
  );
  const note = /** @type {HTMLElement} */ (section.querySelector('.chat-archive-note'));
  list.selfUserId = selfUserId;
  list.clear();
  section.dataset.state = 'loading';
  note.textContent = t('chat.archive.loading');
  section.hidden = false;
  try {
    let after = 0;
    let more = true;
    for (let page = 0; more && page < ARCHIVE_MAX_PAGES; page++) {
      const res = await fetchMessages(roomId, after, REST_PAGE);
      list.merge(res.messages);
      more = res.hasMore && res.messages.length > 0;
      if (res.messages.length) after = res.messages[res.messages.length - 1].seq;
    }
    const n = list.bySeq.size;
    if (n === 0) {
      section.hidden = true; // nothing was said: no empty box
    } else {
      note.textContent = more
        ? t('chat.archive.truncated', { count: n })
        : plural('chat.archive.count', n);
    }
    section.dataset.state = 'loaded';
    list.scroller.scrollTop = 0;
  } catch (err) {
    note.textContent = t('chat.archive.failed') + (err instanceof Error && err.message ? ' ' + err.message : '');
    section.dataset.state = 'error';
  }
}
