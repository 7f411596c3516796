// @ts-check
// The hosts' room-wide controls: "Mute everyone" at the top of the people
// panel (a mute-all: every participant whose microphone is on gets the
// ordinary mute-request, and mutes as for one) and "Lower all" in the
// header of the raised-hands queue (lower-hands). The server checks that
// the sender is a host (the owner or a co-host); this module only shows
// the controls to hosts.
//
// Hooks: [data-testid="mute-all"], [data-testid="lower-hands"].

import { el, icon } from './dom.js';
import { t } from './i18n.js';
import { lowerHandsMessage, muteAllMessage } from './messages.js';
import { toast } from './toast.js';

/** @typedef {import('./protocol.js').ClientMessage} ClientMessage */

/**
 * What the controls show, from the call's state.
 * @typedef {Object} ModerationState
 * @property {boolean} host whether I am a host
 * @property {number} hands raised hands in the queue
 * @property {number} micsOn others (not the owner's tabs nor mine) whose microphone is live
 */

export class Moderation {
  /** @param {{send: (msg: ClientMessage) => boolean}} params */
  constructor(params) {
    this.send = params.send;

    this.muteAll = /** @type {HTMLButtonElement} */ (
      el('button', { class: 'btn btn-small people-tool', type: 'button', 'data-testid': 'mute-all' }, [
        icon('mic-off'),
        el('span', { text: t('room.muteAll') }),
      ])
    );
    this.bar = el('div', { class: 'people-tools', role: 'group', 'aria-label': t('room.ownerTools'), hidden: true }, [this.muteAll]);
    const head = document.querySelector('#people-panel .panel-head');
    head?.after(this.bar);

    this.lowerHands = /** @type {HTMLButtonElement} */ (
      el('button', {
        class: 'btn btn-small lower-hands',
        type: 'button',
        'data-testid': 'lower-hands',
        title: t('room.lowerHandsTitle'),
        text: t('room.lowerHands'),
        hidden: true,
      })
    );
    const queueTitle = document.querySelector('#hand-queue .hand-queue-title');
    queueTitle?.after(this.lowerHands);

    this.muteAll.addEventListener('click', () => {
      if (this.send(muteAllMessage())) toast(t('room.muteAllDone'), 'success');
    });
    this.lowerHands.addEventListener('click', () => this.send(lowerHandsMessage()));
  }

  /** @param {ModerationState} s */
  render(s) {
    this.bar.hidden = !s.host;
    this.muteAll.disabled = s.micsOn === 0;
    this.muteAll.title = s.micsOn === 0 ? t('room.muteAllNobody') : t('room.muteAllTitle');
    this.lowerHands.hidden = !s.host || s.hands === 0;
  }
}
