// @ts-check
// The room chat's panel in the call: the message list (chatlist.js), the
// compose box (chatcompose.js), the outbox (chatoutbox.js), the unread
// badge and the desktop collapse.
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
//   (same clientId) arrives; it sends one message at a time.
// - After a reconnect the page asks chat-sync {after: last seq seen}.
// - A refused message goes back into the input with the server's reason:
//   nothing the user typed is lost.

import { ChatCompose } from './chatcompose.js';
import { MessageList, fetchMessages } from './chatlist.js';
import { Outbox, newClientId } from './chatoutbox.js';
import { errorText, t } from './i18n.js';
import { chatSendMessage, chatSyncMessage } from './messages.js';
import { ErrorCode, MAX_CHAT_CHARS, MessageType } from './protocol.js';

/** @typedef {import('./protocol.js').ChatMessage} ChatMessage */
/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */
/** @typedef {import('./signaling.js').Signaling} Signaling */
/** @typedef {import('./signaling.js').ConnectionState} ConnectionState */

/** Where the desktop collapse state of the panel is remembered. */
const COLLAPSE_KEY = 'meet.chatCollapsed';
/** Desktop: the side panels sit beside the grid (room.css). */
const DESKTOP = '(min-width: 1001px)';

/** @typedef {import('./chatoutbox.js').OutboxEntry & {node: HTMLElement}} PendingEntry a message in the outbox, and its pending bubble */

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
    /** @type {Outbox<PendingEntry>} */
    this.outbox = new Outbox(performance.now());
    this.flushTimer = 0;
    this.syncTimer = 0;
    this.unread = 0;
    this.shown = false;

    this.compose = new ChatCompose(this.panel, () => this.submit(), () => this.isShown());
    this.wire();
    this.applyCollapse(this.loadCollapse());
    this.setConnected(false);
  }

  // --- wiring ---------------------------------------------------------

  wire() {
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
        if (this.isShown() && matchMedia('(pointer: fine)').matches) this.compose.input.focus({ preventScroll: true });
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
    this.outbox.reconnected(performance.now());
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
    const { entry, freed } = this.outbox.acknowledge(m.clientId);
    if (entry) {
      entry.node.remove();
      this.list.updated();
    }
    if (freed) this.flush();
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
    const entry = this.outbox.refused();
    if (entry) {
      entry.node.remove();
      this.list.updated();
      this.compose.restore(entry.text);
    }
    this.compose.showNotice(errorText(msg.code, msg.message || t('chat.notSent'), { limit: MAX_CHAT_CHARS }));
    // After a rate limit the next one waits a little; others go on at once.
    this.flush(msg.code === ErrorCode.RATE_LIMITED ? 1000 : 0);
  }

  // --- sending --------------------------------------------------------

  /** The compose box was submitted: what it holds goes to the outbox. */
  submit() {
    const text = this.compose.take();
    if (text === null) return;
    const clientId = newClientId();
    const node = this.list.addPending(clientId, text.trim());
    this.outbox.push({ clientId, text, node, attempts: 0 });
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
    if (!this.connected || !this.signaling) return;
    const step = this.outbox.next(performance.now());
    if (!step) return;
    if ('wait' in step) {
      this.flushTimer = window.setTimeout(() => this.flush(), step.wait);
      return;
    }
    if ('giveUp' in step) {
      step.giveUp.node.remove();
      this.list.updated();
      this.compose.restore(step.giveUp.text);
      this.compose.showNotice(t('chat.notConfirmed'));
      this.flush();
      return;
    }
    const head = step.send;
    if (!this.signaling.send(chatSendMessage(head.text, head.clientId))) return; // the welcome flushes again
    // The server answers every chat-send, in order: nothing else is sent
    // until this one's echo or error arrives (or the socket drops).
    this.outbox.sent(head);
    this.updateStatuses();
  }

  /** @param {number} after */
  sync(after) {
    clearTimeout(this.syncTimer);
    if (!this.connected || !this.signaling) return;
    this.signaling.send(chatSyncMessage(after));
  }

  /** Shows, on each pending bubble, whether it is on its way or waiting. */
  updateStatuses() {
    for (const entry of this.outbox.entries) {
      const status = entry.node.querySelector('.chat-status');
      if (status) status.textContent = this.connected ? t('chat.sending') : t('chat.waiting');
    }
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
      this.compose.showNotice(err instanceof Error && err.message ? err.message : t('chat.earlierFailed'));
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
      pending: this.outbox.entries.map((e) => e.clientId),
      inFlight: this.outbox.inFlight,
      unread: this.unread,
      connected: this.connected,
    };
  }
}
