// @ts-check
// The viewer's controls on a remote tile: what this page does with that
// person's video, for this page alone.
//
//   Pause this video  the page stops watching it: in SFU mode its view
//                     becomes 0x0 (views.js), so the server sends none;
//                     in mesh mode it is no longer drawn. The tile shows
//                     the avatar, "Video paused" and a button to resume.
//   Show in high      pinned: the SFU sends the top layer whatever the
//   quality           tile's size, and gives it bandwidth first (views.js
//                     sends pinned: true). Speaker view puts it large.
//
// Two small round buttons by the tile's connection button, shown when the
// pointer or the keyboard is on the tile (always on touch screens, and
// always when pressed). Test hooks: data-testid="tile-pin" and
// "tile-pause" with aria-pressed; the tile gets data-paused="true" and
// data-pinned="true"; the overlay is "tile-paused" with "tile-resume".
// Every change is announced on the tile with the event TILE_VIEW_EVENT, so
// the view reporter and speaker view act at once.

import { el } from './dom.js';
import { t } from './i18n.js';

/** Bubbles from a tile whose viewer's choice changed (pause, pin). */
export const TILE_VIEW_EVENT = 'meet:tileview';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Outlines of the viewer's icons (24x24, stroked, like dom.js). */
const ICONS = {
  pin: ['M9 3h6', 'M10 3v6l-3 4h10l-3-4V3', 'M12 13v8'],
  eye: ['M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z', 'M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z'],
  'eye-off': [
    'M3 3l18 18',
    'M10.6 5.1A10 10 0 0 1 12 5c6.5 0 10 7 10 7a17 17 0 0 1-3.2 4.1',
    'M6.6 6.6C3.9 8.4 2 12 2 12s3.5 7 10 7a9.7 9.7 0 0 0 5.4-1.6',
    'M9.9 9.9a3 3 0 0 0 4.2 4.2',
  ],
  grid: ['M4 4h7v7H4z', 'M13 4h7v7h-7z', 'M4 13h7v7H4z', 'M13 13h7v7h-7z'],
  speaker: ['M3 4h18v11H3z', 'M3 19h5', 'M10 19h4', 'M16 19h5'],
};

/**
 * @param {keyof typeof ICONS} name
 * @returns {SVGSVGElement}
 */
export function viewerIcon(name) {
  const svg = /** @type {SVGSVGElement} */ (document.createElementNS(SVG_NS, 'svg'));
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  for (const d of ICONS[name]) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/**
 * @param {HTMLElement} button
 * @param {keyof typeof ICONS} name
 */
function setViewerIcon(button, name) {
  const old = button.querySelector('svg.icon');
  const next = viewerIcon(name);
  if (old) old.replaceWith(next);
  else button.prepend(next);
}

export class TileControls {
  /**
   * @param {HTMLElement} tile the tile's root, which gets the state hooks
   */
  constructor(tile) {
    this.tile = tile;
    this.name = '';
    this.paused = false;
    this.pinned = false;
    /** When it was pinned (performance.now()), 0 when not: the last pinned takes the speaker view. */
    this.pinnedAt = 0;
    this.pin = el('button', { type: 'button', class: 'tile-tool tile-pin', 'data-testid': 'tile-pin', 'aria-pressed': 'false' });
    this.pause = el('button', { type: 'button', class: 'tile-tool tile-pause', 'data-testid': 'tile-pause', 'aria-pressed': 'false' });
    this.root = el('div', { class: 'tile-tools' }, [this.pin, this.pause]);
    this.resume = el('button', { type: 'button', class: 'btn btn-small tile-resume', 'data-testid': 'tile-resume' }, [viewerIcon('eye'), el('span', { text: t('tile.resume') })]);
    this.note = el('span', { class: 'tile-paused-text', text: t('tile.paused') });
    this.overlay = el('div', { class: 'tile-paused', 'data-testid': 'tile-paused', hidden: true }, [this.note, this.resume]);
    this.pin.addEventListener('click', () => this.setPinned(!this.pinned));
    this.pause.addEventListener('click', () => this.setPaused(!this.paused));
    this.resume.addEventListener('click', () => {
      this.setPaused(false);
      // The button goes with the overlay: the focus stays on the tile.
      this.pause.focus();
    });
    this.render();
  }

  /** @param {string} name the participant's name, for the labels */
  setName(name) {
    if (name === this.name) return;
    this.name = name;
    this.render();
  }

  /** @param {boolean} on */
  setPaused(on) {
    if (on === this.paused) return;
    this.paused = on;
    this.render();
    this.changed();
  }

  /** @param {boolean} on */
  setPinned(on) {
    if (on === this.pinned) return;
    this.pinned = on;
    this.pinnedAt = on ? performance.now() : 0;
    this.render();
    this.changed();
  }

  changed() {
    this.tile.dispatchEvent(new CustomEvent(TILE_VIEW_EVENT, { bubbles: true }));
  }

  render() {
    const name = this.name;
    const pinLabel = this.pinned ? t('tile.unpin', { name }) : t('tile.pin', { name });
    this.pin.setAttribute('aria-pressed', String(this.pinned));
    this.pin.setAttribute('aria-label', pinLabel);
    this.pin.title = this.pinned ? t('tile.unpinTitle') : t('tile.pinTitle');
    setViewerIcon(this.pin, 'pin');
    const pauseLabel = this.paused ? t('tile.resumeLabel', { name }) : t('tile.pause', { name });
    this.pause.setAttribute('aria-pressed', String(this.paused));
    this.pause.setAttribute('aria-label', pauseLabel);
    this.pause.title = this.paused ? t('tile.resumeTitle') : t('tile.pauseTitle');
    setViewerIcon(this.pause, this.paused ? 'eye' : 'eye-off');
    this.resume.setAttribute('aria-label', t('tile.resumeLabel', { name }));
    this.overlay.hidden = !this.paused;
    this.tile.classList.toggle('is-paused', this.paused);
    this.tile.classList.toggle('is-pinned', this.pinned);
    if (this.paused) this.tile.dataset.paused = 'true';
    else delete this.tile.dataset.paused;
    if (this.pinned) this.tile.dataset.pinned = 'true';
    else delete this.tile.dataset.pinned;
  }
}
