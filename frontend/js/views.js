// @ts-check
// What the page tells the SFU of the videos it shows (docs/PROTOCOL.md,
// `view`): for each remote camera and screen, the size of its tile in
// device pixels, or 0x0 when nobody here looks at it (the tile is off
// screen or hidden, the page is in the background). The SFU then forwards
// each camera at the simulcast layer that fits, and nothing unwatched.
//
// A tile the viewer paused (tilecontrols.js) is reported unwatched too,
// and the one it pinned ("show in high quality") is sent pinned: the SFU
// then forwards its top layer whatever the tile's size. A tile scrolled
// out of its grid or strip (the speaker view's strip, the stage's, a
// phone's column) is off screen even while inside the window.
//
// Audio only (a box in the devices panel, on the pre-join screen and in
// the call's Devices dialog, remembered per browser): every video
// is reported unwatched, so the SFU sends none, and the tiles show their
// avatars. In mesh mode it only hides the videos: each sender there sends
// to one receiver, and the room is small.
//
// The reporter looks twice a second, and at once when the page is hidden
// or shown: layouts change for many reasons (a resize, the stage, a panel,
// a scroll), and a look costs a few getBoundingClientRect calls. Only what
// changed is sent. Only in SFU mode; in mesh mode each sender adapts its
// own encoding to its one receiver.

import { t } from './i18n.js';
import { MessageType, Source } from './protocol.js';
import { TILE_VIEW_EVENT } from './tilecontrols.js';
import { toast } from './toast.js';

/** Where the audio-only choice is remembered. */
const AUDIO_ONLY_KEY = 'meet.audioOnly';

/** How often the page looks at its tiles. */
export const VIEW_POLL_MS = 500;
/** Sizes are rounded up to this many device pixels, so that a tile's small moves send nothing. */
export const VIEW_STEP = 16;

/**
 * @typedef {Object} TrackView
 * @property {string} id the participant
 * @property {string} source camera or screen
 * @property {number} width device pixels, 0 when not watched
 * @property {number} height
 * @property {boolean} [pinned] the viewer asks for the top layer (only while watched)
 */

/**
 * The view of one video element: its size on screen in device pixels,
 * rounded up to VIEW_STEP, or 0x0 when it is not seen at all. Pure.
 * @param {{left: number, top: number, right: number, bottom: number, width: number, height: number}} rect
 * @param {{width: number, height: number}} viewport
 * @param {number} dpr window.devicePixelRatio
 * @param {boolean} shown the element and the page are shown
 * @param {{left: number, top: number, right: number, bottom: number}|null} [clip] the
 *   box of the scrolling grid or strip the element is in: outside it, it is not seen
 * @returns {{width: number, height: number}}
 */
export function elementView(rect, viewport, dpr, shown, clip) {
  const box = {
    left: Math.max(0, clip ? clip.left : 0),
    top: Math.max(0, clip ? clip.top : 0),
    right: Math.min(viewport.width, clip ? clip.right : viewport.width),
    bottom: Math.min(viewport.height, clip ? clip.bottom : viewport.height),
  };
  const onScreen = rect.right > box.left && rect.bottom > box.top && rect.left < box.right && rect.top < box.bottom;
  if (!shown || !onScreen || rect.width <= 0 || rect.height <= 0) return { width: 0, height: 0 };
  const up = (/** @type {number} */ v) => Math.ceil((v * (dpr || 1)) / VIEW_STEP) * VIEW_STEP;
  return { width: up(rect.width), height: up(rect.height) };
}

/**
 * The views that differ from what was sent last, and the new record of
 * what was sent. A track no longer there is forgotten, and not reported:
 * the SFU drops it with the track. Pure.
 * @param {Map<string, TrackView>} sent by id|source
 * @param {TrackView[]} now
 * @returns {{changed: TrackView[], sent: Map<string, TrackView>}}
 */
export function changedViews(sent, now) {
  /** @type {Map<string, TrackView>} */
  const next = new Map();
  /** @type {TrackView[]} */
  const changed = [];
  for (const v of now) {
    const key = v.id + '|' + v.source;
    const last = sent.get(key);
    if (!last || last.width !== v.width || last.height !== v.height || !!last.pinned !== !!v.pinned) changed.push(v);
    next.set(key, v);
  }
  return { changed, sent: next };
}

/**
 * @typedef {Object} ViewTile what the reporter reads of a remote tile
 * @property {string} id
 * @property {boolean} local
 * @property {HTMLVideoElement} cameraVideo
 * @property {MediaStreamTrack|null} cameraTrack
 * @property {HTMLVideoElement|null} screenVideo
 * @property {MediaStreamTrack|null} screenTrack
 * @property {boolean} [paused] the viewer paused this video (tilecontrols.js)
 * @property {boolean} [pinned] the viewer asks for it in high quality
 */

export class ViewReporter {
  /**
   * @param {{tiles: () => Iterable<ViewTile>, send: (msg: any) => boolean, active: () => boolean}} params
   *   active: the room is in SFU mode
   */
  constructor(params) {
    this.params = params;
    /** @type {Map<string, TrackView>} */
    this.sent = new Map();
    this.timer = window.setInterval(() => this.look(), VIEW_POLL_MS);
    this.onVisibility = () => this.look();
    document.addEventListener('visibilitychange', this.onVisibility);
    // A tile paused or pinned: say so now, not at the next look.
    document.addEventListener(TILE_VIEW_EVENT, this.onVisibility);
    this.box = /** @type {HTMLInputElement|null} */ (document.getElementById('audio-only'));
    this.box?.addEventListener('change', () => {
      this.setAudioOnly(!!this.box?.checked);
      if (this.audioOnly) toast(t('call.audioOnlyOn'), 'info');
    });
    let stored = false;
    try {
      stored = localStorage.getItem(AUDIO_ONLY_KEY) === '1';
    } catch {
      // Storage may be off: the toggle still works for this page.
    }
    this.audioOnly = false;
    this.setAudioOnly(stored);
  }

  /**
   * Receives no video (on), or what the tiles show again (off).
   * @param {boolean} on
   */
  setAudioOnly(on) {
    this.audioOnly = on;
    if (this.box) this.box.checked = on;
    document.getElementById('grid')?.classList.toggle('is-audio-only', on);
    document.getElementById('stage-view')?.classList.toggle('is-audio-only', on);
    try {
      if (on) localStorage.setItem(AUDIO_ONLY_KEY, '1');
      else localStorage.removeItem(AUDIO_ONLY_KEY);
    } catch {
      // As above.
    }
    this.look();
  }

  /** Looks at every remote video and reports what changed. */
  look() {
    if (!this.params.active()) {
      // A new SFU period starts from nothing known.
      this.sent.clear();
      return;
    }
    const shown = document.visibilityState === 'visible' && !this.audioOnly;
    const viewport = { width: window.innerWidth, height: window.innerHeight };
    /** @type {TrackView[]} */
    const now = [];
    for (const tile of this.params.tiles()) {
      if (tile.local) continue;
      /** @type {[string, HTMLVideoElement|null, MediaStreamTrack|null][]} */
      const videos = [
        [Source.CAMERA, tile.cameraVideo, tile.cameraTrack],
        [Source.SCREEN, tile.screenVideo, tile.screenTrack],
      ];
      // Pinned is the tile's main picture: the screen while it shares one.
      const main = tile.screenVideo && tile.screenTrack ? Source.SCREEN : Source.CAMERA;
      for (const [source, video, track] of videos) {
        if (!video || !track) continue;
        const seen = shown && !tile.paused && !video.hidden && video.isConnected && !video.closest('[hidden]');
        const clip = video.closest('.grid, .stage-view, .focus-view')?.getBoundingClientRect() || null;
        /** @type {TrackView} */
        const view = { id: tile.id, source, ...elementView(video.getBoundingClientRect(), viewport, window.devicePixelRatio, seen, clip) };
        if (tile.pinned && source === main && view.width > 0) view.pinned = true;
        now.push(view);
      }
    }
    const { changed, sent } = changedViews(this.sent, now);
    if (changed.length === 0) {
      this.sent = sent;
      return;
    }
    // Unsent views are looked at again next time.
    if (this.params.send({ type: MessageType.VIEW, views: changed.slice(0, 64) })) this.sent = sent;
  }

  /** Stops looking. */
  stop() {
    clearInterval(this.timer);
    document.removeEventListener('visibilitychange', this.onVisibility);
    document.removeEventListener(TILE_VIEW_EVENT, this.onVisibility);
  }
}
