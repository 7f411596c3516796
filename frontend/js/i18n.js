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
 * The text of a plural key: key.one, key.other (and key.few, key.many where
 * a language has them), chosen by Intl.PluralRules of the current language;
 * key.other when the form is missing. {count} is filled with count.
 * @param {string} key
 * @param {number} count
 * @param {Record<string, string|number>} [params]
 */
export function plural(key, count, params) {
  let form = 'other';
  try {
    form = new Intl.PluralRules(current).select(count);
  } catch {
    // An engine without PluralRules: "other" reads right often enough.
  }
  const full = has(`${key}.${form}`) ? `${key}.${form}` : `${key}.other`;
  return t(full, { count, ...params });
}

/**
 * The text to show for a server error (error.<code>, with params). In
 * English the server's own message wins when there is one: the server
 * writes it for people, in English, and it is more precise than the code
 * ("Room name must not be empty."). A code no catalog has falls back to the
 * server's message.
 * @param {string} code
 * @param {string} [serverMessage]
 * @param {Record<string, string|number>} [params]
 */
export function errorText(code, serverMessage, params) {
  const key = 'error.' + code;
  if (serverMessage && current === FALLBACK) return serverMessage;
  if (has(key)) return t(key, params);
  return serverMessage || t('error.internal');
}

/**
 * Translates the static markup under root: data-i18n sets the text;
 * data-i18n-title, data-i18n-aria-label and data-i18n-placeholder set those
 * attributes. A data-i18n element whose children carry data-i18n-param="x"
 * keeps those children, put where the text has {x} (e.g. the room name in
 * "You left {name}.").
 * @param {ParentNode} [root]
 */
export function translateDOM(root = document) {
  for (const node of root.querySelectorAll('[data-i18n]')) {
    const text = t(/** @type {string} */ (node.getAttribute('data-i18n')));
    const slots = node.querySelectorAll(':scope > [data-i18n-param]');
    if (slots.length === 0) {
      node.textContent = text;
      continue;
    }
    /** @type {Record<string, Element>} */
    const byName = {};
    for (const slot of slots) byName[/** @type {string} */ (slot.getAttribute('data-i18n-param'))] = slot;
    node.replaceChildren(
      ...text.split(/(\{\w+\})/).filter(Boolean).map((part) => {
        const m = /^\{(\w+)\}$/.exec(part);
        return m && byName[m[1]] ? byName[m[1]] : document.createTextNode(part);
      }),
    );
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

/** Date and time in full, for a tooltip. @param {Date} d */
export function formatFullDateTime(d) {
  return new Intl.DateTimeFormat(current, { dateStyle: 'full', timeStyle: 'short' }).format(d);
}

/**
 * Fills a <select> with LANGUAGES, each named in itself, the current one
 * chosen; picking another remembers it and reloads the page in it.
 * @param {HTMLSelectElement|null} select
 */
export function setupLanguageSelect(select) {
  if (!select) return;
  select.replaceChildren(
    ...LANGUAGES.map((l) => {
      const option = document.createElement('option');
      option.value = l.code;
      option.lang = l.code;
      option.textContent = l.name;
      option.selected = l.code === current;
      return option;
    }),
  );
  select.value = current;
  select.addEventListener('change', () => {
    if (select.value !== current) chooseLanguage(select.value);
  });
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
