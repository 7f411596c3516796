// @ts-check
// Passcodes of rooms (docs/PROTOCOL.md, "Passcodes"): the prompt a guest
// gets before a room with one, the passcode a share link may carry in its
// fragment (/r/<id>#pwd=...), and the hosts' control to set or remove it.
// The server never sends a passcode back, so the link with the passcode
// ("copy-passcode-link") is offered only while the page knows it: right
// after a host set it here, or when the page came with it.
// The passcode goes to the server in a request body and in the socket's
// first frame, never in a URL a proxy would log; the fragment never leaves
// the browser, and is taken out of the address bar once read.

import { ApiError, checkPasscode, forgetMe, setPasscode } from './api.js';
import { errorText, t } from './i18n.js';
import { ErrorCode, MessageType } from './protocol.js';
import { toast } from './toast.js';
import { copyLink } from './ui.js';

/** @typedef {import('./protocol.js').Room} Room */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * Reads the passcode a share link carries (#pwd=...), and removes it from
 * the address bar and the history entry, so it is neither shown, copied
 * along with the link by accident, nor kept in the history.
 * @returns {string}
 */
export function takeFragmentPasscode() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const passcode = fragment.get('pwd') || '';
  if (passcode) {
    fragment.delete('pwd');
    const rest = fragment.toString();
    history.replaceState(history.state, '', location.pathname + location.search + (rest ? '#' + rest : ''));
  }
  return passcode;
}

/**
 * The share link that carries a passcode in its fragment, which never
 * leaves the browser: /r/<id>#pwd=<passcode>. Pure.
 * @param {string} origin e.g. location.origin
 * @param {string} roomId
 * @param {string} passcode
 * @returns {string}
 */
export function passcodeLink(origin, roomId, passcode) {
  return `${origin}/r/${encodeURIComponent(roomId)}#pwd=${encodeURIComponent(passcode)}`;
}

/** The prompt shown instead of the room until a right passcode is given. */
export class PasscodePrompt {
  /** @param {string} roomId */
  constructor(roomId) {
    this.roomId = roomId;
    this.form = /** @type {HTMLFormElement} */ ($('passcode-form'));
    this.input = /** @type {HTMLInputElement} */ ($('passcode-input'));
    this.error = $('passcode-error');
    this.submitButton = /** @type {HTMLButtonElement} */ ($('passcode-submit'));
    /** @type {((passcode: string) => void)|null} */
    this.resolve = null;
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener('input', () => this.showError(''));
  }

  /**
   * Shows the prompt (its view must be showing) and resolves with a
   * passcode the server took.
   * @param {string} [message] why it is asked again (a wrong passcode)
   * @returns {Promise<string>}
   */
  ask(message = '') {
    this.input.value = '';
    this.showError(message);
    this.input.focus();
    return new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  /**
   * Checks a passcode with the server. Resolves with the error text to
   * show, '' when it is right.
   * @param {string} passcode
   * @returns {Promise<string>}
   */
  async verify(passcode) {
    try {
      await checkPasscode(this.roomId, passcode);
      return '';
    } catch (err) {
      if (!(err instanceof ApiError)) return t('passcode.failed');
      if (err.code === ErrorCode.BAD_PASSCODE) return t('passcode.wrong');
      return errorText(err.code, err.message);
    }
  }

  async submit() {
    const passcode = this.input.value.trim();
    if (!passcode) {
      this.showError(t('passcode.enter'));
      this.input.focus();
      return;
    }
    this.submitButton.disabled = true;
    const problem = await this.verify(passcode);
    this.submitButton.disabled = false;
    if (problem) {
      this.showError(problem);
      this.input.select();
      return;
    }
    const resolve = this.resolve;
    this.resolve = null;
    resolve?.(passcode);
  }

  /** @param {string} message */
  showError(message) {
    this.error.textContent = message;
    this.error.hidden = !message;
    this.input.setAttribute('aria-invalid', message ? 'true' : 'false');
  }
}

/**
 * The hosts' passcode control in the room settings: shows whether the
 * room has one, sets a new one, removes it, and copies the link with it
 * while the page knows it.
 */
export class OwnerPasscode {
  /** @param {string} roomId */
  constructor(roomId) {
    this.roomId = roomId;
    this.state = $('setting-passcode-state');
    this.input = /** @type {HTMLInputElement} */ ($('setting-passcode'));
    this.clearButton = /** @type {HTMLButtonElement} */ ($('setting-passcode-clear'));
    this.copyButton = /** @type {HTMLButtonElement} */ ($('copy-passcode-link'));
    /** The room's passcode as this page knows it ('' when it does not). */
    this.known = '';
    this.hasPasscode = false;
    this.copyButton.addEventListener('click', () => {
      if (this.known) copyLink(passcodeLink(location.origin, this.roomId, this.known), this.copyButton, t('passcode.owner.linkCopied'));
    });
    $('setting-passcode-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.save(this.input.value.trim() || null);
    });
    this.clearButton.addEventListener('click', () => this.save(null));
    const attendance = /** @type {HTMLAnchorElement|null} */ (document.getElementById('attendance-download'));
    if (attendance) attendance.href = `/api/rooms/${encodeURIComponent(roomId)}/attendance?format=csv`;
  }

  /**
   * Follows the room's settings on a socket (welcome, room-updated).
   * @param {import('./signaling.js').Signaling} signaling
   */
  attach(signaling) {
    signaling.addTap({
      onMessage: (msg) => {
        if (msg.type === MessageType.WELCOME || msg.type === MessageType.ROOM_UPDATED) this.show(msg.room);
        return false;
      },
    });
  }

  /**
   * The passcode this page knows to be the room's (it came with the link,
   * or was given at the prompt): the link with it may be copied.
   * @param {string} passcode
   */
  remember(passcode) {
    this.known = passcode;
    this.renderCopy();
  }

  /** @param {Room} room */
  show(room) {
    this.state.textContent = room.hasPasscode ? t('passcode.owner.on') : t('passcode.owner.off');
    this.clearButton.hidden = !room.hasPasscode;
    this.hasPasscode = !!room.hasPasscode;
    if (!room.hasPasscode) this.known = '';
    this.renderCopy();
  }

  renderCopy() {
    this.copyButton.hidden = !(this.known && this.hasPasscode);
  }

  /** @param {string|null} passcode null removes it */
  async save(passcode) {
    try {
      const room = await setPasscode(this.roomId, passcode);
      this.input.value = '';
      this.known = passcode || '';
      this.show(room);
      if (passcode) {
        // The one moment the page surely knows it: offer the link with it.
        toast(t('passcode.owner.saved'), 'info', {
          action: { label: t('passcode.owner.copyLink'), run: () => this.copyButton.click() },
        });
      } else {
        toast(t('passcode.owner.removed'), 'info');
      }
    } catch (err) {
      toast(err instanceof ApiError ? errorText(err.code, err.message) : t('passcode.failed'), 'error');
    }
  }
}

/**
 * The identity token was refused (401 unauthorized): say so, and offer to
 * start over as a new guest, which forgets the token and reloads.
 * @param {HTMLElement} button
 */
export function offerNewGuest(button) {
  button.addEventListener('click', async () => {
    button.setAttribute('disabled', '');
    try {
      await forgetMe();
    } catch {
      // The reload gets a new identity only if the cookie went; try anyway.
    }
    location.reload();
  });
}
