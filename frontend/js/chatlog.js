// @ts-check
// The pure rules of the chat's message list (chatlist.js draws it): which
// stored messages are new, where each goes, which ones share a header, and
// what the text of one is made of (characters as the server counts them,
// links).
//
// Messages are kept by seq: history, resync pages and live messages may
// overlap or arrive in any order, and each seq is shown once, in order,
// with this tab's pending messages (no seq yet) after them.

/** @typedef {import('./protocol.js').ChatMessage} ChatMessage */

/** Messages of one sender closer than this are grouped under one header. */
export const GROUP_MS = 3 * 60 * 1000;

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
 * The text to send of what was typed: without the control characters the
 * server would refuse.
 * @param {string} text
 * @returns {string}
 */
export function withoutControls(text) {
  return text.replace(CONTROL, '');
}

/**
 * @typedef {Object} TextPart a piece of a message's text
 * @property {string} text what is shown
 * @property {string} [href] for a link: the URL it opens
 */

/**
 * Cuts a text into plain parts and http(s) links. A link does not take the
 * punctuation that ends a sentence, nor a closing parenthesis it did not
 * open.
 * @param {string} text
 * @returns {TextPart[]}
 */
export function linkParts(text) {
  /** @type {TextPart[]} */
  const parts = [];
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
    if (start > at) parts.push({ text: text.slice(at, start) });
    parts.push({ text: raw, href: url.href });
    at = start + raw.length;
  }
  if (at < text.length) parts.push({ text: text.slice(at) });
  return parts;
}

/**
 * The stored messages of a batch that are not shown yet, each seq once, in
 * the batch's order. Anything without a numeric seq is dropped.
 * @param {ChatMessage[]} messages
 * @param {{has: (seq: number) => boolean}} shown the seqs shown already
 * @returns {ChatMessage[]}
 */
export function unseen(messages, shown) {
  /** @type {Set<number>} */
  const taken = new Set();
  const fresh = [];
  for (const m of messages) {
    if (!m || typeof m.seq !== 'number' || shown.has(m.seq) || taken.has(m.seq)) continue;
    taken.add(m.seq);
    fresh.push(m);
  }
  return fresh;
}

/**
 * Where a stored message goes in a list kept in seq order with the pending
 * messages (seq 0) last: before the first item with a greater seq, else
 * before the pending ones, else at the end. Looks from the end, as the new
 * message is nearly always the newest.
 * @template T
 * @param {T|null} last the list's last item
 * @param {(item: T) => T|null} previous the item before one
 * @param {(item: T) => number} seqOf an item's seq, 0 for a pending one
 * @param {number} seq
 * @returns {T|null} the item to insert before; null for the end
 */
export function placeBefore(last, previous, seqOf, seq) {
  /** @type {T|null} */
  let before = null;
  for (let n = last; n; n = previous(n)) {
    const s = seqOf(n);
    if (!s) {
      before = n; // pending
      continue;
    }
    if (s > seq) before = n;
    else break;
  }
  return before;
}

/**
 * @typedef {Object} MessageMark what the list keeps of a shown message (its data-* attributes)
 * @property {string} [seq] absent for a pending message
 * @property {string} [userId]
 * @property {string} [time] milliseconds since the epoch, '' when unknown
 */

/**
 * Whether a message goes under the previous one's header: both stored,
 * from the same person, one right after the other, within GROUP_MS.
 * @param {MessageMark|null} prev
 * @param {MessageMark} next
 * @returns {boolean}
 */
export function continues(prev, next) {
  return (
    !!prev &&
    !!next.seq &&
    !!prev.seq &&
    prev.userId === next.userId &&
    Number(next.seq) === Number(prev.seq) + 1 &&
    Math.abs(Number(next.time) - Number(prev.time)) < GROUP_MS
  );
}
