// @ts-check
// Local media: the camera and microphone (one MediaStream), the screen (a
// second MediaStream), and their on/off switches.
//
// Camera and microphone travel in one stream and the screen in another on
// purpose: the receiver tells them apart by stream id (see
// docs/PROTOCOL.md, "Telling screen from camera").

import { Source } from './protocol.js';

/**
 * @typedef {Object} LocalTrack
 * @property {'camera'|'microphone'|'screen'} source
 * @property {MediaStreamTrack} track
 * @property {MediaStream} stream the stream the track is sent in
 */

const VIDEO_CONSTRAINTS = {
  width: { ideal: 1280 },
  height: { ideal: 720 },
  frameRate: { ideal: 30, max: 30 },
};
const AUDIO_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
/**
 * A shared screen is mostly slides and text: as sharp as the screen allows
 * (up to 1080p), at a low frame rate, which is plenty for slides and keeps
 * the upload small. Camera and screen go out at the same time.
 */
const SCREEN_CONSTRAINTS = {
  width: { ideal: 1920, max: 3840 },
  height: { ideal: 1080, max: 2160 },
  frameRate: { ideal: 10, max: 15 },
};

/**
 * A readable sentence for a getUserMedia / getDisplayMedia failure.
 * @param {unknown} err
 * @param {string} [what] the devices asked for, e.g. "camera"
 * @returns {string}
 */
export function describeMediaError(err, what = 'camera and microphone') {
  const name = err instanceof Error || err instanceof DOMException ? err.name : '';
  const What = what.charAt(0).toUpperCase() + what.slice(1);
  const still = what.includes(' and ') ? 'You can still join without them.' : 'You can still take part without it.';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return `${What} access was blocked. ${still}`;
    case 'NotFoundError':
    case 'OverconstrainedError':
      return `No ${what} was found. ${still}`;
    case 'NotReadableError':
    case 'AbortError':
      return `Your ${what} is busy in another app. ${still}`;
    case 'NoMediaDevices':
      return `This browser cannot use a ${what} here (the page needs https). ${still}`;
    default:
      return `The ${what} could not be started. ${still}`;
  }
}

/** Errors after which asking for the other device alone may still work. */
const RETRY_SEPARATELY = new Set(['NotFoundError', 'OverconstrainedError', 'NotReadableError', 'AbortError']);

export class LocalMedia extends EventTarget {
  constructor() {
    super();
    /** Camera video and microphone audio: the "main" stream. */
    this.stream = new MediaStream();
    /** @type {MediaStreamTrack|null} */
    this.camera = null;
    /** @type {MediaStreamTrack|null} */
    this.microphone = null;
    /** @type {MediaStreamTrack|null} */
    this.screen = null;
    /** A fresh stream per share, so a new share never reuses an old id. */
    /** @type {MediaStream|null} */
    this.screenStream = null;
  }

  /** @returns {boolean} */
  static supported() {
    return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  }

  /** @returns {boolean} */
  static screenSupported() {
    return !!(navigator.mediaDevices && 'getDisplayMedia' in navigator.mediaDevices);
  }

  /**
   * Opens the camera and/or microphone that are not open yet. When both are
   * asked for and the pair fails for a device reason, each is tried alone so
   * that a missing webcam does not also cost the microphone.
   * @param {{video?: boolean, audio?: boolean}} [want]
   * @returns {Promise<{error: string|null}>} error is a sentence for a toast
   */
  async acquire(want = { video: true, audio: true }) {
    const video = !!want.video && !this.camera;
    const audio = !!want.audio && !this.microphone;
    if (!video && !audio) return { error: null };
    const what = video && audio ? 'camera and microphone' : video ? 'camera' : 'microphone';
    if (!LocalMedia.supported()) {
      return { error: describeMediaError(new DOMException('no mediaDevices', 'NoMediaDevices'), what) };
    }
    try {
      this.adopt(await navigator.mediaDevices.getUserMedia({
        video: video ? VIDEO_CONSTRAINTS : false,
        audio: audio ? AUDIO_CONSTRAINTS : false,
      }));
      return { error: null };
    } catch (err) {
      const name = err instanceof Error || err instanceof DOMException ? err.name : '';
      if (!(video && audio) || !RETRY_SEPARATELY.has(name)) return { error: describeMediaError(err, what) };
    }
    // The pair failed for a device reason: try each device alone.
    let firstError = null;
    for (const constraints of [{ video: VIDEO_CONSTRAINTS }, { audio: AUDIO_CONSTRAINTS }]) {
      try {
        this.adopt(await navigator.mediaDevices.getUserMedia(constraints));
      } catch (err) {
        firstError = firstError || err;
      }
    }
    if (!this.camera && !this.microphone) return { error: describeMediaError(firstError, what) };
    return { error: null };
  }

  /**
   * Takes the tracks of a fresh getUserMedia stream into the main stream.
   * @param {MediaStream} fresh
   */
  adopt(fresh) {
    for (const track of fresh.getTracks()) {
      const source = track.kind === 'video' ? Source.CAMERA : Source.MICROPHONE;
      if (source === Source.CAMERA) this.camera = track;
      else this.microphone = track;
      this.stream.addTrack(track);
      // A device unplugged or revoked ends its track: tell the page.
      track.addEventListener('ended', () => this.forget(source, track));
    }
    this.dispatchEvent(new Event('change'));
  }

  /**
   * @param {'camera'|'microphone'} source
   * @param {MediaStreamTrack} track
   */
  forget(source, track) {
    if (this[source] !== track) return;
    this[source] = null;
    this.stream.removeTrack(track);
    this.dispatchEvent(new CustomEvent('trackended', { detail: { source, track } }));
    this.dispatchEvent(new Event('change'));
  }

  /**
   * @param {'camera'|'microphone'} source
   * @returns {boolean} true when the source has a track that is enabled
   */
  isOn(source) {
    const track = this[source];
    return !!track && track.enabled && track.readyState === 'live';
  }

  /**
   * Pauses or resumes a source. A disabled track keeps its sender and sends
   * black frames / silence, so resuming needs no renegotiation.
   * @param {'camera'|'microphone'} source
   * @param {boolean} on
   */
  setEnabled(source, on) {
    const track = this[source];
    if (!track) return;
    track.enabled = on;
    this.dispatchEvent(new Event('change'));
  }

  /**
   * Starts a screen share.
   * @returns {Promise<MediaStreamTrack>} the screen video track
   */
  async startScreen() {
    if (!LocalMedia.screenSupported()) {
      throw new DOMException('Screen sharing is not supported in this browser.', 'NotSupportedError');
    }
    const display = await navigator.mediaDevices.getDisplayMedia({ video: SCREEN_CONSTRAINTS, audio: false });
    const track = display.getVideoTracks()[0];
    // Text and slides: "detail" makes the encoder keep the resolution and
    // give up frame rate under pressure (maintain-resolution).
    if ('contentHint' in track) track.contentHint = 'detail';
    this.screen = track;
    this.screenStream = new MediaStream([track]);
    // The browser's own "Stop sharing" bar ends the track.
    track.addEventListener('ended', () => {
      if (this.screen === track) this.dispatchEvent(new Event('screenended'));
    });
    this.dispatchEvent(new Event('change'));
    return track;
  }

  /**
   * Stops the screen share.
   * @returns {MediaStreamTrack|null} the stopped track, to remove its senders
   */
  stopScreen() {
    const track = this.screen;
    if (!track) return null;
    this.screen = null;
    this.screenStream = null;
    track.stop();
    this.dispatchEvent(new Event('change'));
    return track;
  }

  /** Stops every track (leaving, spectating, the room ended). */
  stopAll() {
    for (const track of this.stream.getTracks()) {
      track.stop();
      this.stream.removeTrack(track);
    }
    this.camera = null;
    this.microphone = null;
    this.stopScreen();
    this.dispatchEvent(new Event('change'));
  }

  /**
   * What this tab sends, with the stream each track travels in. Camera first,
   * then microphone, then screen: receivers without stream ids rely on it.
   * @returns {LocalTrack[]}
   */
  tracks() {
    /** @type {LocalTrack[]} */
    const out = [];
    if (this.camera) out.push({ source: Source.CAMERA, track: this.camera, stream: this.stream });
    if (this.microphone) out.push({ source: Source.MICROPHONE, track: this.microphone, stream: this.stream });
    if (this.screen && this.screenStream) out.push({ source: Source.SCREEN, track: this.screen, stream: this.screenStream });
    return out;
  }
}
