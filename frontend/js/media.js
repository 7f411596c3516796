// @ts-check
// Local media: the camera and microphone (one MediaStream), the screen (a
// second MediaStream), and their on/off switches.
//
// Camera and microphone travel in one stream and the screen in another on
// purpose: the receiver tells them apart by stream id (see
// docs/PROTOCOL.md, "Telling screen from camera").

import { preferredConstraints } from './devices.js';
import { Source } from './protocol.js';
import { t } from './i18n.js';

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
 * @param {string} [what] the devices asked for: "camera and microphone",
 *   "camera" or "microphone"
 * @returns {string} in the page's language
 */
export function describeMediaError(err, what = 'camera and microphone') {
  const name = err instanceof Error || err instanceof DOMException ? err.name : '';
  const both = what.includes(' and ');
  const still = both ? t('media.stillBoth') : t('media.stillOne');
  // One literal key per case and device, so the catalog test sees each.
  /** @param {string} ifBoth @param {string} ifCamera @param {string} ifMic */
  const pick = (ifBoth, ifCamera, ifMic) => `${both ? ifBoth : what === 'camera' ? ifCamera : ifMic} ${still}`;
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return pick(t('media.blocked.both'), t('media.blocked.camera'), t('media.blocked.microphone'));
    case 'NotFoundError':
    case 'OverconstrainedError':
      return pick(t('media.notFound.both'), t('media.notFound.camera'), t('media.notFound.microphone'));
    case 'NotReadableError':
    case 'AbortError':
      return pick(t('media.busy.both'), t('media.busy.camera'), t('media.busy.microphone'));
    case 'NoMediaDevices':
      return pick(t('media.unsupported.both'), t('media.unsupported.camera'), t('media.unsupported.microphone'));
    default:
      return pick(t('media.failed.both'), t('media.failed.camera'), t('media.failed.microphone'));
  }
}

/** Errors after which asking for the other device alone may still work. */
const RETRY_SEPARATELY = new Set(['NotFoundError', 'OverconstrainedError', 'NotReadableError', 'AbortError']);

/**
 * @param {MediaTrackConstraints} base
 * @param {ConstrainDOMString|undefined} deviceId
 * @returns {MediaTrackConstraints}
 */
function withDevice(base, deviceId) {
  return deviceId ? { ...base, deviceId } : base;
}

/**
 * getUserMedia with the remembered devices, and without them when they
 * fail for a device reason (busy, unplugged): a remembered webcam that is
 * busy elsewhere must not cost the call its camera.
 * @param {MediaStreamConstraints} constraints
 * @returns {Promise<MediaStream>}
 */
async function openPreferring(constraints) {
  try {
    return await navigator.mediaDevices.getUserMedia(constraints);
  } catch (err) {
    const name = err instanceof Error || err instanceof DOMException ? err.name : '';
    /** @param {boolean|MediaTrackConstraints|undefined} c */
    const plain = (c) => {
      if (!c || typeof c !== 'object' || !('deviceId' in c)) return c;
      const { deviceId, ...rest } = c;
      return rest;
    };
    const pinned = [constraints.video, constraints.audio].some((c) => c && typeof c === 'object' && 'deviceId' in c);
    if (!pinned || !RETRY_SEPARATELY.has(name)) throw err;
    return navigator.mediaDevices.getUserMedia({ video: plain(constraints.video), audio: plain(constraints.audio) });
  }
}

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
    // The devices picked on an earlier visit (devices.js), when they are here.
    const prefer = await preferredConstraints();
    try {
      this.adopt(await openPreferring({
        video: video ? withDevice(VIDEO_CONSTRAINTS, prefer.camera) : false,
        audio: audio ? withDevice(AUDIO_CONSTRAINTS, prefer.microphone) : false,
      }));
      return { error: null };
    } catch (err) {
      const name = err instanceof Error || err instanceof DOMException ? err.name : '';
      if (!(video && audio) || !RETRY_SEPARATELY.has(name)) return { error: describeMediaError(err, what) };
    }
    // The pair failed for a device reason: try each device alone.
    let firstError = null;
    for (const constraints of [{ video: withDevice(VIDEO_CONSTRAINTS, prefer.camera) }, { audio: withDevice(AUDIO_CONSTRAINTS, prefer.microphone) }]) {
      try {
        this.adopt(await openPreferring(constraints));
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
      this.watchEnd(source, track);
    }
    this.dispatchEvent(new Event('change'));
  }

  /**
   * A device unplugged or revoked ends its track: the default device of
   * the kind takes its place if there is one (event `fallback`), else the
   * page is told the source is gone (event `trackended`).
   * @param {'camera'|'microphone'} source
   * @param {MediaStreamTrack} track
   */
  watchEnd(source, track) {
    track.addEventListener('ended', async () => {
      if (this[source] !== track) return;
      try {
        const fresh = await navigator.mediaDevices.getUserMedia(
          source === Source.CAMERA ? { video: VIDEO_CONSTRAINTS } : { audio: AUDIO_CONSTRAINTS },
        );
        const next = fresh.getTracks()[0];
        if (this[source] !== track) {
          next.stop(); // switched or stopped meanwhile
          return;
        }
        await this.swap(source, next);
        this.dispatchEvent(new CustomEvent('fallback', { detail: { source, track: next } }));
      } catch {
        this.forget(source, track);
      }
    });
  }

  /**
   * Switches a source to another device, e.g. from the device picker. The
   * new track inherits the old one's enabled state (a camera that is off
   * stays off) and replaces it everywhere it is sent (event `replaced`).
   * With no track open yet, this opens the device.
   * @param {'camera'|'microphone'} source
   * @param {string} deviceId
   * @returns {Promise<void>} rejects when the device cannot be opened; the old one stays
   */
  async switchDevice(source, deviceId) {
    if (!LocalMedia.supported()) throw new DOMException('no mediaDevices', 'NoMediaDevices');
    const old = this[source];
    if (old && old.readyState === 'live' && old.getSettings().deviceId === deviceId) return;
    const kind = source === Source.CAMERA ? 'video' : 'audio';
    const base = source === Source.CAMERA ? VIDEO_CONSTRAINTS : AUDIO_CONSTRAINTS;
    const want = { [kind]: { ...base, deviceId: { exact: deviceId } } };
    let fresh;
    try {
      fresh = await navigator.mediaDevices.getUserMedia(want);
    } catch (err) {
      const name = err instanceof Error || err instanceof DOMException ? err.name : '';
      // Some cameras (phones, many laptops) cannot be open twice at once:
      // free the old one and try again. If that fails too, the source is
      // gone, as if unplugged.
      if (!old || (name !== 'NotReadableError' && name !== 'AbortError')) throw err;
      old.stop();
      try {
        fresh = await navigator.mediaDevices.getUserMedia(want);
      } catch (again) {
        this.forget(source, old);
        throw again;
      }
    }
    const track = fresh.getTracks()[0];
    if (this[source] !== old) {
      track.stop(); // stopped or switched again meanwhile: this one is stale
      return;
    }
    await this.swap(source, track);
  }

  /**
   * Puts track in the place of the source's current one (if any): in the
   * main stream, whose id the receivers know, then in every sender (the
   * `replaced` listeners add their replaceTrack promises to
   * detail.pending), and only then stops the old track, so the receivers
   * see no gap.
   * @param {'camera'|'microphone'} source
   * @param {MediaStreamTrack} track
   */
  async swap(source, track) {
    const old = this[source];
    if (old) {
      track.enabled = old.enabled;
      this.stream.removeTrack(old);
    }
    this[source] = track;
    this.stream.addTrack(track);
    this.watchEnd(source, track);
    /** @type {Promise<unknown>[]} */
    const pending = [];
    this.dispatchEvent(new CustomEvent('replaced', { detail: { source, oldTrack: old, track, pending } }));
    this.dispatchEvent(new Event('change'));
    await Promise.allSettled(pending);
    old?.stop();
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
