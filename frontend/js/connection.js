// @ts-check
// The connection view: a small button on each remote tile opens a panel
// that says how that person's media reaches this page (peer to peer, via
// the server, relayed by a TURN server, over TCP) and the round-trip time,
// so that people can see why a call is slow, and how each of that
// person's videos arrives: its resolution, frame rate, bit rate and loss
// (a row per video, data-testid="connection-quality", filled by
// tilequality.js, which reads the stats on its own).
//
// Everything comes from getStats() of the RTCPeerConnection that carries
// the tile's media, asked again every POLL_MS while the panel is open and
// never while it is closed. Which connection that is, the topology decides
// (topology.js, mediaConnection): it is looked up at every poll, because a
// switch between mesh and SFU moves the tile to another connection.
//
// readConnection and connectionHint are pure, for node --test. The panel is
// a popover, in the top layer: no tile's rounded, clipped edge can cut it,
// however small the tile (the stage's strip on a phone).

import { el } from './dom.js';
import { t } from './i18n.js';
import { qualityText } from './tilequality.js';

/**
 * How the media travels:
 * - direct: peer to peer over UDP (host, srflx or prflx candidates);
 * - server: to and from our SFU over UDP;
 * - turn-udp / turn-tcp / turn-tls: through a TURN relay, which this page
 *   reaches over UDP, TCP or TLS;
 * - tcp: ICE over TCP without a relay (the SFU offers TCP candidates);
 * - unknown: no candidate pair is selected yet.
 * @typedef {'direct'|'server'|'turn-udp'|'turn-tcp'|'turn-tls'|'tcp'|'unknown'} ConnectionPath
 */

/** @typedef {{path: ConnectionPath, rttMs: number|null}} ConnectionReading */

/**
 * A connection that carries a tile's media, and whether its other end is
 * the SFU (rather than the person's own browser).
 * @typedef {{pc: RTCPeerConnection, server: boolean}} MediaConnection
 */

/** How often an open panel reads the stats again. */
export const POLL_MS = 2000;
/** Above this round-trip time, conversation gets awkward: say so. */
export const HIGH_RTT_MS = 300;

/** @type {Record<string, ConnectionPath>} */
const TURN_PATHS = { udp: 'turn-udp', tcp: 'turn-tcp', tls: 'turn-tls' };

/**
 * The stats objects of an RTCStatsReport (a maplike, whose own iterator
 * gives [id, stats] entries), a Map, or an array of stats objects.
 * @param {any} report
 * @returns {any[]}
 */
function statsList(report) {
  if (!report) return [];
  return [...(typeof report.values === 'function' ? report.values() : report)];
}

/**
 * Of several candidate pairs, the one that carried media last: after an
 * ICE restart the old pair can linger in the report, nominated still.
 * @param {any[]} pairs
 * @returns {any|null}
 */
function latestUsed(pairs) {
  let best = null;
  for (const pair of pairs) {
    if (
      !best ||
      (pair.lastPacketReceivedTimestamp || 0) > (best.lastPacketReceivedTimestamp || 0) ||
      ((pair.lastPacketReceivedTimestamp || 0) === (best.lastPacketReceivedTimestamp || 0) && (pair.bytesReceived || 0) > (best.bytesReceived || 0))
    ) {
      best = pair;
    }
  }
  return best;
}

/**
 * The candidate pair in use. Chromium names it in the transport's
 * selectedCandidatePairId; Firefox has no transport stats and marks the
 * pair `selected: true`; older browsers only say which pair succeeded and
 * was nominated.
 * @param {any[]} list
 * @param {Map<string, any>} byId
 * @returns {any|null}
 */
function selectedPair(list, byId) {
  for (const stats of list) {
    if (stats.type !== 'transport' || !stats.selectedCandidatePairId) continue;
    const pair = byId.get(stats.selectedCandidatePairId);
    if (pair && pair.type === 'candidate-pair') return pair;
  }
  const succeeded = list.filter((s) => s.type === 'candidate-pair' && s.state === 'succeeded');
  return latestUsed(succeeded.filter((p) => p.selected === true)) || latestUsed(succeeded.filter((p) => p.nominated === true));
}

/** @param {any} candidate */
function isRelay(candidate) {
  // 'relayed' is the name of the first drafts, still seen in old browsers.
  return candidate.candidateType === 'relay' || candidate.candidateType === 'relayed';
}

/** @param {any} candidate */
function isTCP(candidate) {
  return String(candidate.protocol || '').toLowerCase() === 'tcp';
}

/**
 * How this page reaches its TURN server. relayProtocol says it where the
 * browser reports it; else the server's URL does (turns: is TLS,
 * ?transport=tcp is TCP).
 * @param {any} local a relay local-candidate
 * @returns {string}
 */
function relayProtocol(local) {
  const named = String(local.relayProtocol || '').toLowerCase();
  if (named in TURN_PATHS) return named;
  const url = String(local.url || '').toLowerCase();
  if (url.startsWith('turns:')) return 'tls';
  if (url.includes('transport=tcp')) return 'tcp';
  return 'udp';
}

/**
 * The path between a local and a remote candidate.
 * @param {any} local
 * @param {any} remote
 * @param {boolean} server whether the other end is the SFU
 * @returns {ConnectionPath}
 */
function pathOf(local, remote, server) {
  if (isRelay(local)) return TURN_PATHS[relayProtocol(local)];
  // Only the other side is relayed: how it reaches its TURN server is not
  // in our stats, but the hop to us is, and it is the one we can see.
  if (isRelay(remote)) return isTCP(local) ? 'turn-tcp' : 'turn-udp';
  if (isTCP(local) || isTCP(remote)) return 'tcp';
  return server ? 'server' : 'direct';
}

/**
 * The round-trip time of a pair in milliseconds (to 0.1 ms), or null. The
 * latest measure when there is one, else the average of all so far.
 * @param {any} pair
 * @returns {number|null}
 */
function roundTripMs(pair) {
  let seconds = null;
  if (Number.isFinite(pair.currentRoundTripTime) && pair.currentRoundTripTime >= 0) {
    seconds = pair.currentRoundTripTime;
  } else if (Number.isFinite(pair.totalRoundTripTime) && pair.responsesReceived > 0) {
    seconds = pair.totalRoundTripTime / pair.responsesReceived;
  }
  return seconds === null ? null : Math.round(seconds * 10000) / 10;
}

/**
 * The path and round-trip time of a connection, from its stats. Pure.
 * @param {any} report an RTCStatsReport, a Map of stats, or an array of them
 * @param {boolean} server whether the connection goes to the SFU (the caller
 *   knows: the stats of the two ends look alike)
 * @returns {ConnectionReading}
 */
export function readConnection(report, server) {
  const list = statsList(report);
  const byId = new Map(list.map((s) => [s.id, s]));
  const pair = selectedPair(list, byId);
  if (!pair) return { path: 'unknown', rttMs: null };
  const local = byId.get(pair.localCandidateId);
  const remote = byId.get(pair.remoteCandidateId);
  return { path: local && remote ? pathOf(local, remote, server) : 'unknown', rttMs: roundTripMs(pair) };
}

/**
 * The one hint worth showing, if any. The cause (UDP blocked, so TCP)
 * comes before its effect (a long delay).
 * @param {ConnectionReading} reading
 * @returns {'tcp'|'slow'|null}
 */
export function connectionHint(reading) {
  if (reading.path === 'turn-tcp' || reading.path === 'turn-tls' || reading.path === 'tcp') return 'tcp';
  if (reading.rttMs !== null && reading.rttMs > HIGH_RTT_MS) return 'slow';
  return null;
}

/**
 * @param {ConnectionPath} path
 * @param {boolean} server
 * @returns {string}
 */
function pathLabel(path, server) {
  switch (path) {
    case 'direct':
      return t('connection.direct');
    case 'server':
      return t('connection.server');
    case 'turn-udp':
      return t('connection.turnUdp');
    case 'turn-tcp':
      return t('connection.turnTcp');
    case 'turn-tls':
      return t('connection.turnTls');
    case 'tcp':
      return server ? t('connection.tcpServer') : t('connection.tcpDirect');
    default:
      return t('connection.unknown');
  }
}

/**
 * @param {number} ms
 * @returns {string}
 */
function rttLabel(ms) {
  return ms < 1 ? t('connection.rttBelowOne') : t('connection.rtt', { ms: Math.round(ms) });
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Three rising bars: the usual sign for "connection". */
function signalIcon() {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  for (const d of ['M6 19v-4', 'M12 19v-8', 'M18 19v-12']) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/**
 * Sets a text only when it changed: the path is a live region, and a
 * rewrite of the same words would be read out again.
 * @param {HTMLElement} node
 * @param {string} text
 */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Gap between the button and the panel, and between the panel and the window's edge. */
const MARGIN_PX = 8;

let panels = 0;

/** The button of one remote tile and the panel it opens. */
export class ConnectionView {
  /**
   * @param {() => MediaConnection|null} lookup the connection that carries
   *   the tile's media now
   */
  constructor(lookup) {
    this.lookup = lookup;
    /** Counts the opens: a poll of an earlier open finds it changed and stops. */
    this.generation = 0;
    this.timer = 0;
    const id = `connection-panel-${++panels}`;

    this.button = el('button', {
      type: 'button',
      class: 'tile-connection',
      'data-testid': 'tile-connection',
      title: t('connection.title'),
      'aria-expanded': 'false',
      'aria-controls': id,
      popovertarget: id,
    });
    this.button.append(signalIcon());
    this.pathText = el('span', { class: 'connection-path', 'data-testid': 'connection-path', 'aria-live': 'polite' });
    this.separator = el('span', { class: 'connection-sep', 'aria-hidden': 'true', text: '·', hidden: true });
    this.rttText = el('span', { class: 'connection-rtt', 'data-testid': 'connection-rtt', title: t('connection.rttTitle') });
    this.hintText = el('p', { class: 'connection-hint', 'data-testid': 'connection-hint', 'aria-live': 'polite', hidden: true });
    /** The rows of the videos received, by source. */
    /** @type {Map<string, {row: HTMLElement, picture: HTMLElement, flow: HTMLElement}>} */
    this.qualityRows = new Map();
    this.qualityList = el('div', { class: 'connection-quality', hidden: true });
    this.panel = el(
      'div',
      { class: 'connection-popover', id, popover: 'auto', role: 'group', 'aria-labelledby': id + '-title', 'data-testid': 'connection-popover', 'data-path': 'unknown', 'data-rtt': '' },
      [
        el('p', { class: 'connection-title', id: id + '-title', text: t('connection.title') }),
        el('p', { class: 'connection-line' }, [el('span', { class: 'connection-dot', 'aria-hidden': 'true' }), this.pathText, this.separator, this.rttText]),
        this.qualityList,
        this.hintText,
      ],
    );
    this.root = el('div', { class: 'tile-connection-holder' }, [this.button, this.panel]);

    // The popover opens and closes itself (its button, a click elsewhere,
    // Escape); this follows it.
    this.panel.addEventListener('toggle', (e) => {
      if (/** @type {ToggleEvent} */ (e).newState === 'open') this.opened();
      else this.closed();
    });
    this.onKey = (/** @type {KeyboardEvent} */ e) => {
      if (e.key !== 'Escape' || !this.isOpen()) return;
      // Handled: the same Escape must not also close a drawer (ui.js).
      e.preventDefault();
      this.close();
      this.button.focus();
    };
    this.onMove = () => this.place();
  }

  /** @param {string} name the participant's name, for the button's label */
  setName(name) {
    this.button.setAttribute('aria-label', t('connection.open', { name }));
  }

  /** @returns {boolean} */
  isOpen() {
    return this.panel.matches(':popover-open');
  }

  close() {
    if (this.isOpen()) this.panel.hidePopover();
    this.closed();
  }

  /** The tile is going away. */
  destroy() {
    this.close();
  }

  opened() {
    this.button.setAttribute('aria-expanded', 'true');
    this.place();
    document.addEventListener('keydown', this.onKey, true);
    // The grid scrolls on phones, and the window can change size: the
    // panel stays by its button.
    window.addEventListener('scroll', this.onMove, { capture: true, passive: true });
    window.addEventListener('resize', this.onMove);
    clearTimeout(this.timer);
    this.poll(++this.generation);
  }

  closed() {
    this.button.setAttribute('aria-expanded', 'false');
    delete this.panel.dataset.placed;
    document.removeEventListener('keydown', this.onKey, true);
    window.removeEventListener('scroll', this.onMove, true);
    window.removeEventListener('resize', this.onMove);
    clearTimeout(this.timer);
    this.generation++;
  }

  /**
   * Reads the stats, shows them, and comes back in POLL_MS while the panel
   * stays open.
   * @param {number} generation
   */
  async poll(generation) {
    // A popover taken out of the document (the tile left, or moved to the
    // stage) is hidden without a toggle event: stop here too.
    if (generation !== this.generation) return;
    if (!this.root.isConnected || !this.isOpen()) {
      this.close();
      return;
    }
    const connection = this.lookup();
    /** @type {ConnectionReading} */
    let reading = { path: 'unknown', rttMs: null };
    if (connection) {
      try {
        reading = readConnection(await connection.pc.getStats(), connection.server);
      } catch {
        // Closed while we asked: the next poll asks the next connection.
      }
    }
    if (generation !== this.generation) return;
    this.show(reading, connection);
    this.place();
    this.timer = window.setTimeout(() => this.poll(generation), POLL_MS);
  }

  /**
   * @param {ConnectionReading} reading
   * @param {MediaConnection|null} connection
   */
  show(reading, connection) {
    const hint = connectionHint(reading);
    const panel = this.panel;
    panel.dataset.path = reading.path;
    panel.dataset.rtt = reading.rttMs === null ? '' : String(reading.rttMs);
    panel.dataset.quality = reading.path === 'unknown' ? 'unknown' : hint ? 'poor' : 'good';
    setText(this.pathText, connection ? pathLabel(reading.path, connection.server) : t('connection.none'));
    setText(this.rttText, reading.rttMs === null ? '' : rttLabel(reading.rttMs));
    this.separator.hidden = reading.rttMs === null;
    setText(this.hintText, hint === 'tcp' ? t('connection.hintTcp') : hint === 'slow' ? t('connection.hintSlow') : '');
    this.hintText.hidden = !hint;
  }

  /**
   * Shows how each of the person's videos arrives (tilequality.js): a row
   * per video, with its numbers in data-* for tests.
   * @param {import('./tilequality.js').VideoReading[]} readings
   */
  setQuality(readings) {
    const seen = new Set();
    for (const { source, quality } of readings) {
      seen.add(source);
      let entry = this.qualityRows.get(source);
      if (!entry) {
        const picture = el('span', { class: 'connection-quality-picture' });
        const flow = el('span', { class: 'connection-quality-flow' });
        const row = el('p', { class: 'connection-quality-row', 'data-testid': 'connection-quality', 'data-source': source }, [
          el('span', { class: 'connection-quality-what', text: source === 'screen' ? t('quality.screen') : t('quality.camera') }),
          picture,
          flow,
        ]);
        entry = { row, picture, flow };
        this.qualityRows.set(source, entry);
      }
      const text = qualityText(quality);
      setText(entry.picture, text.picture);
      setText(entry.flow, text.flow);
      entry.flow.hidden = !text.flow;
      const data = entry.row.dataset;
      data.width = String(quality?.width || 0);
      data.height = String(quality?.height || 0);
      data.kbps = quality?.kbps == null ? '' : String(quality.kbps);
      data.loss = quality?.lossPct == null ? '' : String(quality.lossPct);
      data.fps = quality?.fps == null ? '' : String(quality.fps);
    }
    for (const source of [...this.qualityRows.keys()]) if (!seen.has(source)) this.qualityRows.delete(source);
    const rows = [...this.qualityRows.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, e]) => e.row);
    if (rows.length !== this.qualityList.children.length || rows.some((r, i) => this.qualityList.children[i] !== r)) {
      this.qualityList.replaceChildren(...rows);
    }
    this.qualityList.hidden = rows.length === 0;
    if (this.isOpen()) this.place();
  }

  /**
   * Puts the panel under its button, right edges aligned, inside the
   * window; above the button when there is no room below. The place goes
   * through custom properties (CSSOM, which the CSP allows).
   */
  place() {
    if (!this.isOpen()) return;
    const anchor = this.button.getBoundingClientRect();
    const width = this.panel.offsetWidth;
    const height = this.panel.offsetHeight;
    const viewWidth = document.documentElement.clientWidth;
    const viewHeight = window.innerHeight;
    const left = Math.max(MARGIN_PX, Math.min(anchor.right - width, viewWidth - width - MARGIN_PX));
    const below = anchor.bottom + MARGIN_PX;
    const top = below + height <= viewHeight - MARGIN_PX ? below : Math.max(MARGIN_PX, anchor.top - MARGIN_PX - height);
    this.panel.style.setProperty('--conn-left', `${Math.round(left)}px`);
    this.panel.style.setProperty('--conn-top', `${Math.round(top)}px`);
    // Until now it was invisible (room.css), rather than shown for a frame
    // in the window's corner.
    this.panel.dataset.placed = '';
  }
}
