// @ts-check
// The chat's outbox: what the user sent and the server has not stored yet.
//
// The outbox sends one message at a time, so that an error (which names no
// clientId) always belongs to the one in flight. After a reconnect the head
// is sent again with the same clientId, and the server answers with what it
// already stored instead of storing it twice. Sends are paced like the
// server's rate limit, and a message that keeps failing is given back.
//
// No DOM and no socket here: chat.js sends what next() says and draws the
// entries.

/**
 * Sends of one message before giving up on it. Each reconnect sends the
 * head of the outbox again; a message that keeps costing the connection
 * must not do so forever.
 */
export const MAX_ATTEMPTS = 4;
/**
 * A mirror of the server's default rate limit (chat/limit.go: a burst of 10,
 * then 2 per second), used only to pace the outbox so that a queue flushed
 * after a reconnect does not run into the limit. The server stays the judge.
 */
export const PACE_BURST = 10;
export const PACE_RATE = 2;

/**
 * @typedef {Object} OutboxEntry
 * @property {string} clientId
 * @property {string} text what is sent (control characters removed)
 * @property {number} attempts sends so far
 */

/**
 * What the outbox wants done now.
 * @template {OutboxEntry} E
 * @typedef {{wait: number}|{giveUp: E}|{send: E}} OutboxStep
 */

/**
 * A random clientId: a UUID where the browser has one (secure contexts),
 * 32 hex digits otherwise.
 */
export function newClientId() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** @template {OutboxEntry} E */
export class Outbox {
  /** @param {number} now performance.now() */
  constructor(now) {
    /** @type {E[]} */
    this.entries = [];
    /** clientId of the head while it waits for its answer. */
    this.inFlight = '';
    this.pace = { tokens: PACE_BURST, at: now };
  }

  /** @param {E} entry */
  push(entry) {
    this.entries.push(entry);
  }

  /**
   * A new connection: the server's rate limit starts afresh, and whatever
   * was in flight on the old one is sent again (same clientId).
   * @param {number} now
   */
  reconnected(now) {
    this.inFlight = '';
    this.pace = { tokens: PACE_BURST, at: now };
  }

  /**
   * A stored message came back with a clientId: if it is the echo of one of
   * mine, that one is delivered and leaves the outbox.
   * @param {string} clientId
   * @returns {{entry: E|null, freed: boolean}} the delivered entry, and
   *   whether it was the one in flight (the next may go)
   */
  acknowledge(clientId) {
    const i = this.entries.findIndex((e) => e.clientId === clientId);
    const entry = i >= 0 ? this.entries.splice(i, 1)[0] : null;
    const freed = clientId === this.inFlight;
    if (freed) this.inFlight = '';
    return { entry, freed };
  }

  /**
   * The server refused the message in flight: it leaves the outbox.
   * @returns {E|null} the refused entry, if it was still there
   */
  refused() {
    const i = this.entries.findIndex((e) => e.clientId === this.inFlight);
    this.inFlight = '';
    return i >= 0 ? this.entries.splice(i, 1)[0] : null;
  }

  /**
   * What to do next, when the socket is up: nothing (null: the outbox is
   * empty, or a message waits for its answer), wait for the pace, give the
   * head back (it was sent MAX_ATTEMPTS times; it leaves the outbox), or
   * send the head (then call sent). Asking takes a token of the pace.
   * @param {number} now
   * @returns {OutboxStep<E>|null}
   */
  next(now) {
    if (this.inFlight || !this.entries.length) return null;
    const wait = this.takeToken(now);
    if (wait > 0) return { wait };
    const head = this.entries[0];
    if (head.attempts >= MAX_ATTEMPTS) {
      this.entries.shift();
      return { giveUp: head };
    }
    return { send: head };
  }

  /**
   * The head went out: nothing else is sent until its echo or error
   * arrives (or the socket drops).
   * @param {E} entry
   */
  sent(entry) {
    entry.attempts++;
    this.inFlight = entry.clientId;
  }

  /**
   * Takes a token of the pacing bucket. Returns 0, or the milliseconds
   * until one is there.
   * @param {number} now
   */
  takeToken(now) {
    this.pace.tokens = Math.min(PACE_BURST, this.pace.tokens + ((now - this.pace.at) / 1000) * PACE_RATE);
    this.pace.at = now;
    if (this.pace.tokens >= 1) {
      this.pace.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.pace.tokens) / PACE_RATE) * 1000) + 20;
  }
}
