// @ts-check
// The topology of a call: the mesh, the SFU client, or both during a
// switch, and which one each remote tile shows.
//
// The server decides the mode and announces it with an epoch (welcome,
// then `mode`). A switch is make before break (handover.js): the new
// topology starts while the old one keeps carrying media; each tile moves
// to the new topology once it has delivered that participant's video (or,
// after SWITCH_TIMEOUT_MS, once the old one no longer does; after
// SWITCH_LIMIT_MS in any case); the old topology closes only when it is no
// longer needed on either end:
//   mesh -> SFU  the connection to X closes once I show X from the SFU and
//                X told me (on the pair's data channel) it shows me from
//                the SFU;
//   SFU -> mesh  my SFU connections close (sfu-close) once I show everyone
//                from the mesh and everyone told me they show me from it.
// Whatever a silent peer never confirms closes SWITCH_LIMIT_MS +
// LINGER_MS after the mode message, when every page has switched anyway.
//
// The roster stays with the call (call.js): this module reads it and is
// told when it changes.

import {
  Handover,
  SWITCH_LIMIT_MS,
  SWITCH_TIMEOUT_MS,
  haveMessage,
  isCurrentHave,
  lingerDelay,
  neededTracks,
  nextLook,
  FLOWING_POLLS,
  offersOnReturn,
  stalled,
  shouldRestartSFU,
  stillNeedSFU,
} from './handover.js';
import { Mesh } from './mesh.js';
import { MessageType, Mode, Role, Source } from './protocol.js';
import { SFUClient, trackProgress } from './sfu.js';
import { RemoteStreams } from './streams.js';
import { setModeIndicator } from './ui.js';

/** @typedef {import('./protocol.js').Participant} Participant */
/** @typedef {import('./handover.js').Tracks} Tracks */
/** @typedef {import('./handover.js').Topology} Topology */
/** @typedef {import('./handover.js').FrameLook} FrameLook */

/**
 * @typedef {Object} TopologyParams
 * @property {import('./tiles.js').VideoGrid} grid the remote tiles
 * @property {import('./media.js').LocalMedia} media what this tab may send
 * @property {() => Map<string, Participant>} others the other participants, by id
 * @property {() => string} selfId my participant id ('' before the welcome)
 * @property {() => boolean} canPublish whether this tab may send media now
 * @property {(msg: import('./protocol.js').ClientMessage) => void} send
 */

export class TopologyController {
  /** @param {TopologyParams} params */
  constructor(params) {
    this.grid = params.grid;
    this.media = params.media;
    this.others = params.others;
    this.selfId = params.selfId;
    this.canPublish = params.canPublish;
    this.send = params.send;

    this.mode = '';
    this.epoch = 0;
    /** @type {import('./protocol.js').ICEServer[]} */
    this.iceServers = [];
    /** @type {Mesh|null} */
    this.mesh = null;
    /** @type {SFUClient|null} */
    this.sfu = null;
    /** The current switch: who I show from the new topology, who shows me from it. */
    /** @type {Set<string>} */
    this.swapped = new Set();
    /** @type {Set<string>} */
    this.theyHave = new Set();
    /** Who was here when the switch began (newcomers never used the old topology). */
    /** @type {Set<string>} */
    this.switchFrom = new Set();
    /** Frames decoded of each track of the new topology, and for how many looks they grew. */
    /** @type {WeakMap<MediaStreamTrack, FrameLook>} */
    this.flow = new WeakMap();
    this.switchDone = false;
    this.lingerTimer = 0;
    /** performance.now() of the last mode change, and of the end of its switch. */
    this.switchStartedAt = 0;
    this.switchEndedAt = 0;
    /** performance.now() of the closing of the old topology. */
    this.oldClosedAt = 0;
    /** performance.now() of each participant's swap in the last switch. */
    /** @type {Map<string, number>} */
    this.swapTimes = new Map();
    this.sfuRestartedAt = -Infinity;

    this.handover = new Handover((id, tracks) => this.showTracks(id, tracks));
    // The mesh's tracks, sorted into camera, screen and microphone.
    this.remote = new RemoteStreams((id, a) => this.handover.set('mesh', id, a));
    this.grid.setConnectionLookup((id) => this.mediaConnection(id));
  }

  /**
   * The welcome's topology: its epoch, ICE servers and mode, started
   * without a switch. The roster is in place by then.
   * @param {import('./protocol.js').Welcome} msg
   */
  welcome(msg) {
    this.epoch = msg.epoch;
    this.iceServers = msg.iceServers || [];
    this.setMode(msg.mode);
    this.handover.reset(msg.mode === Mode.SFU ? 'sfu' : 'mesh');
    if (msg.mode === Mode.SFU) {
      // Straight into the SFU: nobody here has a mesh with me.
      this.startSFU();
    } else {
      // I am the newcomer to everyone in welcome: I make the first offers.
      this.startMesh(() => true);
    }
  }

  /**
   * Applies the room's mode (from welcome or a `mode` message): the
   * data-mode hook and the badge always follow the server.
   * @param {string} mode
   */
  setMode(mode) {
    this.mode = mode;
    setModeIndicator(mode);
  }

  /** @param {import('./protocol.js').ModeMessage} msg */
  modeChanged(msg) {
    // Epochs only grow; an older or repeated announcement is stale.
    if (msg.epoch <= this.epoch) return;
    this.epoch = msg.epoch;
    this.mesh?.setEpoch(msg.epoch);
    this.sfu?.setEpoch(msg.epoch);
    this.switchTo(msg.mode);
  }

  /**
   * Someone joined (already in the roster).
   * @param {string} id
   */
  joined(id) {
    // The newcomer offers first; this side answers (see mesh.js). In
    // SFU mode the newcomer has no mesh: the SFU brings its media.
    if (this.mode === Mode.MESH) this.mesh?.addPeer(id, { initiator: false });
  }

  /** @param {import('./protocol.js').Signal} msg */
  handleSignal(msg) {
    this.mesh?.handleSignal(msg);
  }

  /** @param {import('./protocol.js').SFUMessage} msg */
  handleSFU(msg) {
    this.sfu?.handle(msg);
  }

  /**
   * A participant of the roster is new or changed: its stream ids, and
   * its tile's tracks.
   * @param {Participant} p the roster's copy
   */
  participantChanged(p) {
    this.remote.setParticipant(p);
    this.handover.refresh(p.id);
  }

  /**
   * A participant's media state changed (a `media` message).
   * @param {Participant} p the roster's copy, already updated
   * @param {string} source
   * @param {string} [streamId]
   */
  mediaChanged(p, source, streamId) {
    this.remote.noteMedia(p.id, source, p.media, streamId);
    this.handover.refresh(p.id);
  }

  /**
   * A participant left the roster.
   * @param {string} id
   */
  removeParticipant(id) {
    this.mesh?.removePeer(id);
    this.remote.removeParticipant(id);
    this.handover.forget(id);
    this.swapped.delete(id);
    this.theyHave.delete(id);
    // One fewer to wait for.
    if (this.mode === Mode.MESH) this.releaseSFU();
  }

  /**
   * The connection state to show on a participant's tile: that of the
   * topology it is shown from.
   * @param {string} id
   * @returns {string}
   */
  tileState(id) {
    return this.connectionState(this.handover.activeOf(id), id);
  }

  /**
   * The connection that brings a participant's media to this page, for the
   * connection view on its tile: that of the topology the tile shows, so
   * that the view describes what one sees; during a switch, the other one
   * while the shown one does not exist (yet, or any more).
   * @param {string} id
   * @returns {import('./connection.js').MediaConnection|null}
   */
  mediaConnection(id) {
    const sfu = this.sfu ? { pc: this.sfu.sub, server: true } : null;
    const peer = this.mesh?.connection(id);
    const mesh = peer ? { pc: peer, server: false } : null;
    return this.handover.activeOf(id) === 'sfu' ? sfu || mesh : mesh || sfu;
  }

  // --- local tracks, into every running topology ----------------------------

  /**
   * @param {MediaStreamTrack} track
   * @param {MediaStream} stream
   * @param {'camera'|'microphone'|'screen'} source
   */
  addTrack(track, stream, source) {
    this.mesh?.addTrack(track, stream);
    this.sfu?.addTrack(track, stream, source);
  }

  /** @param {MediaStreamTrack} track */
  removeTrack(track) {
    this.mesh?.removeTrack(track);
    this.sfu?.removeTrack(track);
  }

  /**
   * Puts another track in the senders of one, without renegotiating.
   * @param {MediaStreamTrack} oldTrack
   * @param {MediaStreamTrack} track
   * @returns {Promise<unknown>[]} one per running topology
   */
  replaceTrack(oldTrack, track) {
    const pending = [];
    if (this.mesh) pending.push(this.mesh.replaceTrack(oldTrack, track));
    if (this.sfu) pending.push(this.sfu.replaceTrack(oldTrack, track));
    return pending;
  }

  // --- starting, switching, closing -------------------------------------------

  /**
   * Starts the mesh if it is not running, and connects to every other
   * participant that has no connection yet.
   * @param {(otherId: string) => boolean} initiator whether I make the first offer
   */
  startMesh(initiator) {
    if (!this.mesh) {
      this.mesh = new Mesh({
        selfId: this.selfId(),
        epoch: this.epoch,
        iceServers: this.iceServers,
        send: (m) => this.send(m),
        localTracks: () => (this.canPublish() ? this.media.tracks() : []),
        onTrack: (id, track, stream) => this.remote.addTrack(id, track, stream),
        onPeerState: (id, state) => {
          if (this.handover.activeOf(id) === 'mesh') this.grid.get(id)?.setConnectionState(state);
        },
        onMessage: (id, msg) => this.peerMessage(id, msg),
      });
      // The stream ids that tell camera from screen, after a clear.
      for (const p of this.others().values()) this.remote.setParticipant(p);
    }
    for (const p of this.others().values()) {
      this.mesh.addPeer(p.id, { initiator: initiator(p.id), expectMedia: p.role !== Role.SPECTATOR });
    }
  }

  /** Starts the SFU client if it is not running, and publishes. */
  startSFU() {
    if (this.sfu) return;
    this.sfu = new SFUClient({
      epoch: this.epoch,
      iceServers: this.iceServers,
      send: (m) => this.send(m),
      localTracks: () => (this.canPublish() ? this.media.tracks() : []),
      onTracks: (id, tracks) => this.handover.set('sfu', id, tracks),
      onState: (state) => {
        for (const id of this.others().keys()) {
          if (this.handover.activeOf(id) === 'sfu') this.grid.get(id)?.setConnectionState(state);
        }
        // The path to the server broke for good (ICE gave up): new
        // connections, which gather and check candidates afresh, at most
        // once every few seconds.
        const now = performance.now();
        if (shouldRestartSFU(state, now, this.sfuRestartedAt)) {
          this.sfuRestartedAt = now;
          this.restartSFU();
        }
      },
    });
    this.sfu.start();
  }

  /**
   * A `mode` message of a newer epoch: switch make before break.
   * @param {string} mode
   */
  switchTo(mode) {
    this.setMode(mode);
    clearTimeout(this.lingerTimer);
    this.swapped.clear();
    this.theyHave.clear();
    this.switchFrom = new Set(this.others().keys());
    this.flow = new WeakMap();
    this.switchDone = false;
    this.switchStartedAt = performance.now();
    this.switchEndedAt = 0;
    this.oldClosedAt = 0;
    this.swapTimes.clear();
    const epoch = this.epoch;
    /** @type {Topology} */
    const to = mode === Mode.SFU ? 'sfu' : 'mesh';
    if (to === 'sfu') {
      // The server gives everyone fresh SFU connections on every switch to
      // the SFU, so whatever is left of the last SFU period goes first.
      this.dropSFU();
      this.startSFU();
    } else {
      const selfId = this.selfId();
      this.startMesh((id) => offersOnReturn(selfId, id));
    }
    this.handover.begin(
      {
        to,
        timeoutMs: SWITCH_TIMEOUT_MS,
        limitMs: SWITCH_LIMIT_MS,
        participants: () => [...this.others().keys()],
        ready: (id, tracks) => this.delivers(to, id, tracks),
        holds: (id, tracks) => this.stillDelivers(to === 'sfu' ? 'mesh' : 'sfu', id, tracks),
        onSwapped: (id) => {
          if (epoch !== this.epoch) return;
          this.swapped.add(id);
          this.swapTimes.set(id, performance.now());
          this.grid.get(id)?.setConnectionState(this.connectionState(to, id));
          this.mesh?.sendTo(id, haveMessage(to, epoch));
          if (to === 'sfu') this.releaseMeshPeer(id);
        },
        onDone: () => {
          if (epoch !== this.epoch) return;
          this.switchDone = true;
          this.switchEndedAt = performance.now();
          if (to === 'sfu') this.releaseMesh();
          else this.releaseSFU();
          // Whatever nobody confirmed closes when every page has switched.
          const wait = lingerDelay(this.switchStartedAt, performance.now());
          this.lingerTimer = window.setTimeout(() => {
            if (epoch !== this.epoch) return;
            if (to === 'sfu') this.closeMesh();
            else this.closeSFU();
          }, wait);
        },
      },
      [...this.others().keys()],
    );
  }

  /**
   * Whether a topology delivers a participant's media (neededTracks).
   * @param {Topology} to
   * @param {string} id
   * @param {Tracks} tracks
   * @returns {Promise<boolean>}
   */
  async delivers(to, id, tracks) {
    const p = this.others().get(id);
    if (!p) return true;
    const pc = to === 'sfu' ? this.sfu?.sub : this.mesh?.connection(id);
    if (!pc) return false;
    const needed = neededTracks(p.media || {}, tracks, !this.grid.get(id)?.paused);
    const ok = await Promise.all(needed.map((track) => (track ? this.flowing(pc, track) : false)));
    return ok.every(Boolean);
  }

  /**
   * Whether a topology a participant is shown from still delivers its
   * media: no needed track has stalled (nextLook). Nothing to deliver, or
   * no connection left, holds nobody.
   * @param {Topology} from
   * @param {string} id
   * @param {Tracks} tracks
   * @returns {Promise<boolean>}
   */
  async stillDelivers(from, id, tracks) {
    const p = this.others().get(id);
    const pc = from === 'sfu' ? this.sfu?.sub : this.mesh?.connection(id);
    if (!p || !pc) return false;
    const needed = neededTracks(p.media || {}, tracks);
    if (needed.length === 0 || needed.includes(null)) return false;
    const looks = await Promise.all(
      needed.map(async (track) => {
        const t = /** @type {MediaStreamTrack} */ (track);
        const seen = nextLook(this.flow.get(t), await trackProgress(pc, t));
        this.flow.set(t, seen);
        return !stalled(seen);
      }),
    );
    return looks.every(Boolean);
  }

  /**
   * Whether a received track flows: audio packets have arrived, or video
   * frames were decoded at each of the last FLOWING_POLLS looks (nextLook).
   * @param {RTCPeerConnection} pc
   * @param {MediaStreamTrack} track
   * @returns {Promise<boolean>}
   */
  async flowing(pc, track) {
    const n = await trackProgress(pc, track);
    if (track.kind !== 'video') return n > 0;
    const seen = nextLook(this.flow.get(track), n);
    this.flow.set(track, seen);
    return seen.streak >= FLOWING_POLLS;
  }

  /**
   * A local track's sender on a mesh connection, to read its stats; null
   * outside mesh mode.
   * @param {MediaStreamTrack} track
   * @returns {RTCRtpSender|null}
   */
  meshSender(track) {
    return this.mesh?.senderOf(track) || null;
  }

  /**
   * The state to show on a participant's tile for a topology.
   * @param {Topology} topology
   * @param {string} id
   * @returns {string}
   */
  connectionState(topology, id) {
    if (topology === 'sfu') return this.sfu?.sub.connectionState || 'new';
    return this.mesh?.connection(id)?.connectionState || 'new';
  }

  /**
   * A message from a peer's page on our mesh data channel.
   * @param {string} id
   * @param {any} msg
   */
  peerMessage(id, msg) {
    if (!isCurrentHave(msg, this.epoch)) return;
    this.theyHave.add(id);
    if (msg.via === 'sfu') this.releaseMeshPeer(id);
    else if (msg.via === 'mesh' && this.switchDone) this.releaseSFU();
  }

  /**
   * Mesh to SFU: the connection to a participant closes once both ends
   * show each other from the SFU.
   * @param {string} id
   */
  releaseMeshPeer(id) {
    if (this.mode !== Mode.SFU || !this.mesh || !this.swapped.has(id) || !this.theyHave.has(id)) return;
    if (!this.mesh.peers.has(id)) return;
    this.mesh.removePeer(id);
    if (this.switchDone && this.mesh.peers.size === 0) this.closeMesh();
  }

  /** Mesh to SFU, my side done: close the mesh once no connection is left. */
  releaseMesh() {
    if (!this.mesh) return;
    for (const id of this.swapped) this.releaseMeshPeer(id);
    if (this.mesh && this.mesh.peers.size === 0) this.closeMesh();
  }

  /**
   * SFU to mesh, my side done: my SFU connections close once everyone
   * shows me from the mesh (nobody needs what I publish to the SFU).
   */
  releaseSFU() {
    if (!this.sfu || !this.switchDone) return;
    const needMe = stillNeedSFU({ publishes: this.canPublish(), others: this.others().keys(), switchFrom: this.switchFrom, theyHave: this.theyHave });
    if (needMe.length === 0) this.closeSFU();
  }

  closeMesh() {
    if (this.mode !== Mode.SFU || !this.mesh) return;
    this.mesh.close();
    this.mesh = null;
    this.remote.clear();
    this.handover.drop('mesh');
    this.oldClosedAt = performance.now();
  }

  closeSFU() {
    if (this.mode !== Mode.MESH || !this.sfu) return;
    this.sfu.close();
    this.sfu = null;
    this.handover.drop('sfu');
    this.oldClosedAt = performance.now();
    this.send({ type: MessageType.SFU_CLOSE, epoch: this.epoch });
  }

  /**
   * Closes SFU connections left from an earlier SFU period without telling
   * the server, which has replaced them already. Anyone still shown from
   * them moves back to the mesh first.
   */
  dropSFU() {
    if (!this.sfu) return;
    for (const id of this.others().keys()) {
      if (this.handover.activeOf(id) === 'sfu') this.handover.swap(id, 'mesh');
    }
    this.sfu.close();
    this.sfu = null;
    this.handover.drop('sfu');
  }

  /**
   * Replaces the SFU connections with fresh ones (sfu-close of the
   * current epoch gives this participant a fresh peer on the server).
   */
  restartSFU() {
    if (this.mode !== Mode.SFU || !this.sfu) return;
    this.sfu.close();
    this.sfu = null;
    this.handover.drop('sfu');
    this.send({ type: MessageType.SFU_CLOSE, epoch: this.epoch });
    this.startSFU();
  }

  /**
   * Puts a participant's tracks of the topology it is shown from on its
   * tile. A screen shows only while it is published.
   * @param {string} id
   * @param {Tracks} tracks
   */
  showTracks(id, tracks) {
    const tile = this.grid.get(id);
    if (!tile) return;
    const p = this.others().get(id);
    tile.setCamera(tracks.camera);
    tile.setScreen(p && Source.SCREEN in (p.media || {}) ? tracks.screen : null);
    tile.setAudio(tracks.audio);
    this.grid.layout();
  }

  /** Drops every connection and switch (a reconnect's welcome, or the end). */
  reset() {
    this.handover.reset('mesh');
    clearTimeout(this.lingerTimer);
    this.swapped.clear();
    this.theyHave.clear();
    this.mesh?.close();
    this.mesh = null;
    this.sfu?.close();
    this.sfu = null;
    this.mode = '';
    this.remote.clear();
  }

  /** @returns {Object<string, Object>} */
  peerStates() {
    return this.mesh ? this.mesh.states() : {};
  }

  /**
   * The switch as this page sees it, for tests and debugging.
   * @returns {Object}
   */
  switchState() {
    /** @type {Object<string, string>} */
    const shownFrom = {};
    for (const id of this.others().keys()) shownFrom[id] = this.handover.activeOf(id);
    return {
      mode: this.mode,
      epoch: this.epoch,
      switching: this.handover.switching,
      startedAt: this.switchStartedAt,
      endedAt: this.switchEndedAt,
      closedAt: this.oldClosedAt,
      shownFrom,
      swaps: Object.fromEntries(this.swapTimes),
      mesh: this.mesh ? this.mesh.states() : null,
      sfu: this.sfu ? this.sfu.states() : null,
    };
  }
}
