// @ts-check
// Recording (docs/PROTOCOL.md, "Recording"): the server records the room;
// this page shows it and asks for it.
//
// - Everyone: the red "Recording" indicator in the top bar while the room
//   records (from the welcome's room.recording and from `recording`
//   messages), and a notice when it starts and stops. The pre-join screen
//   says so before entering (prejoin.js, from GET /api/rooms/:id).
// - The hosts (the owner and the co-hosts, roles.js): the Record / Stop
//   recording button of the controls bar, which sends `record`. A refused
//   request (an `error` with ref "record") and a recording that stopped on
//   its own (a `recording` with an error) are toasts.
// - The owner: "Recordings" in the room settings opens the list of the
//   room's recordings (recordingsdialog.js).
//
// The module follows the call's socket through a tap (signaling.follow),
// as reactions.js does: it learns my role from the welcome and from my own
// participant-updated. room-updated does not carry the recording state, so
// it is not read here.
//
// Hooks: [data-testid="recording-indicator"] (role status, hidden when not
// recording), "prejoin-recording-notice", "toggle-recording" (aria-pressed),
// "recordings-open", "recordings-dialog" with "recordings-close",
// "recordings-status" (data-state loading, empty, error; "recordings-retry"),
// "recordings-list" of "recording-item" (data-recording-id, data-state) with
// "recording-file" links, "recording-delete", and the confirmation's
// "recording-delete-confirm" and "recording-delete-cancel".

import { errorText, t } from './i18n.js';
import { MessageType, RecordAction, Role } from './protocol.js';
import { isHost } from './roles.js';
import { RecordingsDialog } from './recordingsdialog.js';
import { toast } from './toast.js';

/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */
/** @typedef {import('./protocol.js').RecordingMessage} RecordingMessage */
/** @typedef {import('./signaling.js').Signaling} Signaling */
/** @typedef {import('./signaling.js').ConnectionState} ConnectionState */

/** How long a record request may go unanswered before the button is free again. */
const ANSWER_TIMEOUT_MS = 20000;


const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * The record button's icons (24x24, stroked like dom.js): a ring with a
 * dot to start, a square to stop.
 * @param {'record'|'stop'} name
 * @returns {SVGSVGElement}
 */
function recordIcon(name) {
  const svg = /** @type {SVGSVGElement} */ (document.createElementNS(SVG_NS, 'svg'));
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  const shapes = name === 'stop' ? [['rect', { x: '6', y: '6', width: '12', height: '12', rx: '2', class: 'icon-fill' }]] : [['circle', { cx: '12', cy: '12', r: '8' }], ['circle', { cx: '12', cy: '12', r: '3.5', class: 'icon-fill' }]];
  for (const [tag, attrs] of /** @type {[string, Record<string, string>][]} */ (shapes)) {
    const shape = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) shape.setAttribute(k, v);
    svg.append(shape);
  }
  return svg;
}

const $ = (/** @type {string} */ id) => document.getElementById(id);

// --- the room: indicator and the hosts' button ------------------------------

/**
 * @typedef {Object} RecordingParams
 * @property {string} roomId
 */

export class Recording {
  /** @param {RecordingParams} params */
  constructor(params) {
    this.roomId = params.roomId;
    /** @type {Signaling|null} */
    this.signaling = null;
    /** @type {(() => void)|null} */
    this.untap = null;

    /** Whether the room records now. */
    this.active = false;
    /** My role in the room ('' before the welcome). */
    this.role = '';
    this.selfId = '';
    this.connected = false;
    /** The action sent and not answered yet, or ''. */
    this.pending = '';
    this.timer = 0;

    this.indicator = /** @type {HTMLElement} */ ($('recording-indicator'));
    this.button = /** @type {HTMLButtonElement} */ ($('toggle-recording'));
    this.openButton = /** @type {HTMLButtonElement} */ ($('recordings-open'));
    this.dialog = new RecordingsDialog({ roomId: this.roomId, roomRecords: () => this.active });

    this.button.addEventListener('click', () => this.toggle());
    this.openButton.addEventListener('click', () => this.dialog.open());
    this.render();
  }

  /**
   * Follows a call's socket (a new one on every join): what was known of
   * the last one is forgotten.
   * @param {Signaling} signaling
   */
  attach(signaling) {
    this.untap?.();
    this.signaling = signaling;
    this.active = false;
    this.role = '';
    this.selfId = '';
    this.settle();
    this.untap = signaling.follow(this);
    this.render();
  }

  /** @returns {boolean} */
  isHost() {
    return isHost(this.role);
  }

  /** @returns {boolean} */
  isOwner() {
    return this.role === Role.OWNER;
  }

  /**
   * Reads the room's recording and my role; claims the recording messages
   * and the errors of my record requests.
   * @param {ServerMessage} msg
   * @returns {boolean}
   */
  handle(msg) {
    switch (msg.type) {
      case MessageType.WELCOME: {
        // A reconnect that could not resume starts over: news only if it changed.
        const was = this.active;
        this.selfId = msg.self.id;
        this.active = !!msg.room.recording;
        this.settle();
        this.setRole(msg.self.role);
        this.render();
        if (this.active && !was) toast(t('recording.inProgress'), 'info');
        return false;
      }
      case MessageType.RESUMED:
        if (msg.self && msg.self.id === this.selfId) this.setRole(msg.self.role);
        return false;
      case MessageType.PARTICIPANT_UPDATED:
        if (msg.participant.id === this.selfId) this.setRole(msg.participant.role);
        return false;
      case MessageType.RECORDING:
        this.recording(msg);
        return true;
      case MessageType.ERROR:
        if (msg.ref !== MessageType.RECORD) return false;
        this.settle();
        this.render();
        toast(errorText(msg.code, msg.message), 'error');
        return true;
      default:
        return false;
    }
  }

  /** @param {ConnectionState} state */
  stateChanged(state) {
    this.connected = state === 'connected';
    this.render();
  }

  /** @param {string} role */
  setRole(role) {
    if (role === this.role) return;
    this.role = role;
    if (!this.isOwner()) this.dialog.close();
    this.render();
  }

  /**
   * The room started or stopped recording.
   * @param {RecordingMessage} msg
   */
  recording(msg) {
    const was = this.active;
    this.active = !!msg.active;
    this.settle();
    this.render();
    if (this.active && !was) {
      toast(t('recording.started'), 'info');
    } else if (!this.active) {
      // A stop on its own (its size limit, a full disk): the hosts learn why.
      if (msg.error && this.isHost()) toast(t('recording.stoppedError', { error: msg.error }), 'error');
      else if (was) toast(t('recording.stopped'), 'info');
    }
    // The list has one more recording, or one that ended.
    this.dialog.refresh();
  }

  /** Sends start or stop. */
  toggle() {
    if (this.pending || !this.isHost()) return;
    const action = this.active ? RecordAction.STOP : RecordAction.START;
    if (!this.connected || !this.signaling?.send({ type: MessageType.RECORD, action })) {
      toast(t('recording.offline'), 'info');
      return;
    }
    this.pending = action;
    this.timer = window.setTimeout(() => {
      this.settle();
      this.render();
      toast(t('recording.noAnswer'), 'error');
    }, ANSWER_TIMEOUT_MS);
    this.render();
  }

  /** Forgets the awaited answer. */
  settle() {
    clearTimeout(this.timer);
    this.timer = 0;
    this.pending = '';
  }

  render() {
    this.indicator.hidden = !this.active;
    const host = this.isHost();
    const b = this.button;
    b.hidden = !host;
    b.setAttribute('aria-pressed', String(this.active));
    b.classList.toggle('is-recording', this.active);
    // Waiting for the answer: still focusable (a disabled button would drop
    // the keyboard's focus), but a second click does nothing.
    b.disabled = !this.connected;
    if (this.pending) {
      b.setAttribute('aria-disabled', 'true');
      b.setAttribute('aria-busy', 'true');
    } else {
      b.removeAttribute('aria-disabled');
      b.removeAttribute('aria-busy');
    }
    const old = b.querySelector('svg.icon');
    const next = recordIcon(this.active ? 'stop' : 'record');
    if (old) old.replaceWith(next);
    else b.prepend(next);
    const label = b.querySelector('.control-label');
    if (label) label.textContent = this.active ? t('recording.stop') : t('recording.record');
    b.title = this.active ? t('recording.stopTitle') : t('recording.recordTitle');
    this.openButton.hidden = !this.isOwner();
  }
}

