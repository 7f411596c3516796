// @ts-check
// The browser's side of the server's SFU: two RTCPeerConnections.
//
//   publish    carries my tracks up. I offer; the server answers. My offer
//              names the source of each mid in `tracks` ({mid: source}).
//   subscribe  carries everyone else's tracks down. The server offers; I
//              answer. Its offer names each mid as "participantId|source".
//
// Each side offers on only one connection, so the two never collide. On
// each connection negotiation is serialized: one offer/answer at a time,
// remote candidates wait until the remote description is set, and my own
// candidates wait until my description has been sent.
//
// The server sends only VP8 and Opus, and takes only those: the publish
// transceivers prefer them (setCodecPreferences).

import { MessageType, SFUConnection, SignalKind, Source } from './protocol.js';

/** @typedef {import('./protocol.js').SFUMessage} SFUMessage */
/** @typedef {import('./protocol.js').ICEServer} ICEServer */
/** @typedef {import('./protocol.js').Candidate} Candidate */
/** @typedef {import('./media.js').LocalTrack} LocalTrack */

/**
 * One remote participant's tracks as the SFU delivers them.
 * @typedef {Object} SFUTracks
 * @property {MediaStreamTrack|null} camera
 * @property {MediaStreamTrack|null} screen
 * @property {MediaStreamTrack|null} audio
 */

/** How long the server may take to answer a publish offer. */
const ANSWER_TIMEOUT_MS = 10000;

/**
 * @typedef {Object} SFUParams
 * @property {number} epoch the mode epoch, stamped on my offers
 * @property {ICEServer[]} iceServers from welcome
 * @property {(msg: import('./protocol.js').ClientMessage) => void} send
 * @property {() => LocalTrack[]} localTracks what to publish at start
 * @property {(participantId: string, tracks: SFUTracks) => void} onTracks
 *   called whenever a participant's SFU tracks change (all null: gone)
 * @property {(state: RTCPeerConnectionState) => void} [onState] the
 *   subscribe connection's state
 */

export class SFUClient {
  /** @param {SFUParams} params */
  constructor(params) {
    this.params = params;
    this.closed = false;

    /** @type {RTCPeerConnection|null} created with my first track */
    this.pub = null;
    /** Source of each publish transceiver, for the offer's `tracks`. */
    /** @type {Map<RTCRtpTransceiver, string>} */
    this.sources = new Map();
    this.pubBusy = false;
    this.pubAgain = false;
    /** @type {((sdp: string) => void)|null} resolves the pending publish offer */
    this.pubAnswer = null;
    /** @type {Candidate[]} */
    this.pubRemoteCands = [];
    /** @type {(Candidate|null)[]|null} my candidates before my first offer went out */
    this.pubLocalCands = [];

    const sub = new RTCPeerConnection({ iceServers: params.iceServers || [] });
    this.sub = sub;
    this.subQueue = Promise.resolve();
    /** @type {(Candidate|null)[]|null} my candidates before my first answer went out */
    this.subLocalCands = [];
    /** Stream id of each receiver, from ontrack: the fallback when a mid is unnamed. */
    /** @type {Map<RTCRtpReceiver, string>} */
    this.streamOf = new Map();
    /** The last `tracks` of a subscribe offer. */
    /** @type {Object<string, string>} */
    this.names = {};
    /** @type {Map<string, SFUTracks>} */
    this.byParticipant = new Map();

    sub.onicecandidate = ({ candidate }) => this.localCandidate(SFUConnection.SUBSCRIBE, candidate);
    sub.ontrack = ({ receiver, streams }) => {
      if (streams[0]) this.streamOf.set(receiver, streams[0].id);
      // The offer's names are applied after it; a track that arrives later
      // (a renegotiation without a new offer cannot happen) is covered there.
    };
    sub.onconnectionstatechange = () => params.onState?.(sub.connectionState);
  }

  /** Publishes my current tracks (nothing to do for a spectator). */
  start() {
    for (const { source, track, stream } of this.params.localTracks()) this.addTrack(track, stream, source);
    // Offer now rather than a task later: on a busy page the event can lag
    // by hundreds of milliseconds. The event then finds nothing to do.
    if (this.pub) this.negotiatePublish();
  }

  /** @param {number} epoch */
  setEpoch(epoch) {
    this.params.epoch = epoch;
  }

  /**
   * Publishes one track, or does nothing if it is published already.
   * @param {MediaStreamTrack} track
   * @param {MediaStream} stream
   * @param {string} source camera, microphone or screen
   */
  addTrack(track, stream, source) {
    if (this.closed) return;
    const pub = this.publishConnection();
    if (pub.getSenders().some((s) => s.track === track)) return;
    const height = track.kind === 'video' ? track.getSettings().height || 0 : 0;
    const transceiver = pub.addTransceiver(track, { direction: 'sendonly', streams: [stream], sendEncodings: sendEncodingsFor(source, height) });
    preferCodec(transceiver, track.kind, track.kind === 'video' ? 'video/vp8' : 'audio/opus');
    this.sources.set(transceiver, source);
  }

  /**
   * Stops publishing a track (a screen share ends); renegotiates.
   * @param {MediaStreamTrack} track
   */
  removeTrack(track) {
    if (!this.pub || this.closed) return;
    for (const t of this.pub.getTransceivers()) {
      if (t.sender.track === track) {
        this.pub.removeTrack(t.sender);
        this.sources.delete(t);
      }
    }
  }

  /**
   * Sends track in place of oldTrack (another camera or microphone was
   * picked): RTCRtpSender.replaceTrack keeps the transceiver, its mid and
   * what the SFU forwards, so nothing is renegotiated.
   * @param {MediaStreamTrack} oldTrack
   * @param {MediaStreamTrack} track
   * @returns {Promise<void>}
   */
  async replaceTrack(oldTrack, track) {
    if (!this.pub || this.closed) return;
    const senders = this.pub.getSenders().filter((s) => s.track === oldTrack);
    await Promise.all(senders.map((s) => s.replaceTrack(track)));
  }

  /** @returns {RTCPeerConnection} */
  publishConnection() {
    if (this.pub) return this.pub;
    const pub = new RTCPeerConnection({ iceServers: this.params.iceServers || [] });
    this.pub = pub;
    pub.onicecandidate = ({ candidate }) => this.localCandidate(SFUConnection.PUBLISH, candidate);
    pub.onnegotiationneeded = () => this.negotiatePublish();
    return pub;
  }

  /**
   * Offers the publish connection's current state, one offer at a time.
   */
  async negotiatePublish() {
    if (this.pubBusy) {
      this.pubAgain = true;
      return;
    }
    const pub = this.pub;
    if (!pub) return;
    this.pubBusy = true;
    try {
      do {
        this.pubAgain = false;
        if (this.closed) return;
        await pub.setLocalDescription(await pub.createOffer());
        /** @type {Object<string, string>} */
        const tracks = {};
        for (const [t, source] of this.sources) {
          if (t.mid !== null && t.sender.track) tracks[t.mid] = source;
        }
        const answered = new Promise((resolve, reject) => {
          this.pubAnswer = resolve;
          setTimeout(() => reject(new Error('the SFU did not answer the publish offer')), ANSWER_TIMEOUT_MS);
        });
        this.sendSFU({ pc: SFUConnection.PUBLISH, kind: SignalKind.OFFER, sdp: pub.localDescription?.sdp || '', tracks, epoch: this.params.epoch });
        this.flushLocal(SFUConnection.PUBLISH);
        const sdp = /** @type {string} */ (await answered);
        this.pubAnswer = null;
        if (this.closed) return;
        await pub.setRemoteDescription({ type: 'answer', sdp });
        for (const c of this.pubRemoteCands.splice(0)) await addCandidate(pub, c);
      } while (this.pubAgain);
    } catch (err) {
      if (!this.closed) console.warn('sfu: publish negotiation failed', err);
    } finally {
      this.pubAnswer = null;
      this.pubBusy = false;
    }
  }

  /**
   * Handles one `sfu` message from the server.
   * @param {SFUMessage} msg
   */
  handle(msg) {
    if (this.closed) return;
    if (msg.pc === SFUConnection.PUBLISH) {
      if (msg.kind === SignalKind.ANSWER) {
        if (this.pubAnswer) this.pubAnswer(msg.sdp || '');
        else console.debug('sfu: an unexpected publish answer');
      } else if (msg.kind === SignalKind.CANDIDATE) {
        const pub = this.pub;
        if (!msg.candidate) return;
        if (!pub || !pub.remoteDescription || this.pubAnswer) this.pubRemoteCands.push(msg.candidate);
        else addCandidate(pub, msg.candidate);
      }
      return;
    }
    if (msg.pc !== SFUConnection.SUBSCRIBE) return;
    // Offers and candidates are applied in order, so a candidate never
    // meets a connection without its remote description.
    this.subQueue = this.subQueue
      .then(() => (msg.kind === SignalKind.OFFER ? this.answerSubscribe(msg) : this.subscribeCandidate(msg)))
      .catch((err) => {
        if (!this.closed) console.warn('sfu: subscribe', msg.kind, 'failed', err);
      });
  }

  /** @param {SFUMessage} msg */
  async answerSubscribe(msg) {
    const sub = this.sub;
    if (this.closed) return;
    await sub.setRemoteDescription({ type: 'offer', sdp: msg.sdp || '' });
    await sub.setLocalDescription();
    if (this.closed) return;
    this.sendSFU({ pc: SFUConnection.SUBSCRIBE, kind: SignalKind.ANSWER, sdp: sub.localDescription?.sdp || '', epoch: this.params.epoch });
    this.flushLocal(SFUConnection.SUBSCRIBE);
    this.names = msg.tracks || {};
    this.remap();
  }

  /** @param {SFUMessage} msg */
  async subscribeCandidate(msg) {
    if (!msg.candidate || this.closed || !this.sub.remoteDescription) return;
    await addCandidate(this.sub, msg.candidate);
  }

  /**
   * Rebuilds who-sends-what from the subscribe transceivers: by the mid
   * names of the last offer, or else by the stream id the server chose
   * ("<participant>" for camera and microphone, "<participant>|screen").
   */
  remap() {
    /** @type {Map<string, SFUTracks>} */
    const next = new Map();
    for (const t of this.sub.getTransceivers()) {
      const dir = t.currentDirection;
      // A stopped transceiver says so in direction at once, and in
      // currentDirection after the next negotiation.
      if (t.direction === 'stopped' || !(dir === 'recvonly' || dir === 'sendrecv')) continue;
      const track = t.receiver.track;
      let name = t.mid !== null ? this.names[t.mid] : undefined;
      if (!name) {
        const stream = this.streamOf.get(t.receiver);
        if (!stream) continue;
        name = stream.endsWith('|screen') ? stream : `${stream}|${track.kind === 'audio' ? Source.MICROPHONE : Source.CAMERA}`;
      }
      const cut = name.lastIndexOf('|');
      if (cut <= 0) continue;
      const id = name.slice(0, cut);
      const source = name.slice(cut + 1);
      let entry = next.get(id);
      if (!entry) {
        entry = { camera: null, screen: null, audio: null };
        next.set(id, entry);
      }
      if (source === Source.MICROPHONE && track.kind === 'audio') entry.audio = track;
      else if (source === Source.SCREEN && track.kind === 'video') entry.screen = track;
      else if (source === Source.CAMERA && track.kind === 'video') entry.camera = track;
    }
    const prev = this.byParticipant;
    this.byParticipant = next;
    for (const [id, tracks] of next) {
      const old = prev.get(id);
      if (!old || old.camera !== tracks.camera || old.screen !== tracks.screen || old.audio !== tracks.audio) {
        this.params.onTracks(id, tracks);
      }
    }
    for (const id of prev.keys()) {
      if (!next.has(id)) this.params.onTracks(id, { camera: null, screen: null, audio: null });
    }
  }

  /**
   * @param {string} participantId
   * @returns {SFUTracks}
   */
  tracksOf(participantId) {
    return this.byParticipant.get(participantId) || { camera: null, screen: null, audio: null };
  }

  /**
   * How far a received track has come: frames decoded (video) or packets
   * received (audio); 0 before anything arrived.
   * @param {MediaStreamTrack} track
   * @returns {Promise<number>}
   */
  progress(track) {
    return trackProgress(this.sub, track);
  }

  /**
   * @param {string} pc publish or subscribe
   * @param {RTCIceCandidate|null} candidate
   */
  localCandidate(pc, candidate) {
    const held = pc === SFUConnection.PUBLISH ? this.pubLocalCands : this.subLocalCands;
    const init = candidate ? /** @type {Candidate} */ (candidate.toJSON()) : null;
    if (held) {
      held.push(init);
      return;
    }
    this.sendCandidate(pc, init);
  }

  /**
   * Sends the candidates found before the connection's first description
   * went out, and every later one at once.
   * @param {string} pc
   */
  flushLocal(pc) {
    const held = pc === SFUConnection.PUBLISH ? this.pubLocalCands : this.subLocalCands;
    if (!held) return;
    if (pc === SFUConnection.PUBLISH) this.pubLocalCands = null;
    else this.subLocalCands = null;
    for (const c of held) this.sendCandidate(pc, c);
  }

  /**
   * @param {string} pc
   * @param {Candidate|null} candidate
   */
  sendCandidate(pc, candidate) {
    // The end-of-candidates marker means nothing to the server's full ICE agent.
    if (!candidate) return;
    this.sendSFU({ pc: /** @type {'publish'|'subscribe'} */ (pc), kind: SignalKind.CANDIDATE, candidate });
  }

  /** @param {Omit<SFUMessage, 'type'>} fields */
  sendSFU(fields) {
    if (this.closed) return;
    this.params.send({ type: MessageType.SFU, ...fields });
  }

  /** Closes both connections (the caller tells the server with sfu-close). */
  close() {
    if (this.closed) return;
    this.closed = true;
    for (const pc of [this.pub, this.sub]) {
      if (!pc) continue;
      pc.onicecandidate = null;
      pc.onnegotiationneeded = null;
      pc.ontrack = null;
      pc.onconnectionstatechange = null;
      pc.close();
    }
    this.byParticipant.clear();
  }

  /** @returns {Object<string, Object>} connection states, for tests and debugging */
  states() {
    /** @type {Object<string, Object>} */
    const out = {};
    for (const [name, pc] of [['publish', this.pub], ['subscribe', this.sub]]) {
      const c = /** @type {RTCPeerConnection|null} */ (pc);
      if (c) out[/** @type {string} */ (name)] = { connection: c.connectionState, signaling: c.signalingState, ice: c.iceConnectionState };
    }
    return out;
  }
}

/**
 * @param {RTCPeerConnection} pc
 * @param {Candidate} candidate
 */
async function addCandidate(pc, candidate) {
  try {
    await pc.addIceCandidate(candidate);
  } catch (err) {
    console.debug('sfu: candidate refused', err);
  }
}

/**
 * Puts the codec the SFU forwards first on a publish transceiver.
 * @param {RTCRtpTransceiver} transceiver
 * @param {string} kind audio or video
 * @param {string} mime lower case, e.g. video/vp8
 */
function preferCodec(transceiver, kind, mime) {
  if (typeof transceiver.setCodecPreferences !== 'function' || typeof RTCRtpSender.getCapabilities !== 'function') return;
  const caps = RTCRtpSender.getCapabilities(kind);
  if (!caps) return;
  const first = caps.codecs.filter((c) => c.mimeType.toLowerCase() === mime);
  if (first.length === 0) return;
  const rest = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== mime);
  try {
    transceiver.setCodecPreferences([...first, ...rest]);
  } catch (err) {
    // Older browsers check against receiver capabilities only.
    const recv = RTCRtpReceiver.getCapabilities(kind);
    if (!recv) return;
    const f = recv.codecs.filter((c) => c.mimeType.toLowerCase() === mime);
    const r = recv.codecs.filter((c) => c.mimeType.toLowerCase() !== mime);
    try {
      transceiver.setCodecPreferences([...f, ...r]);
    } catch {
      console.debug('sfu: codec preferences refused', err);
    }
  }
}

/** One stats report per connection serves every track asked about within this time. */
const STATS_TTL_MS = 50;
/** @type {WeakMap<RTCPeerConnection, {at: number, report: Promise<RTCStatsReport|null>}>} */
const statsCache = new WeakMap();

/**
 * Frames decoded (video) or packets received (audio) of a received track.
 * A switch asks about every remote track ten times a second: one getStats
 * per connection answers them all.
 * @param {RTCPeerConnection} pc
 * @param {MediaStreamTrack} track
 * @returns {Promise<number>}
 */
export async function trackProgress(pc, track) {
  if (pc.signalingState === 'closed') return 0;
  const now = performance.now();
  let cached = statsCache.get(pc);
  if (!cached || now - cached.at > STATS_TTL_MS) {
    cached = { at: now, report: pc.getStats().catch(() => null) };
    statsCache.set(pc, cached);
  }
  const stats = await cached.report;
  let n = 0;
  stats?.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.trackIdentifier === track.id) {
      n = Math.max(n, track.kind === 'video' ? s.framesDecoded || 0 : s.packetsReceived || 0);
    }
  });
  return n;
}

/**
 * The camera's simulcast layers (issue 16): a quarter, half and full
 * resolution, named q, h and f as the SFU expects (sfu/uptrack.go
 * layerIndex), each capped so that the three together stay near what one
 * full stream took. The SFU forwards each viewer the one that fits its
 * tile. A screen is one full-resolution stream: slides must stay sharp,
 * and the browser lowers its frame rate first (contentHint "detail",
 * media.js). Audio has one encoding.
 */
export const CAMERA_LAYERS = Object.freeze([
  Object.freeze({ rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 }),
  Object.freeze({ rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 }),
  Object.freeze({ rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 }),
]);

/**
 * Whether this browser publishes the camera in simulcast: Chromium-based
 * ones (navigator.userAgentData exists only there). Firefox ESR's layers
 * stopped after a few frames at the SFU in the mixed classroom test, and
 * Safari is untested, so they publish one stream, as before
 * (docs/BROWSERS.md); their viewers still get nothing they do not watch.
 */
const SIMULCAST = typeof navigator !== 'undefined' && 'userAgentData' in navigator;

/**
 * How many of the camera's layers a camera of that height gets: all three
 * from 540 lines up, else one stream. The browser itself sends fewer
 * layers of a small picture and drops the top ones (a 640x360 camera
 * asked for three reaches nobody above 320x180); two layers of a 360-line
 * camera worked, but cost its encoder enough that, with four tabs on two
 * cores, the browser kept stopping its top layer and the viewers' pictures
 * froze while they moved down, for a saving of a few hundred kbit/s.
 * @param {number} height the camera's height in pixels, 0 if unknown
 * @returns {number}
 */
export function cameraLayerCount(height) {
  if (height >= 540 || height === 0) return 3;
  return 1;
}

/**
 * The send encodings of a source's track on the publish connection: the
 * camera's top layers (cameraLayerCount), nothing special for the rest.
 * Pure.
 * @param {string} source
 * @param {number} height the track's height, 0 if unknown
 * @param {boolean} [simulcast] whether this browser publishes simulcast
 * @returns {RTCRtpEncodingParameters[]|undefined}
 */
export function sendEncodingsFor(source, height, simulcast = SIMULCAST) {
  if (source !== Source.CAMERA || !simulcast) return undefined;
  const n = cameraLayerCount(height);
  if (n < 2) return undefined;
  return CAMERA_LAYERS.slice(CAMERA_LAYERS.length - n).map((l) => ({ ...l }));
}
