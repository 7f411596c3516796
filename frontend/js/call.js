// @ts-check
// A call: one stay in a room, from join to leave. It owns the WebSocket,
// the topology (mesh or SFU, and both during a switch), the participants
// and the tiles, and handles every server message in one switch.
//
// The server decides the mode and announces it with an epoch (welcome,
// then `mode`). A switch is make before break (handover.js): the new
// topology starts while the old one keeps carrying media; each tile moves
// to the new topology once it has delivered that participant's video (or
// after SWITCH_TIMEOUT_MS); the old topology closes only when it is no
// longer needed on either end:
//   mesh -> SFU  the connection to X closes once I show X from the SFU and
//                X told me (on the pair's data channel) it shows me from
//                the SFU;
//   SFU -> mesh  my SFU connections close (sfu-close) once I show everyone
//                from the mesh and everyone told me they show me from it.
// Whatever a silent peer never confirms closes SWITCH_TIMEOUT_MS +
// LINGER_MS after the mode message, when every page has switched anyway.
//
// A dropped socket resumes (signaling.js): the server replays what this page
// missed and the peer connections, which never needed the socket, carry on.
// A welcome on a reconnect (the server restarted, or could not replay) is a
// fresh start: the call drops every peer connection and tile and rebuilds
// them from it, keeping only the local camera, microphone and screen.

import { getRoom, rememberName, setMyName } from './api.js';
import { errorText, t } from './i18n.js';
import { LocalMedia } from './media.js';
import { Handover } from './handover.js';
import { Mesh } from './mesh.js';
import { Moderation } from './moderation.js';
import { applyMediaAction, leaveMessage, mayPublish, mediaMessage, stageSetMessage } from './messages.js';
import {
  Action,
  CloseCode,
  Connection,
  ErrorCode,
  LeaveReason,
  MessageType,
  Mode,
  Role,
  RoomStatus,
  Source,
  TrackState,
} from './protocol.js';
import { SFUClient, trackProgress } from './sfu.js';
import { Signaling } from './signaling.js';
import { RemoteStreams } from './streams.js';
import { VideoGrid } from './tiles.js';
import { PeopleList } from './people.js';
import { RenameDialog } from './rename.js';
import { Stage } from './stage.js';
import { toast } from './toast.js';
import { setConnection, setControl, setModeIndicator, setRoomName } from './ui.js';

/** @typedef {import('./protocol.js').Participant} Participant */
/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */
/** @typedef {import('./handover.js').Tracks} Tracks */
/** @typedef {import('./handover.js').Topology} Topology */

/** A switch shows everyone from the new topology after this, ready or not. */
const SWITCH_TIMEOUT_MS = 5000;
/** How many looks in a row (100 ms apart) must find new frames of a video. */
const FLOWING_POLLS = 3;
/** How long after that the old topology waits for the others' word. */
const LINGER_MS = 1500;
/** The shortest time between two restarts of failed SFU connections. */
const SFU_RESTART_MIN_MS = 5000;
/** The message on a mesh pair's data channel: "I show you from `via`". */
const HAVE = 'have';

/**
 * Why a call ended without the user leaving.
 * @typedef {'missing'|'ended'|'invalid_name'|'refused'|'removed'} EndReason
 */

/**
 * @typedef {Object} CallParams
 * @property {string} roomId
 * @property {LocalMedia} media
 * @property {(reason: EndReason, message: string) => void} onEnd
 */

export class Call {
  /** @param {CallParams} params */
  constructor(params) {
    this.roomId = params.roomId;
    this.media = params.media;
    this.onEnd = params.onEnd;

    this.selfId = '';
    /** @type {Participant|null} */
    this.self = null;
    this.mode = '';
    this.epoch = 0;
    /** @type {import('./protocol.js').ICEServer[]} */
    this.iceServers = [];
    /** The others, by participant id. */
    /** @type {Map<string, Participant>} */
    this.others = new Map();
    this.name = '';
    this.spectator = false;
    /** @type {Signaling|null} */
    this.signaling = null;
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
    /** @type {WeakMap<MediaStreamTrack, {frames: number, streak: number}>} */
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
    this.soundBlockedShown = false;
    this.sfuRestartedAt = -Infinity;
    this.reconnectToast = /** @type {(() => void)|null} */ (null);

    this.grid = new VideoGrid(/** @type {HTMLElement} */ (document.getElementById('grid')), () => this.soundBlocked());
    this.people = new PeopleList(
      /** @type {HTMLElement} */ (document.getElementById('participant-list')),
      /** @type {HTMLElement[]} */ ([...document.querySelectorAll('.people-count')]),
      {
        stage: (id, on) => this.send(stageSetMessage(on, id)),
        mute: (id) => this.send({ type: MessageType.MUTE_REQUEST, id }),
        makeOwner: (id) => {
          const p = this.others.get(id);
          if (p && window.confirm(t('call.confirmMakeOwner', { name: p.name }))) {
            this.send({ type: MessageType.OWNER_SET, id });
          }
        },
        remove: (id) => {
          const p = this.others.get(id);
          if (p && window.confirm(t('call.confirmRemove', { name: p.name }))) this.send({ type: MessageType.REMOVE, id });
        },
        rename: () => this.renameDialog.open(this.self ? this.self.name : this.name),
      },
    );
    // Renaming myself (rename.js): the server's participant-updated answers.
    this.renameDialog = new RenameDialog({
      send: (m) => !!this.signaling?.send(m),
      onRenamed: (name) => {
        toast(t('room.renameDone', { name }), 'success');
        // The next join, here or on the pre-join screen, uses it too.
        rememberName(name);
        setMyName(name).catch(() => {});
      },
    });
    // The owner's mute-all and lower-hands (moderation.js).
    this.moderation = new Moderation({ send: (m) => !!this.signaling?.send(m) });
    this.stage = new Stage({
      grid: this.grid,
      send: (m) => this.send(m),
      onEndRoom: () => this.send({ type: MessageType.END_ROOM }),
    });
    /** Whether this tab may send media (mayPublish), as of the last check. */
    this.publishing = false;
    /** My hand went up and I have not lowered it: its answer is news. */
    this.handAsked = false;
    this.handover = new Handover((id, tracks) => this.showTracks(id, tracks));
    // The mesh's tracks, sorted into camera, screen and microphone.
    this.remote = new RemoteStreams((id, a) => this.handover.set('mesh', id, a));

    this.media.addEventListener('screenended', () => this.stopScreen());
    this.media.addEventListener('trackended', (e) => {
      const { source, track } = /** @type {CustomEvent} */ (e).detail;
      this.mesh?.removeTrack(track);
      this.sfu?.removeTrack(track);
      this.announce(source, Action.UNPUBLISHED);
      toast(source === Source.CAMERA ? t('call.cameraStopped') : t('call.micStopped'), 'error');
    });
    this.media.addEventListener('replaced', (e) => this.deviceReplaced(/** @type {CustomEvent} */ (e).detail));
  }

  /**
   * Opens the socket. The room view is showing by then.
   * @param {{name: string, spectator: boolean}} opts
   */
  join(opts) {
    this.name = opts.name;
    this.spectator = opts.spectator;
    if (this.spectator) this.media.stopAll(); // receive-only: never send a track
    this.updateControls();
    this.signaling = new Signaling({
      roomId: this.roomId,
      name: opts.name,
      spectator: opts.spectator,
      onMessage: (msg) => this.handle(msg),
      onState: (state) => this.connectionChanged(state),
      onRetry: (attempt) => this.checkRoom(attempt),
      onFinalClose: (code) => {
        if (!this.signaling) return; // already handled through an error message
        this.finish(code === CloseCode.ROOM_ENDED ? 'ended' : 'missing', '');
      },
    });
    this.signaling.connect();
  }

  /** Leaves on purpose: tells the server, closes everything. */
  leave() {
    this.signaling?.stop(leaveMessage());
    this.signaling = null;
    this.teardown();
    this.media.stopAll();
  }

  /**
   * Sends a message if connected.
   * @param {import('./protocol.js').ClientMessage} msg
   */
  send(msg) {
    this.signaling?.send(msg);
  }

  /** @param {ServerMessage} msg */
  handle(msg) {
    switch (msg.type) {
      case MessageType.WELCOME:
        this.welcome(msg);
        break;
      case MessageType.RESUMED:
        this.resumed(msg);
        break;
      case MessageType.PARTICIPANT_JOINED:
        this.addOther(msg.participant);
        // The newcomer offers first; this side answers (see mesh.js). In
        // SFU mode the newcomer has no mesh: the SFU brings its media.
        if (this.mode === Mode.MESH) this.mesh?.addPeer(msg.participant.id, { initiator: false });
        this.renderPeople();
        // Shown, not read out: a11y.js announces joins, coalesced.
        toast(t('call.joined', { name: msg.participant.name }), 'info', { quiet: true });
        break;
      case MessageType.PARTICIPANT_LEFT: {
        if (msg.id === this.selfId && msg.reason === LeaveReason.REMOVED) {
          // The socket closes next; stop before it would reconnect.
          this.finish('removed', t('call.removedYou'));
          break;
        }
        const gone = this.others.get(msg.id);
        this.removeOther(msg.id);
        if (gone && msg.reason !== LeaveReason.ENDED) {
          toast(msg.reason === LeaveReason.DISCONNECTED ? t('call.lostConnection', { name: gone.name }) : t('call.left', { name: gone.name }), 'info', { quiet: true });
        }
        break;
      }
      case MessageType.PARTICIPANT_UPDATED:
        this.updated(msg.participant);
        break;
      case MessageType.MEDIA:
        this.remoteMedia(msg);
        break;
      case MessageType.SIGNAL:
        this.mesh?.handleSignal(msg);
        break;
      case MessageType.SFU:
        this.sfu?.handle(msg);
        break;
      case MessageType.MODE:
        // Epochs only grow; an older or repeated announcement is stale.
        if (msg.epoch <= this.epoch) break;
        this.epoch = msg.epoch;
        this.mesh?.setEpoch(msg.epoch);
        this.sfu?.setEpoch(msg.epoch);
        this.switchTo(msg.mode);
        break;
      case MessageType.ROOM_ENDED:
        setRoomName(msg.room.name);
        this.finish('ended', '');
        break;
      case MessageType.ERROR:
        this.error(msg);
        break;
      case MessageType.STAGE:
        this.stageChanged(msg);
        break;
      case MessageType.ROOM_UPDATED:
        this.roomUpdated(msg.room);
        break;
      case MessageType.MUTE_REQUEST:
        this.muteRequested(msg);
        break;
      default:
        // Newer servers may send types this page does not know yet.
        console.debug('call: ignored message type', /** @type {any} */ (msg).type);
    }
  }

  /** @param {import('./protocol.js').Welcome} msg */
  welcome(msg) {
    this.reset(); // a reconnect starts over with a new id
    this.selfId = msg.self.id;
    this.self = { ...msg.self, media: {} };
    this.epoch = msg.epoch;
    this.iceServers = msg.iceServers || [];
    setRoomName(msg.room.name);
    this.stage.setSelf(this.self);
    this.stage.setRoom(msg.room);
    this.stage.setStage(msg.room.stage || [], msg.hands || []);
    this.publishing = this.canPublish();
    // Receive-only here (a spectator, or off the stage of a classroom):
    // whatever the page opened before is not sent.
    if (!this.publishing) this.media.stopAll();
    this.announceAll();
    this.grid.upsert(this.self, true);
    this.refreshLocal();
    for (const p of msg.participants || []) this.addOther(p);
    this.setMode(msg.mode);
    this.handover.reset(msg.mode === Mode.SFU ? 'sfu' : 'mesh');
    if (msg.mode === Mode.SFU) {
      // Straight into the SFU: nobody here has a mesh with me.
      this.startSFU();
    } else {
      // I am the newcomer to everyone in welcome: I make the first offers.
      this.startMesh(() => true);
    }
    this.renderPeople();
    this.publishOnStage();
  }

  /**
   * My socket dropped and came back as the same participant: the server
   * replays what I missed after this, and my peer connections never
   * depended on the socket. Only media changes I made while offline can be
   * news to the server: send the difference.
   * @param {import('./protocol.js').Resumed} msg
   */
  resumed(msg) {
    if (!this.self || msg.self.id !== this.selfId) return;
    if (!this.canPublish()) return;
    const known = msg.self.media || {};
    const live = new Map(this.media.tracks().map(({ source, track }) => [source, track]));
    for (const source of Object.keys(known)) {
      if (!live.has(/** @type {any} */ (source))) this.announce(/** @type {any} */ (source), Action.UNPUBLISHED);
    }
    for (const [source, track] of live) {
      const want = source === Source.SCREEN || track.enabled ? TrackState.LIVE : TrackState.PAUSED;
      if (!known[source]) this.announce(source, Action.PUBLISHED);
      if (known[source] !== want && want === TrackState.PAUSED) this.announce(source, Action.PAUSED);
      if (known[source] === TrackState.PAUSED && want === TrackState.LIVE) this.announce(source, Action.RESUMED);
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

  // --- topologies and the switch ------------------------------------------

  /**
   * Starts the mesh if it is not running, and connects to every other
   * participant that has no connection yet.
   * @param {(otherId: string) => boolean} initiator whether I make the first offer
   */
  startMesh(initiator) {
    if (!this.mesh) {
      this.mesh = new Mesh({
        selfId: this.selfId,
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
      for (const p of this.others.values()) this.remote.setParticipant(p);
    }
    for (const p of this.others.values()) {
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
        for (const id of this.others.keys()) {
          if (this.handover.activeOf(id) === 'sfu') this.grid.get(id)?.setConnectionState(state);
        }
        // The path to the server broke for good (ICE gave up): new
        // connections, which gather and check candidates afresh, at most
        // once every few seconds.
        if (state === 'failed' && performance.now() - this.sfuRestartedAt > SFU_RESTART_MIN_MS) {
          this.sfuRestartedAt = performance.now();
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
    this.switchFrom = new Set(this.others.keys());
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
      // Everyone builds the mesh again at once, so nobody is a newcomer:
      // of each pair, the smaller id offers.
      this.startMesh((id) => this.selfId < id);
    }
    this.handover.begin(
      {
        to,
        timeoutMs: SWITCH_TIMEOUT_MS,
        participants: () => [...this.others.keys()],
        ready: (id, tracks) => this.delivers(to, id, tracks),
        onSwapped: (id) => {
          if (epoch !== this.epoch) return;
          this.swapped.add(id);
          this.swapTimes.set(id, performance.now());
          this.grid.get(id)?.setConnectionState(this.connectionState(to, id));
          this.mesh?.sendTo(id, { type: HAVE, via: to, epoch });
          if (to === 'sfu') this.releaseMeshPeer(id);
        },
        onDone: () => {
          if (epoch !== this.epoch) return;
          this.switchDone = true;
          this.switchEndedAt = performance.now();
          if (to === 'sfu') this.releaseMesh();
          else this.releaseSFU();
          // Whatever nobody confirmed closes when every page has switched.
          const wait = Math.max(0, this.switchStartedAt + SWITCH_TIMEOUT_MS + LINGER_MS - performance.now());
          this.lingerTimer = window.setTimeout(() => {
            if (epoch !== this.epoch) return;
            if (to === 'sfu') this.closeMesh();
            else this.closeSFU();
          }, wait);
        },
      },
      [...this.others.keys()],
    );
  }

  /**
   * Whether a topology delivers a participant's media: each live video it
   * publishes (camera, screen) decodes frames steadily, or, with no live
   * video, its live microphone's packets arrive. Someone with nothing live
   * is ready at once (the SFU forwards nothing paused).
   * @param {Topology} to
   * @param {string} id
   * @param {Tracks} tracks
   * @returns {Promise<boolean>}
   */
  async delivers(to, id, tracks) {
    const p = this.others.get(id);
    if (!p) return true;
    const pc = to === 'sfu' ? this.sfu?.sub : this.mesh?.connection(id);
    if (!pc) return false;
    const media = p.media || {};
    /** @type {(MediaStreamTrack|null)[]} */
    const needed = [];
    if (media[Source.CAMERA] === TrackState.LIVE) needed.push(tracks.camera);
    if (media[Source.SCREEN] === TrackState.LIVE) needed.push(tracks.screen);
    if (needed.length === 0 && media[Source.MICROPHONE] === TrackState.LIVE) needed.push(tracks.audio);
    const ok = await Promise.all(needed.map((track) => (track ? this.flowing(pc, track) : false)));
    return ok.every(Boolean);
  }

  /**
   * Whether a received track flows: audio packets have arrived, or video
   * frames were decoded at each of the last FLOWING_POLLS looks. One frame
   * is not enough: a new sender starts slowly (a keyframe, then a low
   * bitrate), and a tile swapped to it at once would show a freeze.
   * @param {RTCPeerConnection} pc
   * @param {MediaStreamTrack} track
   * @returns {Promise<boolean>}
   */
  async flowing(pc, track) {
    const n = await trackProgress(pc, track);
    if (track.kind !== 'video') return n > 0;
    const seen = this.flow.get(track) || { frames: 0, streak: 0 };
    seen.streak = n > seen.frames ? seen.streak + 1 : 0;
    seen.frames = n;
    this.flow.set(track, seen);
    return seen.streak >= FLOWING_POLLS;
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
    if (!msg || msg.type !== HAVE || msg.epoch !== this.epoch) return;
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
    const needMe = !this.canPublish() ? [] : [...this.others.keys()].filter((id) => this.switchFrom.has(id) && !this.theyHave.has(id));
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
    for (const id of this.others.keys()) {
      if (this.handover.activeOf(id) === 'sfu') this.handover.swap(id, 'mesh');
    }
    this.sfu.close();
    this.sfu = null;
    this.handover.drop('sfu');
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
    const p = this.others.get(id);
    tile.setCamera(tracks.camera);
    tile.setScreen(p && Source.SCREEN in (p.media || {}) ? tracks.screen : null);
    tile.setAudio(tracks.audio);
    this.grid.layout();
  }

  /** @param {Participant} p */
  addOther(p) {
    const copy = { ...p, media: { ...(p.media || {}) }, streams: { ...(p.streams || {}) } };
    this.others.set(p.id, copy);
    this.grid.upsert(copy);
    this.remote.setParticipant(copy);
    this.handover.refresh(p.id);
  }

  /** @param {string} id */
  removeOther(id) {
    this.others.delete(id);
    this.mesh?.removePeer(id);
    this.remote.removeParticipant(id);
    this.handover.forget(id);
    this.swapped.delete(id);
    this.theyHave.delete(id);
    this.grid.remove(id);
    this.renderPeople();
    // One fewer to wait for.
    if (this.mode === Mode.MESH) this.releaseSFU();
  }

  /** @param {Participant} p */
  updated(p) {
    if (p.id === this.selfId && this.self) {
      // Name and role come from the server; media is what this tab sends.
      if (p.role === Role.OWNER && this.self.role !== Role.OWNER) toast(t('call.youOwn'), 'success');
      this.self = { ...p, media: this.self.media };
      this.stage.setSelf(this.self);
      this.grid.upsert(this.self, true);
      if (p.name !== this.name) {
        // A reconnect that cannot resume joins afresh under this name.
        this.name = p.name;
        if (this.signaling) this.signaling.params.name = p.name;
      }
      this.renameDialog.renamed(p.name);
    } else if (this.others.has(p.id)) {
      const was = this.others.get(p.id)?.connection;
      this.addOther(p);
      if (p.connection !== was) {
        // Its media may well keep flowing: only its socket is down.
        const state = p.connection === Connection.RECONNECTING ? 'disconnected' : this.connectionState(this.handover.activeOf(p.id), p.id);
        this.grid.get(p.id)?.setConnectionState(state);
      }
    }
    this.renderPeople();
  }

  /** @param {import('./protocol.js').Media} msg */
  remoteMedia(msg) {
    const p = msg.from ? this.others.get(msg.from) : undefined;
    if (!p) return;
    applyMediaAction(p.media, msg.source, msg.action);
    p.streams = p.streams || {};
    if (msg.action === Action.PUBLISHED && msg.streamId) p.streams[msg.source] = msg.streamId;
    if (msg.action === Action.UNPUBLISHED) delete p.streams[msg.source];
    this.remote.noteMedia(p.id, msg.source, p.media, msg.streamId);
    this.handover.refresh(p.id);
    this.grid.upsert(p);
    this.renderPeople();
  }

  /** @param {import('./protocol.js').ErrorMessage} msg */
  error(msg) {
    // A refused join comes with ref "join" and is followed by a close.
    if (msg.ref === 'join' || (!this.selfId && (msg.code === ErrorCode.NOT_FOUND || msg.code === ErrorCode.ROOM_ENDED))) {
      const reason =
        msg.code === ErrorCode.NOT_FOUND ? 'missing' : msg.code === ErrorCode.ROOM_ENDED ? 'ended' : msg.code === ErrorCode.INVALID_NAME ? 'invalid_name' : 'refused';
      this.finish(reason, errorText(msg.code, msg.message));
      return;
    }
    // A refused rename is shown in the rename dialog, which changes nothing.
    if (msg.ref === MessageType.RENAME && this.renameDialog.refused(msg)) return;
    // A publish offer that crossed the loss of the right to publish (taken
    // off the stage) was refused: start the SFU connections afresh, with
    // nothing to publish.
    if (msg.code === ErrorCode.FORBIDDEN && msg.ref === MessageType.SFU) {
      this.restartSFU();
      return;
    }
    // A signal to someone who just left is a normal race, not news; nor is
    // an SFU message that crossed a mode change.
    if (msg.code === ErrorCode.UNKNOWN_PEER || msg.code === ErrorCode.NOT_SFU || msg.ref === MessageType.SFU || msg.ref === MessageType.SFU_CLOSE) {
      console.debug('call:', msg.message);
      return;
    }
    toast(errorText(msg.code, msg.message), 'error');
  }

  /**
   * The call is over without the user leaving (room ended or refused).
   * @param {EndReason} reason
   * @param {string} message
   */
  finish(reason, message) {
    this.signaling?.stop();
    this.signaling = null;
    this.teardown();
    this.media.stopAll();
    this.onEnd(reason, message);
  }

  /**
   * While reconnecting, asks the REST API whether the room still exists,
   * so that a deleted or ended room does not leave us retrying forever.
   * @param {number} attempt
   */
  async checkRoom(attempt) {
    if (attempt < 2) return;
    try {
      const room = await getRoom(this.roomId);
      if (room.status === RoomStatus.ENDED && this.signaling) this.finish('ended', '');
    } catch (err) {
      if (/** @type {any} */ (err).status === 404 && this.signaling) this.finish('missing', '');
    }
  }

  /** @param {import('./signaling.js').ConnectionState} state */
  connectionChanged(state) {
    setConnection(state);
    if (state === 'reconnecting' && !this.reconnectToast) {
      this.reconnectToast = toast(t('call.connectionLost'), 'error', { sticky: true });
    } else if (state === 'connected' && this.reconnectToast) {
      this.reconnectToast();
      this.reconnectToast = null;
      toast(t('call.reconnected'), 'success');
    } else if (state === 'disconnected' && this.reconnectToast) {
      this.reconnectToast();
      this.reconnectToast = null;
    }
  }

  /** Drops everything tied to one connection (not the local media). */
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
    this.grid.clear();
    this.others.clear();
    this.selfId = '';
    this.self = null;
    this.stage.reset();
    this.handAsked = false;
  }

  teardown() {
    this.reset();
    this.people.clear();
    this.renameDialog.close();
    this.moderation.render({ owner: false, hands: 0, micsOn: 0 });
    this.reconnectToast?.();
    this.reconnectToast = null;
  }

  // --- local media -------------------------------------------------------

  /** Tells the room about every track this tab sends (after each welcome). */
  announceAll() {
    if (!this.canPublish()) return;
    for (const { source, track } of this.media.tracks()) {
      this.announce(source, Action.PUBLISHED);
      if (source !== Source.SCREEN && !track.enabled) this.announce(source, Action.PAUSED);
    }
  }

  /**
   * Sends one media change and mirrors it in my own participant.
   * @param {'camera'|'microphone'|'screen'} source
   * @param {'published'|'paused'|'resumed'|'unpublished'} action
   */
  announce(source, action) {
    if (this.self) applyMediaAction(this.self.media, source, action);
    const stream = source === Source.SCREEN ? this.media.screenStream : this.media.stream;
    this.send(mediaMessage(source, action, action === Action.PUBLISHED && stream ? stream.id : undefined));
    this.refreshLocal();
  }

  /**
   * Mic and camera buttons: pause/resume a track, or open the device if
   * it is not open yet (it failed before, or was never asked for).
   * @param {'camera'|'microphone'} source
   */
  async toggle(source) {
    if (!this.canPublish()) {
      toast(this.noSendReason(), 'info');
      return;
    }
    const track = this.media[source];
    if (!track) {
      const { error } = await this.media.acquire({ video: source === Source.CAMERA, audio: source === Source.MICROPHONE });
      const fresh = this.media[source];
      if (error || !fresh) {
        toast(error || t('call.deviceFailed'), 'error');
        return;
      }
      this.mesh?.addTrack(fresh, this.media.stream);
      this.sfu?.addTrack(fresh, this.media.stream, source);
      this.announce(source, Action.PUBLISHED);
      return;
    }
    const on = !this.media.isOn(source);
    this.media.setEnabled(source, on);
    this.announce(source, on ? Action.RESUMED : Action.PAUSED);
  }

  async toggleScreen() {
    if (!this.canPublish()) {
      toast(this.noSendReason(), 'info');
      return;
    }
    if (this.media.screen) {
      this.stopScreen();
      return;
    }
    let track;
    try {
      track = await this.media.startScreen();
    } catch (err) {
      // Cancelling the browser's picker is a choice, not an error.
      if (/** @type {any} */ (err).name !== 'NotAllowedError') toast(t('call.screenFailed'), 'error');
      return;
    }
    if (!this.selfId || !this.canPublish()) {
      // Left, disconnected or taken off the stage while the picker was open.
      this.media.stopScreen();
      return;
    }
    this.mesh?.addTrack(track, /** @type {MediaStream} */ (this.media.screenStream));
    this.sfu?.addTrack(track, /** @type {MediaStream} */ (this.media.screenStream), Source.SCREEN);
    this.announce(Source.SCREEN, Action.PUBLISHED);
  }

  stopScreen() {
    const track = this.media.stopScreen();
    if (!track) return;
    this.mesh?.removeTrack(track);
    this.sfu?.removeTrack(track);
    this.announce(Source.SCREEN, Action.UNPUBLISHED);
  }

  /**
   * Another camera or microphone took a source's place (picked in the
   * device dialog, or the default after the one in use was unplugged). It
   * goes into every sender, mesh and SFU alike, with replaceTrack: the
   * transceivers and the stream id stay, so nothing is renegotiated, and the
   * room's media state does not change (a paused camera stays paused: the
   * new track inherits `enabled`, media.js). A source that had no track yet
   * is published like a camera opened late.
   * @param {{source: 'camera'|'microphone', oldTrack: MediaStreamTrack|null, track: MediaStreamTrack, pending: Promise<unknown>[]}} d
   */
  deviceReplaced(d) {
    if (!this.selfId || !this.canPublish()) return;
    if (d.oldTrack) {
      if (this.mesh) d.pending.push(this.mesh.replaceTrack(d.oldTrack, d.track));
      if (this.sfu) d.pending.push(this.sfu.replaceTrack(d.oldTrack, d.track));
    } else {
      this.mesh?.addTrack(d.track, this.media.stream);
      this.sfu?.addTrack(d.track, this.media.stream, d.source);
      this.announce(d.source, Action.PUBLISHED);
    }
    this.refreshLocal();
  }

  /** Redraws my tile, my list entry and the control buttons. */
  refreshLocal() {
    if (this.self) {
      const tile = this.grid.upsert(this.self, true);
      tile.setCamera(this.media.camera);
      tile.setScreen(this.media.screen);
      this.grid.layout();
      this.renderPeople();
    }
    this.updateControls();
  }

  updateControls() {
    const receiveOnly = !this.canPublish();
    const noSend = receiveOnly ? this.noSendReason() : '';
    const mic = this.media.isOn(Source.MICROPHONE);
    const cam = this.media.isOn(Source.CAMERA);
    const sharing = !!this.media.screen;
    setControl('toggle-mic', {
      on: mic && !receiveOnly, disabled: receiveOnly, iconOn: 'mic', iconOff: 'mic-off',
      labelOn: t('call.mic'), labelOff: t('call.micOff'), title: noSend || (mic ? t('call.micTurnOff') : t('call.micTurnOn')),
    });
    setControl('toggle-camera', {
      on: cam && !receiveOnly, disabled: receiveOnly, iconOn: 'camera', iconOff: 'camera-off',
      labelOn: t('call.camera'), labelOff: t('call.cameraOff'), title: noSend || (cam ? t('call.cameraTurnOff') : t('call.cameraTurnOn')),
    });
    setControl('toggle-screen', {
      on: sharing, disabled: receiveOnly || !LocalMedia.screenSupported(), iconOn: 'screen-off', iconOff: 'screen',
      labelOn: t('call.stopSharing'), labelOff: t('call.shareScreen'),
      title: noSend || (LocalMedia.screenSupported() ? (sharing ? t('call.stopSharingTitle') : t('call.shareTitle')) : t('call.noScreenShare')),
    });
  }

  renderPeople() {
    const all = [...(this.self ? [this.self] : []), ...this.others.values()];
    this.people.render(all, this.selfId, {
      onStage: (userId) => this.stage.isOnStage(userId),
      handPosition: (id) => this.stage.handPosition(id),
      owner: this.stage.isOwner(),
    });
    this.stage.arrange(all);
    this.stage.render();
    this.moderation.render({
      owner: this.stage.isOwner(),
      hands: this.stage.hands.length,
      micsOn: [...this.others.values()].filter((p) => p.role !== Role.OWNER && (p.media || {})[Source.MICROPHONE] === TrackState.LIVE).length,
    });
  }

  // --- stage, classroom and the owner's requests ---------------------------

  /**
   * Whether this tab may send media now (the server's rule, app/stage.go).
   * @returns {boolean}
   */
  canPublish() {
    return mayPublish({ onStage: this.stage.selfOnStage(), classroom: this.stage.classroom, spectator: this.spectator });
  }

  /** @returns {string} why this tab sends nothing */
  noSendReason() {
    if (this.stage.classroom) return t('call.classroomNoSend');
    return t('call.spectatorNoSend');
  }

  /** @param {import('./protocol.js').StageMessage} msg */
  stageChanged(msg) {
    const wasOn = this.stage.selfOnStage();
    const wasUp = this.stage.handUp();
    const before = new Set(this.stage.hands.map((h) => h.id));
    this.stage.setStage(msg.members, msg.hands);
    const on = this.stage.selfOnStage();
    const up = this.stage.handUp();
    if (!wasUp && up) this.handAsked = true;
    if (wasUp && !up && this.handAsked) {
      this.handAsked = false;
      if (on) toast(t('call.stageAccepted'), 'success');
      else if (!this.stage.lowered) toast(t('call.stageDeclined'), 'info');
    } else if (wasOn && !on) {
      toast(t('call.offStage'), 'info');
    }
    this.stage.lowered = false;
    if (this.stage.isOwner()) {
      for (const h of msg.hands) {
        if (before.has(h.id)) continue;
        toast(t('call.handRaised', { name: h.name }), 'info', { quiet: true, action: { label: t('stage.accept'), run: () => this.stage.answer(h.id, true) } });
      }
    }
    this.renderPeople();
    this.publishRightsChanged();
  }

  /** @param {import('./protocol.js').Room} room */
  roomUpdated(room) {
    const wasClassroom = this.stage.classroom;
    this.stage.setRoom(room);
    setRoomName(room.name);
    if (room.classroom !== wasClassroom) {
      toast(room.classroom ? t('call.nowClassroom') : t('call.noLongerClassroom'), 'info');
    }
    this.renderPeople();
    this.publishRightsChanged();
  }

  /**
   * Follows a change of the right to publish. Losing it stops and
   * withdraws every local track (the server has already stopped
   * forwarding them). Gaining it by being put on the stage opens the
   * camera and microphone and publishes them; gaining it otherwise (a
   * classroom turned off) only enables the buttons.
   */
  async publishRightsChanged() {
    const can = this.canPublish();
    if (can === this.publishing) {
      this.updateControls();
      return;
    }
    this.publishing = can;
    if (!can) {
      for (const { source, track } of this.media.tracks()) {
        this.mesh?.removeTrack(track);
        this.sfu?.removeTrack(track);
        if (this.self) applyMediaAction(this.self.media, source, Action.UNPUBLISHED);
      }
      this.media.stopAll();
      this.refreshLocal();
      return;
    }
    this.updateControls();
    await this.publishOnStage();
  }

  /**
   * On the stage with nothing open (a viewer put on the stage, or a
   * member who joined a classroom receive-only): opens the camera and
   * microphone and publishes them.
   */
  async publishOnStage() {
    if (!this.stage.selfOnStage() || !this.canPublish() || this.media.camera || this.media.microphone) return;
    const { error } = await this.media.acquire({ video: true, audio: true });
    if (error) toast(error, 'error');
    if (!this.selfId || !this.canPublish()) {
      // Left or taken off the stage while the devices were opening.
      if (!this.canPublish()) this.media.stopAll();
      return;
    }
    for (const { source, track, stream } of this.media.tracks()) {
      if (source === Source.SCREEN) continue;
      this.mesh?.addTrack(track, stream);
      this.sfu?.addTrack(track, stream, source);
      this.announce(source, Action.PUBLISHED);
    }
  }

  /** @param {import('./protocol.js').MuteRequest} msg */
  muteRequested(msg) {
    const source = msg.source === Source.CAMERA ? Source.CAMERA : Source.MICROPHONE;
    const from = this.others.get(msg.from || '');
    const who = from ? from.name : t('call.theOwner');
    if (this.media.isOn(source)) {
      this.media.setEnabled(source, false);
      this.announce(source, Action.PAUSED);
      toast(source === Source.CAMERA ? t('call.muteAsked.camera', { name: who }) : t('call.muteAsked.microphone', { name: who }), 'info');
    } else {
      toast(source === Source.CAMERA ? t('call.muteAskedOff.camera', { name: who }) : t('call.muteAskedOff.microphone', { name: who }), 'info');
    }
    this.updateControls();
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

  /** The browser refused to play sound without a click: offer one. */
  soundBlocked() {
    if (this.soundBlockedShown) return;
    this.soundBlockedShown = true;
    toast(t('call.soundBlocked'), 'info', {
      sticky: true,
      action: {
        label: t('call.enableSound'),
        run: () => {
          this.soundBlockedShown = false;
          this.grid.retryAudio();
        },
      },
    });
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
    for (const id of this.others.keys()) shownFrom[id] = this.handover.activeOf(id);
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
