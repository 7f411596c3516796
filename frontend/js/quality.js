// @ts-check
// What a received video is like, from two getStats snapshots of its
// inbound-rtp stream: the resolution that arrives (which simulcast layer
// the SFU sends), the bit rate, the share of packets lost, and the frames
// per second. Pure, for node --test: tilequality.js reads the stats and
// shows the result.

/**
 * One look at a received video's inbound-rtp stats.
 * @typedef {Object} VideoSnapshot
 * @property {number} at the stats' timestamp, in milliseconds
 * @property {string} ssrc which RTP stream: counters of another start over
 * @property {number} bytes bytesReceived
 * @property {number} packets packetsReceived
 * @property {number} lost packetsLost (may fall back: duplicates)
 * @property {number} frames framesDecoded
 * @property {number} width frameWidth, 0 before a frame
 * @property {number} height frameHeight
 * @property {number|null} fps framesPerSecond as the browser says it
 */

/**
 * A video's quality over the time between two snapshots.
 * @typedef {Object} VideoQuality
 * @property {number} width pixels received, 0 before a frame
 * @property {number} height
 * @property {number|null} kbps kilobits a second, null with one snapshot
 * @property {number|null} lossPct packets lost, % of those sent, null when none were due
 * @property {number|null} fps frames decoded a second
 */

/** A loss at or above this (%) is worth a warning. */
export const FAIR_LOSS_PCT = 2;
/** A loss at or above this (%) makes the picture poor. */
export const POOR_LOSS_PCT = 8;

/**
 * The stats objects of an RTCStatsReport, a Map of them, or an array.
 * @param {any} report
 * @returns {any[]}
 */
function statsList(report) {
  if (!report) return [];
  return [...(typeof report.values === 'function' ? report.values() : report)];
}

/** @param {any} v */
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/**
 * The snapshot of the video a track receives, or null when the report has
 * none (not negotiated yet, or the track is not received here).
 * @param {any} report
 * @param {string} trackId MediaStreamTrack.id of the received track
 * @returns {VideoSnapshot|null}
 */
export function videoSnapshot(report, trackId) {
  let found = null;
  for (const s of statsList(report)) {
    if (s.type !== 'inbound-rtp' || (s.kind || s.mediaType) !== 'video' || s.trackIdentifier !== trackId) continue;
    // A receiver renegotiated may list an old stream next to the new one:
    // the one with the most recent packets is the one playing.
    if (!found || num(s.lastPacketReceivedTimestamp) > num(found.lastPacketReceivedTimestamp)) found = s;
  }
  if (!found) return null;
  return {
    at: num(found.timestamp),
    ssrc: String(found.ssrc ?? found.id ?? ''),
    bytes: num(found.bytesReceived),
    packets: num(found.packetsReceived),
    lost: num(found.packetsLost),
    frames: num(found.framesDecoded),
    width: num(found.frameWidth),
    height: num(found.frameHeight),
    fps: typeof found.framesPerSecond === 'number' && Number.isFinite(found.framesPerSecond) ? found.framesPerSecond : null,
  };
}

/**
 * The quality between two snapshots of one video (before may be null: the
 * first look, which knows only the resolution). Counters that went back,
 * or another RTP stream, count as a first look.
 * @param {VideoSnapshot|null} before
 * @param {VideoSnapshot} now
 * @returns {VideoQuality}
 */
export function videoQuality(before, now) {
  const quality = { width: now.width, height: now.height, kbps: null, lossPct: null, fps: now.fps === null ? null : round1(now.fps) };
  if (!before || before.ssrc !== now.ssrc) return quality;
  const ms = now.at - before.at;
  const bytes = now.bytes - before.bytes;
  const packets = now.packets - before.packets;
  if (!(ms > 0) || bytes < 0 || packets < 0) return quality;
  quality.kbps = Math.round((bytes * 8) / ms);
  const lost = Math.max(0, now.lost - before.lost);
  quality.lossPct = lost + packets > 0 ? round1((100 * lost) / (lost + packets)) : null;
  const frames = now.frames - before.frames;
  if (frames >= 0) quality.fps = round1((frames * 1000) / ms);
  return quality;
}

/** @param {number} v */
function round1(v) {
  return Math.round(v * 10) / 10;
}

/**
 * How the video fares, for a colour: good, fair (some loss), poor (much
 * loss), or idle (nothing arrived in the while: paused, unwatched, held
 * back, or not measured yet).
 * @param {VideoQuality|null} q
 * @returns {'good'|'fair'|'poor'|'idle'}
 */
export function qualityGrade(q) {
  if (!q || q.kbps === null || q.kbps === 0 || q.width === 0) return 'idle';
  if (q.lossPct !== null && q.lossPct >= POOR_LOSS_PCT) return 'poor';
  if (q.lossPct !== null && q.lossPct >= FAIR_LOSS_PCT) return 'fair';
  return 'good';
}

/**
 * The short name of a resolution, as video players say it: 540p.
 * @param {VideoQuality|null} q
 * @returns {string}
 */
export function resolutionLabel(q) {
  return q && q.height > 0 ? `${q.height}p` : '';
}
