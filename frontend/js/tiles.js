// @ts-check
// The video grid: one tile per participant (mine first), laid out so that
// the tiles are as large as the stage allows.
//
// Tile DOM (the test hooks in /tmp/contract.md depend on it):
//   <article class="tile" data-participant-id="ID" [data-local]>
//     <div class="tile-camera"><video autoplay playsinline muted> + avatar</div>
//     <video class="tile-screen" ...>   only while sharing a screen
//     <audio autoplay>                  remote tiles only
//     <div class="tile-label">name, badges, mic state</div>
//     <div class="tile-connection-holder">   remote tiles only (connection.js):
//       <button data-testid="tile-connection"> + its popover panel
//     <div class="tile-tools">    remote tiles only (tilecontrols.js): pin, pause
//     <div class="tile-paused">   remote tiles only: "Video paused" and Resume
//     <span data-testid="tile-quality">   remote tiles only (tilequality.js)
//   </article>
// Videos are always muted and sound plays through a separate <audio>, so
// autoplay rules can block only the sound, never the picture. A camera that
// is off is covered by the avatar rather than hidden: a hidden <video>
// stops presenting frames, which would look like a freeze when it returns.

import { ConnectionView } from './connection.js';
import { avatarClass, el, initials, setIcon } from './dom.js';
import { t } from './i18n.js';
import { roleBadge } from './people.js';
import { Role, Source, TrackState } from './protocol.js';
import { TileControls } from './tilecontrols.js';

/** @typedef {import('./protocol.js').Participant} Participant */
/** @typedef {import('./connection.js').MediaConnection} MediaConnection */
/** @typedef {(id: string) => MediaConnection|null} ConnectionLookup */

const TILE_RATIO = 16 / 9;
const GAP = 12; // px, keep in sync with --grid-gap in room.css
const NARROW = 640; // px; below this width the grid is one column

export class Tile {
  /**
   * @param {Participant} p
   * @param {boolean} local
   * @param {() => void} onAutoplayBlocked
   * @param {ConnectionLookup} [connectionOf] the connection that carries a
   *   participant's media, for the connection view of a remote tile
   */
  constructor(p, local, onAutoplayBlocked, connectionOf) {
    this.id = p.id;
    this.local = local;
    this.onAutoplayBlocked = onAutoplayBlocked;
    /** @type {MediaStreamTrack|null} */
    this.cameraTrack = null;
    /** @type {MediaStreamTrack|null} */
    this.screenTrack = null;
    /** @type {MediaStreamTrack|null} */
    this.audioTrack = null;
    /** @type {HTMLVideoElement|null} */
    this.screenVideo = null;
    /** @type {HTMLAudioElement|null} */
    this.audio = null;
    this.cameraLive = false;

    this.cameraVideo = /** @type {HTMLVideoElement} */ (
      el('video', { class: 'tile-video', autoplay: true, playsinline: true, muted: true })
    );
    this.cameraVideo.muted = true; // the attribute alone does not set the property
    this.avatar = el('div', { class: 'tile-avatar', 'aria-hidden': 'true' }, [el('span', { class: 'avatar avatar-lg' })]);
    this.name = el('span', { class: 'tile-name' });
    this.badges = el('span', { class: 'tile-badges' });
    this.mic = el('span', { class: 'tile-mic', role: 'img' });
    this.status = el('span', { class: 'tile-status', 'aria-live': 'polite' });
    this.root = el('article', { class: 'tile', 'data-participant-id': p.id, 'data-local': local }, [
      el('div', { class: 'tile-camera' }, [this.cameraVideo, this.avatar]),
      el('div', { class: 'tile-label' }, [this.mic, this.name, this.badges]),
      this.status,
    ]);
    if (local) this.root.classList.add('is-local');
    /** @type {ConnectionView|null} how this person's media reaches me (remote tiles) */
    this.connection = null;
    if (!local && connectionOf) {
      this.connection = new ConnectionView(() => connectionOf(this.id));
      this.root.append(this.connection.root);
    }
    /** @type {TileControls|null} this page's pause and pin of a remote tile */
    this.controls = null;
    /** @type {HTMLElement|null} the received resolution (tilequality.js) */
    this.qualityBadge = null;
    if (!local) {
      this.controls = new TileControls(this.root);
      this.qualityBadge = el('span', { class: 'tile-quality', 'data-testid': 'tile-quality', 'aria-hidden': 'true', hidden: true });
      // Left of the connection button, and before it in the tab order.
      this.root.insertBefore(this.controls.root, this.connection?.root || null);
      this.root.append(this.controls.overlay, this.qualityBadge);
    }
    this.update(p);
  }

  /** @returns {boolean} the viewer paused this video: it is not watched */
  get paused() {
    return !!this.controls?.paused;
  }

  /** @returns {boolean} the viewer asks for this video in high quality */
  get pinned() {
    return !!this.controls?.pinned;
  }

  /**
   * Refreshes name, badges and the camera/mic state.
   * @param {Participant} p
   */
  update(p) {
    const media = p.media || {};
    const label = this.local ? t('tile.you', { name: p.name }) : p.name;
    if (this.name.textContent !== label) this.name.textContent = label;
    this.root.setAttribute('aria-label', label);
    this.connection?.setName(p.name);
    this.controls?.setName(p.name);

    const avatar = /** @type {HTMLElement} */ (this.avatar.firstElementChild);
    avatar.textContent = initials(p.name);
    avatar.className = 'avatar avatar-lg ' + avatarClass(p.userId || p.id);

    const badge = roleBadge(p.role);
    this.badges.replaceChildren(...(badge ? [badge] : []));
    this.root.toggleAttribute('data-spectator', p.role === Role.SPECTATOR);

    const micLive = media[Source.MICROPHONE] === TrackState.LIVE;
    this.mic.hidden = p.role === Role.SPECTATOR;
    this.mic.classList.toggle('is-off', !micLive);
    this.mic.setAttribute('title', micLive ? t('people.mic.on') : t('people.mic.off'));
    this.mic.setAttribute('aria-label', micLive ? t('people.mic.on') : t('people.mic.off'));
    setIcon(this.mic, micLive ? 'mic' : 'mic-off');

    this.cameraLive = media[Source.CAMERA] === TrackState.LIVE;
    // A stable hook for tests and styles: live, paused or off (unpublished).
    this.root.dataset.camera = media[Source.CAMERA] || 'off';
    this.refreshCamera();
  }

  /** Shows the picture only when the camera is live and a track is there. */
  refreshCamera() {
    const showing = this.cameraLive && !!this.cameraTrack && this.cameraTrack.readyState === 'live';
    this.root.classList.toggle('camera-off', !showing);
  }

  /** @param {MediaStreamTrack|null} track */
  setCamera(track) {
    if (track === this.cameraTrack) return;
    this.cameraTrack = track;
    this.cameraVideo = showVideo(this.cameraVideo, track, this.onAutoplayBlocked);
    this.refreshCamera();
  }

  /** @param {MediaStreamTrack|null} track */
  setScreen(track) {
    if (track === this.screenTrack) return;
    this.screenTrack = track;
    if (track) {
      if (!this.screenVideo) {
        this.screenVideo = /** @type {HTMLVideoElement} */ (
          el('video', { class: 'tile-video tile-screen', autoplay: true, playsinline: true, muted: true })
        );
        this.screenVideo.muted = true;
        this.root.prepend(this.screenVideo);
      }
      this.screenVideo = showVideo(this.screenVideo, track, this.onAutoplayBlocked);
    } else if (this.screenVideo) {
      showVideo(this.screenVideo, null, this.onAutoplayBlocked);
      this.screenVideo.remove();
      this.screenVideo = null;
    }
    this.root.classList.toggle('has-screen', !!track);
  }

  /** @param {MediaStreamTrack|null} track */
  setAudio(track) {
    if (this.local || track === this.audioTrack) return;
    this.audioTrack = track;
    if (!this.audio) {
      this.audio = /** @type {HTMLAudioElement} */ (el('audio', { autoplay: true }));
      this.root.append(this.audio);
    }
    attach(this.audio, track, this.onAutoplayBlocked);
  }

  /** @param {string} state RTCPeerConnectionState of this participant's connection */
  setConnectionState(state) {
    this.root.dataset.peerState = state;
    const text =
      state === 'new' || state === 'connecting'
        ? t('tile.connecting')
        : state === 'disconnected'
          ? t('tile.reconnecting')
          : state === 'failed'
            ? t('tile.lost')
            : '';
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  /** Plays sound again after the user allowed it. */
  retryAudio() {
    this.audio?.play().catch(() => {});
  }

  destroy() {
    this.connection?.destroy();
    for (const media of this.root.querySelectorAll('video, audio')) {
      /** @type {HTMLMediaElement} */ (media).srcObject = null;
    }
    this.root.remove();
  }
}

/**
 * Whether a track swapped inside the MediaStream an element already plays
 * keeps being presented. Chromium's player does, and shows the new track's
 * next frame within 100 ms, where a new srcObject took up to half a second
 * on a busy machine. Firefox's <video> stops presenting frames after such a
 * swap (issue 12) and Safari's is untested, so every other browser gets a
 * fresh element instead (showVideo). navigator.userAgentData exists only in
 * Chromium-based browsers.
 */
const IN_STREAM_SWAP = typeof navigator !== 'undefined' && 'userAgentData' in navigator;

/** How long a fresh video may take to present its first frame before it replaces the old one anyway. */
const FIRST_FRAME_TIMEOUT_MS = 3000;

/**
 * Shows track in a <video> that plays another, or nothing yet, and returns
 * the element that shows it. Make-before-break at the element: where the
 * in-stream swap is not known to work, the new track plays in a fresh
 * element laid under the old one, and replaces it once it has presented its
 * first frame. The old picture keeps playing until then, so the switch
 * neither freezes nor blanks the tile.
 * @param {HTMLVideoElement} video
 * @param {MediaStreamTrack|null} track
 * @param {() => void} onBlocked
 * @returns {HTMLVideoElement}
 */
function showVideo(video, track, onBlocked) {
  cancelIncoming(video);
  const current = video.srcObject;
  const playing = current instanceof MediaStream && current.getTracks().length > 0;
  if (!track || !playing || IN_STREAM_SWAP) {
    attach(video, track, onBlocked);
    return video;
  }
  if (current.getTracks()[0] === track) return video;
  const fresh = /** @type {HTMLVideoElement} */ (video.cloneNode(false));
  fresh.muted = true;
  fresh.classList.add('is-incoming');
  // Earlier in the document: the old element, positioned the same, paints
  // over it until the swap.
  video.before(fresh);
  attach(fresh, track, onBlocked);
  const swap = () => {
    if (incoming.get(video) !== fresh) return;
    incoming.delete(video);
    replacedBy.delete(fresh);
    fresh.classList.remove('is-incoming');
    video.srcObject = null;
    video.remove();
  };
  incoming.set(video, fresh);
  firstFrame(fresh, FIRST_FRAME_TIMEOUT_MS).then(swap);
  // The caller keeps the element it will show: the fresh one. Until the
  // swap the old one stays in place and playing.
  replacedBy.set(fresh, video);
  return fresh;
}

/** Old element -> the fresh one waiting for its first frame. */
/** @type {WeakMap<HTMLVideoElement, HTMLVideoElement>} */
const incoming = new WeakMap();
/** Fresh element -> the old one it will replace. */
/** @type {WeakMap<HTMLVideoElement, HTMLVideoElement>} */
const replacedBy = new WeakMap();

/**
 * Drops a swap still waiting for its first frame: the element to show
 * changed again. video may be the fresh element of that swap, in which case
 * the old one is shown in its place at once.
 * @param {HTMLVideoElement} video
 */
function cancelIncoming(video) {
  const old = replacedBy.get(video);
  if (old && incoming.get(old) === video) {
    // video was waiting to replace old: old goes now, video takes its place.
    incoming.delete(old);
    replacedBy.delete(video);
    video.classList.remove('is-incoming');
    old.srcObject = null;
    old.remove();
  }
  const fresh = incoming.get(video);
  if (fresh) {
    incoming.delete(video);
    fresh.srcObject = null;
    fresh.remove();
  }
}

/**
 * Resolves when video presents a frame, or after timeoutMs.
 * @param {HTMLVideoElement} video
 * @param {number} timeoutMs
 * @returns {Promise<void>}
 */
function firstFrame(video, timeoutMs) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(done);
    else video.addEventListener('loadeddata', done, { once: true });
  });
}

/**
 * Points a media element at one track and starts it. The video elements are
 * muted and always allowed to play; a refused <audio> calls onBlocked.
 * Where the browser keeps presenting a track swapped inside the MediaStream
 * the element already plays (IN_STREAM_SWAP), a new track replaces the old
 * one there: the element keeps its player and its last picture. Elsewhere a
 * new MediaStream is set (for video, showVideo plays it in a fresh element).
 * @param {HTMLMediaElement} media
 * @param {MediaStreamTrack|null} track
 * @param {() => void} onBlocked
 */
function attach(media, track, onBlocked) {
  if (!track) {
    media.srcObject = null;
    return;
  }
  const current = media.srcObject;
  if (current instanceof MediaStream && current.getTracks().length > 0) {
    const old = current.getTracks();
    if (old.length === 1 && old[0] === track) return;
    // A stream holds one track per id, and the SFU names each track by its
    // source: the camera of a restarted SFU connection is "camera" again,
    // addTrack would do nothing, and the swap would leave the element with
    // no track at all. A swap only keeps a live picture showing; one that
    // ended has none. Either way a fresh stream plays the new track.
    if (IN_STREAM_SWAP && old.every((t) => t.id !== track.id && t.readyState === 'live')) {
      current.addTrack(track);
      for (const t of old) if (t !== track) current.removeTrack(t);
      if (!media.paused) return;
    } else {
      media.srcObject = new MediaStream([track]);
    }
  } else {
    media.srcObject = new MediaStream([track]);
  }
  media.play().catch((err) => {
    if (err && err.name === 'NotAllowedError' && !media.muted) onBlocked();
  });
}

export class VideoGrid {
  /**
   * @param {HTMLElement} root the grid element
   * @param {() => void} onAutoplayBlocked
   */
  constructor(root, onAutoplayBlocked) {
    this.root = root;
    this.onAutoplayBlocked = onAutoplayBlocked;
    /** @type {Map<string, Tile>} */
    this.tiles = new Map();
    /** @type {ConnectionLookup} set by the topology (setConnectionLookup) */
    this.connectionOf = () => null;
    this.resizeObserver = new ResizeObserver(() => this.layout());
    this.resizeObserver.observe(root);
  }

  /**
   * Adds or refreshes a participant's tile.
   * @param {Participant} p
   * @param {boolean} [local]
   * @returns {Tile}
   */
  upsert(p, local = false) {
    let tile = this.tiles.get(p.id);
    if (!tile) {
      tile = new Tile(p, local, this.onAutoplayBlocked, (id) => this.connectionOf(id));
      this.tiles.set(p.id, tile);
      if (local) this.root.prepend(tile.root);
      else this.root.append(tile.root);
    } else {
      tile.update(p);
    }
    this.layout();
    return tile;
  }

  /**
   * Tells the remote tiles where to read their connection's stats.
   * @param {ConnectionLookup} lookup
   */
  setConnectionLookup(lookup) {
    this.connectionOf = lookup;
  }

  /** @param {string} id */
  get(id) {
    return this.tiles.get(id);
  }

  /**
   * Shows the avatars of those whose video the SFU holds back from me
   * (last-n), and the videos of everyone else: data-held is the test hook.
   * @param {string[]} ids
   */
  setHeld(ids) {
    const held = new Set(ids);
    for (const [tileId, tile] of this.tiles) {
      tile.root.classList.toggle('is-held', held.has(tileId));
      tile.root.toggleAttribute('data-held', held.has(tileId));
    }
  }

  /**
   * Rings the tile of the room's dominant speaker (active-speaker), and
   * no other: data-speaking is the test hook.
   * @param {string} id
   */
  setSpeaker(id) {
    for (const [tileId, tile] of this.tiles) {
      const speaking = tileId === id;
      tile.root.classList.toggle('is-speaking', speaking);
      tile.root.toggleAttribute('data-speaking', speaking);
    }
  }

  /** @param {string} id */
  remove(id) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    tile.destroy();
    this.tiles.delete(id);
    this.layout();
  }

  clear() {
    for (const tile of this.tiles.values()) tile.destroy();
    this.tiles.clear();
    this.layout();
  }

  retryAudio() {
    for (const tile of this.tiles.values()) tile.retryAudio();
  }

  /**
   * Picks the column count that gives the largest 16:9 tiles for the stage's
   * current size. A tile with a screen share takes a 2x2 block. The result
   * goes to CSS custom properties (CSSOM, which the CSP allows).
   */
  layout() {
    // Tiles on the stage (stage.js) are laid out there, not here.
    const inGrid = [...this.tiles.values()].filter((t) => t.root.parentElement === this.root);
    const n = inGrid.length;
    const screens = inGrid.filter((t) => t.screenTrack).length;
    this.root.dataset.count = String(n);
    this.root.classList.toggle('has-screen', screens > 0);
    const width = this.root.clientWidth;
    const height = this.root.clientHeight;
    if (n === 0 || width === 0 || height === 0) return;

    if (width < NARROW) {
      // Phones: one column, tiles as wide as the screen, scroll for more.
      this.root.style.setProperty('--cols', '1');
      this.root.style.setProperty('--tile-w', width + 'px');
      this.root.classList.add('is-narrow');
      this.root.classList.remove('spans-screen');
      return;
    }
    this.root.classList.remove('is-narrow');
    const big = n > 1 ? screens : 0;
    this.root.classList.toggle('spans-screen', big > 0);
    const cells = n + 3 * big;
    let best = { cols: 1, tileW: 0 };
    for (let cols = big ? 2 : 1; cols <= Math.max(cells, 2); cols++) {
      const rows = Math.ceil(cells / cols);
      const tileW = Math.min((width - (cols - 1) * GAP) / cols, ((height - (rows - 1) * GAP) / rows) * TILE_RATIO);
      if (tileW > best.tileW) best = { cols, tileW };
    }
    this.root.style.setProperty('--cols', String(best.cols));
    this.root.style.setProperty('--tile-w', Math.floor(best.tileW) + 'px');
  }
}
