// @ts-check
// Remote streams: sorts the tracks that arrive from a participant into
// camera, screen and microphone.
//
// WebRTC delivers anonymous tracks; only the MediaStream id (SDP msid) the
// sender chose survives the trip. Senders put camera + microphone in one
// stream and each screen share in a stream of its own, so:
//   1. exact: a `media` message (or Participant.streams) says which stream id
//      carries which source;
//   2. fallback, for servers that do not relay stream ids: a video in the
//      same stream as the participant's audio is the camera; otherwise the
//      first video to arrive is the camera (senders add the camera first),
//      unless the participant publishes a screen and no camera at all;
//      any other video is the screen.
// A screen is only shown while the participant's media state says it is
// published, so an unpublished share disappears even before renegotiation
// has removed its track. See docs/PROTOCOL.md.

import { Source } from './protocol.js';

/**
 * @typedef {Object} RemoteTrack
 * @property {MediaStreamTrack} track
 * @property {string} streamId '' when the sender gave no stream
 * @property {number} order arrival order, to break ties in the fallback
 */

/**
 * @typedef {Object} Assignment
 * @property {MediaStreamTrack|null} camera
 * @property {MediaStreamTrack|null} screen
 * @property {MediaStreamTrack|null} audio
 */

/**
 * @typedef {Object} RemoteInfo what we know about one participant's tracks
 * @property {Map<string, RemoteTrack>} tracks by track id
 * @property {Object<string, string>} declared source -> stream id
 * @property {Object<string, string>} media source -> 'live'|'paused' (published sources)
 */

export class RemoteStreams {
  /**
   * @param {(participantId: string, assignment: Assignment) => void} onChange
   *   called whenever a participant's camera, screen or audio track changes
   */
  constructor(onChange) {
    this.onChange = onChange;
    /** @type {Map<string, RemoteInfo>} */
    this.info = new Map();
    this.counter = 0;
  }

  /**
   * @param {string} id
   * @returns {RemoteInfo}
   */
  entry(id) {
    let info = this.info.get(id);
    if (!info) {
      info = { tracks: new Map(), declared: {}, media: {} };
      this.info.set(id, info);
    }
    return info;
  }

  /**
   * A track arrived on the participant's connection (ontrack). A track seen
   * again (a transceiver that resumes receiving) keeps its first position.
   * @param {string} id
   * @param {MediaStreamTrack} track
   * @param {MediaStream|null} stream
   */
  addTrack(id, track, stream) {
    const info = this.entry(id);
    const known = info.tracks.get(track.id);
    info.tracks.set(track.id, {
      track,
      streamId: stream ? stream.id : '',
      order: known ? known.order : ++this.counter,
    });
    if (!known) {
      const drop = () => {
        if (info.tracks.get(track.id)?.track !== track) return;
        info.tracks.delete(track.id);
        this.classify(id);
      };
      track.addEventListener('ended', drop);
      // The sender removed the track: renegotiation takes it out of the stream.
      stream?.addEventListener('removetrack', (e) => {
        if (e.track === track) drop();
      });
    }
    this.classify(id);
  }

  /**
   * Records the participant's published sources and any stream ids they
   * carry (from welcome, participant-joined/updated).
   * @param {import('./protocol.js').Participant} p
   */
  setParticipant(p) {
    const info = this.entry(p.id);
    info.media = { ...(p.media || {}) };
    if (p.streams) info.declared = { ...p.streams };
    this.classify(p.id);
  }

  /**
   * Records a `media` message.
   * @param {string} id
   * @param {string} source
   * @param {Object<string, string>} media the participant's media map after the action
   * @param {string} [streamId]
   */
  noteMedia(id, source, media, streamId) {
    const info = this.entry(id);
    info.media = { ...media };
    if (streamId) info.declared[source] = streamId;
    if (!(source in media)) delete info.declared[source];
    this.classify(id);
  }

  /** @param {string} id */
  removeParticipant(id) {
    this.info.delete(id);
  }

  clear() {
    this.info.clear();
  }

  /**
   * Decides which track is what and reports it.
   * @param {string} id
   */
  classify(id) {
    const info = this.info.get(id);
    if (!info) return;
    this.onChange(id, assign(info));
  }
}

/**
 * The assignment rule (pure, so it is easy to reason about).
 * @param {RemoteInfo} info
 * @returns {Assignment}
 */
export function assign(info) {
  const live = [...info.tracks.values()]
    .filter((t) => t.track.readyState === 'live')
    .sort((a, b) => a.order - b.order);
  const videos = live.filter((t) => t.track.kind === 'video');
  const audios = live.filter((t) => t.track.kind === 'audio');
  const { declared, media } = info;

  const audio =
    audios.find((t) => declared[Source.MICROPHONE] && t.streamId === declared[Source.MICROPHONE]) ||
    audios[audios.length - 1] ||
    null;

  /** @type {RemoteTrack|null} */
  let camera = null;
  /** @type {RemoteTrack|null} */
  let screen = null;
  const declaredIds = new Set(Object.values(declared));
  /** @type {RemoteTrack[]} */
  const unlabelled = [];
  for (const v of videos) {
    if (declared[Source.SCREEN] && v.streamId === declared[Source.SCREEN]) screen = v;
    else if (declared[Source.CAMERA] && v.streamId === declared[Source.CAMERA]) camera = v;
    else if (!declaredIds.has(v.streamId) || v.streamId === declared[Source.MICROPHONE]) unlabelled.push(v);
  }

  // Fallback 1: the video that shares a stream with the audio is the camera.
  if (!camera && audio) {
    const withAudio = unlabelled.find((v) => v.streamId && v.streamId === audio.streamId);
    if (withAudio) camera = withAudio;
  }
  // Fallback 2: arrival order, with "screen only" as the one exception.
  const onlyScreen = Source.SCREEN in media && !(Source.CAMERA in media);
  for (const v of unlabelled) {
    if (v === camera || v === screen) continue;
    if (!camera && !onlyScreen) camera = v;
    else if (!screen) screen = v;
  }

  return {
    camera: camera ? camera.track : null,
    // Show a screen only while it is published.
    screen: screen && Source.SCREEN in media ? screen.track : null,
    audio: audio ? audio.track : null,
  };
}
