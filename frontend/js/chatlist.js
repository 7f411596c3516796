// @ts-check
// The chat's message list as the page shows it: one <li> per stored
// message in seq order, this tab's pending messages after them, and the
// read-only history of an ended room. The rules it follows (what is new,
// where it goes, what shares a header, what is a link) are in chatlog.js.
// User text is only ever put in the page with textContent; http(s) links
// become <a> elements built with DOM calls.

import { el } from './dom.js';
import { errorText, formatDateTime, formatFullDateTime, formatTime, plural, t } from './i18n.js';
import { continues, linkParts, placeBefore, unseen } from './chatlog.js';

/** @typedef {import('./protocol.js').ChatMessage} ChatMessage */

/** Page size of GET /api/rooms/:id/messages (the server allows 500). */
const REST_PAGE = 500;
/** The ended-room view reads at most this many pages. */
const ARCHIVE_MAX_PAGES = 40;

/**
 * Appends text to a node, with http(s) links as anchors that open in a new
 * tab and do not give the target a handle on this page.
 * @param {HTMLElement} node
 * @param {string} text
 */
export function appendLinkified(node, text) {
  for (const part of linkParts(text)) {
    if (!part.href) {
      node.append(document.createTextNode(part.text));
      continue;
    }
    const a = document.createElement('a');
    a.href = part.href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.textContent = part.text;
    node.append(a);
  }
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
    for (const m of unseen(messages, this.bySeq)) {
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
    const before = placeBefore(
      this.list.lastElementChild,
      (n) => n.previousElementSibling,
      (n) => Number(/** @type {HTMLElement} */ (n).dataset.seq),
      seq,
    );
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
    node.classList.toggle('is-continued', continues(prev ? prev.dataset : null, node.dataset));
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
export async function fetchMessages(roomId, after, limit) {
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
