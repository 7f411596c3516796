// @ts-check
// The owner's list of the room's recordings (recording.js opens it): GET
// /api/rooms/:id/recordings, again when a recording starts or stops, each
// file a download link, each recording with a Delete that asks in the page
// first (DELETE /api/recordings/:rid).
//
// Hooks: "recordings-dialog" with "recordings-close", "recordings-status"
// (data-state loading, empty, error, ready; "recordings-retry"),
// "recordings-list" of "recording-item" (data-recording-id, data-state)
// with "recording-file" links, "recording-delete", and the confirmation's
// "recording-delete-confirm" and "recording-delete-cancel".
//
// formatDuration, formatBytes, sortFiles, recordingLength and stillFinishing
// are pure, for node --test.

import { ApiError, deleteRecording, listRecordings } from './api.js';
import { el, icon } from './dom.js';
import { errorText, formatDateTime, formatFullDateTime, language, plural, t } from './i18n.js';
import { Source } from './protocol.js';
import { toast } from './toast.js';

/** @typedef {import('./api.js').RecordingInfo} RecordingInfo */
/** @typedef {import('./api.js').RecordingFile} RecordingFile */

/** A stopped recording is listed as running until the server has closed its files: ask again after this. */
const FINISH_RETRY_MS = 1500;
/** At most this many such retries. */
const FINISH_RETRIES = 6;

// --- pure helpers ---------------------------------------------------------

/**
 * A length of time as a clock reads it: "0:07", "12:03", "1:02:03". Pure.
 * @param {number} ms
 * @returns {string}
 */
export function formatDuration(ms) {
  const total = Number.isFinite(ms) && ms > 0 ? Math.round(ms / 1000) : 0;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * A file's size in the language's words: "0.9 kB", "12.3 MB", "1.2 GB"
 * (powers of 1000, as the units' names say; less than a kilobyte is a
 * fraction of one). Pure.
 * @param {number} bytes
 * @param {string} lang a BCP 47 code
 * @returns {string}
 */
export function formatBytes(bytes, lang) {
  const n = Number.isFinite(bytes) && bytes > 0 ? bytes : 0;
  /** @type {[string, number][]} */
  const units = [['gigabyte', 1e9], ['megabyte', 1e6], ['kilobyte', 1e3]];
  const [unit, size] = units.find(([, s]) => n >= s) || units[units.length - 1];
  return new Intl.NumberFormat(lang, { style: 'unit', unit, unitDisplay: 'short', maximumFractionDigits: n >= size * 100 ? 0 : 1 }).format(n / size);
}

/** The order of a person's files: what one sees, then what one hears. */
const SOURCE_ORDER = { [Source.CAMERA]: 0, [Source.SCREEN]: 1, [Source.MICROPHONE]: 2 };

/**
 * A recording's files in the order the list shows them: by person (name,
 * then participant, so two people of one name stay apart), and each
 * person's camera, screen and microphone; a later start after an earlier
 * one. Pure; returns a new array.
 * @template {{participant?: string, participantId?: string, source: string, startOffsetMs?: number}} F
 * @param {F[]} files
 * @param {string} [lang]
 * @returns {F[]}
 */
export function sortFiles(files, lang) {
  const collator = new Intl.Collator(lang, { sensitivity: 'base', numeric: true });
  const rank = (/** @type {string} */ s) => SOURCE_ORDER[/** @type {keyof SOURCE_ORDER} */ (s)] ?? 3;
  return [...(files || [])].sort(
    (a, b) =>
      collator.compare(a.participant || '', b.participant || '') ||
      (a.participantId || '').localeCompare(b.participantId || '') ||
      rank(a.source) - rank(b.source) ||
      (a.startOffsetMs || 0) - (b.startOffsetMs || 0),
  );
}

/**
 * How long a recording lasted (up to now while it records), in ms; null
 * when its times do not tell. Pure.
 * @param {{state: string, startedAt: string, stoppedAt?: string}} rec
 * @param {number} now ms since the epoch
 * @returns {number|null}
 */
export function recordingLength(rec, now) {
  const start = Date.parse(rec.startedAt);
  const stop = rec.stoppedAt ? Date.parse(rec.stoppedAt) : rec.state === 'recording' ? now : NaN;
  if (Number.isNaN(start) || Number.isNaN(stop) || stop < start) return null;
  return stop - start;
}

/**
 * Whether a list still shows a recording as running although the room no
 * longer records (the server closes the files after it says it stopped):
 * worth asking again shortly. Pure.
 * @param {{state: string}[]} recordings
 * @param {boolean} roomRecords
 * @returns {boolean}
 */
export function stillFinishing(recordings, roomRecords) {
  return !roomRecords && recordings.some((r) => r.state === 'recording');
}


/**
 * A source's name.
 * @param {string} source
 * @returns {string}
 */
function sourceLabel(source) {
  switch (source) {
    case Source.CAMERA:
      return t('recording.source.camera');
    case Source.SCREEN:
      return t('recording.source.screen');
    case Source.MICROPHONE:
      return t('recording.source.microphone');
    default:
      return source;
  }
}

/**
 * A recording's state, in words.
 * @param {string} state
 * @returns {string}
 */
function stateLabel(state) {
  switch (state) {
    case 'recording':
      return t('recording.state.recording');
    case 'interrupted':
      return t('recording.state.interrupted');
    default:
      return t('recording.state.done');
  }
}

/** @param {string} iso */
function when(iso) {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : formatDateTime(new Date(ms));
}

const $ = (/** @type {string} */ id) => document.getElementById(id);


/**
 * @typedef {Object} RecordingsDialogParams
 * @property {string} roomId
 * @property {() => boolean} roomRecords whether the room records now
 */

export class RecordingsDialog {
  /** @param {RecordingsDialogParams} params */
  constructor(params) {
    this.roomId = params.roomId;
    this.roomRecords = params.roomRecords;
    /** @type {RecordingInfo[]} */
    this.items = [];
    /** @type {'loading'|'ready'|'error'} */
    this.state = 'loading';
    this.errorMessage = '';
    this.generation = 0;
    this.retries = 0;
    this.retryTimer = 0;
    /** The recording whose deletion is being confirmed, or ''. */
    this.confirming = '';
    /** The recording being deleted, or ''. */
    this.deleting = '';

    this.closeButton = /** @type {HTMLButtonElement} */ (
      el('button', { class: 'icon-btn recordings-close', type: 'button', 'data-testid': 'recordings-close', 'aria-label': t('recording.close'), title: t('recording.close') }, [icon('close')])
    );
    this.status = el('p', { class: 'recordings-status muted', 'data-testid': 'recordings-status', role: 'status' });
    this.retryButton = /** @type {HTMLButtonElement} */ (
      el('button', { class: 'btn btn-small', type: 'button', 'data-testid': 'recordings-retry', text: t('common.tryAgain'), hidden: true })
    );
    this.list = el('ul', { class: 'recordings-list', 'data-testid': 'recordings-list', 'aria-labelledby': 'recordings-title', hidden: true });
    this.dialog = /** @type {HTMLDialogElement} */ (
      el('dialog', { class: 'recordings-dialog', id: 'recordings-dialog', 'data-testid': 'recordings-dialog', 'aria-labelledby': 'recordings-title', 'aria-describedby': 'recordings-hint' }, [
        el('div', { class: 'recordings-panel' }, [
          el('div', { class: 'recordings-head' }, [el('h2', { id: 'recordings-title', text: t('recording.listTitle') }), this.closeButton]),
          el('p', { class: 'muted small recordings-hint', id: 'recordings-hint', text: t('recording.listHint') }),
          el('div', { class: 'recordings-state' }, [this.status, this.retryButton]),
          this.list,
        ]),
      ])
    );
    document.body.append(this.dialog);

    this.closeButton.addEventListener('click', () => this.close());
    this.retryButton.addEventListener('click', () => this.load(true));
    // A click on the backdrop (the dialog itself, around its panel) closes it.
    this.dialog.addEventListener('click', (e) => {
      if (e.target === this.dialog) this.close();
    });
    this.dialog.addEventListener('close', () => {
      this.confirming = '';
      clearTimeout(this.retryTimer);
    });
    this.list.addEventListener('click', (e) => this.clicked(e));
    // The same from the dialog's own Escape, should the key's default come through.
    this.dialog.addEventListener('cancel', (e) => {
      if (!this.confirming) return;
      e.preventDefault();
      if (!this.deleting) this.cancelDelete();
    });
    this.list.addEventListener('keydown', (e) => {
      // Escape in the confirmation takes back the Delete, not the dialog.
      if (e.key !== 'Escape' || !this.confirming) return;
      e.preventDefault();
      e.stopPropagation();
      if (!this.deleting) this.cancelDelete();
    });
    // Leaving the call hides its view: a modal dialog left open would keep
    // the next view inert.
    const room = $('view-room');
    if (room) {
      new MutationObserver(() => {
        if (room.hidden) this.close();
      }).observe(room, { attributes: true, attributeFilter: ['hidden'] });
    }
  }

  /** Opens the dialog and loads the list. */
  open() {
    if (!this.dialog.open) {
      this.confirming = '';
      this.dialog.showModal();
      this.closeButton.focus();
    }
    this.load(true);
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  /** Loads the list again while the dialog is open (a recording started or stopped). */
  refresh() {
    if (!this.dialog.open) return;
    this.retries = 0;
    this.load(false);
  }

  /**
   * Asks the server for the list.
   * @param {boolean} fresh shows "Loading…" until it comes (a reload keeps the list meanwhile)
   */
  async load(fresh) {
    clearTimeout(this.retryTimer);
    const generation = ++this.generation;
    if (fresh) {
      this.retries = 0;
      this.state = 'loading';
      this.render();
    }
    try {
      const items = await listRecordings(this.roomId);
      if (generation !== this.generation) return;
      this.items = items;
      this.state = 'ready';
    } catch (err) {
      if (generation !== this.generation) return;
      console.debug('recordings: the list could not be loaded', err);
      // A reload that failed keeps the list it had.
      if (fresh || this.state !== 'ready') {
        this.state = 'error';
        this.errorMessage = err instanceof ApiError && err.status !== 0 ? errorText(err.code, err.message) : t('recording.loadFailed');
      }
    }
    this.render();
    if (this.dialog.open && this.state === 'ready' && stillFinishing(this.items, this.roomRecords()) && this.retries < FINISH_RETRIES) {
      this.retries++;
      this.retryTimer = window.setTimeout(() => this.load(false), FINISH_RETRY_MS);
    }
  }

  /** @param {Event} e */
  clicked(e) {
    const button = /** @type {HTMLElement} */ (e.target).closest('button[data-action]');
    const item = /** @type {HTMLElement|null|undefined} */ (button?.closest('[data-recording-id]'));
    if (!button || !item) return;
    const id = item.dataset.recordingId || '';
    switch (button.getAttribute('data-action')) {
      case 'delete':
        this.confirming = id;
        this.render();
        /** @type {HTMLElement|null} */ (this.itemOf(id)?.querySelector('[data-action="cancel"]'))?.focus();
        break;
      case 'cancel':
        if (!this.deleting) this.cancelDelete();
        break;
      case 'confirm':
        this.remove(id);
        break;
      default:
    }
  }

  /** Takes back the Delete being confirmed; the focus returns to its button. */
  cancelDelete() {
    const id = this.confirming;
    this.confirming = '';
    this.render();
    /** @type {HTMLElement|null} */ (this.itemOf(id)?.querySelector('[data-action="delete"]'))?.focus();
  }

  /**
   * @param {string} id
   * @returns {HTMLElement|null}
   */
  itemOf(id) {
    return id ? /** @type {HTMLElement|null} */ (this.list.querySelector(`[data-recording-id="${CSS.escape(id)}"]`)) : null;
  }

  /**
   * Deletes a recording, confirmed.
   * @param {string} id
   */
  async remove(id) {
    if (this.deleting) return;
    const index = this.items.findIndex((r) => r.id === id);
    this.deleting = id;
    this.render();
    try {
      await deleteRecording(id);
      this.gone(id, index);
      toast(t('recording.deleted'), 'success');
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        // Deleted already (another tab of mine): it is gone all the same.
        this.gone(id, index);
      } else {
        this.deleting = '';
        this.confirming = '';
        this.render();
        toast(err instanceof ApiError && err.status !== 0 ? errorText(err.code, err.message) : t('recording.deleteFailed'), 'error');
        /** @type {HTMLElement|null} */ (this.itemOf(id)?.querySelector('[data-action="delete"]'))?.focus();
        this.load(false);
      }
    }
  }

  /**
   * A recording was deleted: out of the list, and the focus on its
   * neighbour (or the close button when none is left).
   * @param {string} id
   * @param {number} index where it was
   */
  gone(id, index) {
    this.items = this.items.filter((r) => r.id !== id);
    this.deleting = '';
    this.confirming = '';
    this.render();
    const items = this.list.querySelectorAll('[data-recording-id]');
    const next = items[Math.min(Math.max(index, 0), items.length - 1)];
    const target = /** @type {HTMLElement|null} */ (next?.querySelector('[data-action="delete"]:not(:disabled)') || next?.querySelector('a') || null);
    (target || this.closeButton).focus();
  }

  render() {
    const ready = this.state === 'ready';
    const empty = ready && this.items.length === 0;
    this.status.dataset.state = ready ? (empty ? 'empty' : 'ready') : this.state;
    this.status.textContent = this.state === 'loading' ? t('recording.loading') : this.state === 'error' ? this.errorMessage : empty ? t('recording.empty') : '';
    this.status.hidden = ready && !empty;
    this.status.classList.toggle('is-error', this.state === 'error');
    this.retryButton.hidden = this.state !== 'error';
    this.dialog.setAttribute('aria-busy', String(this.state === 'loading'));
    const keep = document.activeElement;
    this.list.replaceChildren(...(ready ? this.items.map((r) => this.item(r)) : []));
    this.list.hidden = !ready || empty;
    // A redraw replaced what had the focus: give it to its twin.
    if (keep instanceof HTMLElement && !keep.isConnected && keep.dataset.focusKey) {
      const id = /** @type {HTMLElement|null} */ (keep.closest('[data-recording-id]'))?.dataset.recordingId;
      const twin = /** @type {HTMLElement|null} */ (this.itemOf(id || '')?.querySelector(`[data-focus-key="${CSS.escape(keep.dataset.focusKey)}"]`));
      twin?.focus();
    }
  }

  /**
   * One recording of the list.
   * @param {RecordingInfo} rec
   * @returns {HTMLElement}
   */
  item(rec) {
    const lang = language();
    const titleId = `recording-${rec.id}-title`;
    const started = Date.parse(rec.startedAt);
    const length = recordingLength(rec, Date.now());
    const files = sortFiles(rec.files || [], lang);
    const bytes = files.reduce((sum, f) => sum + (f.bytes || 0), 0);
    const running = rec.state === 'recording';
    const meta = [
      length === null ? '' : running ? t('recording.runningFor', { duration: formatDuration(length) }) : t('recording.length', { duration: formatDuration(length) }),
      plural('recording.files', files.length),
      files.length > 0 ? formatBytes(bytes, lang) : '',
    ].filter(Boolean).join(' · ');

    const confirming = this.confirming === rec.id;
    const deleting = this.deleting === rec.id;
    const whenText = when(rec.startedAt);
    const actions = confirming
      ? el('div', { class: 'recording-confirm', role: 'group', 'aria-labelledby': `recording-${rec.id}-confirm` }, [
          el('p', { class: 'recording-confirm-text', id: `recording-${rec.id}-confirm`, text: t('recording.confirmDelete') }),
          el('div', { class: 'recording-confirm-actions' }, [
            // While it deletes, both stay focusable (aria-disabled): the
            // focus stays where it was until the answer moves it.
            el('button', { class: 'btn btn-small', type: 'button', 'data-action': 'cancel', 'data-focus-key': 'cancel', 'data-testid': 'recording-delete-cancel', text: t('recording.cancel'), 'aria-disabled': deleting ? 'true' : undefined }),
            el('button', { class: 'btn btn-small btn-danger' + (deleting ? ' is-busy' : ''), type: 'button', 'data-action': 'confirm', 'data-focus-key': 'confirm', 'data-testid': 'recording-delete-confirm', text: t('recording.confirmYes'), 'aria-disabled': deleting ? 'true' : undefined, 'aria-busy': deleting ? 'true' : undefined }),
          ]),
        ])
      : el('div', { class: 'recording-actions' }, [
          el('button', {
            class: 'btn btn-small btn-danger',
            type: 'button',
            'data-action': 'delete',
            'data-focus-key': 'delete',
            'data-testid': 'recording-delete',
            text: t('recording.delete'),
            'aria-label': t('recording.deleteLabel', { when: whenText }),
            title: running ? t('recording.deleteWhileRecording') : undefined,
            disabled: running,
          }),
        ]);

    return el('li', { class: 'recording-item', 'data-testid': 'recording-item', 'data-recording-id': rec.id, 'data-state': rec.state }, [
      el('div', { class: 'recording-head' }, [
        el('h3', { class: 'recording-when', id: titleId }, [
          el('time', { datetime: rec.startedAt, title: Number.isNaN(started) ? undefined : formatFullDateTime(new Date(started)), text: whenText }),
        ]),
        el('span', { class: 'badge recording-state', 'data-state': rec.state, text: stateLabel(rec.state) }),
      ]),
      el('p', { class: 'recording-meta muted small', text: meta }),
      rec.error ? el('p', { class: 'recording-error small', text: t('recording.stoppedBecause', { error: rec.error }) }) : null,
      files.length > 0
        ? el('ul', { class: 'recording-files', 'aria-label': t('recording.filesLabel', { when: whenText }) }, files.map((f) => fileEntry(f, lang)))
        : el('p', { class: 'muted small recording-nofiles', text: running ? t('recording.noFilesYet') : t('recording.noFiles') }),
      actions,
    ]);
  }
}

/**
 * A file's address as a link may take it: the server's own (a path or an
 * http(s) address), never another scheme.
 * @param {string} url
 * @returns {string}
 */
function fileHref(url) {
  try {
    const u = new URL(url, location.origin);
    return u.protocol === 'http:' || u.protocol === 'https:' ? url : '#';
  } catch {
    return '#';
  }
}

/**
 * One file: a download link named by its person, source and length.
 * @param {RecordingFile} f
 * @param {string} lang
 * @returns {HTMLElement}
 */
function fileEntry(f, lang) {
  const who = f.participant || t('recording.someone');
  return el('li', { class: 'recording-file-row' }, [
    el('a', { class: 'recording-file', 'data-testid': 'recording-file', 'data-source': f.source, 'data-focus-key': 'file:' + f.name, href: fileHref(f.url), download: f.name || true, title: t('recording.download', { name: f.name }) }, [
      icon(f.source === Source.MICROPHONE ? 'sound' : f.source === Source.SCREEN ? 'screen' : 'camera'),
      el('span', { class: 'recording-file-who', text: who }),
      // Spaces between the parts: the link's name reads "Ana, Camera, 12:03".
      ', ',
      el('span', { class: 'recording-file-what', text: `${sourceLabel(f.source)}, ${formatDuration(f.durationMs)}` }),
    ]),
    el('span', { class: 'recording-file-size muted small', text: formatBytes(f.bytes, lang) }),
  ]);
}
