// @ts-check
// The pure rules of the speaking ring in a mesh room (meshlevels.js does
// the measuring and the sending): how loud a microphone is, when a page
// says so again, and who the dominant speaker is. The picker is the SFU's
// (sfu/speaker.go, speakerPicker), so the ring moves the same way in both
// modes. Pure, for node --test: no DOM, no imports.

/** The least level that counts as speaking at all (sfu/speaker.go minSpeech). */
export const MIN_SPEECH = 0.05;
/** A newcomer must be this much louder than the current speaker... */
export const TAKEOVER = 1.5;
/** ...for this many looks in a row. */
export const SPEAKER_LOOKS = 2;
/** Silence, in dB below full scale: at or under it a level reads 0 (sfu/speaker.go silenceLevel). */
export const SILENCE_DB = 70;
/** How fast a level falls back after a sound: its time constant, in seconds. */
export const FALL_SECONDS = 0.3;
/** A page sends its level at most this often. */
export const LEVELS_PER_SECOND = 4;
/** A level is news when it moved at least this much (or crossed MIN_SPEECH, or reached 0). */
export const LEVEL_STEP = 0.1;

/**
 * The level of a stretch of sound: the loudest of its 10 ms frames, as the
 * RFC 6464 levels the SFU reads are per packet, from 0 (SILENCE_DB or
 * quieter) to 1 (full scale) on a decibel scale.
 * @param {ArrayLike<number>} samples -1..1
 * @param {number} frame samples per frame (10 ms)
 * @returns {number}
 */
export function loudestFrame(samples, frame) {
  const n = Math.max(1, Math.floor(frame));
  let top = 0;
  for (let start = 0; start < samples.length; start += n) {
    const end = Math.min(samples.length, start + n);
    let sum = 0;
    for (let i = start; i < end; i++) sum += samples[i] * samples[i];
    top = Math.max(top, levelOfRms(Math.sqrt(sum / (end - start))));
  }
  return top;
}

/**
 * @param {number} rms -1..1 samples' root mean square
 * @returns {number} 0..1
 */
export function levelOfRms(rms) {
  if (!(rms > 0)) return 0;
  const db = 20 * Math.log10(rms);
  return Math.min(1, Math.max(0, (SILENCE_DB + db) / SILENCE_DB));
}

/**
 * @typedef {{energy: number, duration: number}} EnergyTotals a sender's
 *   media-source totals (getStats): totalAudioEnergy and totalSamplesDuration
 */

/**
 * The level of the sound between two readings of a microphone's totals:
 * the root mean square of its levels over that stretch. Null when the two
 * cannot be compared (no earlier reading, no time between them, or totals
 * that went back, as when they come from another connection).
 * @param {EnergyTotals|null} before
 * @param {EnergyTotals} now
 * @returns {number|null}
 */
export function energyLevel(before, now) {
  if (!before) return null;
  const energy = now.energy - before.energy;
  const duration = now.duration - before.duration;
  if (!(duration > 0) || !(energy >= 0)) return null;
  return levelOfRms(Math.sqrt(energy / duration));
}

/**
 * The level shown and sent: it rises at once with a sound and falls back
 * over FALL_SECONDS, so that the gaps between words (and a short beep's
 * silences) do not read as silence.
 * @param {number} previous the last smoothed level
 * @param {number} now the level measured now
 * @param {number} seconds since the last measure
 * @returns {number}
 */
export function smoothLevel(previous, now, seconds) {
  const fallen = previous * Math.exp(-Math.max(0, seconds) / FALL_SECONDS);
  const next = Math.max(now, fallen);
  return next < 0.01 ? 0 : next;
}

/**
 * Whether a level is worth sending after the last one sent: it moved by
 * LEVEL_STEP, crossed MIN_SPEECH, or reached 0. The caller paces it.
 * @param {number|null} sent the last level sent, null if none
 * @param {number} level
 * @returns {boolean}
 */
export function levelNews(sent, level) {
  const now = Math.round(level * 100) / 100;
  if (sent === null) return true;
  if (now === sent) return false;
  if (now === 0) return true;
  if (now >= MIN_SPEECH !== sent >= MIN_SPEECH) return true;
  return Math.abs(now - sent) >= LEVEL_STEP - 1e-9;
}

/** One room's choice of dominant speaker (sfu/speaker.go speakerPicker). */
export class SpeakerPicker {
  constructor() {
    this.current = '';
    this.candidate = '';
    this.streak = 0;
  }

  /**
   * Takes everyone's level now and returns the dominant speaker, and
   * whether it changed. The loudest above MIN_SPEECH (ties: the smaller
   * id); a newcomer takes over when TAKEOVER times as loud as the current
   * speaker for SPEAKER_LOOKS looks in a row (the very first at once);
   * silence keeps the last speaker.
   * @param {Map<string, number>} levels participant id -> level
   * @returns {{id: string, changed: boolean}}
   */
  next(levels) {
    let loudest = '';
    let top = MIN_SPEECH;
    for (const [id, v] of levels) {
      if (v >= top && (v > top || id < loudest)) {
        loudest = id;
        top = v;
      }
    }
    if (loudest === '' || loudest === this.current) {
      this.candidate = '';
      this.streak = 0;
      return { id: this.current, changed: false };
    }
    if ((levels.get(this.current) || 0) * TAKEOVER > top) {
      this.candidate = '';
      this.streak = 0;
      return { id: this.current, changed: false };
    }
    if (loudest !== this.candidate) {
      this.candidate = loudest;
      this.streak = 0;
    }
    this.streak++;
    if (this.streak < SPEAKER_LOOKS && this.current !== '') return { id: this.current, changed: false };
    this.current = loudest;
    this.candidate = '';
    this.streak = 0;
    return { id: this.current, changed: true };
  }

  /**
   * Starts from a known speaker (the SFU's, when the room comes back to
   * mesh), or from nobody ('').
   * @param {string} id
   */
  reset(id) {
    this.current = id;
    this.candidate = '';
    this.streak = 0;
  }
}
