// @ts-check
// Page chrome of the room page: which view is showing, the connection and
// mode indicators, the share link, the control buttons and the side panels
// that collapse behind buttons on phones.

import { icon, setIcon } from './dom.js';
import { t } from './i18n.js';
import { Mode } from './protocol.js';
import { shortcutTitle } from './shortcuts.js';
import { toast } from './toast.js';

/** @typedef {'loading'|'missing'|'ended'|'error'|'left'|'removed'|'prejoin'|'room'|'lobby'|'passcode'|'unauthorized'} ViewName */
/** @typedef {import('./signaling.js').ConnectionState} ConnectionState */

/**
 * Shows one view and hides the others.
 * @param {ViewName} name
 */
export function showView(name) {
  for (const view of document.querySelectorAll('.view[data-view]')) {
    /** @type {HTMLElement} */ (view).hidden = /** @type {HTMLElement} */ (view).dataset.view !== name;
  }
  document.body.dataset.currentView = name; // lets CSS treat the call differently
}

/**
 * Writes the room name everywhere it appears, and in the title.
 * @param {string} name
 */
export function setRoomName(name) {
  for (const node of document.querySelectorAll('.room-name-text')) node.textContent = name;
  document.title = t('room.titleWithName', { name });
}

/**
 * @param {ConnectionState} state
 * @returns {string}
 */
function connectionText(state) {
  switch (state) {
    case 'idle':
      return t('conn.idle');
    case 'connecting':
      return t('conn.connecting');
    case 'connected':
      return t('conn.connected');
    case 'reconnecting':
      return t('conn.reconnecting');
    case 'disconnected':
      return t('conn.disconnected');
    default:
      return state;
  }
}

/** @param {ConnectionState} state */
export function setConnection(state) {
  const conn = document.getElementById('conn');
  if (!conn) return;
  conn.dataset.state = state;
  const text = conn.querySelector('.conn-text');
  if (text) text.textContent = connectionText(state);
}

/**
 * Sets the room's mode on the room root (the test hook data-mode) and on
 * the badge. Called on welcome and, later, on every mode change.
 * @param {string} mode
 */
export function setModeIndicator(mode) {
  const root = document.getElementById('view-room');
  if (root) root.dataset.mode = mode;
  const badge = document.getElementById('mode-badge');
  if (badge) {
    badge.textContent = mode === Mode.SFU ? t('mode.sfu') : t('mode.mesh');
    badge.dataset.mode = mode;
    badge.title = mode === Mode.SFU ? t('mode.sfuTitle') : t('mode.meshTitle');
  }
}

/**
 * Fills the share-link fields and wires every copy button.
 * @param {string} url
 */
export function setupShareLink(url) {
  for (const input of /** @type {NodeListOf<HTMLInputElement>} */ (document.querySelectorAll('.share-link'))) {
    input.value = url;
  }
  for (const button of document.querySelectorAll('.copy-link')) {
    setIcon(button, 'link');
    button.addEventListener('click', () => copyLink(url, button));
  }
}

/**
 * Copies a link. navigator.clipboard needs a secure context (https or
 * localhost) and permission; when it is missing, the link field next to
 * the button (.share-link or .copy-source) is selected, when it shows, and
 * the toast says what to do instead.
 * @param {string} url
 * @param {Element} button
 * @param {string} [copied] the toast once copied
 */
export async function copyLink(url, button, copied = t('share.copied')) {
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error('no clipboard');
    await navigator.clipboard.writeText(url);
    toast(copied, 'success');
  } catch {
    const input = /** @type {HTMLInputElement|null} */ (button.parentElement?.querySelector('.share-link, .copy-source'));
    const visible = input && !input.classList.contains('visually-hidden') ? input : null;
    if (visible) {
      visible.focus();
      visible.select();
    }
    toast(visible ? t('share.blockedSelected') : t('share.blocked', { url }), 'info');
  }
}

/**
 * Sets a control button's pressed/off look, icon and label.
 * @param {string} id
 * @param {{on: boolean, disabled?: boolean, iconOn: string, iconOff: string, labelOn: string, labelOff: string, title?: string}} s
 */
export function setControl(id, s) {
  const button = /** @type {HTMLButtonElement|null} */ (document.getElementById(id));
  if (!button) return;
  button.setAttribute('aria-pressed', String(s.on));
  button.classList.toggle('is-off', !s.on);
  button.disabled = !!s.disabled;
  setIcon(button, s.on ? s.iconOn : s.iconOff);
  const label = button.querySelector('.control-label');
  const text = s.on ? s.labelOn : s.labelOff;
  if (label) label.textContent = text;
  // The shortcut in the tooltip, not in a disabled button's reason.
  button.title = s.disabled ? s.title || text : shortcutTitle(button, s.title || text);
}

/**
 * Side panels: open side by side on wide screens; on narrow screens they
 * are drawers opened by the buttons in the top bar (and closed by their
 * own close button or Escape).
 */
export function setupPanels() {
  const toggles = document.querySelectorAll('.panel-toggle');
  for (const button of toggles) {
    const panelId = /** @type {HTMLElement} */ (button).dataset.panel || '';
    setIcon(button, panelId === 'chat-panel' ? 'chat' : 'users');
    button.addEventListener('click', () => togglePanel(panelId));
  }
  for (const button of document.querySelectorAll('.panel-close')) {
    button.append(icon('close'));
    button.addEventListener('click', () => togglePanel(/** @type {HTMLElement} */ (button).dataset.panel || '', false));
  }
  document.addEventListener('keydown', (e) => {
    // An Escape that closes a menu or a dialog (a11y.js, or the dialog
    // itself) closes nothing else.
    const inDialog = e.target instanceof Element && !!e.target.closest('dialog');
    if (e.key === 'Escape' && !e.defaultPrevented && !inDialog) closePanels();
  });
}

/**
 * @param {string} panelId
 * @param {boolean} [open] forced state; toggles when undefined
 */
function togglePanel(panelId, open) {
  const panel = document.getElementById(panelId);
  if (!panel) return;
  const next = open ?? !panel.classList.contains('is-open');
  // One drawer at a time: on a phone two would cover everything.
  if (next) closePanels();
  const hadFocus = !next && panel.contains(document.activeElement);
  panel.classList.toggle('is-open', next);
  for (const b of document.querySelectorAll(`.panel-toggle[data-panel="${panelId}"]`)) {
    b.setAttribute('aria-expanded', String(next));
  }
  document.body.classList.toggle('has-drawer', !!document.querySelector('.side-panel.is-open'));
  if (hadFocus) focusToggle(panelId);
}

/**
 * A panel closed with the focus in it: the focus goes back to the button
 * that opens it (when that button shows).
 * @param {string} panelId
 */
function focusToggle(panelId) {
  const toggles = /** @type {HTMLElement[]} */ ([...document.querySelectorAll(`.panel-toggle[data-panel="${panelId}"]`)]);
  toggles.find((b) => b.getClientRects().length > 0)?.focus();
}

function closePanels() {
  for (const panel of document.querySelectorAll('.side-panel.is-open')) {
    const hadFocus = panel.contains(document.activeElement);
    panel.classList.remove('is-open');
    if (hadFocus) focusToggle(panel.id);
  }
  for (const b of document.querySelectorAll('.panel-toggle')) b.setAttribute('aria-expanded', 'false');
  document.body.classList.remove('has-drawer');
}
