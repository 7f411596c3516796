// @ts-check
// A call: one stay in a room, from join to leave. It owns the WebSocket and
// the roster (me and the others, their tiles and list entries), and handles
// every server message in one switch. What it carries is delegated: the
// topology, mesh or SFU and the switch between them, to topology.js; what
// this tab sends, and its right to send, to publisher.js.
//
// A dropped socket resumes (signaling.js): the server replays what this page
// missed and the peer connections, which never needed the socket, carry on.
// A welcome on a reconnect (the server restarted, or could not replay) is a
// fresh start: the call drops every peer connection and tile and rebuilds
// them from it, keeping only the local camera, microphone and screen.

import { Access, onPeoplePanelOpen } from './access.js';
import { getRoom, rememberName, setMyName } from './api.js';
import { errorText, t } from './i18n.js';
import { InviteLinks } from './invites.js';
import { LocalMedia } from './media.js';
import { Lobby } from './lobby.js';
import { Moderation } from './moderation.js';
import { applyMediaAction, leaveMessage, newcomers, stageSetMessage } from './messages.js';
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
import { Publisher } from './publisher.js';
import { roleNews } from './roles.js';
import { joinRefusal } from './refusals.js';
import { Signaling } from './signaling.js';
import { TopologyController } from './topology.js';
import { VideoGrid } from './tiles.js';
import { ViewReporter } from './views.js';
import { PeopleList } from './people.js';
import { RenameDialog } from './rename.js';
import { Stage } from './stage.js';
import { toast } from './toast.js';
import { setConnection, setRoomName } from './ui.js';

/** @typedef {import('./protocol.js').Participant} Participant */
/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */

/**
 * Why a call ended without the user leaving.
 * @typedef {'missing'|'ended'|'invalid_name'|'passcode'|'refused'|'removed'|'denied'|'locked'|'banned'|'invite_expired'|'bad_grant'} EndReason
 */

/**
 * @typedef {Object} CallParams
 * @property {string} roomId
 * @property {LocalMedia} media
 * @property {(reason: EndReason, message: string) => void} onEnd
 * @property {(waiting: boolean, code?: string) => void} [onWaiting] the server holds me (code in_lobby: in
 *   the room's lobby; not_started: until a host comes), or let me in
 */

export class Call {
  /** @param {CallParams} params */
  constructor(params) {
    this.roomId = params.roomId;
    this.media = params.media;
    this.onEnd = params.onEnd;
    this.onWaiting = params.onWaiting || (() => {});

    this.selfId = '';
    /** @type {Participant|null} */
    this.self = null;
    /** The others, by participant id. */
    /** @type {Map<string, Participant>} */
    this.others = new Map();
    this.name = '';
    this.spectator = false;
    /** @type {Signaling|null} */
    this.signaling = null;
    this.soundBlockedShown = false;
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
        ban: (id) => {
          const p = this.others.get(id);
          if (!p || !window.confirm(t('call.confirmBan', { name: p.name }))) return;
          this.access.banned(id);
          this.send({ type: MessageType.REMOVE, id, ban: true });
        },
        setRole: (id, role) => this.send({ type: MessageType.ROLE_SET, id, role }),
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
    // The hosts' mute-all and lower-hands (moderation.js).
    this.moderation = new Moderation({ send: (m) => !!this.signaling?.send(m) });
    // The hosts' lobby queue and lock (lobby.js).
    this.lobby = new Lobby({ send: (m) => this.send(m) });
    // The hosts' "wait for the host", bans (access.js) and invite links (invites.js).
    this.access = new Access({ roomId: this.roomId, send: (m) => this.send(m) });
    this.invites = new InviteLinks({ roomId: this.roomId });
    onPeoplePanelOpen(() => {
      this.access.refresh();
      this.invites.refresh();
    });
    this.stage = new Stage({
      grid: this.grid,
      send: (m) => this.send(m),
      onEndRoom: () => this.send({ type: MessageType.END_ROOM }),
    });
    /** My hand went up and I have not lowered it: its answer is news. */
    this.handAsked = false;
    this.topology = new TopologyController({
      grid: this.grid,
      media: this.media,
      others: () => this.others,
      selfId: () => this.selfId,
      canPublish: () => this.publisher.canPublish(),
      send: (m) => this.send(m),
    });
    // The sizes of the SFU's videos here, for its layers (views.js).
    this.views = new ViewReporter({
      tiles: () => this.grid.tiles.values(),
      send: (m) => !!this.signaling?.send(m),
      active: () => !!this.signaling && this.topology.mode === Mode.SFU,
    });
    this.publisher = new Publisher({
      media: this.media,
      stage: this.stage,
      grid: this.grid,
      topology: this.topology,
      send: (m) => this.send(m),
      self: () => this.self,
      selfId: () => this.selfId,
      // Joined receive-only, or made a spectator by the server (a viewer's invite).
      spectator: () => this.spectator || this.self?.role === Role.SPECTATOR,
      nameOf: (id) => this.others.get(id)?.name,
      renderPeople: () => this.renderPeople(),
    });
  }

  /**
   * Opens the socket. The room view is showing by then.
   * @param {{name: string, spectator: boolean, passcode?: string, invite?: string, token?: string}} opts
   *   invite, token: the grant of the page's address (grant.js)
   */
  join(opts) {
    this.name = opts.name;
    this.spectator = opts.spectator;
    if (this.spectator) this.media.stopAll(); // receive-only: never send a track
    this.publisher.updateControls();
    this.signaling = new Signaling({
      roomId: this.roomId,
      name: opts.name,
      spectator: opts.spectator,
      passcode: opts.passcode,
      invite: opts.invite,
      token: opts.token,
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
      case MessageType.PARTICIPANTS_JOINED:
        this.joined(newcomers(msg, this.selfId, (id) => this.others.has(id)));
        break;
      case MessageType.PARTICIPANT_LEFT: {
        if (msg.id === this.selfId && msg.reason === LeaveReason.REMOVED) {
          // The socket closes next; stop before it would reconnect.
          this.finish('removed', t('call.removedYou'));
          break;
        }
        const gone = this.others.get(msg.id);
        this.removeOther(msg.id);
        if (msg.reason === LeaveReason.REMOVED) this.access.removed(msg.id);
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
        this.topology.handleSignal(msg);
        break;
      case MessageType.SFU:
        this.topology.handleSFU(msg);
        break;
      case MessageType.MODE:
        this.topology.modeChanged(msg);
        break;
      case MessageType.SFU_RESTART:
        if (msg.epoch === this.topology.epoch) this.topology.restartSFU();
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
        this.publisher.muteRequested(msg);
        break;
      case MessageType.LOBBY:
        this.lobby.update(msg.waiting);
        break;
      case MessageType.LOBBY_WAIT:
        this.onWaiting(true, msg.code);
        break;
      case MessageType.ACTIVE_SPEAKER:
        this.grid.setSpeaker(msg.id);
        break;
      case MessageType.LAST_N:
        this.grid.setHeld(msg.off);
        break;
      default:
        // Newer servers may send types this page does not know yet.
        console.debug('call: ignored message type', /** @type {any} */ (msg).type);
    }
  }

  /** @param {import('./protocol.js').Welcome} msg */
  welcome(msg) {
    this.reset(); // a reconnect starts over with a new id
    this.onWaiting(false);
    this.selfId = msg.self.id;
    this.self = { ...msg.self, media: {} };
    setRoomName(msg.room.name);
    this.stage.setSelf(this.self);
    this.stage.setRoom(msg.room);
    this.lobby.setRoom(msg.room);
    this.access.setRoom(msg.room);
    this.stage.setStage(msg.room.stage || [], msg.hands || []);
    this.publisher.welcomed();
    this.grid.upsert(this.self, true);
    this.publisher.refreshLocal();
    for (const p of msg.participants || []) this.addOther(p);
    this.topology.welcome(msg);
    this.renderPeople();
    this.publisher.publishOnStage();
  }

  /**
   * My socket dropped and came back as the same participant: the server
   * replays what I missed after this, and my peer connections never
   * depended on the socket. Only media changes I made while offline can be
   * news to the server: the publisher sends the difference.
   * @param {import('./protocol.js').Resumed} msg
   */
  resumed(msg) {
    if (!this.self || msg.self.id !== this.selfId) return;
    this.publisher.resync(msg.self.media || {});
  }

  // --- the roster -----------------------------------------------------------

  /** @param {Participant} p */
  addOther(p) {
    const copy = { ...p, media: { ...(p.media || {}) }, streams: { ...(p.streams || {}) } };
    this.others.set(p.id, copy);
    this.grid.upsert(copy);
    this.topology.participantChanged(copy);
  }

  /**
   * Newcomers, announced one at a time or several at once (a class
   * arriving): one roster update and one toast for them all.
   * @param {Participant[]} list
   */
  joined(list) {
    if (list.length === 0) return;
    for (const p of list) {
      this.addOther(p);
      this.topology.joined(p.id);
    }
    this.renderPeople();
    // Shown, not read out: a11y.js announces joins, coalesced.
    const text = list.length === 1 ? t('call.joined', { name: list[0].name }) : t('call.joinedMany', { count: list.length });
    toast(text, 'info', { quiet: true });
  }

  /** @param {string} id */
  removeOther(id) {
    this.others.delete(id);
    this.topology.removeParticipant(id);
    this.grid.remove(id);
    this.renderPeople();
  }

  /** @param {Participant} p */
  updated(p) {
    if (p.id === this.selfId && this.self) {
      // Name and role come from the server; media is what this tab sends.
      const roleWas = this.self.role;
      if (p.role === Role.OWNER && roleWas !== Role.OWNER) toast(t('call.youOwn'), 'success');
      else this.toastRole(null, roleWas, p.role);
      this.self = { ...p, media: this.self.media };
      this.stage.setSelf(this.self);
      this.grid.upsert(this.self, true);
      if (p.name !== this.name) {
        // A reconnect that cannot resume joins afresh under this name.
        this.name = p.name;
        if (this.signaling) this.signaling.params.name = p.name;
      }
      this.renameDialog.renamed(p.name);
      // A presenter may step on the stage; a spectator sends nothing.
      if (roleWas !== p.role) this.publisher.rightsChanged();
    } else if (this.others.has(p.id)) {
      const before = this.others.get(p.id);
      const was = before?.connection;
      if (before) this.toastRole(p.name, before.role, p.role);
      this.addOther(p);
      if (p.connection !== was) {
        // Its media may well keep flowing: only its socket is down.
        const state = p.connection === Connection.RECONNECTING ? 'disconnected' : this.topology.tileState(p.id);
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
    this.topology.mediaChanged(p, msg.source, msg.streamId);
    this.grid.upsert(p);
    this.renderPeople();
  }

  /** @param {import('./protocol.js').ErrorMessage} msg */
  error(msg) {
    // A refused join comes with ref "join" and is followed by a close.
    if (msg.ref === 'join' || (!this.selfId && (msg.code === ErrorCode.NOT_FOUND || msg.code === ErrorCode.ROOM_ENDED))) {
      this.finish(joinRefusal(msg.code), errorText(msg.code, msg.message));
      return;
    }
    // A refused rename is shown in the rename dialog, which changes nothing.
    if (msg.ref === MessageType.RENAME && this.renameDialog.refused(msg)) return;
    // A publish offer that crossed the loss of the right to publish (taken
    // off the stage) was refused: start the SFU connections afresh, with
    // nothing to publish.
    if (msg.code === ErrorCode.FORBIDDEN && msg.ref === MessageType.SFU) {
      this.topology.restartSFU();
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
    this.topology.reset();
    this.grid.clear();
    this.others.clear();
    this.selfId = '';
    this.self = null;
    this.stage.reset();
    this.lobby.reset();
    this.access.reset();
    this.invites.setHost(false);
    this.handAsked = false;
  }

  teardown() {
    this.reset();
    this.people.clear();
    this.renameDialog.close();
    this.moderation.render({ host: false, hands: 0, micsOn: 0 });
    this.reconnectToast?.();
    this.reconnectToast = null;
  }

  renderPeople() {
    const all = [...(this.self ? [this.self] : []), ...this.others.values()];
    const host = this.stage.isHost();
    this.people.render(all, this.selfId, {
      onStage: (userId) => this.stage.isOnStage(userId),
      handPosition: (id) => this.stage.handPosition(id),
      role: this.self ? this.self.role : '',
    });
    this.stage.arrange(all);
    this.stage.render();
    this.lobby.setHost(host);
    this.access.setHost(host);
    this.invites.setHost(host);
    const myUserId = this.self ? this.self.userId : '';
    this.moderation.render({
      host,
      hands: this.stage.hands.length,
      // mute-all asks neither the owner's tabs nor mine.
      micsOn: [...this.others.values()].filter(
        (p) => p.role !== Role.OWNER && p.userId !== myUserId && (p.media || {})[Source.MICROPHONE] === TrackState.LIVE,
      ).length,
    });
  }

  /**
   * Says that a role changed (not to owner: that has its own news): mine
   * aloud, another's quietly (a11y.js need not read it).
   * @param {string|null} name the other's, null for mine
   * @param {string} before
   * @param {string} after
   */
  toastRole(name, before, after) {
    const news = roleNews(before, after, name === null);
    if (!news) return;
    if (name === null) toast(t(news.key), news.gained ? 'success' : 'info');
    else toast(t(news.key, { name }), 'info', { quiet: true });
  }

  // --- stage, classroom and the hosts' requests -----------------------------

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
    if (this.stage.isHost()) {
      for (const h of msg.hands) {
        if (before.has(h.id)) continue;
        toast(t('call.handRaised', { name: h.name }), 'info', { quiet: true, action: { label: t('stage.accept'), run: () => this.stage.answer(h.id, true) } });
      }
    }
    this.renderPeople();
    this.publisher.rightsChanged();
  }

  /** @param {import('./protocol.js').Room} room */
  roomUpdated(room) {
    const wasClassroom = this.stage.classroom;
    const wasLocked = this.lobby.locked;
    this.stage.setRoom(room);
    this.lobby.setRoom(room);
    this.access.setRoom(room);
    if (!!room.locked !== wasLocked) toast(room.locked ? t('lobby.nowLocked') : t('lobby.nowUnlocked'), 'info');
    setRoomName(room.name);
    if (room.classroom !== wasClassroom) {
      toast(room.classroom ? t('call.nowClassroom') : t('call.noLongerClassroom'), 'info');
    }
    this.renderPeople();
    this.publisher.rightsChanged();
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
}
