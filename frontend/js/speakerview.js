// @ts-check
// Speaker view, beside the grid: one tile large (the focus) and everyone
// else in a strip under it that scrolls sideways, as in the stage's
// layout (stage.css). The button in the top bar
// (data-testid="layout-toggle", aria-pressed) switches between the two;
// the choice is remembered per browser and readable as data-layout="grid"
// or "speaker" on the grid (and on the videos' area).
//
// The focus is, first to last: the tile the viewer pinned last ("show in
// high quality"), someone sharing a screen, the dominant speaker (the
// ring: active-speaker in SFU mode, meshlevels.js in mesh mode), the last
// focus, the first other person. My own tile never takes it (when I speak,
// the last speaker stays), and alone I see the grid. When the room has a
// stage, the stage is the focus and this view changes nothing.
//
// The focus tile moves into #focus-view, as the stage's tiles move into
// #stage-view: each keeps its elements, so its video plays on. Which tile
// that is follows the tiles' own hooks (data-speaking, data-pinned, a
// screen's class), watched with a MutationObserver: nothing else has to
// tell this view anything. views.js then reports the large focus and the
// small strip tiles, and strip tiles scrolled out of sight as unwatched.

import { t } from './i18n.js';
import { viewerIcon } from './tilecontrols.js';

/** Where the choice is remembered. */
const LAYOUT_KEY = 'meet.layout';

/** @typedef {'grid'|'speaker'} Layout */

/**
 * What the focus is chosen from: a tile, by the hooks on its element.
 * @typedef {Object} FocusCandidate
 * @property {string} id
 * @property {boolean} local
 * @property {number} pinnedAt when the viewer pinned it, 0 if not
 * @property {boolean} screen it shows a shared screen
 */

/**
 * The tile to show large (see the file's comment), or '' for none. Pure.
 * @param {FocusCandidate[]} tiles in the grid's order
 * @param {string} speaker the dominant speaker's id, '' if none
 * @param {string} previous the focus until now, '' if none
 * @returns {string}
 */
export function pickFocus(tiles, speaker, previous) {
  const others = tiles.filter((c) => !c.local);
  if (others.length === 0) return '';
  const pinned = others.filter((c) => c.pinnedAt > 0).sort((a, b) => b.pinnedAt - a.pinnedAt)[0];
  if (pinned) return pinned.id;
  const screen = others.find((c) => c.screen);
  if (screen) return screen.id;
  if (others.some((c) => c.id === speaker)) return speaker;
  if (others.some((c) => c.id === previous)) return previous;
  return others[0].id;
}

export class SpeakerView {
  /**
   * @param {{grid: import('./tiles.js').VideoGrid}} params
   */
  constructor(params) {
    this.grid = params.grid;
    this.focusView = /** @type {HTMLElement} */ (document.getElementById('focus-view'));
    this.stageView = /** @type {HTMLElement} */ (document.getElementById('stage-view'));
    this.area = /** @type {HTMLElement} */ (this.grid.root.parentElement);
    this.button = /** @type {HTMLButtonElement|null} */ (document.getElementById('layout-toggle'));
    /** @type {Layout} */
    this.layout = 'grid';
    try {
      if (localStorage.getItem(LAYOUT_KEY) === 'speaker') this.layout = 'speaker';
    } catch {
      // Storage may be off: the choice lasts for this page.
    }
    if (this.button) {
      this.button.prepend(viewerIcon('speaker'));
      this.button.addEventListener('click', () => this.setLayout(this.layout === 'speaker' ? 'grid' : 'speaker'));
    }
    this.observer = new MutationObserver(() => this.refresh());
    this.observer.observe(this.area, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-speaking', 'data-pinned', 'class'] });
    this.refresh();
  }

  /** @param {Layout} layout */
  setLayout(layout) {
    this.layout = layout;
    try {
      if (layout === 'speaker') localStorage.setItem(LAYOUT_KEY, 'speaker');
      else localStorage.removeItem(LAYOUT_KEY);
    } catch {
      // As above.
    }
    this.refresh();
  }

  /** Puts the right tile in the focus, or every tile back in the grid. */
  refresh() {
    const speaker = this.layout === 'speaker';
    this.grid.root.dataset.layout = this.layout;
    this.area.dataset.layout = this.layout;
    if (this.button) {
      this.button.setAttribute('aria-pressed', String(speaker));
      const title = speaker ? t('layout.toGrid') : t('layout.toSpeaker');
      if (this.button.title !== title) this.button.title = title;
    }
    const current = /** @type {HTMLElement|null} */ (this.focusView.firstElementChild);
    const previous = current?.dataset.participantId || '';
    let next = '';
    if (speaker && this.stageView.children.length === 0) {
      /** @type {FocusCandidate[]} */
      const candidates = [];
      let talking = '';
      for (const tile of this.grid.tiles.values()) {
        const where = tile.root.parentElement;
        if (where !== this.grid.root && where !== this.focusView) continue;
        candidates.push({ id: tile.id, local: tile.local, pinnedAt: tile.controls?.pinnedAt || 0, screen: !!tile.screenTrack });
        if (tile.root.hasAttribute('data-speaking')) talking = tile.id;
      }
      next = pickFocus(candidates, talking, previous);
    }
    if (next !== previous || this.focusView.children.length > 1) this.move(next);
    const focused = this.focusView.children.length > 0;
    this.focusView.hidden = !focused;
    this.area.classList.toggle('has-focus', focused);
  }

  /**
   * Puts tile id in the focus (none for ''), and whatever was there back in
   * the grid, in its place.
   * @param {string} id
   */
  move(id) {
    for (const node of [...this.focusView.children]) {
      const el = /** @type {HTMLElement} */ (node);
      if (el.dataset.participantId === id) continue;
      const tile = this.grid.get(el.dataset.participantId || '');
      if (tile) this.backToGrid(tile);
      else el.remove();
    }
    const tile = id ? this.grid.get(id) : undefined;
    if (tile && tile.root.parentElement !== this.focusView) this.focusView.append(tile.root);
    // A moved video that paused plays on.
    for (const video of /** @type {NodeListOf<HTMLVideoElement>} */ (this.area.querySelectorAll('video'))) {
      if (video.paused && video.srcObject) video.play().catch(() => {});
    }
    this.grid.layout();
  }

  /**
   * Back into the grid, before the next tile (in join order) that is there.
   * @param {import('./tiles.js').Tile} tile
   */
  backToGrid(tile) {
    let after = false;
    for (const other of this.grid.tiles.values()) {
      if (other === tile) {
        after = true;
        continue;
      }
      if (after && other.root.parentElement === this.grid.root) {
        this.grid.root.insertBefore(tile.root, other.root);
        return;
      }
    }
    this.grid.root.append(tile.root);
  }
}
