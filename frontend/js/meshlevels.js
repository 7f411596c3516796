// @ts-check
// The speaking ring in a mesh room. In SFU mode the server reads every
// microphone's level from the audio it forwards and names the dominant
// speaker (active-speaker); in mesh mode no media reaches the server, so
// each page measures its own microphone here, with Web Audio, while it is
// on, and shares the level (`audio-level`, protocol/level.go): at most
// LEVELS_PER_SECOND a second, only when it moved (levelNews), and a 0 when
// the microphone goes off. The server relays it to the others, and every
// page runs the SFU's picker (speakerpick.js) over the levels it hears of,
// its own included, and rings that tile (tiles.js setSpeaker) as in SFU
// mode.
//
// The level comes from the microphone's sender on one of the mesh
// connections: its media-source stats total the sound's energy, so the
// level between two readings is the root mean square of everything said
// between them (energyLevel), and nothing falls between two looks. Where a
// browser has no such totals (Firefox ESR), an AnalyserNode on an audio
// context hears the microphone instead; it keeps the last MAX_FFT samples
// and every look reads those since the last look. That context exists only
// while the microphone is on in a mesh room, and only where it is needed:
// with a running audio context in each page, the longest frame gaps of a
// quiet four-page mesh call were 475-770 ms on two busy cores, against
// 265-386 ms without.

import { audioLevelMessage } from './messages.js';
import { Action, MessageType, Mode, Source } from './protocol.js';
import { LEVELS_PER_SECOND, SpeakerPicker, energyLevel, levelNews, loudestFrame, smoothLevel } from './speakerpick.js';

/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */

/** How often the page measures and picks (sfu/speaker.go speakerTick). */
const LOOK_MS = 150;
/** How often the sender's stats are read: getStats is not free on a busy page. */
const STATS_MS = 250;
/** The analyser's window: the most an AnalyserNode keeps (0.68 s at 48 kHz). */
const MAX_FFT = 32768;

/**
 * @typedef {Object} MeshSpeakingParams
 * @property {import('./tiles.js').VideoGrid} grid where the ring is drawn
 * @property {import('./media.js').LocalMedia} media my microphone
 * @property {() => string} mode the room's mode now
 * @property {() => string} selfId my participant id ('' before the welcome)
 * @property {(msg: import('./protocol.js').ClientMessage) => boolean} send false when not sent
 * @property {(track: MediaStreamTrack) => RTCRtpSender|null} sender the track's
 *   sender on a mesh connection, null if none
 */

export class MeshSpeaking {
  /** @param {MeshSpeakingParams} params */
  constructor(params) {
    this.params = params;
    /** The others' last levels, by participant id. */
    /** @type {Map<string, number>} */
    this.levels = new Map();
    this.picker = new SpeakerPicker();
    /** My level now (smoothed), the last one sent and when. */
    this.level = 0;
    this.sent = 0;
    this.sentAt = -Infinity;
    this.lookedAt = 0;
    this.inMesh = false;
    /** @type {AudioContext|null} */
    this.ctx = null;
    /** @type {MediaStreamTrack|null} the microphone the analyser hears */
    this.track = null;
    /** @type {MediaStreamAudioSourceNode|null} */
    this.source = null;
    /** @type {AnalyserNode|null} */
    this.analyser = null;
    /** @type {Float32Array<ArrayBuffer>|null} */
    this.samples = null;
    /** @type {(() => void)|null} */
    this.untap = null;
    /** The sender whose stats give my level, and its last totals. */
    /** @type {RTCRtpSender|null} */
    this.statsSender = null;
    /** @type {import('./speakerpick.js').EnergyTotals|null} */
    this.totals = null;
    /** The level of the last stats reading, and whether one is under way. */
    this.statsLevel = 0;
    this.reading = false;
    this.readAt = -Infinity;
    /** This browser's stats have no energy totals: the analyser hears instead. */
    this.noTotals = false;
    // A context made before any click may start suspended: the first
    // gesture resumes it.
    this.onGesture = () => {
      if (this.ctx && this.ctx.state === 'suspended') this.ctx.resume().catch(() => {});
    };
    document.addEventListener('pointerdown', this.onGesture, true);
    document.addEventListener('keydown', this.onGesture, true);
    this.timer = window.setInterval(() => this.look(), LOOK_MS);
  }

  /**
   * Follows the call's socket (a new one on every join).
   * @param {import('./signaling.js').Signaling} signaling
   */
  attach(signaling) {
    this.untap?.();
    this.untap = signaling.follow(this);
  }

  /**
   * Sees every message of the socket first; claims the levels.
   * @param {ServerMessage} msg
   * @returns {boolean}
   */
  handle(msg) {
    switch (msg.type) {
      case MessageType.AUDIO_LEVEL:
        if (msg.id && Number.isFinite(msg.level)) this.levels.set(msg.id, Math.min(1, Math.max(0, msg.level)));
        return true;
      case MessageType.ACTIVE_SPEAKER:
        // The SFU's choice: where the picker starts should the room come
        // back to mesh, so that the ring does not jump.
        this.picker.reset(msg.id);
        return false;
      case MessageType.MEDIA:
        if (msg.from && msg.source === Source.MICROPHONE && msg.action !== Action.PUBLISHED && msg.action !== Action.RESUMED) {
          this.levels.set(msg.from, 0);
        }
        return false;
      case MessageType.PARTICIPANT_LEFT:
        this.levels.delete(msg.id);
        return false;
      case MessageType.WELCOME:
        // A fresh start: nobody has spoken, nothing of mine was sent.
        this.levels.clear();
        this.picker.reset('');
        this.sent = 0;
        this.sentAt = -Infinity;
        return false;
      default:
        return false;
    }
  }

  /** @param {string} _state */
  stateChanged(_state) {}

  /** Measures, shares and picks: every LOOK_MS. */
  look() {
    const now = performance.now();
    const seconds = this.lookedAt ? (now - this.lookedAt) / 1000 : LOOK_MS / 1000;
    this.lookedAt = now;
    const self = this.params.selfId();
    const mesh = !!self && this.params.mode() === Mode.MESH;
    if (mesh !== this.inMesh) {
      // Into mesh (again): the levels heard before an SFU period are old,
      // and the others forgot mine.
      this.inMesh = mesh;
      this.levels.clear();
      this.sent = 0;
    }
    const media = this.params.media;
    const mic = mesh && media.isOn(Source.MICROPHONE) ? media.microphone : null;
    const live = mic && mic.readyState === 'live' ? mic : null;
    this.listen(this.noTotals ? live : null);
    const measured = this.noTotals ? this.measure(seconds) : this.readStats(live);
    // A microphone turned off is silent at once, and says so.
    this.level = live ? smoothLevel(this.level, measured, seconds) : 0;
    if (!mesh) return;
    if (levelNews(this.sent, this.level) && now - this.sentAt >= 1000 / LEVELS_PER_SECOND) {
      const msg = audioLevelMessage(this.level);
      if (this.params.send(msg)) {
        this.sent = msg.level;
        this.sentAt = now;
      }
    }
    const levels = new Map(this.levels);
    levels.set(self, this.level);
    const { id, changed } = this.picker.next(levels);
    if (changed) this.params.grid.setSpeaker(id);
  }

  /**
   * The level of the last reading of the microphone's sender stats, and
   * starts the next one (they come back later: a look uses the newest
   * there is). 0 without a microphone or a sender.
   * @param {MediaStreamTrack|null} mic
   * @returns {number}
   */
  readStats(mic) {
    const sender = mic ? this.params.sender(mic) : null;
    if (sender !== this.statsSender) {
      // Another connection's totals do not continue these.
      this.statsSender = sender;
      this.totals = null;
      this.statsLevel = 0;
    }
    const now = performance.now();
    if (!sender || this.reading || now - this.readAt < STATS_MS) return sender ? this.statsLevel : 0;
    this.reading = true;
    this.readAt = now;
    sender
      .getStats()
      .then((report) => {
        if (sender !== this.statsSender) return;
        /** @type {import('./speakerpick.js').EnergyTotals|null} */
        let now = null;
        report.forEach((s) => {
          if (s.type === 'media-source' && s.kind === 'audio' && Number.isFinite(s.totalAudioEnergy) && Number.isFinite(s.totalSamplesDuration)) {
            now = { energy: s.totalAudioEnergy, duration: s.totalSamplesDuration };
          }
        });
        if (!now) {
          this.noTotals = true;
          return;
        }
        const level = energyLevel(this.totals, now);
        if (level !== null) this.statsLevel = level;
        this.totals = now;
      })
      .catch(() => {})
      .finally(() => {
        this.reading = false;
      });
    return this.statsLevel;
  }

  /**
   * The loudest 10 ms of the sound since the last look, 0 without a
   * microphone.
   * @param {number} seconds since the last look
   * @returns {number}
   */
  measure(seconds) {
    const { analyser, samples, ctx } = this;
    if (!analyser || !samples || !ctx || ctx.state !== 'running') return 0;
    analyser.getFloatTimeDomainData(samples);
    const rate = ctx.sampleRate;
    const count = Math.min(samples.length, Math.ceil(seconds * rate) + Math.ceil(rate / 100));
    return loudestFrame(samples.subarray(samples.length - count), rate / 100);
  }

  /**
   * Points the analyser at a microphone track, or stops listening (null):
   * the audio context is closed, not left idle, while there is nothing to
   * hear.
   * @param {MediaStreamTrack|null} track
   */
  listen(track) {
    if (track && track.readyState !== 'live') track = null;
    if (track === this.track) return;
    this.track = track;
    this.source?.disconnect();
    this.source = null;
    this.analyser = null;
    this.samples = null;
    if (!track) {
      this.ctx?.close().catch(() => {});
      this.ctx = null;
      return;
    }
    const AudioCtx = window.AudioContext || /** @type {any} */ (window).webkitAudioContext;
    if (!AudioCtx) return;
    try {
      if (!this.ctx) this.ctx = new AudioCtx();
      const ctx = /** @type {AudioContext} */ (this.ctx);
      if (ctx.state === 'suspended') ctx.resume().catch(() => {});
      this.source = ctx.createMediaStreamSource(new MediaStream([track]));
      this.analyser = ctx.createAnalyser();
      this.analyser.fftSize = MAX_FFT;
      this.samples = new Float32Array(this.analyser.fftSize);
      // Not connected to the destination: the microphone is never played back.
      this.source.connect(this.analyser);
    } catch (err) {
      console.warn('mesh levels: cannot measure the microphone', err);
      this.source = null;
      this.analyser = null;
    }
  }
}
