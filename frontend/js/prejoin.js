// @ts-check
// The pre-join screen: pick a display name (remembered, and saved to the
// identity with PUT /api/me), check the camera preview, switch camera and
// microphone on or off, then join, or join as a spectator who only watches.

import { ApiError, rememberName, setMyName } from './api.js';
import { initials, setIcon } from './dom.js';
import { errorText, plural, t } from './i18n.js';
import { Source } from './protocol.js';
import { toast } from './toast.js';

/** @typedef {import('./media.js').LocalMedia} LocalMedia */
/** @typedef {import('./protocol.js').Room} Room */

/**
 * @typedef {Object} JoinChoice
 * @property {string} name
 * @property {boolean} spectator
 */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

export class PreJoin {
  /**
   * @param {LocalMedia} media
   * @param {(choice: JoinChoice) => void} onJoin
   * @param {import('./devicesettings.js').DeviceSettings} [devices] the camera, microphone and speaker picker
   */
  constructor(media, onJoin, devices) {
    this.media = media;
    this.onJoin = onJoin;
    this.devices = devices;
    this.spectatorOnly = false;
    this.busy = false;
    this.mediaError = '';

    this.form = /** @type {HTMLFormElement} */ ($('prejoin-form'));
    this.nameInput = /** @type {HTMLInputElement} */ ($('display-name'));
    this.error = $('prejoin-error');
    this.joinButton = /** @type {HTMLButtonElement} */ ($('join'));
    this.spectatorButton = /** @type {HTMLButtonElement} */ ($('join-spectator'));
    this.frame = $('preview-frame');
    this.video = /** @type {HTMLVideoElement} */ ($('preview-video'));
    this.video.muted = true;
    this.note = $('preview-note');
    this.avatar = $('preview-avatar');

    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit(this.spectatorOnly);
    });
    this.spectatorButton.addEventListener('click', () => this.submit(true));
    this.nameInput.addEventListener('input', () => {
      this.showError('');
      this.avatar.textContent = initials(this.nameInput.value);
    });
    $('prejoin-mic').addEventListener('click', () => this.toggle(Source.MICROPHONE));
    $('prejoin-camera').addEventListener('click', () => this.toggle(Source.CAMERA));
    this.onMediaChange = () => this.refresh();
  }

  /**
   * Shows the screen and starts the camera preview.
   * @param {Room} room
   * @param {string} name the name to suggest
   * @param {boolean} spectatorOnly the link asked for receive-only (?spectator=1)
   */
  async show(room, name, spectatorOnly) {
    this.spectatorOnly = spectatorOnly;
    this.nameInput.value = name;
    this.avatar.textContent = initials(name);
    const meta = $('prejoin-meta');
    const people = plural('prejoin.peopleHere', room.online);
    meta.textContent = [room.owner?.name ? t('prejoin.hostedBy', { name: room.owner.name }) : '', room.online > 0 ? people : t('prejoin.nobodyHere')]
      .filter(Boolean)
      .join(' · ');

    // A room that records says so before anyone enters (recording.js).
    $('prejoin-recording-notice').hidden = !room.recording;
    for (const button of [this.joinButton, this.spectatorButton]) {
      if (room.recording) button.setAttribute('aria-describedby', 'prejoin-recording-notice');
      else button.removeAttribute('aria-describedby');
    }

    // A spectator link never touches the camera: no preview, no toggles.
    this.frame.classList.toggle('is-spectator', spectatorOnly);
    $('spectator-note').hidden = !spectatorOnly;
    this.spectatorButton.hidden = spectatorOnly;
    this.joinButton.textContent = spectatorOnly ? t('prejoin.joinSpectator') : t('prejoin.join');
    this.media.addEventListener('change', this.onMediaChange);
    this.devices?.showPrejoin(!spectatorOnly);
    this.refresh();
    if (!spectatorOnly) {
      this.note.textContent = t('prejoin.startingCamera');
      const { error } = await this.media.acquire({ video: true, audio: true });
      if (error) {
        this.mediaError = error;
        toast(error, 'error');
      }
      this.refresh();
    }
    if (!name) this.nameInput.focus();
  }

  /** Stops showing the preview (the tracks stay, for the call). */
  hide() {
    this.media.removeEventListener('change', this.onMediaChange);
    this.devices?.hidePrejoin();
    this.video.srcObject = null;
  }

  /**
   * Switches a device on or off; opens it first if it is not open yet.
   * @param {'camera'|'microphone'} source
   */
  async toggle(source) {
    if (!this.media[source]) {
      const { error } = await this.media.acquire({ video: source === Source.CAMERA, audio: source === Source.MICROPHONE });
      if (error) toast(error, 'error');
      return;
    }
    this.media.setEnabled(source, !this.media.isOn(source));
  }

  /** Redraws preview and toggles from the media state. */
  refresh() {
    const camera = this.media.camera;
    const cameraOn = this.media.isOn(Source.CAMERA);
    const micOn = this.media.isOn(Source.MICROPHONE);
    const stream = this.video.srcObject instanceof MediaStream ? this.video.srcObject : null;
    if (camera && (!stream || stream.getVideoTracks()[0] !== camera)) {
      this.video.srcObject = new MediaStream([camera]);
      this.video.play().catch(() => {});
    }
    this.frame.classList.toggle('camera-off', !cameraOn);
    this.note.textContent = this.spectatorOnly
      ? t('prejoin.spectatorPreview')
      : !camera
        ? this.mediaError
          ? t('prejoin.noCamera')
          : ''
        : cameraOn
          ? ''
          : t('prejoin.cameraIsOff');
    this.note.hidden = !this.note.textContent;
    toggleButton('prejoin-mic', micOn, 'mic', 'mic-off', t('prejoin.micOn'), t('prejoin.micOff'), t('prejoin.micTurnOff'), t('prejoin.micTurnOn'));
    toggleButton('prejoin-camera', cameraOn, 'camera', 'camera-off', t('prejoin.cameraOn'), t('prejoin.cameraOff'), t('prejoin.cameraTurnOff'), t('prejoin.cameraTurnOn'));
  }

  /** @param {string} message */
  showError(message) {
    this.error.textContent = message;
    this.error.hidden = !message;
    this.nameInput.setAttribute('aria-invalid', message ? 'true' : 'false');
  }

  /**
   * Checks the name, saves it, and hands over to the room.
   * @param {boolean} spectator
   */
  async submit(spectator) {
    if (this.busy) return;
    const name = this.nameInput.value.trim();
    if (!name) {
      this.showError(t('prejoin.enterName'));
      this.nameInput.focus();
      return;
    }
    this.busy = true;
    this.joinButton.disabled = true;
    this.spectatorButton.disabled = true;
    try {
      await setMyName(name);
    } catch (err) {
      // A rejected name is the user's to fix; a network hiccup is not a
      // reason to stay out (the socket carries the name too).
      if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
        this.showError(errorText(err.code, err.message));
        this.busy = false;
        this.joinButton.disabled = false;
        this.spectatorButton.disabled = false;
        this.nameInput.focus();
        return;
      }
    }
    rememberName(name);
    this.busy = false;
    this.joinButton.disabled = false;
    this.spectatorButton.disabled = false;
    this.hide();
    this.onJoin({ name, spectator });
  }
}

/**
 * @param {string} id
 * @param {boolean} on
 * @param {string} iconOn
 * @param {string} iconOff
 * @param {string} labelOn
 * @param {string} labelOff
 * @param {string} titleOn the title while on (how to turn it off)
 * @param {string} titleOff the title while off
 */
function toggleButton(id, on, iconOn, iconOff, labelOn, labelOff, titleOn, titleOff) {
  const button = $(id);
  button.setAttribute('aria-pressed', String(on));
  button.classList.toggle('is-off', !on);
  setIcon(button, on ? iconOn : iconOff);
  const label = button.querySelector('.control-label');
  if (label) label.textContent = on ? labelOn : labelOff;
  button.title = on ? titleOn : titleOff;
}
