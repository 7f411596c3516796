// @ts-check
// The device picker: camera, microphone and speaker selects with a live
// microphone level, shown on the pre-join screen and, during the call, in
// the "Devices" dialog of the controls bar.
//
// There is one panel (#device-panel in room.html), moved between the
// pre-join screen and the dialog, so each test hook (device-camera,
// device-microphone, device-speaker, mic-level) names one element.
//
// Picking a camera or microphone switches LocalMedia to it (media.js); the
// call swaps the new track into its senders with replaceTrack (call.js).
// Every pick is remembered for the next visit (devices.js). The lists
// follow devices plugged in or out (devicechange), and a device in use
// that disappears gives way to the default one (media.js), with a toast.

import { setIcon } from './dom.js';
import { KINDS, listDevices, loadPrefs, matchDevice, savePref } from './devices.js';
import { t } from './i18n.js';
import { MicLevel } from './miclevel.js';
import { Source } from './protocol.js';
import { SpeakerOutput } from './speaker.js';
import { toast } from './toast.js';

/** @typedef {import('./media.js').LocalMedia} LocalMedia */
/** @typedef {import('./devices.js').DeviceKind} DeviceKind */
/** @typedef {import('./devices.js').DeviceEntry} DeviceEntry */

/** The label of a device the browser does not name (no permission yet). */
const UNNAMED = { camera: 'devices.unnamedCamera', microphone: 'devices.unnamedMicrophone', speaker: 'devices.unnamedSpeaker' };

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

export class DeviceSettings {
  /**
   * @param {LocalMedia} media
   * @param {() => boolean} canSend whether this tab may send media in the call now
   */
  constructor(media, canSend) {
    this.media = media;
    this.canSend = canSend;
    this.speaker = new SpeakerOutput();
    this.panel = $('device-panel');
    /** @type {Record<DeviceKind, HTMLSelectElement>} */
    this.selects = {
      camera: /** @type {HTMLSelectElement} */ ($('device-camera')),
      microphone: /** @type {HTMLSelectElement} */ ($('device-microphone')),
      speaker: /** @type {HTMLSelectElement} */ ($('device-speaker')),
    };
    this.sendFields = [...this.panel.querySelectorAll('.device-send')];
    this.sendNote = $('device-send-note');
    this.speakerNote = $('device-speaker-note');
    this.level = new MicLevel($('mic-level'));
    this.dialog = /** @type {HTMLDialogElement} */ ($('devices-dialog'));
    this.dialogBody = $('devices-dialog-body');
    this.openButton = /** @type {HTMLButtonElement} */ ($('device-settings'));
    /** The devices of the last refresh, by kind. */
    /** @type {Record<DeviceKind, DeviceEntry[]>} */
    this.devices = { camera: [], microphone: [], speaker: [] };
    /** One list per kind as last drawn, to redraw only what changed. */
    /** @type {Record<DeviceKind, string>} */
    this.drawn = { camera: '', microphone: '', speaker: '' };
    this.sending = true;
    this.speakerRestored = false;
    /** Switches run one after the other, in the order they were picked. */
    this.queue = Promise.resolve();
    this.refreshing = /** @type {Promise<void>|null} */ (null);
    this.refreshAgain = false;

    const sinkable = SpeakerOutput.supported();
    this.selects.speaker.disabled = !sinkable;
    this.speakerNote.hidden = sinkable;

    for (const kind of KINDS) {
      this.selects[kind].addEventListener('change', () => this.pick(kind));
    }
    navigator.mediaDevices?.addEventListener?.('devicechange', () => this.refresh());
    media.addEventListener('change', () => {
      this.level.setTrack(this.media.microphone);
      this.refresh();
    });
    media.addEventListener('fallback', (e) => {
      const { source, track } = /** @type {CustomEvent<{source: string, track: MediaStreamTrack}>} */ (e).detail;
      const name = track.label || t(source === Source.CAMERA ? 'devices.defaultCamera' : 'devices.defaultMicrophone');
      toast(t(source === Source.CAMERA ? 'devices.fallbackCamera' : 'devices.fallbackMicrophone', { name }), 'info');
    });

    setIcon(this.openButton, 'settings');
    this.openButton.title = t('devices.buttonTitle');
    this.openButton.addEventListener('click', () => this.openDialog());
    const close = this.dialog.querySelector('.devices-close');
    if (close) {
      setIcon(close, 'close');
      close.addEventListener('click', () => this.dialog.close());
    }
    // A click on the backdrop (the dialog element itself, outside its
    // content) closes it, as people expect of a small settings window.
    this.dialog.addEventListener('click', (e) => {
      if (e.target === this.dialog) this.dialog.close();
    });
    this.dialog.addEventListener('close', () => {
      this.level.stop();
      this.openButton.setAttribute('aria-expanded', 'false');
    });
    // Leaving the call (left, ended, removed) hides its view: a modal
    // dialog left open would keep the next view inert.
    const room = document.getElementById('view-room');
    if (room) {
      new MutationObserver(() => {
        if (room.hidden && this.dialog.open) this.dialog.close();
      }).observe(room, { attributes: true, attributeFilter: ['hidden'] });
    }
  }

  /**
   * Shows the panel on the pre-join screen.
   * @param {boolean} sending whether the camera and microphone are used (not a spectator)
   */
  showPrejoin(sending) {
    const slot = $('prejoin-devices');
    slot.append(this.panel);
    this.setSending(sending);
    this.level.setTrack(this.media.microphone);
    if (sending) this.level.start();
    else this.level.stop();
    this.refresh();
  }

  /** The pre-join screen is gone: the panel waits in the dialog. */
  hidePrejoin() {
    this.level.stop();
    this.dialogBody.append(this.panel);
  }

  /** Opens the in-call dialog. */
  openDialog() {
    this.dialogBody.append(this.panel);
    this.setSending(this.canSend());
    if (!this.dialog.open) this.dialog.showModal();
    this.openButton.setAttribute('aria-expanded', 'true');
    this.level.setTrack(this.media.microphone);
    if (this.sending) this.level.start();
    this.refresh();
  }

  /**
   * Camera and microphone choices only matter to a tab that sends; a
   * spectator still picks a speaker.
   * @param {boolean} sending
   */
  setSending(sending) {
    this.sending = sending;
    for (const field of this.sendFields) /** @type {HTMLElement} */ (field).hidden = !sending;
    this.sendNote.hidden = sending;
  }

  /** Redraws the lists from the devices there are now (coalesced). */
  refresh() {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        this.devices = await listDevices();
        this.draw();
      } while (this.refreshAgain);
      this.refreshing = null;
    })();
    return this.refreshing;
  }

  draw() {
    const prefs = loadPrefs();
    for (const kind of KINDS) {
      const list = this.devices[kind];
      const select = this.selects[kind];
      const signature = JSON.stringify(list.map((d) => [d.deviceId, d.label]));
      if (signature !== this.drawn[kind]) {
        this.drawn[kind] = signature;
        const options = list.map((d, i) => {
          const o = document.createElement('option');
          o.value = d.deviceId;
          o.textContent = d.label || t(UNNAMED[kind], { n: i + 1 });
          return o;
        });
        if (options.length === 0) {
          const none = document.createElement('option');
          none.value = '';
          none.textContent = t('devices.none');
          options.push(none);
        }
        select.replaceChildren(...options);
      }
      select.disabled = list.length === 0 || (kind === 'speaker' && !SpeakerOutput.supported());
      const want = this.inUse(kind) || matchDevice(list, prefs[kind])?.deviceId || '';
      const value = list.some((d) => d.deviceId === want) ? want : list[0]?.deviceId || '';
      if (select.value !== value) select.value = value;
    }
    this.restoreSpeaker(prefs.speaker);
  }

  /**
   * The device id of what is in use now: the open track's device, or the
   * chosen speaker.
   * @param {DeviceKind} kind
   * @returns {string}
   */
  inUse(kind) {
    if (kind === 'speaker') return this.speaker.sinkId;
    const track = this.media[kind];
    return track && track.readyState === 'live' ? track.getSettings().deviceId || '' : '';
  }

  /**
   * The remembered speaker, once it is listed (ids need the permission
   * that the camera or microphone brings).
   * @param {import('./devices.js').DeviceChoice|undefined} choice
   */
  restoreSpeaker(choice) {
    if (this.speakerRestored || !choice || !SpeakerOutput.supported()) return;
    const found = matchDevice(this.devices.speaker, choice);
    if (!found) return;
    this.speakerRestored = true;
    this.speaker.set(found.deviceId).then(
      () => this.draw(),
      (err) => console.warn('speaker: the remembered output was refused', err),
    );
  }

  /**
   * A select changed: remember the choice and use it.
   * @param {DeviceKind} kind
   */
  pick(kind) {
    const deviceId = this.selects[kind].value;
    const device = this.devices[kind].find((d) => d.deviceId === deviceId);
    if (!device) return;
    savePref(kind, { deviceId, label: device.label });
    this.speakerRestored = true; // a choice made now wins over the remembered one
    this.queue = this.queue.then(() => this.use(kind, deviceId));
    return this.queue;
  }

  /**
   * @param {DeviceKind} kind
   * @param {string} deviceId
   */
  async use(kind, deviceId) {
    if (kind === 'speaker') {
      try {
        await this.speaker.set(deviceId);
      } catch (err) {
        console.warn('speaker: setSinkId failed', err);
        toast(t('devices.speakerFailed'), 'error');
      }
      this.draw();
      return;
    }
    // A receive-only tab remembers the choice for when it may send.
    if (!this.sending) return;
    try {
      await this.media.switchDevice(kind, deviceId);
    } catch (err) {
      console.warn('devices: switching', kind, 'failed', err);
      toast(t(kind === 'camera' ? 'devices.cameraFailed' : 'devices.microphoneFailed'), 'error');
    }
    this.draw();
  }
}
