// @ts-check
// Home page: the list of rooms (refreshed every few seconds) and the form
// that creates one.

// The language first: its catalog loads before the modules below run.
import { errorText, plural, setupLanguageSelect, t } from './i18n.js';
import { ApiError, createRoom, listRooms } from './api.js';
import { el, icon, timeAgo } from './dom.js';
import { offerNewGuest } from './passcode.js';
import { ErrorCode, RoomStatus, Visibility } from './protocol.js';
import { toast } from './toast.js';

/** @typedef {import('./protocol.js').Room} Room */

const REFRESH_MS = 3000;

const list = /** @type {HTMLUListElement} */ (document.getElementById('room-list'));
const yourList = /** @type {HTMLUListElement} */ (document.getElementById('your-room-list'));
const yourSection = /** @type {HTMLElement} */ (document.getElementById('your-rooms'));
const identityError = /** @type {HTMLElement} */ (document.getElementById('identity-error'));
const loading = /** @type {HTMLElement} */ (document.getElementById('rooms-loading'));
const empty = /** @type {HTMLElement} */ (document.getElementById('rooms-empty'));
const status = /** @type {HTMLElement} */ (document.getElementById('rooms-status'));
const form = /** @type {HTMLFormElement} */ (document.getElementById('create-form'));
const nameInput = /** @type {HTMLInputElement} */ (document.getElementById('create-room-name'));
const formError = /** @type {HTMLElement} */ (document.getElementById('create-error'));
const createButton = /** @type {HTMLButtonElement} */ (form.querySelector('[data-testid="create-room"]'));

/** Room list items by room id, reused across refreshes so nothing flickers. */
/** @type {Map<string, HTMLElement>} */
const items = new Map();

/** @param {string} id */
function roomPath(id) {
  return '/r/' + encodeURIComponent(id);
}

/** @param {Room} room */
function statusLabel(room) {
  switch (room.status) {
    case RoomStatus.LIVE:
      return t('home.room.live');
    case RoomStatus.ENDED:
      return t('home.room.ended');
    default:
      return t('home.room.open');
  }
}

/**
 * Builds or refreshes one list item in place.
 * @param {Room} room
 * @returns {HTMLElement}
 */
function renderRoom(room) {
  let li = items.get(room.id);
  if (!li) {
    li = el('li', {}, [
      el('a', { class: 'room-item', 'data-testid': 'room-item', 'data-room-id': room.id, href: roomPath(room.id) }, [
        el('span', { class: 'room-main' }, [
          el('span', { class: 'room-name' }),
          el('span', { class: 'room-meta' }),
        ]),
        el('span', { class: 'room-side' }, [
          el('span', { class: 'room-online' }, [icon('users'), el('span', { class: 'room-online-count' })]),
          el('span', { class: 'badge room-mode' }),
          el('span', { class: 'badge room-status' }),
        ]),
      ]),
    ]);
    items.set(room.id, li);
  }
  const a = /** @type {HTMLElement} */ (li.firstElementChild);
  setText(a, '.room-name', room.name);
  const owner = room.owner && room.owner.name ? t('home.room.by', { name: room.owner.name }) : '';
  const when = timeAgo(room.createdAt);
  const access = [room.visibility === Visibility.UNLISTED ? t('home.room.unlisted') : '', room.hasPasscode ? t('home.room.passcode') : ''];
  setText(a, '.room-meta', [owner, when, ...access].filter(Boolean).join(' · '));
  setText(a, '.room-online-count', t('home.room.online', { count: room.online }));
  a.querySelector('.room-online')?.setAttribute('title', plural('home.room.peopleNow', room.online));
  setText(a, '.room-mode', room.mode === 'sfu' ? t('mode.sfu') : t('mode.mesh'));
  a.querySelector('.room-mode')?.setAttribute('title', room.mode === 'sfu' ? t('mode.sfuShort') : t('mode.meshShort'));
  const badge = /** @type {HTMLElement} */ (a.querySelector('.room-status'));
  badge.textContent = statusLabel(room);
  badge.dataset.status = room.status;
  a.classList.toggle('is-ended', room.status === RoomStatus.ENDED);
  a.setAttribute('aria-label', t('home.room.label', { name: room.name, status: statusLabel(room), count: room.online }));
  return li;
}

/**
 * @param {Element} root
 * @param {string} selector
 * @param {string} text
 */
function setText(root, selector, text) {
  const node = root.querySelector(selector);
  if (node && node.textContent !== text) node.textContent = text;
}

/**
 * @param {Room[]} rooms newest first, as the server sends them: mine (that
 *   I own or joined) go to "Your rooms", the other public ones below
 */
function renderRooms(rooms) {
  const mine = rooms.filter((r) => r.yours);
  const others = rooms.filter((r) => !r.yours);
  loading.hidden = true;
  empty.hidden = others.length > 0;
  list.hidden = others.length === 0;
  yourSection.hidden = mine.length === 0;

  const seen = new Set();
  fill(yourList, mine, seen);
  fill(list, others, seen);
  for (const [id, li] of items) {
    if (!seen.has(id)) {
      li.remove();
      items.delete(id);
    }
  }
}

/**
 * @param {HTMLUListElement} into
 * @param {Room[]} rooms
 * @param {Set<string>} seen collects the ids shown
 */
function fill(into, rooms, seen) {
  rooms.forEach((room, index) => {
    seen.add(room.id);
    const li = renderRoom(room);
    // Move only what is out of place: moving a node drops its focus.
    if (into.children[index] !== li) into.insertBefore(li, into.children[index] || null);
  });
}

/** The identity token was refused: say so, and stop refreshing. */
function showIdentityError() {
  identityError.hidden = false;
  loading.hidden = true;
  clearTimeout(refreshTimer);
}

let refreshTimer = 0;

async function refresh() {
  clearTimeout(refreshTimer);
  try {
    renderRooms(await listRooms());
    status.textContent = '';
  } catch (err) {
    if (err instanceof ApiError && err.code === ErrorCode.UNAUTHORIZED) {
      showIdentityError();
      return;
    }
    // Keep showing the last list; say why it may be stale.
    status.textContent = err instanceof ApiError && err.status === 0 ? t('home.rooms.offline') : t('home.rooms.refreshFailed');
    if (!loading.hidden) {
      loading.hidden = true;
      empty.hidden = false;
      empty.textContent = t('home.rooms.loadFailed');
    }
  }
  refreshTimer = window.setTimeout(refresh, REFRESH_MS);
}

/** @param {string} message */
function showFormError(message) {
  formError.textContent = message;
  formError.hidden = !message;
  nameInput.setAttribute('aria-invalid', message ? 'true' : 'false');
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  showFormError('');
  createButton.disabled = true;
  createButton.classList.add('is-busy');
  try {
    const classroom = /** @type {HTMLInputElement|null} */ (document.getElementById('create-classroom'));
    const hostStart = /** @type {HTMLInputElement|null} */ (document.getElementById('create-host-start'));
    const visibility = /** @type {HTMLSelectElement} */ (document.getElementById('create-room-visibility')).value;
    const passcode = /** @type {HTMLInputElement} */ (document.getElementById('create-room-passcode')).value.trim();
    const room = await createRoom(nameInput.value, {
      classroom: !!classroom?.checked,
      hostStart: !!hostStart?.checked,
      visibility: visibility === Visibility.UNLISTED ? Visibility.UNLISTED : Visibility.PUBLIC,
      ...(passcode ? { passcode } : {}),
    });
    // The passcode rides along in the fragment, which never leaves the
    // browser: the room page offers the link with it (passcode.js).
    location.assign(roomPath(room.id) + (passcode ? '#pwd=' + encodeURIComponent(passcode) : ''));
  } catch (err) {
    // The server's error code, in the page's language (in English, the
    // server's own message: "Room name must not be empty.").
    if (err instanceof ApiError && err.code === ErrorCode.UNAUTHORIZED) showIdentityError();
    const message = err instanceof ApiError ? errorText(err.code, err.message) : t('home.create.failed');
    showFormError(message);
    if (!(err instanceof ApiError) || err.status === 0 || err.status >= 500) toast(message, 'error');
    createButton.disabled = false;
    createButton.classList.remove('is-busy');
    nameInput.focus();
  }
});

nameInput.addEventListener('input', () => {
  if (!formError.hidden) showFormError('');
});

setupLanguageSelect(document.querySelector('[data-testid="language-select"]'));
offerNewGuest(/** @type {HTMLElement} */ (document.getElementById('new-guest')));

// When the tab comes back, refresh at once instead of waiting for the timer.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') refresh();
});

refresh();
