// @ts-check
// Keyboard shortcuts of the call, and their help overlay.
//
//   M  microphone on/off          V  camera on/off
//   S  share the screen / stop    H  raise / lower the hand
//   C  open / close the chat      ?  this help
//   Space (held)  push to talk: while the microphone is off, holding Space
//                 turns it on, and letting go turns it off again.
//
// A shortcut presses the same button a click would (by its data-testid),
// so it follows the same code path, and a button that is hidden or
// disabled does nothing (a disabled one says why, in a toast). Shortcuts
// never fire while one types (input, textarea, select, contenteditable),
// with Ctrl, Meta or Alt held, while an input method composes, outside the
// call view, or while a dialog is open. Space is left to the buttons,
// checkboxes and menu items it activates.
//
// shortcutFor is the key-to-action mapping, pure, for node --test.
//
// DOM hooks: [data-testid="shortcuts-open"] the help button in the top
// bar; [data-testid="shortcuts-help"] the help <dialog>;
// [data-testid="shortcuts-close"] its close button.

import { el, icon } from './dom.js';
import { t } from './i18n.js';
import { toast } from './toast.js';

/**
 * @typedef {'mic'|'camera'|'screen'|'hand'|'chat'|'help'|'push-to-talk'} ShortcutAction
 */

/**
 * @typedef {Object} Shortcut
 * @property {string} key what the help shows, and aria-keyshortcuts
 * @property {ShortcutAction} action
 * @property {string} testid the button it presses ('' for none)
 * @property {string} label catalog key of the help's description
 */

/** @type {readonly Shortcut[]} In the order of the help. */
export const SHORTCUTS = Object.freeze([
  { key: 'M', action: 'mic', testid: 'toggle-mic', label: 'keys.mic' },
  { key: 'V', action: 'camera', testid: 'toggle-camera', label: 'keys.camera' },
  { key: 'S', action: 'screen', testid: 'toggle-screen', label: 'keys.screen' },
  { key: 'H', action: 'hand', testid: 'raise-hand', label: 'keys.hand' },
  { key: 'C', action: 'chat', testid: 'chat-toggle', label: 'keys.chat' },
  { key: 'Space', action: 'push-to-talk', testid: '', label: 'keys.pushToTalk' },
  { key: '?', action: 'help', testid: 'shortcuts-open', label: 'keys.help' },
]);

/** @type {Record<string, ShortcutAction>} */
const LETTERS = { m: 'mic', v: 'camera', s: 'screen', h: 'hand', c: 'chat' };

/** Input types one does not type text into. */
const NOT_TEXT = new Set(['button', 'checkbox', 'radio', 'submit', 'reset', 'range', 'color', 'file', 'image']);
/** Roles of widgets one types into. */
const TEXT_ROLES = new Set(['textbox', 'searchbox', 'combobox', 'spinbutton']);
/** Roles of widgets that Space activates. */
const SPACE_ROLES = new Set(['button', 'checkbox', 'switch', 'radio', 'menuitem', 'menuitemcheckbox', 'menuitemradio', 'option', 'tab', 'slider', 'link']);

/**
 * What a key event's target is, as far as shortcuts care.
 * @typedef {Object} KeyTarget
 * @property {string} tagName e.g. 'INPUT'
 * @property {string} [type] an input's type
 * @property {string|null} [role]
 * @property {boolean} [isContentEditable]
 */

/**
 * A key press: the fields of a KeyboardEvent that matter here.
 * @typedef {Object} KeyPress
 * @property {string} key
 * @property {string} [code]
 * @property {boolean} [ctrlKey]
 * @property {boolean} [metaKey]
 * @property {boolean} [altKey]
 * @property {boolean} [shiftKey]
 * @property {boolean} [repeat]
 * @property {boolean} [isComposing]
 * @property {KeyTarget|null} [target]
 */

/**
 * Whether keys pressed in target are typing: text fields, selects (whose
 * letters pick an option) and contenteditable.
 * @param {KeyTarget|null|undefined} target
 * @returns {boolean}
 */
export function isTypingTarget(target) {
  if (!target) return false;
  if (target.isContentEditable) return true;
  if (target.role && TEXT_ROLES.has(target.role)) return true;
  const tag = target.tagName.toUpperCase();
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  return tag === 'INPUT' && !NOT_TEXT.has((target.type || 'text').toLowerCase());
}

/**
 * Whether Space pressed in target activates it (a button, a checkbox, a
 * <summary>, a menu item...): then Space is not push to talk.
 * @param {KeyTarget|null|undefined} target
 * @returns {boolean}
 */
export function spaceActivates(target) {
  if (!target) return false;
  if (target.role && SPACE_ROLES.has(target.role)) return true;
  const tag = target.tagName.toUpperCase();
  return tag === 'BUTTON' || tag === 'SUMMARY' || tag === 'INPUT' || tag === 'SELECT';
}

/**
 * The shortcut of a key press, or null. Letters go by the character the
 * layout types (AZERTY's M is M), and by the physical key when the layout
 * types no Latin letter (Cyrillic, Greek...), in either case. A held letter
 * (auto-repeat) fires once; a held Space keeps answering 'push-to-talk',
 * so that its repeats are swallowed too.
 * @param {KeyPress} press
 * @returns {ShortcutAction|null}
 */
export function shortcutFor(press) {
  if (press.ctrlKey || press.metaKey || press.altKey) return null;
  if (press.isComposing || press.key === 'Process' || press.key === 'Dead') return null;
  if (isTypingTarget(press.target)) return null;
  if (press.key === ' ' || press.key === 'Spacebar' || (press.code === 'Space' && press.key.length !== 1)) {
    return spaceActivates(press.target) ? null : 'push-to-talk';
  }
  if (press.repeat) return null;
  if (press.key === '?') return 'help';
  let letter = press.key.length === 1 ? press.key.toLowerCase() : '';
  if (!/^[a-z]$/.test(letter) && press.code && /^Key[A-Z]$/.test(press.code) && press.key.length === 1) {
    letter = press.code.slice(3).toLowerCase();
  }
  return LETTERS[letter] || null;
}

/**
 * The key as the help and tooltips show it (Space in the UI language).
 * @param {string} key
 */
function keyLabel(key) {
  return key === 'Space' ? t('keys.space') : key;
}

/**
 * A button's tooltip with its shortcut: "Turn microphone off (M)". A button
 * without aria-keyshortcuts keeps the title as it is.
 * @param {Element} button
 * @param {string} title
 * @returns {string}
 */
export function shortcutTitle(button, title) {
  const key = button.getAttribute('aria-keyshortcuts');
  if (!key) return title;
  return t('keys.withKey', { title, key: keyLabel(key === 'Shift+?' ? '?' : key) });
}

/**
 * @param {EventTarget|null} node
 * @returns {KeyTarget|null}
 */
function describeTarget(node) {
  if (!(node instanceof Element)) return null;
  return {
    tagName: node.tagName,
    type: node.getAttribute('type') || '',
    role: node.getAttribute('role'),
    isContentEditable: node instanceof HTMLElement && node.isContentEditable,
  };
}

/** @param {Element|null} node */
function shown(node) {
  return !!node && node.getClientRects().length > 0;
}

/** @param {string} testid */
function byTestId(testid) {
  return /** @type {HTMLButtonElement|null} */ (document.querySelector(`[data-testid="${testid}"]`));
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** A keyboard outline (24x24, stroked, like the icons of dom.js). */
function keyboardIcon() {
  const svg = /** @type {SVGSVGElement} */ (document.createElementNS(SVG_NS, 'svg'));
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  for (const d of ['M3 6.5h18v11H3z', 'M7 10h.01', 'M11 10h.01', 'M15 10h.01', 'M17.5 10h.01', 'M7 14h10']) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/**
 * @typedef {Object} ShortcutsParams
 * @property {() => boolean} active whether the call view is showing
 */

export class Shortcuts {
  /** @param {ShortcutsParams} params */
  constructor(params) {
    this.active = params.active;
    /** Space turned the microphone on and is still held. */
    this.talking = false;
    /** @type {MutationObserver|null} mutes a microphone push to talk opened, once it is on */
    this.muteWhenOn = null;
    /** @type {Element|null} where the focus was when the help opened */
    this.opener = null;
    /** The key of the shortcut just handled, until it comes up. */
    this.handledKey = '';
    this.help = this.buildHelp();
    this.openButton = this.buildOpenButton();
    this.labelButtons();

    document.addEventListener('keydown', (e) => this.keydown(e));
    document.addEventListener('keyup', (e) => this.keyup(e));
    // A shortcut that moved the focus into a text field (C) must not type
    // its own letter there: its keypress, if one still comes, is dropped.
    document.addEventListener(
      'keypress',
      (e) => {
        if (this.handledKey && e.key === this.handledKey) e.preventDefault();
      },
      true,
    );
    // A Space let go in another window never comes back as a keyup.
    window.addEventListener('blur', () => this.release());
  }

  /** Puts each shortcut on its button: aria-keyshortcuts and the tooltip. */
  labelButtons() {
    for (const s of SHORTCUTS) {
      const button = s.testid ? byTestId(s.testid) : null;
      if (!button) continue;
      // ARIA names the keys pressed: "?" is Shift and the "/" key (US).
      button.setAttribute('aria-keyshortcuts', s.key === '?' ? 'Shift+?' : s.key);
      if (s.action === 'chat') button.title = shortcutTitle(button, t('keys.chat'));
      else if (button.title) button.title = shortcutTitle(button, button.title);
    }
    const chatClose = byTestId('chat-close');
    if (chatClose) {
      chatClose.setAttribute('aria-keyshortcuts', 'C');
      chatClose.title = shortcutTitle(chatClose, chatClose.title || t('keys.chat'));
    }
  }

  /** The help button of the top bar, before the chat button. */
  buildOpenButton() {
    const button = /** @type {HTMLButtonElement} */ (
      el('button', { class: 'icon-btn keys-open', type: 'button', 'data-testid': 'shortcuts-open', 'aria-label': t('keys.title'), title: t('keys.title'), 'aria-haspopup': 'dialog' }, [keyboardIcon()])
    );
    button.addEventListener('click', () => this.openHelp());
    const chatToggle = byTestId('chat-toggle');
    const bar = chatToggle?.parentElement || document.querySelector('.room-bar-actions');
    bar?.insertBefore(button, chatToggle && chatToggle.parentElement === bar ? chatToggle : null);
    return button;
  }

  /** The help dialog: every shortcut, with a close button. */
  buildHelp() {
    const close = el('button', { class: 'icon-btn keys-close', type: 'button', 'data-testid': 'shortcuts-close', 'aria-label': t('keys.close') }, [icon('close')]);
    const rows = SHORTCUTS.map((s) =>
      el('div', { class: 'keys-row' }, [el('dt', {}, [el('kbd', { text: keyLabel(s.key) })]), el('dd', { text: t(s.label) })]),
    );
    rows.push(el('div', { class: 'keys-row' }, [el('dt', {}, [el('kbd', { text: t('keys.esc') })]), el('dd', { text: t('keys.escape') })]));
    const dialog = /** @type {HTMLDialogElement} */ (
      el('dialog', { class: 'keys-dialog', 'data-testid': 'shortcuts-help', 'aria-labelledby': 'keys-title', 'aria-describedby': 'keys-note' }, [
        el('div', { class: 'keys-panel' }, [
          el('div', { class: 'keys-head' }, [el('h2', { id: 'keys-title', text: t('keys.title') }), close]),
          el('dl', { class: 'keys-list' }, rows),
          el('p', { class: 'muted small keys-note', id: 'keys-note', text: t('keys.note') }),
        ]),
      ])
    );
    close.addEventListener('click', () => this.closeHelp());
    dialog.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape' && e.key !== '?') return;
      // Handled here: the page's own Escape (closing drawers) must not see it.
      e.preventDefault();
      e.stopPropagation();
      this.closeHelp();
    });
    // A click on the backdrop (the dialog itself, around its panel) closes it.
    dialog.addEventListener('click', (e) => {
      if (e.target === dialog) this.closeHelp();
    });
    dialog.addEventListener('close', () => this.restoreFocus());
    document.body.append(dialog);
    return dialog;
  }

  openHelp() {
    if (this.help.open) return;
    this.opener = document.activeElement;
    this.help.showModal();
    /** @type {HTMLElement|null} */ (this.help.querySelector('.keys-close'))?.focus();
  }

  closeHelp() {
    if (this.help.open) this.help.close();
  }

  /** Back to where the focus was before the help opened. */
  restoreFocus() {
    const opener = this.opener;
    this.opener = null;
    if (opener instanceof HTMLElement && opener.isConnected && opener !== document.body && shown(opener)) {
      opener.focus({ preventScroll: true });
    } else if (document.activeElement instanceof HTMLElement && this.help.contains(document.activeElement)) {
      document.activeElement.blur();
    }
  }

  /** Whether a dialog (ours or another) is open over the call. */
  dialogOpen() {
    return !!document.querySelector('dialog[open], [aria-modal="true"]:not([hidden])');
  }

  /** @param {KeyboardEvent} e */
  keydown(e) {
    this.muteWhenOn?.disconnect();
    this.muteWhenOn = null;
    if (e.defaultPrevented || !this.active()) return;
    const action = shortcutFor({
      key: e.key,
      code: e.code,
      ctrlKey: e.ctrlKey,
      metaKey: e.metaKey,
      altKey: e.altKey,
      shiftKey: e.shiftKey,
      repeat: e.repeat,
      isComposing: e.isComposing || e.keyCode === 229,
      target: describeTarget(e.target),
    });
    if (!action || this.dialogOpen()) return;
    e.preventDefault();
    this.handledKey = e.key;
    switch (action) {
      case 'push-to-talk':
        if (!e.repeat) this.pushToTalk();
        break;
      case 'help':
        this.openHelp();
        break;
      case 'chat':
        this.toggleChat();
        break;
      default:
        this.press(/** @type {Shortcut} */ (SHORTCUTS.find((s) => s.action === action)).testid);
    }
  }

  /** @param {KeyboardEvent} e */
  keyup(e) {
    this.handledKey = '';
    if (!this.talking || (e.key !== ' ' && e.code !== 'Space')) return;
    e.preventDefault();
    this.release();
  }

  /**
   * Presses a control button, as a click would. A hidden one does nothing;
   * a disabled one says why (its tooltip holds the reason).
   * @param {string} testid
   */
  press(testid) {
    const button = byTestId(testid);
    if (!button || button.hidden || !shown(button)) return;
    if (button.disabled) {
      if (button.title) toast(button.title, 'info');
      return;
    }
    button.click();
  }

  /**
   * C: the chat opens (its button) or closes (its close button). Opened
   * from the keyboard, its input gets the focus: one came to type.
   */
  toggleChat() {
    const panel = document.querySelector('[data-testid="chat-panel"]');
    const opening = !shown(panel);
    byTestId(opening ? 'chat-toggle' : 'chat-close')?.click();
    const input = /** @type {HTMLElement|null} */ (document.querySelector('[data-testid="chat-input"]'));
    if (opening && shown(panel) && shown(input)) input?.focus({ preventScroll: true });
  }

  /** Space went down: a muted microphone turns on until Space comes up. */
  pushToTalk() {
    const mic = byTestId('toggle-mic');
    if (this.talking || !mic || mic.hidden || mic.disabled || mic.getAttribute('aria-pressed') !== 'false') return;
    this.talking = true;
    mic.classList.add('is-push-to-talk');
    mic.click();
  }

  /** Space came up (or the window lost the focus): mute again. */
  release() {
    if (!this.talking) return;
    this.talking = false;
    const mic = byTestId('toggle-mic');
    if (!mic) return;
    mic.classList.remove('is-push-to-talk');
    if (mic.getAttribute('aria-pressed') === 'true') {
      mic.click();
      return;
    }
    // The microphone is still opening (it had none yet): mute it once it
    // is on, unless a key is pressed before that.
    const observer = new MutationObserver(() => {
      if (mic.getAttribute('aria-pressed') !== 'true') return;
      observer.disconnect();
      if (this.muteWhenOn === observer) this.muteWhenOn = null;
      mic.click();
    });
    observer.observe(mic, { attributes: true, attributeFilter: ['aria-pressed'] });
    this.muteWhenOn = observer;
    setTimeout(() => observer.disconnect(), 10000);
  }
}

