package e2e

// This file holds the probe that the browser tests put into every page
// before the page's own scripts (tab.addInitScript(probeScript)), and the
// report that it makes possible when a test fails (probeReportJS).

// probeScript:
//   - puts a requestVideoFrameCallback counter (video.__e2eFrames) on every
//     <video> that appears, and records in window.__e2e.firstRemoteFrameAt the
//     performance.now() time (milliseconds since the navigation started) of
//     the first frame presented by a video in a remote participant's tile;
//   - records, per <video>, every gap of 100 ms or more between two presented
//     frames (video.__e2eGaps, [start, end] in performance.now() time): the
//     freezes a viewer would see, whatever the element's srcObject is in the
//     meantime; window.__e2e.gaps(from, to) reports the longest one of each
//     remote video that overlaps a window;
//   - records in window.__e2e.welcomeAt the time of the first welcome;
//   - keeps every RTCPeerConnection the page makes in window.__e2e.pcs, with
//     a log of its events (pc.__e2eLog);
//   - records the messages of the page's WebSockets (type, kind, from/to, time)
//     in window.__e2e.ws, the last 300 of them;
//   - records key events and focus changes of the window in window.__e2e.keys,
//     the last 50, with whether the page's handlers took the key
//     (defaultPrevented): a key test that fails says whether the key came.
//
// It changes nothing the page sees: the constructors are wrapped in Proxies.
const probeScript = `(() => {
  if (window.__e2e) return;
  const e2e = window.__e2e = { firstRemoteFrameAt: null, welcomeAt: null, pcs: [], ws: [], keys: [] };
  const keyNote = (text) => {
    e2e.keys.push(Math.round(performance.now()) + 'ms ' + text);
    if (e2e.keys.length > 50) e2e.keys.shift();
  };
  const describe = (el) => !el || !el.tagName ? String(el) : el.tagName.toLowerCase() + (el.dataset && el.dataset.testid ? '[' + el.dataset.testid + ']' : '');
  // Bubble phase on window: after the page's own handlers.
  for (const type of ['keydown', 'keyup']) {
    window.addEventListener(type, (ev) => keyNote(type + ' ' + JSON.stringify(ev.key) + ' ' + ev.code + (ev.repeat ? ' repeat' : '') +
      ' at ' + describe(ev.target) + (ev.defaultPrevented ? ' taken' : '')));
  }
  window.addEventListener('blur', () => keyNote('window blur'));
  window.addEventListener('focus', () => keyNote('window focus'));

  if (window.RTCPeerConnection) {
    window.RTCPeerConnection = new Proxy(window.RTCPeerConnection, {
      construct(target, args, newTarget) {
        const pc = Reflect.construct(target, args, newTarget);
        const log = pc.__e2eLog = [];
        const at = () => Math.round(performance.now()) + 'ms ';
        pc.addEventListener('icecandidate', (ev) => log.push(at() + 'candidate ' + (ev.candidate ? ev.candidate.candidate.split(' ').slice(4, 8).join(' ') : '(end)')));
        pc.addEventListener('icegatheringstatechange', () => log.push(at() + 'gathering ' + pc.iceGatheringState));
        pc.addEventListener('signalingstatechange', () => log.push(at() + 'signaling ' + pc.signalingState));
        pc.addEventListener('iceconnectionstatechange', () => log.push(at() + 'ice ' + pc.iceConnectionState));
        pc.addEventListener('negotiationneeded', () => log.push(at() + 'negotiationneeded'));
        pc.addEventListener('track', (ev) => log.push(at() + 'track ' + ev.track.kind));
        e2e.pcs.push(pc);
        return pc;
      },
    });
  }

  const note = (dir, data) => {
    let m = {};
    try { m = JSON.parse(data); } catch (e) { m = { type: '(not JSON)' }; }
    const parts = [Math.round(performance.now()) + 'ms', dir, m.type];
    if (m.kind) parts.push(m.kind + (m.kind === 'candidate' && !m.candidate ? '(end)' : ''));
    if (m.source) parts.push(m.source + ':' + m.action);
    if (m.code) parts.push(m.code);
    if (m.from) parts.push('from ' + m.from);
    if (m.to) parts.push('to ' + m.to);
    if (m.participant && m.participant.id) parts.push(m.participant.id);
    if (m.type === 'participants-joined' && Array.isArray(m.participants)) parts.push(m.participants.map(p => p.id).join(' '));
    if (m.id) parts.push(m.id);
    if (m.self && m.self.id) parts.push('self ' + m.self.id);
    if (m.epoch) parts.push('epoch ' + m.epoch);
    if (m.type === 'welcome' && dir === 'in' && e2e.welcomeAt === null) e2e.welcomeAt = performance.now();
    e2e.ws.push(parts.join(' '));
    if (e2e.ws.length > 300) e2e.ws.shift();
  };
  if (window.WebSocket) {
    const send = window.WebSocket.prototype.send;
    window.WebSocket.prototype.send = function (data) {
      if (typeof data === 'string') note('out', data);
      return send.call(this, data);
    };
    window.WebSocket = new Proxy(window.WebSocket, {
      construct(target, args, newTarget) {
        const ws = Reflect.construct(target, args, newTarget);
        ws.addEventListener('message', (ev) => { if (typeof ev.data === 'string') note('in', ev.data); });
        ws.addEventListener('close', (ev) => e2e.ws.push(Math.round(performance.now()) + 'ms closed ' + ev.code + ' ' + ev.reason));
        return ws;
      },
    });
  }

  const remoteTile = '[data-participant-id]:not([data-local])';
  function watch(v) {
    if (v.__e2eWatched) return;
    v.__e2eWatched = true;
    v.__e2eFrames = 0;
    v.__e2eLastFrameAt = null;
    v.__e2eGaps = [];
    if (!v.requestVideoFrameCallback) return;
    const onFrame = () => {
      const now = performance.now();
      if (v.__e2eLastFrameAt !== null && now - v.__e2eLastFrameAt >= 100) {
        v.__e2eGaps.push([v.__e2eLastFrameAt, now]);
        if (v.__e2eGaps.length > 500) v.__e2eGaps.shift();
      }
      v.__e2eLastFrameAt = now;
      v.__e2eFrames++;
      if (e2e.firstRemoteFrameAt === null && v.closest(remoteTile)) {
        e2e.firstRemoteFrameAt = performance.now();
      }
      v.requestVideoFrameCallback(onFrame);
    };
    v.requestVideoFrameCallback(onFrame);
  }
  const scan = () => document.querySelectorAll('video').forEach(watch);
  // The longest gap of each remote video that overlaps [from, to], the one
  // still open now included; a gap that began before from counts from from.
  e2e.gaps = (from, to) => {
    const now = performance.now();
    return [...document.querySelectorAll(remoteTile)].flatMap(tile => [...tile.querySelectorAll('video')].map((v, i) => {
      const all = (v.__e2eGaps || []).slice();
      if (v.__e2eLastFrameAt !== null) all.push([v.__e2eLastFrameAt, now]);
      let maxGapMs = 0, maxGapEnd = 0;
      for (const [a, b] of all) {
        if (b < from || a > to) continue;
        const len = b - Math.max(a, from);
        if (len > maxGapMs) { maxGapMs = len; maxGapEnd = b; }
      }
      return { tile: tile.getAttribute('data-participant-id'), index: i, maxGapMs, maxGapEnd, frames: v.__e2eFrames || 0,
        gaps: all.filter(([a, b]) => b >= from && a <= to) };
    }));
  };
  new MutationObserver(scan).observe(document, { childList: true, subtree: true });
  scan();
})();`

// probeReportJS describes the media state of a page for a failure report:
// each tile with its videos and their tracks, each RTCPeerConnection, and the
// WebSocket messages (with probeScript installed).
const probeReportJS = `(() => {
  const tag = el => el.outerHTML.slice(0, el.outerHTML.indexOf('>') + 1);
  const tracks = m => m.srcObject ? m.srcObject.getTracks().map(t => t.kind + ':' + t.readyState + (t.muted ? ':muted' : '') + (t.enabled ? '' : ':disabled')) : [];
  const e2e = window.__e2e || { pcs: [], ws: [] };
  return {
    tiles: [...document.querySelectorAll('[data-participant-id]')].map(t => ({
      tile: tag(t),
      videos: [...t.querySelectorAll('video')].map(v => ({
        size: v.videoWidth + 'x' + v.videoHeight, paused: v.paused,
        frames: v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : -1,
        presented: v.__e2eFrames || 0, tracks: tracks(v) })),
      audio: [...t.querySelectorAll('audio')].map(tracks),
    })),
    peerConnections: e2e.pcs.map(pc => { try { return {
      connection: pc.connectionState, ice: pc.iceConnectionState, gathering: pc.iceGatheringState,
      signaling: pc.signalingState,
      local: pc.currentLocalDescription && pc.currentLocalDescription.type,
      remote: pc.currentRemoteDescription && pc.currentRemoteDescription.type,
      events: pc.__e2eLog || [],
      transceivers: pc.getTransceivers().map(t => (t.mid ?? '-') + ' ' + t.receiver.track.kind + ' ' + t.direction + '/' + (t.currentDirection || '-') + (t.sender.track ? ' sending:' + t.sender.track.kind : '')),
    }; } catch (e) { return { connection: pc.connectionState, error: String(e) }; } }),
    webSocket: e2e.ws,
    keys: e2e.keys || [],
    focus: { hasFocus: document.hasFocus(), visibility: document.visibilityState,
      active: document.activeElement ? tag(document.activeElement) : null,
      dialogs: [...document.querySelectorAll('dialog[open], [aria-modal="true"]:not([hidden])')].map(tag) },
  };
})()`
