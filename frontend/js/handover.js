// @ts-check
// Make before break: which topology (mesh or SFU) each remote tile shows,
// and the switch of a whole room from one to the other.
//
// Both topologies can run at once. Each reports its tracks per participant
// here (set); a tile shows the tracks of the topology that is active for
// its participant. A switch makes the new topology active participant by
// participant, as soon as it delivers that participant's media (the
// caller's ready(), see topology.js), so nobody waits for the slowest.
// Past a first timeout a participant whose old picture has stopped moves
// at once, while one the old topology still shows stays on it (a busy
// machine may take seconds more to bring up the new one, and a tile moved
// to a topology that delivers nothing yet would freeze); past a second,
// longer limit everyone moves. Swapping only changes the tracks the tile's
// existing <video> and <audio> elements play (tiles.js).
//
// The rules the switch follows (when a topology delivers, when the old one
// may close) are pure functions here too, so that they can be tested apart
// from the connections they judge.

import { Source, TrackState } from './protocol.js';

/** @typedef {'mesh'|'sfu'} Topology */

/**
 * @typedef {Object} Tracks a participant's tracks in one topology
 * @property {MediaStreamTrack|null} camera
 * @property {MediaStreamTrack|null} screen
 * @property {MediaStreamTrack|null} audio
 */

/** @type {Tracks} */
const NONE = Object.freeze({ camera: null, screen: null, audio: null });

/** How often a running switch looks for media of the new topology. */
const POLL_MS = 100;

/**
 * @typedef {Object} SwitchParams
 * @property {Topology} to
 * @property {number} timeoutMs after this, switch whoever the old topology
 *   no longer shows, ready or not
 * @property {number} limitMs switch everyone after this, ready or not
 * @property {() => string[]} participants the remote participants now
 * @property {(id: string, tracks: Tracks) => Promise<boolean>} ready whether the
 *   new topology delivers this participant's media
 * @property {(id: string, tracks: Tracks) => Promise<boolean>} holds whether
 *   the topology the participant is shown from (its tracks given) still
 *   delivers its media
 * @property {(id: string) => void} onSwapped a participant now shows the new topology
 * @property {(timedOut: boolean) => void} onDone every participant shows it
 */

export class Handover {
  /**
   * @param {(id: string, tracks: Tracks) => void} show puts tracks on a tile
   */
  constructor(show) {
    this.show = show;
    /** @type {Record<Topology, Map<string, Tracks>>} */
    this.tracks = { mesh: new Map(), sfu: new Map() };
    /** Participants shown from a topology other than the primary one. */
    /** @type {Map<string, Topology>} */
    this.active = new Map();
    /** Where participants are shown by default, new ones included. */
    /** @type {Topology} */
    this.primary = 'mesh';
    this.runId = 0;
    this.runTimer = 0;
    /** @type {SwitchParams|null} */
    this.running = null;
  }

  /**
   * @param {string} id
   * @returns {Topology}
   */
  activeOf(id) {
    return this.active.get(id) || this.primary;
  }

  /**
   * A topology reports a participant's tracks.
   * @param {Topology} topology
   * @param {string} id
   * @param {Tracks} tracks
   */
  set(topology, id, tracks) {
    this.tracks[topology].set(id, tracks);
    if (this.activeOf(id) === topology) this.show(id, tracks);
  }

  /**
   * @param {Topology} topology
   * @param {string} id
   * @returns {Tracks}
   */
  get(topology, id) {
    return this.tracks[topology].get(id) || NONE;
  }

  /**
   * Shows a participant's active tracks again (its media state changed).
   * @param {string} id
   */
  refresh(id) {
    this.show(id, this.get(this.activeOf(id), id));
  }

  /** @param {string} id */
  forget(id) {
    this.tracks.mesh.delete(id);
    this.tracks.sfu.delete(id);
    this.active.delete(id);
  }

  /**
   * A topology is gone: nobody can be shown from it any more.
   * @param {Topology} topology
   */
  drop(topology) {
    this.tracks[topology].clear();
  }

  /**
   * Shows a participant from a topology.
   * @param {string} id
   * @param {Topology} topology
   */
  swap(id, topology) {
    if (topology === this.primary) this.active.delete(id);
    else this.active.set(id, topology);
    this.show(id, this.get(topology, id));
  }

  /**
   * Sets the default topology without a switch (the first welcome).
   * @param {Topology} topology
   */
  reset(topology) {
    this.cancel();
    this.primary = topology;
    this.active.clear();
    this.tracks.mesh.clear();
    this.tracks.sfu.clear();
  }

  /**
   * Starts switching every remote participant to params.to. Participants
   * who join meanwhile are shown from the new topology at once. A running
   * switch is cancelled first (its participants stay where they are).
   * @param {SwitchParams} params
   * @param {string[]} current the remote participants now
   */
  begin(params, current) {
    this.cancel();
    const from = this.primary;
    if (from !== params.to) {
      for (const id of current) if (!this.active.has(id)) this.active.set(id, from);
      this.primary = params.to;
      for (const [id, t] of this.active) if (t === params.to) this.active.delete(id);
    }
    this.running = params;
    const run = ++this.runId;
    const start = performance.now();
    const tick = async () => {
      if (run !== this.runId) return;
      const now = performance.now();
      const late = now >= start + params.timeoutMs;
      const timedOut = now >= start + params.limitMs;
      const waiting = params.participants().filter((id) => this.activeOf(id) !== params.to);
      await Promise.all(
        waiting.map(async (id) => {
          let ok = timedOut || (await params.ready(id, this.get(params.to, id)).catch(() => false));
          if (!ok && late) {
            const from = this.activeOf(id);
            ok = !(await params.holds(id, this.get(from, id)).catch(() => false));
          }
          if (!ok || run !== this.runId || this.activeOf(id) === params.to) return;
          this.swap(id, params.to);
          params.onSwapped(id);
        }),
      );
      if (run !== this.runId) return;
      // Whoever left while we waited needs nothing more.
      const stay = new Set(params.participants());
      for (const id of [...this.active.keys()]) if (!stay.has(id)) this.active.delete(id);
      if (this.active.size === 0) {
        this.running = null;
        this.runId++;
        params.onDone(timedOut);
        return;
      }
      this.runTimer = window.setTimeout(tick, POLL_MS);
    };
    tick();
  }

  /** Whether a switch is under way. */
  get switching() {
    return this.running !== null;
  }

  /** Stops a running switch where it is. */
  cancel() {
    this.runId++;
    clearTimeout(this.runTimer);
    this.running = null;
  }
}

// --- the rules of a switch ----------------------------------------------------

/**
 * After this a switch shows a participant from the new topology, ready or
 * not, once the old one no longer shows it.
 */
export const SWITCH_TIMEOUT_MS = 5000;
/** A switch shows everyone from the new topology after this, ready or not. */
export const SWITCH_LIMIT_MS = 15000;
/** How many looks in a row (100 ms apart) must find new frames of a video to flow. */
export const FLOWING_POLLS = 3;
/**
 * How many looks in a row (100 ms apart) must find no new frame before a
 * received video counts as stalled. A busy machine's mesh video pauses for
 * half a second at times and comes back.
 */
export const STALL_POLLS = 10;
/** How long after that the old topology waits for the others' word. */
export const LINGER_MS = 1500;
/** The shortest time between two restarts of failed SFU connections. */
export const SFU_RESTART_MIN_MS = 5000;
/** The message on a mesh pair's data channel: "I show you from `via`". */
export const HAVE = 'have';

/**
 * The tracks a topology must deliver before a participant is shown from it:
 * each live video it publishes (camera, screen), or, with no live video, its
 * live microphone. Someone with nothing live needs nothing (the SFU
 * forwards nothing paused), and a video the viewer paused is not awaited
 * (the SFU forwards nothing unwatched): its sound is.
 * @param {Object<string, string>} media the participant's media state
 * @param {Tracks} tracks the participant's tracks in that topology
 * @param {boolean} [watched] false: the viewer paused this participant's video
 * @returns {(MediaStreamTrack|null)[]} null for a track that has not arrived
 */
export function neededTracks(media, tracks, watched = true) {
  /** @type {(MediaStreamTrack|null)[]} */
  const needed = [];
  if (watched && media[Source.CAMERA] === TrackState.LIVE) needed.push(tracks.camera);
  if (watched && media[Source.SCREEN] === TrackState.LIVE) needed.push(tracks.screen);
  if (needed.length === 0 && media[Source.MICROPHONE] === TrackState.LIVE) needed.push(tracks.audio);
  return needed;
}

/**
 * @typedef {Object} FrameLook
 * @property {number} frames frames decoded at this look
 * @property {number} streak looks in a row that found new frames
 * @property {number} idle looks in a row that found none
 */

/**
 * One more look at a received video. It flows once the streak reaches
 * FLOWING_POLLS: one frame is not enough, as a new sender starts slowly (a
 * keyframe, then a low bitrate), and a tile swapped to it at once would
 * show a freeze. It has stalled once STALL_POLLS looks in a row (idle)
 * found nothing new.
 * @param {FrameLook|undefined} last the previous look, if any
 * @param {number} frames frames decoded now
 * @returns {FrameLook}
 */
export function nextLook(last, frames) {
  const seen = last || { frames: 0, streak: 0, idle: 0 };
  const moved = frames > seen.frames;
  return { frames, streak: moved ? seen.streak + 1 : 0, idle: moved ? 0 : seen.idle + 1 };
}

/**
 * Whether looks at a received track found nothing new for a while.
 * @param {FrameLook} look
 * @returns {boolean}
 */
export function stalled(look) {
  return look.idle >= STALL_POLLS;
}

/**
 * The word a page sends its mesh peer once it shows that peer from `via`.
 * @param {Topology} via
 * @param {number} epoch
 */
export function haveMessage(via, epoch) {
  return { type: HAVE, via, epoch };
}

/**
 * Whether a data channel message is a peer's word about the switch of
 * this epoch (a word of an earlier switch is stale).
 * @param {any} msg
 * @param {number} epoch
 * @returns {boolean}
 */
export function isCurrentHave(msg, epoch) {
  return !!msg && msg.type === HAVE && msg.epoch === epoch;
}

/**
 * SFU to mesh: who still needs what I publish to the SFU, because they were
 * here when the switch began (newcomers never used the SFU) and have not
 * said they show me from the mesh. Nobody, when I publish nothing.
 * @param {{publishes: boolean, others: Iterable<string>, switchFrom: Set<string>, theyHave: Set<string>}} s
 * @returns {string[]}
 */
export function stillNeedSFU(s) {
  if (!s.publishes) return [];
  return [...s.others].filter((id) => s.switchFrom.has(id) && !s.theyHave.has(id));
}

/**
 * How long after a switch ends the old topology waits before closing what
 * nobody confirmed: until every page has switched (each switches everyone
 * after SWITCH_LIMIT_MS), and LINGER_MS more for their word.
 * @param {number} startedAt performance.now() of the mode message
 * @param {number} now
 * @returns {number} milliseconds, never negative
 */
export function lingerDelay(startedAt, now) {
  return Math.max(0, startedAt + SWITCH_LIMIT_MS + LINGER_MS - now);
}

/**
 * Whether the SFU connections should be replaced: the path to the server
 * broke for good (ICE gave up), and the last restart is not too recent.
 * @param {string} state the SFU connections' state
 * @param {number} now
 * @param {number} lastRestart performance.now() of the last restart, -Infinity if none
 * @returns {boolean}
 */
export function shouldRestartSFU(state, now, lastRestart) {
  return state === 'failed' && now - lastRestart > SFU_RESTART_MIN_MS;
}

/**
 * Who offers when the mesh is built again after the SFU: everyone rebuilds
 * at once, so nobody is a newcomer, and of each pair the smaller id offers.
 * @param {string} selfId
 * @param {string} otherId
 * @returns {boolean}
 */
export function offersOnReturn(selfId, otherId) {
  return selfId < otherId;
}
