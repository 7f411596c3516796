// @ts-check
// Small DOM helpers shared by both pages. User-supplied text only ever goes
// through textContent (never innerHTML), and icons are built with
// createElementNS, so the pages need no inline markup strings at all.

import { formatDate, t } from './i18n.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Creates an element.
 * @param {string} tag
 * @param {Object<string, string|boolean|undefined>} [attrs] `class`, `text`
 *   (textContent), data-* and any other attribute; false/undefined are skipped.
 * @param {(Node|string|null|undefined|false)[]} [children]
 * @returns {HTMLElement}
 */
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (key === 'text') node.textContent = String(value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

/**
 * Icon outlines (24x24, stroked), drawn for this app in the common
 * line-icon style. Each entry is a list of SVG path data strings.
 * @type {Object<string, string[]>}
 */
const ICONS = {
  mic: ['M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3z', 'M19 11a7 7 0 0 1-14 0', 'M12 18v3'],
  'mic-off': [
    'M3 3l18 18',
    'M9 9v3a3 3 0 0 0 5.1 2.1',
    'M15 10V6a3 3 0 0 0-5.7-1.3',
    'M19 11a7 7 0 0 1-1.2 3.9',
    'M5 11a7 7 0 0 0 10.9 5.8',
    'M12 18v3',
  ],
  camera: ['M3 7h11a2 2 0 0 1 2 2v6a2 2 0 0 1-2 2H3z', 'M16 11l5-3v8l-5-3'],
  'camera-off': ['M3 3l18 18', 'M16 11l5-3v8l-5-3', 'M14 17H3V7h3', 'M10 7h4a2 2 0 0 1 2 2v4'],
  screen: ['M3 4h18v12H3z', 'M8 20h8', 'M12 16v4'],
  'screen-off': ['M3 4h18v12H3z', 'M8 20h8', 'M12 16v4', 'M9 7l6 6', 'M15 7l-6 6'],
  leave: ['M10 17l-5-5 5-5', 'M5 12h11', 'M14 4h5v16h-5'],
  users: [
    'M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z',
    'M2 21v-1a6 6 0 0 1 6-6h2a6 6 0 0 1 6 6v1',
    'M16 3.5a4 4 0 0 1 0 7',
    'M22 21v-1a6 6 0 0 0-4-5.6',
  ],
  chat: ['M4 5h16v11H9l-5 4z'],
  link: ['M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1', 'M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1'],
  crown: ['M3 8l4 4 5-7 5 7 4-4-2 11H5z'],
  shield: ['M12 3l7 3v5c0 4.5-3 8.3-7 10-4-1.7-7-5.5-7-10V6z', 'M9 12l2 2 4-4'],
  present: ['M3 4h18', 'M5 4v10h14V4', 'M12 14v3', 'M8 21l4-4 4 4'],
  eye: ['M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z', 'M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z'],
  close: ['M6 6l12 12', 'M18 6L6 18'],
  sound: ['M4 9h4l5-4v14l-5-4H4z', 'M16 9a4 4 0 0 1 0 6', 'M19 6a8 8 0 0 1 0 12'],
  edit: ['M4 20h4L19 9l-4-4L4 16z', 'M13.5 6.5l4 4'],
  settings: [
    'M10.2 4.6L10.7 2.1h2.6l.5 2.5 2.2.9 2.1-1.4 1.8 1.8-1.4 2.1.9 2.2 2.5.5v2.6l-2.5.5-.9 2.2 1.4 2.1-1.8 1.8-2.1-1.4-2.2.9-.5 2.5h-2.6l-.5-2.5-2.2-.9-2.1 1.4-1.8-1.8 1.4-2.1-.9-2.2-2.5-.5v-2.6l2.5-.5.9-2.2-1.4-2.1 1.8-1.8 2.1 1.4z',
    'M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z',
  ],
};

/**
 * Builds an inline SVG icon. Icons are decorative: the button or label that
 * holds one carries the accessible text.
 * @param {string} name
 * @returns {SVGSVGElement}
 */
export function icon(name) {
  const svg = /** @type {SVGSVGElement} */ (document.createElementNS(SVG_NS, 'svg'));
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/**
 * Replaces the icon inside a button or badge.
 * @param {Element} holder
 * @param {string} name
 */
export function setIcon(holder, name) {
  const old = holder.querySelector('svg.icon');
  const next = icon(name);
  if (old) old.replaceWith(next);
  else holder.prepend(next);
}

/**
 * Initials for an avatar: "Ada Lovelace" -> "AL", "zoë" -> "Z".
 * @param {string} name
 * @returns {string}
 */
export function initials(name) {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return '?';
  const first = Array.from(words[0])[0] || '';
  const last = words.length > 1 ? Array.from(words[words.length - 1])[0] || '' : '';
  return (first + last).toUpperCase();
}

/** Number of avatar colour classes in the CSS (.avatar-c0 ... .avatar-c7). */
const AVATAR_COLOURS = 8;

/**
 * A stable colour class for an id, so that a person keeps their colour in
 * the list and the grid (classes, not inline styles: the CSP forbids those).
 * @param {string} key
 * @returns {string}
 */
export function avatarClass(key) {
  let hash = 0;
  for (let i = 0; i < key.length; i++) hash = (hash * 31 + key.charCodeAt(i)) | 0;
  return 'avatar-c' + (Math.abs(hash) % AVATAR_COLOURS);
}

/**
 * "just now", "5 min ago", "2 h ago", or a date, in the page's language.
 * @param {string} iso
 * @param {number} [now]
 * @returns {string}
 */
export function timeAgo(iso, now = Date.now()) {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return '';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return t('time.justNow');
  if (s < 3600) return t('time.minutesAgo', { count: Math.floor(s / 60) });
  if (s < 86400) return t('time.hoursAgo', { count: Math.floor(s / 3600) });
  return formatDate(new Date(ms));
}
