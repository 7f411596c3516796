// @ts-check
// Toasts: short messages in a corner that fade by themselves. Errors stay a
// little longer and are announced assertively to screen readers.

import { el, icon } from './dom.js';
import { t } from './i18n.js';

/** @typedef {'info'|'success'|'error'} ToastKind */

const DURATION = { info: 4000, success: 3000, error: 7000 };
const MAX_VISIBLE = 4;

/**
 * Shows a toast.
 * @param {string} text
 * @param {ToastKind} [kind]
 * @param {{action?: {label: string, run: () => void, testid?: string}, sticky?: boolean, quiet?: boolean}} [opts]
 *   action adds a button (e.g. "Enable sound"; testid is its data-testid); sticky keeps the toast until
 *   it is dismissed or its action runs; quiet shows it without it being
 *   read out (the news that a11y.js announces already, coalesced).
 * @returns {() => void} dismisses the toast
 */
export function toast(text, kind = 'info', opts = {}) {
  let host = document.getElementById('toasts');
  if (!host) {
    host = el('div', { id: 'toasts', class: 'toasts', 'aria-live': 'polite' });
    document.body.append(host);
  }
  // The same news twice shows once (the newest copy), and the stack stays
  // short: a burst of errors should not cover the call.
  for (const old of host.querySelectorAll('.toast')) {
    if (old.querySelector('.toast-text')?.textContent === text) old.remove();
  }
  while (host.children.length >= MAX_VISIBLE) host.firstElementChild?.remove();

  const close = el('button', { class: 'toast-close', type: 'button', 'aria-label': t('common.dismiss') }, [icon('close')]);
  const node = el('div', { class: 'toast toast-' + kind, role: opts.quiet ? undefined : kind === 'error' ? 'alert' : 'status', 'aria-live': opts.quiet ? 'off' : undefined }, [
    el('span', { class: 'toast-text', text }),
  ]);
  let timer = 0;
  const dismiss = () => {
    clearTimeout(timer);
    node.classList.add('toast-out');
    // Remove after the fade; also when animations are off (no animationend).
    setTimeout(() => node.remove(), 200);
  };
  if (opts.action) {
    const { label, run, testid } = opts.action;
    const btn = el('button', { class: 'btn btn-small', type: 'button', 'data-testid': testid, text: label });
    btn.addEventListener('click', () => {
      dismiss();
      run();
    });
    node.append(btn);
  }
  close.addEventListener('click', dismiss);
  node.append(close);
  host.append(node);
  if (!opts.sticky) timer = window.setTimeout(dismiss, DURATION[kind] || DURATION.info);
  return dismiss;
}
