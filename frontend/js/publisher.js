// @ts-check
// What this tab sends in a call: the camera, microphone and screen buttons,
// the media messages that tell the room about them, the right to publish
// (the stage of a classroom, a spectator's choice) and the owner's requests
// to mute. The tracks go into every running topology (topology.js); my own
// tile and the control buttons show their state.

import { t } from './i18n.js';
import { LocalMedia } from './media.js';
import { applyMediaAction, mayPublish, mediaMessage, resyncActions } from './messages.js';
import { Action, Source } from './protocol.js';
import { toast } from './toast.js';
import { setControl } from './ui.js';

/** @typedef {import('./protocol.js').Participant} Participant */

/**
 * @typedef {Object} PublisherParams
 * @property {LocalMedia} media the local camera, microphone and screen
 * @property {import('./stage.js').Stage} stage who is on the stage, and whether the room is a classroom
 * @property {import('./tiles.js').VideoGrid} grid where my tile is
 * @property {import('./topology.js').TopologyController} topology where my tracks are sent
 * @property {(msg: import('./protocol.js').ClientMessage) => void} send
 * @property {() => Participant|null} self my participant (null before the welcome)
 * @property {() => string} selfId my participant id ('' before the welcome)
 * @property {() => boolean} spectator whether I joined receive-only
 * @property {(id: string) => string|undefined} nameOf the name of another participant
 * @property {() => void} renderPeople redraws the people list, the stage and the owner's controls
 */

export class Publisher {
  /** @param {PublisherParams} params */
  constructor(params) {
    this.media = params.media;
    this.stage = params.stage;
    this.grid = params.grid;
    this.topology = params.topology;
    this.send = params.send;
    this.self = params.self;
    this.selfId = params.selfId;
    this.spectator = params.spectator;
    this.nameOf = params.nameOf;
    this.renderPeople = params.renderPeople;
    /** Whether this tab may send media (mayPublish), as of the last check. */
    this.publishing = false;

    this.media.addEventListener('screenended', () => this.stopScreen());
    this.media.addEventListener('trackended', (e) => {
      const { source, track } = /** @type {CustomEvent} */ (e).detail;
      this.topology.removeTrack(track);
      this.announce(source, Action.UNPUBLISHED);
      toast(source === Source.CAMERA ? t('call.cameraStopped') : t('call.micStopped'), 'error');
    });
    this.media.addEventListener('replaced', (e) => this.deviceReplaced(/** @type {CustomEvent} */ (e).detail));
  }

  /**
   * Whether this tab may send media now (the server's rule, app/room/stage.go).
   * @returns {boolean}
   */
  canPublish() {
    return mayPublish({ onStage: this.stage.selfOnStage(), classroom: this.stage.classroom, spectator: this.spectator() });
  }

  /** @returns {string} why this tab sends nothing */
  noSendReason() {
    if (this.stage.classroom) return t('call.classroomNoSend');
    return t('call.spectatorNoSend');
  }

  /** A welcome (the stage is known): announces what this tab sends, if it may. */
  welcomed() {
    this.publishing = this.canPublish();
    // Receive-only here (a spectator, or off the stage of a classroom):
    // whatever the page opened before is not sent.
    if (!this.publishing) this.media.stopAll();
    this.announceAll();
  }

  /** Tells the room about every track this tab sends (after each welcome). */
  announceAll() {
    if (!this.canPublish()) return;
    for (const { source, track } of this.media.tracks()) {
      this.announce(source, Action.PUBLISHED);
      if (source !== Source.SCREEN && !track.enabled) this.announce(source, Action.PAUSED);
    }
  }

  /**
   * My socket came back as the same participant: only media changes I made
   * while offline can be news to the server, so send the difference.
   * @param {Object<string, string>} known my media as the server has it
   */
  resync(known) {
    if (!this.canPublish()) return;
    const live = new Map(this.media.tracks().map(({ source, track }) => [source, track.enabled]));
    for (const [source, action] of resyncActions(known, live)) this.announce(source, action);
  }

  /**
   * Sends one media change and mirrors it in my own participant.
   * @param {'camera'|'microphone'|'screen'} source
   * @param {'published'|'paused'|'resumed'|'unpublished'} action
   */
  announce(source, action) {
    const self = this.self();
    if (self) applyMediaAction(self.media, source, action);
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
      this.topology.addTrack(fresh, this.media.stream, source);
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
    if (!this.selfId() || !this.canPublish()) {
      // Left, disconnected or taken off the stage while the picker was open.
      this.media.stopScreen();
      return;
    }
    this.topology.addTrack(track, /** @type {MediaStream} */ (this.media.screenStream), Source.SCREEN);
    this.announce(Source.SCREEN, Action.PUBLISHED);
  }

  stopScreen() {
    const track = this.media.stopScreen();
    if (!track) return;
    this.topology.removeTrack(track);
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
    if (!this.selfId() || !this.canPublish()) return;
    if (d.oldTrack) {
      d.pending.push(...this.topology.replaceTrack(d.oldTrack, d.track));
    } else {
      this.topology.addTrack(d.track, this.media.stream, d.source);
      this.announce(d.source, Action.PUBLISHED);
    }
    this.refreshLocal();
  }

  /** Redraws my tile, my list entry and the control buttons. */
  refreshLocal() {
    const self = this.self();
    if (self) {
      const tile = this.grid.upsert(self, true);
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

  // --- the right to publish and the owner's requests -------------------------

  /**
   * Follows a change of the right to publish. Losing it stops and
   * withdraws every local track (the server has already stopped
   * forwarding them). Gaining it by being put on the stage opens the
   * camera and microphone and publishes them; gaining it otherwise (a
   * classroom turned off) only enables the buttons.
   */
  async rightsChanged() {
    const can = this.canPublish();
    if (can === this.publishing) {
      this.updateControls();
      return;
    }
    this.publishing = can;
    if (!can) {
      const self = this.self();
      for (const { source, track } of this.media.tracks()) {
        this.topology.removeTrack(track);
        if (self) applyMediaAction(self.media, source, Action.UNPUBLISHED);
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
    if (!this.selfId() || !this.canPublish()) {
      // Left or taken off the stage while the devices were opening.
      if (!this.canPublish()) this.media.stopAll();
      return;
    }
    for (const { source, track, stream } of this.media.tracks()) {
      if (source === Source.SCREEN) continue;
      this.topology.addTrack(track, stream, source);
      this.announce(source, Action.PUBLISHED);
    }
  }

  /** @param {import('./protocol.js').MuteRequest} msg */
  muteRequested(msg) {
    const source = msg.source === Source.CAMERA ? Source.CAMERA : Source.MICROPHONE;
    const name = this.nameOf(msg.from || '');
    const who = name !== undefined ? name : t('call.theOwner');
    if (this.media.isOn(source)) {
      this.media.setEnabled(source, false);
      this.announce(source, Action.PAUSED);
      toast(source === Source.CAMERA ? t('call.muteAsked.camera', { name: who }) : t('call.muteAsked.microphone', { name: who }), 'info');
    } else {
      toast(source === Source.CAMERA ? t('call.muteAskedOff.camera', { name: who }) : t('call.muteAskedOff.microphone', { name: who }), 'info');
    }
    this.updateControls();
  }
}
