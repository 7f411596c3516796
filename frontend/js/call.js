// @ts-check
// A call: one stay in a room, from join to leave. It owns the WebSocket,
// the topology (mesh for now), the participants and the tiles, and handles
// every server message in one switch.
//
// A reconnect is a new welcome with a new participant id: the call then
// drops every peer connection and tile and rebuilds them from the welcome,
// keeping only the local camera, microphone and screen.

import { getRoom } from './api.js';
import { LocalMedia } from './media.js';
import { Mesh } from './mesh.js';
import {
  Action,
  ErrorCode,
  LeaveReason,
  MessageType,
  Mode,
  Role,
  RoomStatus,
  Source,
  applyMediaAction,
  leaveMessage,
  mediaMessage,
} from './protocol.js';
import { Signaling } from './signaling.js';
import { RemoteStreams } from './streams.js';
import { VideoGrid } from './tiles.js';
import { PeopleList } from './people.js';
import { toast } from './toast.js';
import { setConnection, setControl, setModeIndicator, setRoomName } from './ui.js';

/** @typedef {import('./protocol.js').Participant} Participant */
/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */

/**
 * Why a call ended without the user leaving.
 * @typedef {'missing'|'ended'|'invalid_name'|'refused'} EndReason
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
    this.soundBlockedShown = false;
    this.reconnectToast = /** @type {(() => void)|null} */ (null);

    this.grid = new VideoGrid(/** @type {HTMLElement} */ (document.getElementById('grid')), () => this.soundBlocked());
    this.people = new PeopleList(
      /** @type {HTMLElement} */ (document.getElementById('participant-list')),
      /** @type {HTMLElement[]} */ ([...document.querySelectorAll('.people-count')]),
    );
    this.remote = new RemoteStreams((id, a) => {
      const tile = this.grid.get(id);
      if (!tile) return;
      tile.setCamera(a.camera);
      tile.setScreen(a.screen);
      tile.setAudio(a.audio);
      this.grid.layout();
    });

    this.media.addEventListener('screenended', () => this.stopScreen());
    this.media.addEventListener('trackended', (e) => {
      const { source, track } = /** @type {CustomEvent} */ (e).detail;
      this.mesh?.removeTrack(track);
      this.announce(source, Action.UNPUBLISHED);
      toast(source === Source.CAMERA ? 'Your camera stopped.' : 'Your microphone stopped.', 'error');
    });
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
        this.finish(code === 4010 ? 'ended' : 'missing', '');
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
      case MessageType.PARTICIPANT_JOINED:
        this.addOther(msg.participant);
        // The newcomer offers first; this side answers (see mesh.js).
        this.mesh?.addPeer(msg.participant.id, { initiator: false });
        this.renderPeople();
        toast(`${msg.participant.name} joined`, 'info');
        break;
      case MessageType.PARTICIPANT_LEFT: {
        const gone = this.others.get(msg.id);
        this.removeOther(msg.id);
        if (gone && msg.reason !== LeaveReason.ENDED) {
          toast(`${gone.name} ${msg.reason === LeaveReason.DISCONNECTED ? 'lost the connection' : 'left'}`, 'info');
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
      case MessageType.MODE:
        // Epochs only grow; an older or repeated announcement is stale.
        if (msg.epoch <= this.epoch) break;
        this.epoch = msg.epoch;
        this.mesh?.setEpoch(msg.epoch);
        this.setMode(msg.mode);
        break;
      case MessageType.ROOM_ENDED:
        setRoomName(msg.room.name);
        this.finish('ended', '');
        break;
      case MessageType.ERROR:
        this.error(msg);
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
    this.announceAll();
    this.grid.upsert(this.self, true);
    this.refreshLocal();
    for (const p of msg.participants || []) this.addOther(p);
    this.setMode(msg.mode);
    this.renderPeople();
  }

  /**
   * Applies the room's mode (from welcome or a `mode` message): the
   * data-mode hook and the badge always follow the server.
   *
   * This page has no SFU client yet, so the mesh carries the media in
   * every mode: it is started once, after welcome, and kept across mode
   * changes. The SFU client plugs in here: start it when the mode becomes
   * sfu, and close the mesh once the SFU delivers (make before break).
   * @param {string} mode
   */
  setMode(mode) {
    this.mode = mode;
    setModeIndicator(mode);
    if (mode === Mode.SFU && !this.mesh) console.info('call: room is in SFU mode; this page sends peer to peer');
    if (this.mesh) return;
    this.mesh = new Mesh({
      selfId: this.selfId,
      epoch: this.epoch,
      iceServers: this.iceServers,
      send: (m) => this.send(m),
      localTracks: () => (this.spectator ? [] : this.media.tracks()),
      onTrack: (id, track, stream) => this.remote.addTrack(id, track, stream),
      onPeerState: (id, state) => this.grid.get(id)?.setConnectionState(state),
    });
    // I am the newcomer to everyone in welcome: I make the first offers.
    for (const p of this.others.values()) {
      this.mesh.addPeer(p.id, { initiator: true, expectMedia: p.role !== Role.SPECTATOR });
    }
  }

  /** @param {Participant} p */
  addOther(p) {
    const copy = { ...p, media: { ...(p.media || {}) }, streams: { ...(p.streams || {}) } };
    this.others.set(p.id, copy);
    this.grid.upsert(copy);
    this.remote.setParticipant(copy);
  }

  /** @param {string} id */
  removeOther(id) {
    this.others.delete(id);
    this.mesh?.removePeer(id);
    this.remote.removeParticipant(id);
    this.grid.remove(id);
    this.renderPeople();
  }

  /** @param {Participant} p */
  updated(p) {
    if (p.id === this.selfId && this.self) {
      // Name and role come from the server; media is what this tab sends.
      this.self = { ...p, media: this.self.media };
      this.grid.upsert(this.self, true);
    } else if (this.others.has(p.id)) {
      this.addOther(p);
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
    this.grid.upsert(p);
    this.renderPeople();
  }

  /** @param {import('./protocol.js').ErrorMessage} msg */
  error(msg) {
    // A refused join comes with ref "join" and is followed by a close.
    if (msg.ref === 'join' || (!this.selfId && (msg.code === ErrorCode.NOT_FOUND || msg.code === ErrorCode.ROOM_ENDED))) {
      const reason =
        msg.code === ErrorCode.NOT_FOUND ? 'missing' : msg.code === ErrorCode.ROOM_ENDED ? 'ended' : msg.code === ErrorCode.INVALID_NAME ? 'invalid_name' : 'refused';
      this.finish(reason, msg.message);
      return;
    }
    // A signal to someone who just left is a normal race, not news; nor
    // is a message about the SFU, which this page does not use yet.
    if (msg.code === ErrorCode.UNKNOWN_PEER || msg.code === ErrorCode.NOT_SFU) {
      console.debug('call:', msg.message);
      return;
    }
    toast(msg.message || 'Something went wrong.', 'error');
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
      this.reconnectToast = toast('Connection lost. Reconnecting…', 'error', { sticky: true });
    } else if (state === 'connected' && this.reconnectToast) {
      this.reconnectToast();
      this.reconnectToast = null;
      toast('Reconnected.', 'success');
    } else if (state === 'disconnected' && this.reconnectToast) {
      this.reconnectToast();
      this.reconnectToast = null;
    }
  }

  /** Drops everything tied to one connection (not the local media). */
  reset() {
    this.mesh?.close();
    this.mesh = null;
    this.mode = '';
    this.remote.clear();
    this.grid.clear();
    this.others.clear();
    this.selfId = '';
    this.self = null;
  }

  teardown() {
    this.reset();
    this.people.clear();
    this.reconnectToast?.();
    this.reconnectToast = null;
  }

  // --- local media -------------------------------------------------------

  /** Tells the room about every track this tab sends (after each welcome). */
  announceAll() {
    if (this.spectator) return;
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
    if (this.spectator) return;
    const track = this.media[source];
    if (!track) {
      const { error } = await this.media.acquire({ video: source === Source.CAMERA, audio: source === Source.MICROPHONE });
      const fresh = this.media[source];
      if (error || !fresh) {
        toast(error || 'That device could not be started.', 'error');
        return;
      }
      this.mesh?.addTrack(fresh, this.media.stream);
      this.announce(source, Action.PUBLISHED);
      return;
    }
    const on = !this.media.isOn(source);
    this.media.setEnabled(source, on);
    this.announce(source, on ? Action.RESUMED : Action.PAUSED);
  }

  async toggleScreen() {
    if (this.spectator) return;
    if (this.media.screen) {
      this.stopScreen();
      return;
    }
    let track;
    try {
      track = await this.media.startScreen();
    } catch (err) {
      // Cancelling the browser's picker is a choice, not an error.
      if (/** @type {any} */ (err).name !== 'NotAllowedError') toast('Screen sharing could not start.', 'error');
      return;
    }
    if (!this.selfId) {
      // Left or disconnected while the picker was open.
      this.media.stopScreen();
      return;
    }
    this.mesh?.addTrack(track, /** @type {MediaStream} */ (this.media.screenStream));
    this.announce(Source.SCREEN, Action.PUBLISHED);
  }

  stopScreen() {
    const track = this.media.stopScreen();
    if (!track) return;
    this.mesh?.removeTrack(track);
    this.announce(Source.SCREEN, Action.UNPUBLISHED);
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
    const noSend = this.spectator ? 'Spectators watch and listen only' : '';
    const mic = this.media.isOn(Source.MICROPHONE);
    const cam = this.media.isOn(Source.CAMERA);
    const sharing = !!this.media.screen;
    setControl('toggle-mic', {
      on: mic && !this.spectator, disabled: this.spectator, iconOn: 'mic', iconOff: 'mic-off',
      labelOn: 'Mic', labelOff: 'Mic off', title: noSend || (mic ? 'Turn microphone off' : 'Turn microphone on'),
    });
    setControl('toggle-camera', {
      on: cam && !this.spectator, disabled: this.spectator, iconOn: 'camera', iconOff: 'camera-off',
      labelOn: 'Camera', labelOff: 'Camera off', title: noSend || (cam ? 'Turn camera off' : 'Turn camera on'),
    });
    setControl('toggle-screen', {
      on: sharing, disabled: this.spectator || !LocalMedia.screenSupported(), iconOn: 'screen-off', iconOff: 'screen',
      labelOn: 'Stop sharing', labelOff: 'Share screen',
      title: noSend || (LocalMedia.screenSupported() ? (sharing ? 'Stop sharing your screen' : 'Share your screen') : 'This browser cannot share a screen'),
    });
  }

  renderPeople() {
    const all = [...(this.self ? [this.self] : []), ...this.others.values()];
    this.people.render(all, this.selfId);
  }

  /** The browser refused to play sound without a click: offer one. */
  soundBlocked() {
    if (this.soundBlockedShown) return;
    this.soundBlockedShown = true;
    toast('Your browser blocked the sound of this call.', 'info', {
      sticky: true,
      action: {
        label: 'Enable sound',
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
}
