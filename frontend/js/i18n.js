// @ts-check
// Languages: every visible string comes from a catalog, one JSON file per
// language under /static/i18n/, embedded in the binary like the rest of the
// frontend. English is complete and the fallback for a key a catalog lacks
// (a Go test fails when one does).
//
// The language is the one the person picked (remembered in localStorage),
// else the first of navigator.languages (which follows Accept-Language) that
// we have, else English. This module loads its catalog before any page
// module runs (top-level await), so t() is synchronous everywhere.

/** @typedef {{code: string, name: string}} Language */

/** @type {Language[]} The languages of the UI, each named in itself. */
export const LANGUAGES = [
  { code: 'en', name: 'English' },
  { code: 'zh-CN', name: '简体中文' },
  { code: 'es', name: 'Español' },
];

const STORAGE_KEY = 'meet.language';
const FALLBACK = 'en';

/**
 * Picks the UI language: the stored choice when we have it, else the first
 * preferred language we have (exact, then by its primary subtag: es-MX →
 * es, zh → zh-CN, zh-TW → zh-CN), else English. Pure, for node --test.
 * @param {readonly string[]} preferred e.g. navigator.languages
 * @param {string|null} [stored] the remembered choice
 * @returns {string}
 */
export function pickLanguage(preferred, stored) {
  const codes = LANGUAGES.map((l) => l.code);
  if (stored && codes.includes(stored)) return stored;
  for (const want of preferred || []) {
    const exact = codes.find((c) => c.toLowerCase() === String(want).toLowerCase());
    if (exact) return exact;
    const primary = String(want).split('-')[0].toLowerCase();
    const near = codes.find((c) => c.split('-')[0].toLowerCase() === primary);
    if (near) return near;
  }
  return FALLBACK;
}

/**
 * Fills {name} placeholders of a template. Pure.
 * @param {string} template
 * @param {Record<string, string|number>} [params]
 */
export function fill(template, params) {
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/** @type {Record<string, string>} */
let messages = {};
/** @type {Record<string, string>} */
let fallback = {};
let current = FALLBACK;

/**
 * @param {string} code
 * @returns {Promise<Record<string, string>>}
 */
async function fetchCatalog(code) {
  const res = await fetch(`/static/i18n/${code}.json`, { cache: 'no-cache' });
  if (!res.ok) throw new Error(`catalog ${code}: HTTP ${res.status}`);
  return res.json();
}

/**
 * The text of key in the current language, with {placeholders} filled.
 * A key no catalog has shows as itself, which the catalog test prevents.
 * @param {string} key
 * @param {Record<string, string|number>} [params]
 */
export function t(key, params) {
  const template = messages[key] ?? fallback[key] ?? key;
  return fill(template, params);
}

/** Whether key exists (in the current catalog or the fallback). */
export function has(key) {
  return key in messages || key in fallback;
}

/** The current language code, e.g. "zh-CN". */
export function language() {
  return current;
}

/**
 * Remembers the choice and reloads the page in it: the simplest way for
 * every string, the dynamic ones included, to follow.
 * @param {string} code
 */
export function chooseLanguage(code) {
  try {
    localStorage.setItem(STORAGE_KEY, code);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
  location.reload();
}

/**
 * The localized text for a server error code (error.<code>), else the
 * server's own English message.
 * @param {string} code
 * @param {string} [serverMessage]
 */
export function errorText(code, serverMessage) {
  const key = 'error.' + code;
  if (has(key)) return t(key);
  return serverMessage || t('error.internal');
}

/**
 * Translates the static markup under root: data-i18n sets the text;
 * data-i18n-title, data-i18n-aria-label and data-i18n-placeholder set those
 * attributes.
 * @param {ParentNode} [root]
 */
export function translateDOM(root = document) {
  for (const node of root.querySelectorAll('[data-i18n]')) {
    node.textContent = t(/** @type {string} */ (node.getAttribute('data-i18n')));
  }
  for (const [data, attr] of [['data-i18n-title', 'title'], ['data-i18n-aria-label', 'aria-label'], ['data-i18n-placeholder', 'placeholder']]) {
    for (const node of root.querySelectorAll(`[${data}]`)) {
      node.setAttribute(attr, t(/** @type {string} */ (node.getAttribute(data))));
    }
  }
}

/** @param {Date} d */
export function formatTime(d) {
  return new Intl.DateTimeFormat(current, { hour: '2-digit', minute: '2-digit' }).format(d);
}

/** @param {Date} d */
export function formatDateTime(d) {
  return new Intl.DateTimeFormat(current, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }).format(d);
}

/** @param {Date} d */
export function formatDate(d) {
  return new Intl.DateTimeFormat(current, { dateStyle: 'medium' }).format(d);
}

/** Loads the catalogs and sets <html lang>. Runs once, on import. */
async function init() {
  let stored = null;
  try {
    stored = localStorage.getItem(STORAGE_KEY);
  } catch {
    // No storage: go by the browser's languages.
  }
  current = pickLanguage(navigator.languages || [navigator.language], stored);
  try {
    fallback = await fetchCatalog(FALLBACK);
    messages = current === FALLBACK ? fallback : await fetchCatalog(current);
  } catch (err) {
    console.error('loading the language catalog failed', err);
    current = FALLBACK;
    messages = fallback;
  }
  document.documentElement.lang = current;
  translateDOM();
}

if (typeof document !== 'undefined') await init();
