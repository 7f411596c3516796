// @ts-check
// Renaming yourself in the room: the `rename` button on your own entry of
// the participant list opens this small dialog. It checks the name as the
// server does (1-50 characters after trimming, no control characters),
// sends `rename`, and closes only when the server's participant-updated
// brings the new name back; a refusal shows the server's reason here and
// changes nothing. Everyone else sees the new name from the same
// participant-updated, on the tile and in the list.
//
// Hooks: [data-testid="rename-dialog"], "rename-input", "rename-save",
// "rename-cancel", "rename-error".

import { el } from './dom.js';
import { errorText, t } from './i18n.js';
import { renameMessage } from './messages.js';

/** @typedef {import('./protocol.js').ClientMessage} ClientMessage */
/** @typedef {import('./protocol.js').ErrorMessage} ErrorMessage */

/** Display names: at most this many characters (app/validate.go). */
export const MAX_NAME_CHARS = 50;
/** How long to wait for the server's answer before saying it did not come. */
const ANSWER_TIMEOUT_MS = 8000;

/** Control characters and the bidi overrides the server refuses. */
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/**
 * Checks a display name as the server does. Pure, for node --test.
 * @param {string} raw
 * @returns {{name: string, error: ''|'empty'|'tooLong'|'badChars'}} the
 *   trimmed name, and what is wrong with it ('' when nothing is)
 */
export function checkName(raw) {
  const name = raw.trim();
  const count = [...name].length;
  if (count === 0) return { name, error: 'empty' };
  if (count > MAX_NAME_CHARS) return { name, error: 'tooLong' };
  if (FORBIDDEN.test(name)) return { name, error: 'badChars' };
  return { name, error: '' };
}

/**
 * What to tell the user about a name checkName refused.
 * @param {'empty'|'tooLong'|'badChars'} error
 * @param {string} name
 * @returns {string}
 */
function nameProblem(error, name) {
  switch (error) {
    case 'empty':
      return t('room.renameEmpty');
    case 'tooLong':
      return t('room.renameTooLong', { max: MAX_NAME_CHARS, count: [...name].length });
    default:
      return t('room.renameBadChars');
  }
}

/**
 * @typedef {Object} RenameParams
 * @property {(msg: ClientMessage) => boolean} send false when the socket is down
 * @property {(name: string) => void} [onRenamed] after the server accepted a new name
 */

export class RenameDialog {
  /** @param {RenameParams} params */
  constructor(params) {
    this.send = params.send;
    this.onRenamed = params.onRenamed;
    /** The name sent and not answered yet, or ''. */
    this.pending = '';
    this.timer = 0;
    this.current = '';

    this.input = /** @type {HTMLInputElement} */ (
      el('input', {
        id: 'rename-input',
        type: 'text',
        name: 'name',
        autocomplete: 'name',
        'data-testid': 'rename-input',
        'aria-describedby': 'rename-hint rename-error',
      })
    );
    this.errorBox = el('p', { class: 'form-error', id: 'rename-error', 'data-testid': 'rename-error', role: 'alert', hidden: true });
    this.save = /** @type {HTMLButtonElement} */ (
      el('button', { class: 'btn btn-primary', type: 'submit', 'data-testid': 'rename-save', text: t('room.renameSave') })
    );
    this.cancel = /** @type {HTMLButtonElement} */ (
      el('button', { class: 'btn', type: 'button', 'data-testid': 'rename-cancel', text: t('room.renameCancel') })
    );
    this.form = /** @type {HTMLFormElement} */ (
      el('form', { class: 'rename-form', novalidate: true }, [
        el('h2', { id: 'rename-title', text: t('room.renameTitle') }),
        el('label', { for: 'rename-input', text: t('room.renameLabel') }),
        this.input,
        el('p', { class: 'muted small rename-hint', id: 'rename-hint', text: t('room.renameHint', { max: MAX_NAME_CHARS }) }),
        this.errorBox,
        el('div', { class: 'rename-actions' }, [this.cancel, this.save]),
      ])
    );
    this.dialog = /** @type {HTMLDialogElement} */ (
      el('dialog', { class: 'rename-dialog', 'data-testid': 'rename-dialog', 'aria-labelledby': 'rename-title' }, [this.form])
    );
    document.body.append(this.dialog);

    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.cancel.addEventListener('click', () => this.close());
    this.input.addEventListener('input', () => this.showError(''));
    // Escape (the dialog's own cancel) forgets an answer still awaited.
    this.dialog.addEventListener('close', () => this.settle());
    // A click on the backdrop closes, as on most dialogs.
    this.dialog.addEventListener('click', (e) => {
      if (e.target === this.dialog) this.close();
    });
  }

  /**
   * Opens the dialog with my current name.
   * @param {string} current
   */
  open(current) {
    this.current = current;
    this.input.value = current;
    this.showError('');
    this.settle();
    if (!this.dialog.open) this.dialog.showModal();
    this.input.focus();
    this.input.select();
  }

  close() {
    this.settle();
    if (this.dialog.open) this.dialog.close();
  }

  /** Forgets the awaited answer. */
  settle() {
    clearTimeout(this.timer);
    this.pending = '';
    this.save.disabled = false;
    this.save.classList.remove('is-busy');
  }

  /** Checks the name and sends it; the server's answer closes the dialog. */
  submit() {
    if (this.pending) return;
    const { name, error } = checkName(this.input.value);
    if (error) {
      this.showError(nameProblem(error, name));
      return;
    }
    if (name === this.current) {
      this.close();
      return;
    }
    if (!this.send(renameMessage(name))) {
      this.showError(t('room.renameOffline'));
      return;
    }
    this.pending = name;
    this.save.disabled = true;
    this.save.classList.add('is-busy');
    this.timer = window.setTimeout(() => {
      this.settle();
      this.showError(t('room.renameNoAnswer'));
    }, ANSWER_TIMEOUT_MS);
  }

  /**
   * My participant now has name (participant-updated): the answer to a
   * rename, or a change made elsewhere.
   * @param {string} name
   */
  renamed(name) {
    const answered = !!this.pending && this.pending === name;
    this.current = name;
    if (!answered) return;
    this.close();
    this.onRenamed?.(name);
  }

  /**
   * The server refused my rename. Returns whether the dialog showed it.
   * @param {ErrorMessage} msg
   * @returns {boolean}
   */
  refused(msg) {
    if (!this.pending) return false;
    this.settle();
    this.showError(errorText(msg.code, msg.message));
    this.input.focus();
    return true;
  }

  /** @param {string} text '' hides the error */
  showError(text) {
    this.errorBox.textContent = text;
    this.errorBox.hidden = !text;
    this.input.setAttribute('aria-invalid', String(!!text));
  }
}
