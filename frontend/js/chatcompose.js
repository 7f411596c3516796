// @ts-check
// The chat's compose box: the input that grows with its text, Enter to
// send, the character counter near the limit, and the notice under it
// (why a message was not sent). What is sent, and when, is chat.js's.

import { chatLength, withoutControls } from './chatlog.js';
import { t } from './i18n.js';
import { MAX_CHAT_CHARS } from './protocol.js';

/** The counter appears from this many characters on. */
const COUNTER_FROM = Math.floor(MAX_CHAT_CHARS * 0.8);
/**
 * Beyond this many characters a message is refused here: it could not fit
 * in one 64 KiB frame, and the server would drop the connection instead of
 * answering. Up to it, the server decides (and says chat_too_long).
 */
const LOCAL_HARD_LIMIT = MAX_CHAT_CHARS * 4;

export class ChatCompose {
  /**
   * @param {HTMLElement} panel the chat panel, which holds the form
   * @param {() => void} onSubmit the user sends what is in the box
   * @param {() => boolean} shown whether the panel is on screen
   */
  constructor(panel, onSubmit, shown) {
    this.shown = shown;
    const q = (/** @type {string} */ sel) => /** @type {HTMLElement} */ (panel.querySelector(sel));
    this.form = /** @type {HTMLFormElement} */ (q('.chat-compose'));
    this.input = /** @type {HTMLTextAreaElement} */ (q('.chat-input'));
    this.counter = q('.chat-counter');
    this.notice = q('.chat-notice');
    this.wire(onSubmit);
    this.updateCounter();
  }

  /** @param {() => void} onSubmit */
  wire(onSubmit) {
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      onSubmit();
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
  }

  /**
   * Takes the text to send out of the box, which empties. Nothing (null)
   * when there is nothing to send, or far too much (the notice says so).
   * @returns {string|null} the text without control characters
   */
  take() {
    const text = withoutControls(this.input.value);
    if (!text.trim()) {
      this.input.focus();
      return null;
    }
    const n = chatLength(text);
    if (n > LOCAL_HARD_LIMIT) {
      this.showNotice(t('chat.tooLong', { count: n, limit: MAX_CHAT_CHARS }));
      return null;
    }
    this.hideNotice();
    this.input.value = '';
    this.updateCounter();
    this.autosize();
    return text;
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
    if (this.shown() && (document.activeElement === document.body || document.activeElement === this.input)) {
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
}
