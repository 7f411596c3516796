// @ts-check
// How each remote video arrives: every POLL_MS, while the page is shown,
// one getStats() per connection (the SFU's subscribe connection carries
// every tile; a mesh has one per person) gives each tile's received
// resolution, bit rate, packet loss and frame rate (quality.js). They
// show in the tile's connection panel (connection.js), a row per video,
// and as a small badge on the tile (data-testid="tile-quality": "540p",
// data-grade good, fair, poor), seen on hover and focus, and always when
// the picture suffers.

import { language, t } from './i18n.js';
import { Source } from './protocol.js';
import { qualityGrade, resolutionLabel, videoQuality, videoSnapshot } from './quality.js';

/** @typedef {import('./quality.js').VideoQuality} VideoQuality */
/** @typedef {import('./quality.js').VideoSnapshot} VideoSnapshot */
/** @typedef {import('./tiles.js').Tile} Tile */

/**
 * One video of a tile as it arrives.
 * @typedef {{source: string, quality: VideoQuality|null}} VideoReading
 */

/** How often the stats are read. */
export const POLL_MS = 2000;

export class QualityMonitor {
  /**
   * @param {import('./tiles.js').VideoGrid} grid the tiles, and the
   *   connection that carries each (grid.connectionOf)
   */
  constructor(grid) {
    this.grid = grid;
    /** The last snapshot of each received track. */
    /** @type {WeakMap<MediaStreamTrack, VideoSnapshot>} */
    this.last = new WeakMap();
    this.busy = false;
    this.timer = window.setInterval(() => this.poll(), POLL_MS);
  }

  async poll() {
    if (this.busy || document.visibilityState !== 'visible') return;
    this.busy = true;
    try {
      /** @type {Map<RTCPeerConnection, Promise<RTCStatsReport|null>>} */
      const reports = new Map();
      const tiles = [...this.grid.tiles.values()].filter((tile) => !tile.local);
      const looks = tiles.map(async (tile) => {
        const connection = this.grid.connectionOf(tile.id);
        const pc = connection?.pc;
        if (!pc || pc.signalingState === 'closed') return showQuality(tile, []);
        let report = reports.get(pc);
        if (!report) {
          report = pc.getStats().catch(() => null);
          reports.set(pc, report);
        }
        const stats = await report;
        /** @type {VideoReading[]} */
        const readings = [];
        for (const [source, track] of /** @type {[string, MediaStreamTrack|null][]} */ ([
          [Source.CAMERA, tile.cameraTrack],
          [Source.SCREEN, tile.screenTrack],
        ])) {
          if (!track) continue;
          const now = videoSnapshot(stats, track.id);
          readings.push({ source, quality: now ? videoQuality(this.last.get(track) || null, now) : null });
          if (now) this.last.set(track, now);
        }
        showQuality(tile, readings);
      });
      await Promise.all(looks);
    } finally {
      this.busy = false;
    }
  }

  stop() {
    clearInterval(this.timer);
  }
}

/**
 * @param {number} n
 * @param {number} [digits]
 * @returns {string}
 */
function formatNumber(n, digits = 0) {
  try {
    return new Intl.NumberFormat(language(), { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(n);
  } catch {
    return n.toFixed(digits);
  }
}

/**
 * The words of one video's quality: its resolution and frame rate, its
 * bit rate and loss.
 * @param {VideoQuality|null} q
 * @returns {{picture: string, flow: string}}
 */
export function qualityText(q) {
  if (!q || q.width === 0) return { picture: t('quality.waiting'), flow: '' };
  const picture = [t('quality.resolution', { width: q.width, height: q.height })];
  if (q.fps !== null) picture.push(t('quality.fps', { fps: formatNumber(Math.round(q.fps)) }));
  const flow = [];
  if (q.kbps !== null) flow.push(q.kbps === 0 ? t('quality.idle') : t('quality.bitrate', { kbps: formatNumber(q.kbps) }));
  if (q.lossPct !== null) flow.push(t('quality.loss', { pct: formatNumber(q.lossPct, 1) }));
  return { picture: picture.join(' · '), flow: flow.join(' · ') };
}

/**
 * Shows a tile's readings: on its badge (its main video: the screen while
 * it shares one) and in its connection panel.
 * @param {Tile} tile
 * @param {VideoReading[]} readings
 */
export function showQuality(tile, readings) {
  tile.connection?.setQuality(readings);
  const badge = tile.qualityBadge;
  if (!badge) return;
  const main = readings.find((r) => r.source === Source.SCREEN) || readings.find((r) => r.source === Source.CAMERA);
  const q = main?.quality || null;
  const grade = qualityGrade(q);
  const label = grade === 'idle' ? '' : resolutionLabel(q);
  if (badge.textContent !== label) badge.textContent = label;
  badge.dataset.grade = grade;
  badge.dataset.width = String(q?.width || 0);
  badge.dataset.height = String(q?.height || 0);
  const text = qualityText(q);
  badge.title = [text.picture, text.flow].filter(Boolean).join(' · ');
  badge.hidden = !label;
}
