// @ts-check
// A live level meter for the local microphone: an AnalyserNode on the
// microphone track drives a bar, so people see that the microphone they
// picked hears them before anyone else has to say so.
//
// The meter runs only while it is shown (start/stop): an AudioContext keeps
// an audio thread busy, so it is closed, not just left idle, when hidden.
// The element is the test hook `mic-level`: role="meter" with
// aria-valuenow (0..100) for assistive technology, and data-level (0..1)
// that a test reads to see it move.

/** How often the bar is redrawn. A timer, not requestAnimationFrame: it
 * keeps running in a background tab and a headless browser alike. */
const TICK_MS = 60;
/** Silence at or below this (dBFS) reads 0; speech sits well above it. */
const FLOOR_DB = -60;
/** How much of the last value a falling bar keeps per tick (a quick rise,
 * a calm fall, like a VU meter). */
const DECAY = 0.8;

/**
 * Maps the RMS of samples in -1..1 to a level 0..1 on a decibel scale, so
 * quiet speech still shows. Pure.
 * @param {number} rms
 * @returns {number}
 */
export function levelOf(rms) {
  if (!(rms > 0)) return 0;
  const db = 20 * Math.log10(rms);
  return Math.min(1, Math.max(0, (db - FLOOR_DB) / -FLOOR_DB));
}

export class MicLevel {
  /** @param {HTMLElement} meter the role="meter" element; its first child is the bar */
  constructor(meter) {
    this.meter = meter;
    this.bar = /** @type {HTMLElement|null} */ (meter.firstElementChild);
    /** @type {MediaStreamTrack|null} */
    this.track = null;
    this.running = false;
    /** @type {AudioContext|null} */
    this.ctx = null;
    /** @type {MediaStreamAudioSourceNode|null} */
    this.source = null;
    /** @type {AnalyserNode|null} */
    this.analyser = null;
    /** @type {Float32Array<ArrayBuffer>|null} */
    this.samples = null;
    this.timer = 0;
    this.level = 0;
    // Browsers may start an AudioContext suspended until the page is
    // clicked or typed in: resume it on the first such gesture.
    this.onGesture = () => {
      if (this.ctx && this.ctx.state === 'suspended') this.ctx.resume().catch(() => {});
    };
    this.show(0);
  }

  /**
   * Measures this track (the microphone in use, or null).
   * @param {MediaStreamTrack|null} track
   */
  setTrack(track) {
    if (track === this.track) return;
    this.track = track;
    if (this.running) this.connect();
  }

  /** Starts measuring (the meter is shown). */
  start() {
    if (this.running) return;
    this.running = true;
    document.addEventListener('pointerdown', this.onGesture, true);
    document.addEventListener('keydown', this.onGesture, true);
    this.connect();
    this.timer = window.setInterval(() => this.tick(), TICK_MS);
  }

  /** Stops measuring and frees the audio context (the meter is hidden). */
  stop() {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.timer);
    document.removeEventListener('pointerdown', this.onGesture, true);
    document.removeEventListener('keydown', this.onGesture, true);
    this.disconnect();
    this.ctx?.close().catch(() => {});
    this.ctx = null;
    this.level = 0;
    this.show(0);
  }

  /** Points the analyser at the current track. */
  connect() {
    this.disconnect();
    const track = this.track;
    if (!track || track.readyState !== 'live') return;
    const AudioCtx = window.AudioContext || /** @type {any} */ (window).webkitAudioContext;
    if (!AudioCtx) return;
    try {
      if (!this.ctx) this.ctx = new AudioCtx();
      const ctx = /** @type {AudioContext} */ (this.ctx);
      if (ctx.state === 'suspended') ctx.resume().catch(() => {});
      this.source = ctx.createMediaStreamSource(new MediaStream([track]));
      this.analyser = ctx.createAnalyser();
      this.analyser.fftSize = 1024;
      this.samples = new Float32Array(this.analyser.fftSize);
      // Not connected to the destination: the meter must never play the
      // microphone back (echo), and an analyser is processed without it.
      this.source.connect(this.analyser);
    } catch (err) {
      console.warn('mic level: cannot measure the microphone', err);
      this.disconnect();
    }
  }

  disconnect() {
    this.source?.disconnect();
    this.source = null;
    this.analyser = null;
    this.samples = null;
  }

  tick() {
    let now = 0;
    // A muted microphone (track disabled) delivers silence: it reads 0.
    if (this.analyser && this.samples) {
      this.analyser.getFloatTimeDomainData(this.samples);
      let sum = 0;
      for (const v of this.samples) sum += v * v;
      now = levelOf(Math.sqrt(sum / this.samples.length));
    }
    this.level = now >= this.level ? now : Math.max(now, this.level * DECAY);
    if (this.level < 0.01) this.level = 0;
    this.show(this.level);
  }

  /** @param {number} level 0..1 */
  show(level) {
    const pct = Math.round(level * 100);
    if (this.meter.getAttribute('aria-valuenow') !== String(pct)) this.meter.setAttribute('aria-valuenow', String(pct));
    this.meter.dataset.level = level.toFixed(2);
    // The CSSOM, not a style attribute: the CSP allows no inline styles.
    if (this.bar) this.bar.style.transform = `scaleX(${level.toFixed(3)})`;
  }
}
