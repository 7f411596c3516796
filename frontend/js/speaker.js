// @ts-check
// Where the call's sound plays: HTMLMediaElement.setSinkId on every <audio>
// of the page, including the ones tiles create later (a MutationObserver
// sees them arrive), so tiles.js needs to know nothing about it.
//
// Not every browser has setSinkId (Firefox long lacked it, Safari does):
// there sound plays on the system's default output and the picker says so.

export class SpeakerOutput {
  constructor() {
    /** The chosen output; '' is the system default. */
    this.sinkId = '';
    /** @type {MutationObserver|null} */
    this.observer = null;
  }

  /** @returns {boolean} whether this browser can choose the output */
  static supported() {
    return typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
  }

  /**
   * Plays all sound of the page on this output from now on.
   * @param {string} deviceId
   * @returns {Promise<void>} rejects when the browser refuses the device
   */
  async set(deviceId) {
    if (!SpeakerOutput.supported()) return;
    const previous = this.sinkId;
    this.sinkId = deviceId;
    this.watch();
    try {
      await Promise.all([...document.querySelectorAll('audio')].map((a) => apply(a, deviceId)));
    } catch (err) {
      this.sinkId = previous;
      await Promise.allSettled([...document.querySelectorAll('audio')].map((a) => apply(a, previous)));
      throw err;
    }
  }

  /** Follows <audio> elements added after the choice. */
  watch() {
    if (this.observer || !this.sinkId) return;
    this.observer = new MutationObserver((records) => {
      for (const r of records) {
        for (const node of r.addedNodes) {
          if (!(node instanceof Element)) continue;
          const audios = node instanceof HTMLAudioElement ? [node] : [...node.querySelectorAll('audio')];
          for (const a of audios) apply(a, this.sinkId).catch((err) => console.warn('speaker: setSinkId failed', err));
        }
      }
    });
    this.observer.observe(document.body, { childList: true, subtree: true });
  }
}

/**
 * @param {HTMLAudioElement} audio
 * @param {string} deviceId
 */
async function apply(audio, deviceId) {
  const el = /** @type {HTMLAudioElement & {sinkId?: string, setSinkId?: (id: string) => Promise<void>}} */ (audio);
  if (!el.setSinkId || el.sinkId === deviceId) return;
  await el.setSinkId(deviceId);
}
