// @ts-check
// The room WebSocket: connects, parses messages, and reconnects with backoff
// when the connection drops by accident.
//
// A reconnect resumes: the page asks for its participant back
// (?resume=<id>&seen=<count>), naming how many messages of its stream it
// has received since the welcome, and the server answers `resumed` and
// replays the rest in order, so the page goes on as if nothing happened.
// When the server cannot (its grace ran out, it restarted, the missed
// messages are too many) it sends a welcome instead, and the page rebuilds
// its state from it.

import { addGrant } from './grant.js';
import { CloseCode, MessageType } from './protocol.js';

/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */
/** @typedef {import('./protocol.js').ClientMessage} ClientMessage */

/** @typedef {'idle'|'connecting'|'connected'|'reconnecting'|'disconnected'} ConnectionState */

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const MAX_BACKOFF_MS = 10000;
/**
 * Close codes after which reconnecting cannot help: I left, the room is
 * unknown or refused me, the room ended. Others (too slow, server restart,
 * network loss) are retried.
 */
/** @type {Set<number>} */
const FINAL_CLOSE_CODES = new Set([CloseCode.LEFT, CloseCode.ROOM_GONE, CloseCode.ROOM_ENDED]);
/** A socket still connecting after this time is given up and retried. */
const OPEN_TIMEOUT_MS = 10000;
/** A socket that opens but sends no welcome within this time is retried. */
const WELCOME_TIMEOUT_MS = 10000;

/**
 * @typedef {Object} SignalingParams
 * @property {string} roomId
 * @property {string} name display name for this connection ('' = the identity's name)
 * @property {boolean} spectator
 * @property {string} [passcode] the room's passcode: sent as the first frame
 *   of every socket (never in the URL, which proxies and logs keep)
 * @property {string} [invite] an invite link's token (?invite= of the page):
 *   sent with every socket, reconnects included
 * @property {string} [token] a join token of another app (?token= of the
 *   page): sent with every socket, reconnects included
 * @property {(msg: ServerMessage) => void} onMessage
 * @property {(state: ConnectionState) => void} onState
 * @property {(attempt: number) => void} [onRetry] called before each reconnect,
 *   so the page can check over REST whether the room still exists
 * @property {(code: number) => void} [onFinalClose] the server closed for good
 *   (the page has usually seen the reason in an `error` message already)
 */

/**
 * A second listener on the connection, for a feature that shares the socket
 * with the call (the chat): it sees every message before onMessage and may
 * claim it, and sees every state change after onState.
 * @typedef {Object} SignalingTap
 * @property {(msg: ServerMessage) => boolean} [onMessage] true claims the
 *   message: the page's onMessage does not get it
 * @property {(state: ConnectionState) => void} [onState]
 */

export class Signaling {
  /** @param {SignalingParams} params */
  constructor(params) {
    this.params = params;
    /** @type {WebSocket|null} */
    this.ws = null;
    /** @type {ConnectionState} */
    this.state = 'idle';
    this.attempt = 0;
    this.retryTimer = 0;
    this.welcomeTimer = 0;
    this.stopped = false;
    this.welcomed = false;
    /** My participant id, once welcomed: a reconnect asks to resume it. */
    this.selfId = '';
    /** Messages of my stream received since the welcome (the welcome is 1). */
    this.received = 0;
    /** @type {SignalingTap[]} */
    this.taps = [];
  }

  /**
   * Adds a tap (see SignalingTap).
   * @param {SignalingTap} tap
   * @returns {() => void} removes it
   */
  addTap(tap) {
    this.taps.push(tap);
    return () => {
      this.taps = this.taps.filter((t) => t !== tap);
    };
  }

  /**
   * Lets a panel that shares this socket (the chat, reactions) follow it:
   * its handle() sees every message (returning true claims it) and its
   * stateChanged() every connection state, the current one at once.
   * @param {{handle: (msg: ServerMessage) => boolean|void, stateChanged: (state: ConnectionState) => void}} panel
   * @returns {() => void} stops following
   */
  follow(panel) {
    const untap = this.addTap({
      onMessage: (msg) => panel.handle(msg) === true,
      onState: (state) => panel.stateChanged(state),
    });
    panel.stateChanged(this.state);
    return untap;
  }

  /** The WebSocket URL of the contract: /ws?room=ID&name=NAME[&spectator=1][&invite=X|&token=Y]. */
  url() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = new URLSearchParams({ room: this.params.roomId });
    if (this.params.name) q.set('name', this.params.name);
    if (this.params.spectator) q.set('spectator', '1');
    addGrant(q, this.params);
    if (this.selfId) {
      q.set('resume', this.selfId);
      q.set('seen', String(this.received));
    }
    return `${scheme}//${location.host}/ws?${q}`;
  }

  connect() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    this.welcomed = false;

    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (err) {
      // Refused before any connection (a security policy, a bad URL): no
      // close event will come, so retry from here.
      console.warn('signaling: could not open the socket', err);
      this.ws = null;
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      if (this.params.passcode) ws.send(JSON.stringify({ type: MessageType.PASSCODE, passcode: this.params.passcode }));
      this.welcomeTimer = window.setTimeout(() => {
        if (this.ws === ws && !this.welcomed) ws.close(CloseCode.LEFT, 'no welcome');
      }, WELCOME_TIMEOUT_MS);
    });
    ws.addEventListener('message', (event) => {
      if (this.ws !== ws) return;
      let msg;
      try {
        msg = JSON.parse(typeof event.data === 'string' ? event.data : '');
      } catch {
        console.warn('signaling: dropped a message that is not JSON');
        return;
      }
      if (!msg || typeof msg.type !== 'string') return;
      if (msg.type === MessageType.LOBBY_WAIT) {
        // Held in the room's lobby, or until a host comes: the welcome
        // comes when a host admits me, however long that takes. The message is outside my
        // stream, which the welcome starts.
        clearTimeout(this.welcomeTimer);
      } else if (msg.type === 'welcome') {
        this.selfId = msg.self?.id || '';
        this.received = 1;
      } else if (msg.type !== 'resumed') {
        this.received++;
      }
      if (msg.type === 'welcome' || msg.type === 'resumed') {
        this.welcomed = true;
        this.attempt = 0;
        clearTimeout(this.welcomeTimer);
        this.setState('connected');
      }
      for (const tap of this.taps) {
        // A failing tap must not cost the call its message.
        try {
          if (tap.onMessage?.(msg)) return;
        } catch (err) {
          console.error('signaling: tap failed', err);
        }
      }
      this.params.onMessage(msg);
    });
    /** @param {number} code */
    const gone = (code) => {
      if (this.ws !== ws) return;
      clearTimeout(this.welcomeTimer);
      clearTimeout(openTimer);
      this.ws = null;
      if (this.stopped) {
        this.setState('disconnected');
        return;
      }
      if (FINAL_CLOSE_CODES.has(code)) {
        this.stopped = true;
        this.setState('disconnected');
        this.params.onFinalClose?.(code);
        return;
      }
      this.scheduleRetry();
    };
    ws.addEventListener('close', (event) => gone(event.code));
    // An error normally comes before a close, which does the work; but a
    // socket refused before it opened (a blocked address) may never close.
    ws.addEventListener('error', () => {
      if (ws.readyState !== WebSocket.OPEN) gone(1006);
    });
    // Nor may one that hangs while connecting.
    const openTimer = window.setTimeout(() => {
      if (ws.readyState === WebSocket.CONNECTING) {
        gone(1006);
        ws.close();
      }
    }, OPEN_TIMEOUT_MS);
    ws.addEventListener('open', () => clearTimeout(openTimer));
  }

  scheduleRetry() {
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    const delay = Math.min(MAX_BACKOFF_MS, base + Math.random() * base * 0.3);
    this.attempt++;
    this.setState('reconnecting');
    this.params.onRetry?.(this.attempt);
    this.retryTimer = window.setTimeout(() => this.connect(), delay);
  }

  /**
   * Sends one message. Returns false when the socket is not open: callers
   * either do not care (signals are regenerated after a reconnect) or tell
   * the user.
   * @param {ClientMessage} msg
   * @returns {boolean}
   */
  send(msg) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  /**
   * Closes for good (left, room ended, room unknown): no reconnect.
   * @param {ClientMessage} [last] a message to send first, e.g. leave
   */
  stop(last) {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.welcomeTimer);
    const ws = this.ws;
    if (ws) {
      if (last && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(last));
      // The server closes after leave; close ourselves too so no reply is awaited.
      ws.close(1000, 'bye');
      this.ws = null;
    }
    this.setState('disconnected');
  }

  /** @param {ConnectionState} state */
  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.params.onState(state);
    for (const tap of this.taps) {
      try {
        tap.onState?.(state);
      } catch (err) {
        console.error('signaling: tap failed', err);
      }
    }
  }
}
