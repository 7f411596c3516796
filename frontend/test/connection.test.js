// connection.js: the path and round-trip time of a connection, read from
// getStats() reports shaped as Chromium and Firefox give them, and the hint
// the tile's connection view adds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HIGH_RTT_MS, connectionHint, readConnection } from '../js/connection.js';

/** A report as getStats() gives it: a maplike of id -> stats. */
const report = (/** @type {any[]} */ ...stats) => new Map(stats.map((s) => [s.id, s]));

// --- Chromium: a transport names the selected pair ------------------------

const chromiumTransport = (/** @type {string|undefined} */ selected) => ({
  id: 'T01',
  type: 'transport',
  timestamp: 1718000000000,
  bytesSent: 912345,
  bytesReceived: 1023456,
  dtlsState: 'connected',
  iceRole: 'controlling',
  iceState: 'connected',
  selectedCandidatePairId: selected,
  selectedCandidatePairChanges: 1,
  srtpCipher: 'AES_CM_128_HMAC_SHA1_80',
  tlsVersion: 'FEFD',
});

const chromiumPair = (/** @type {any} */ fields) => ({
  type: 'candidate-pair',
  timestamp: 1718000000000,
  transportId: 'T01',
  priority: 9114723795305594000,
  writable: true,
  packetsSent: 4120,
  packetsReceived: 4388,
  bytesSent: 900000,
  bytesReceived: 1000000,
  requestsSent: 12,
  responsesReceived: 12,
  requestsReceived: 11,
  responsesSent: 11,
  consentRequestsSent: 10,
  availableOutgoingBitrate: 2500000,
  ...fields,
});

const chromiumCandidate = (/** @type {'local'|'remote'} */ side, /** @type {any} */ fields) => ({
  type: `${side}-candidate`,
  timestamp: 1718000000000,
  transportId: 'T01',
  isRemote: side === 'remote',
  port: 50000,
  protocol: 'udp',
  priority: 2122260223,
  foundation: '1510613869',
  usernameFragment: 'xK3f',
  ...(side === 'local' ? { networkType: 'ethernet', networkAdapterType: 'ethernet', vpn: false } : {}),
  ...fields,
});

// Noise every real report has: the media streams and codecs.
const chromiumMedia = [
  { id: 'IT01V1234', type: 'inbound-rtp', kind: 'video', ssrc: 1234, transportId: 'T01', framesDecoded: 900 },
  { id: 'COT01_96', type: 'codec', mimeType: 'video/VP8', payloadType: 96, transportId: 'T01' },
];

test('Chromium, mesh: host to server-reflexive over UDP is direct, with its RTT', () => {
  const stats = report(
    chromiumTransport('CPa1b2c3d4_e5f6a7b8'),
    chromiumPair({ id: 'CPa1b2c3d4_e5f6a7b8', localCandidateId: 'Ia1b2c3d4', remoteCandidateId: 'Ie5f6a7b8', state: 'succeeded', nominated: true, currentRoundTripTime: 0.038, totalRoundTripTime: 0.5 }),
    // A pair that was tried and not used.
    chromiumPair({ id: 'CPa1b2c3d4_99999999', localCandidateId: 'Ia1b2c3d4', remoteCandidateId: 'I99999999', state: 'waiting', nominated: false, bytesSent: 0, bytesReceived: 0 }),
    chromiumCandidate('local', { id: 'Ia1b2c3d4', address: '192.168.1.20', candidateType: 'host' }),
    chromiumCandidate('remote', { id: 'Ie5f6a7b8', address: '203.0.113.7', candidateType: 'srflx' }),
    chromiumCandidate('remote', { id: 'I99999999', address: '10.0.0.9', candidateType: 'host' }),
    ...chromiumMedia,
  );
  assert.deepEqual(readConnection(stats, false), { path: 'direct', rttMs: 38 });
});

test('Chromium, SFU: the same shape to the server is "server"', () => {
  const stats = report(
    chromiumTransport('CP11_22'),
    chromiumPair({ id: 'CP11_22', localCandidateId: 'I11', remoteCandidateId: 'I22', state: 'succeeded', nominated: true, currentRoundTripTime: 0.012 }),
    chromiumCandidate('local', { id: 'I11', address: '10.1.2.3', candidateType: 'prflx' }),
    chromiumCandidate('remote', { id: 'I22', address: '198.51.100.4', port: 3478, candidateType: 'host' }),
  );
  assert.deepEqual(readConnection(stats, true), { path: 'server', rttMs: 12 });
});

test('Chromium: the transport\'s pair wins over another nominated one', () => {
  // After an ICE restart, the old pair can stay in the report, nominated,
  // with more bytes than the new one.
  const stats = report(
    chromiumTransport('CPnew'),
    chromiumPair({ id: 'CPold', localCandidateId: 'Ihost', remoteCandidateId: 'Ipeer', state: 'succeeded', nominated: true, bytesReceived: 9e9, currentRoundTripTime: 0.02 }),
    chromiumPair({ id: 'CPnew', localCandidateId: 'Irelay', remoteCandidateId: 'Ipeer', state: 'succeeded', nominated: true, bytesReceived: 10, currentRoundTripTime: 0.095 }),
    chromiumCandidate('local', { id: 'Ihost', candidateType: 'host' }),
    chromiumCandidate('local', { id: 'Irelay', candidateType: 'relay', relayProtocol: 'tcp', url: 'turn:turn.example.org:3478?transport=tcp' }),
    chromiumCandidate('remote', { id: 'Ipeer', candidateType: 'srflx' }),
  );
  assert.deepEqual(readConnection(stats, false), { path: 'turn-tcp', rttMs: 95 });
});

test('Chromium: a relay candidate gives the relay protocol', () => {
  for (const relayProtocol of ['udp', 'tcp', 'tls']) {
    const stats = report(
      chromiumTransport('CP1_2'),
      chromiumPair({ id: 'CP1_2', localCandidateId: 'I1', remoteCandidateId: 'I2', state: 'succeeded', nominated: true, currentRoundTripTime: 0.07 }),
      // The hop to the TURN server is in relayProtocol; protocol is the relay's side, UDP.
      chromiumCandidate('local', { id: 'I1', address: '192.0.2.50', candidateType: 'relay', protocol: 'udp', relayProtocol }),
      chromiumCandidate('remote', { id: 'I2', candidateType: 'srflx' }),
    );
    assert.equal(readConnection(stats, false).path, `turn-${relayProtocol}`, relayProtocol);
    // Relayed to the SFU too: the relay is what matters.
    assert.equal(readConnection(stats, true).path, `turn-${relayProtocol}`, relayProtocol);
  }
});

test('a relay without relayProtocol: the TURN URL tells TLS and TCP', () => {
  /** @param {string} url */
  const withURL = (url) =>
    report(
      chromiumTransport('CP1_2'),
      chromiumPair({ id: 'CP1_2', localCandidateId: 'I1', remoteCandidateId: 'I2', state: 'succeeded', nominated: true }),
      chromiumCandidate('local', { id: 'I1', candidateType: 'relay', url }),
      chromiumCandidate('remote', { id: 'I2', candidateType: 'host' }),
    );
  assert.equal(readConnection(withURL('turns:turn.example.org:5349?transport=tcp'), false).path, 'turn-tls');
  assert.equal(readConnection(withURL('turn:turn.example.org:3478?transport=tcp'), false).path, 'turn-tcp');
  assert.equal(readConnection(withURL('turn:turn.example.org:3478'), false).path, 'turn-udp');
});

test('only the other side relayed: the hop to us decides', () => {
  const stats = report(
    chromiumTransport('CP1_2'),
    chromiumPair({ id: 'CP1_2', localCandidateId: 'I1', remoteCandidateId: 'I2', state: 'succeeded', nominated: true, currentRoundTripTime: 0.15 }),
    chromiumCandidate('local', { id: 'I1', candidateType: 'srflx' }),
    chromiumCandidate('remote', { id: 'I2', candidateType: 'relay' }),
  );
  assert.deepEqual(readConnection(stats, false), { path: 'turn-udp', rttMs: 150 });
});

test('ICE over TCP to the SFU, no relay, is "tcp"', () => {
  const stats = report(
    chromiumTransport('CP1_2'),
    chromiumPair({ id: 'CP1_2', localCandidateId: 'I1', remoteCandidateId: 'I2', state: 'succeeded', nominated: true, currentRoundTripTime: 0.041 }),
    chromiumCandidate('local', { id: 'I1', candidateType: 'host', protocol: 'tcp', tcpType: 'active', port: 9 }),
    chromiumCandidate('remote', { id: 'I2', candidateType: 'host', protocol: 'tcp', tcpType: 'passive', port: 7882 }),
  );
  assert.deepEqual(readConnection(stats, true), { path: 'tcp', rttMs: 41 });
});

test('before a pair is selected the path is unknown', () => {
  assert.deepEqual(readConnection(new Map(), false), { path: 'unknown', rttMs: null });
  assert.deepEqual(readConnection(null, true), { path: 'unknown', rttMs: null });
  // Checking: the transport names no pair yet, and none has succeeded.
  const checking = report(
    { ...chromiumTransport(undefined), iceState: 'checking' },
    chromiumPair({ id: 'CP1_2', localCandidateId: 'I1', remoteCandidateId: 'I2', state: 'in-progress', nominated: false }),
    chromiumCandidate('local', { id: 'I1', candidateType: 'host' }),
    chromiumCandidate('remote', { id: 'I2', candidateType: 'host' }),
  );
  assert.deepEqual(readConnection(checking, false), { path: 'unknown', rttMs: null });
  // Nominated, but not (yet) succeeded.
  const nominatedOnly = report(
    chromiumPair({ id: 'CP1_2', localCandidateId: 'I1', remoteCandidateId: 'I2', state: 'in-progress', nominated: true }),
    chromiumCandidate('local', { id: 'I1', candidateType: 'host' }),
    chromiumCandidate('remote', { id: 'I2', candidateType: 'host' }),
  );
  assert.equal(readConnection(nominatedOnly, false).path, 'unknown');
});

test('a selected pair whose candidates are missing has an unknown path, and still its RTT', () => {
  const stats = report(
    chromiumTransport('CP1_2'),
    chromiumPair({ id: 'CP1_2', localCandidateId: 'I1', remoteCandidateId: 'I2', state: 'succeeded', nominated: true, currentRoundTripTime: 0.02 }),
  );
  assert.deepEqual(readConnection(stats, false), { path: 'unknown', rttMs: 20 });
});

// --- Firefox: no transport stats; the pair in use says `selected: true` ----

const firefoxPair = (/** @type {any} */ fields) => ({
  type: 'candidate-pair',
  timestamp: 1718000000123.5,
  transportId: '0',
  priority: 7962083082779639000,
  readable: true,
  writable: true,
  bytesSent: 500000,
  bytesReceived: 600000,
  lastPacketSentTimestamp: 1718000000100,
  lastPacketReceivedTimestamp: 1718000000110,
  ...fields,
});

const firefoxCandidate = (/** @type {'local'|'remote'} */ side, /** @type {any} */ fields) => ({
  type: `${side}-candidate`,
  timestamp: 1718000000123.5,
  transportId: '0',
  port: 61000,
  protocol: 'udp',
  priority: 2122252543,
  proxied: 'non-proxied',
  ...fields,
});

test('Firefox: the selected pair, among other succeeded ones', () => {
  const stats = report(
    // Another pair that succeeded and was not chosen, with more traffic.
    firefoxPair({ id: '4d1f2a90', localCandidateId: 'a0c1', remoteCandidateId: 'b0d2', state: 'succeeded', nominated: false, selected: false, bytesReceived: 9e9, lastPacketReceivedTimestamp: 1718000000120 }),
    firefoxPair({ id: '7e3b9c11', localCandidateId: 'a0c2', remoteCandidateId: 'b0d2', state: 'succeeded', nominated: true, selected: true, currentRoundTripTime: 0.0234 }),
    firefoxCandidate('local', { id: 'a0c1', address: '192.168.1.20', candidateType: 'host' }),
    firefoxCandidate('local', { id: 'a0c2', address: '203.0.113.99', candidateType: 'relay', relayProtocol: 'tls' }),
    firefoxCandidate('remote', { id: 'b0d2', address: '198.51.100.4', candidateType: 'srflx' }),
    { id: 'inbound_rtp_video_1', type: 'inbound-rtp', kind: 'video', ssrc: 77, framesDecoded: 300 },
  );
  assert.deepEqual(readConnection(stats, false), { path: 'turn-tls', rttMs: 23.4 });
});

test('Firefox, mesh: host to host is direct; no RTT reported is null', () => {
  const stats = report(
    firefoxPair({ id: 'p1', localCandidateId: 'l1', remoteCandidateId: 'r1', state: 'succeeded', nominated: true, selected: true }),
    firefoxCandidate('local', { id: 'l1', address: '127.0.0.1', candidateType: 'host' }),
    firefoxCandidate('remote', { id: 'r1', address: '127.0.0.1', candidateType: 'host' }),
  );
  assert.deepEqual(readConnection(stats, false), { path: 'direct', rttMs: null });
});

test('older browsers: the succeeded, nominated pair; the one used last when several', () => {
  const stats = [
    { id: 'old', type: 'candidate-pair', localCandidateId: 'l1', remoteCandidateId: 'r1', state: 'succeeded', nominated: true, lastPacketReceivedTimestamp: 100, currentRoundTripTime: 0.5 },
    { id: 'new', type: 'candidate-pair', localCandidateId: 'l2', remoteCandidateId: 'r1', state: 'succeeded', nominated: true, lastPacketReceivedTimestamp: 200, currentRoundTripTime: 0.03 },
    { id: 'l1', type: 'local-candidate', candidateType: 'host', protocol: 'udp' },
    { id: 'l2', type: 'local-candidate', candidateType: 'relayed', protocol: 'udp' },
    { id: 'r1', type: 'remote-candidate', candidateType: 'host', protocol: 'udp' },
  ];
  // An array of stats works as well as a maplike report.
  assert.deepEqual(readConnection(stats, false), { path: 'turn-udp', rttMs: 30 });
});

// --- the round-trip time ---------------------------------------------------

test('RTT: seconds to milliseconds, to a tenth; the average when there is no current one', () => {
  /** @param {any} fields */
  const rtt = (fields) =>
    readConnection(
      report(
        chromiumTransport('CP'),
        { id: 'CP', type: 'candidate-pair', localCandidateId: 'L', remoteCandidateId: 'R', state: 'succeeded', nominated: true, ...fields },
        { id: 'L', type: 'local-candidate', candidateType: 'host', protocol: 'udp' },
        { id: 'R', type: 'remote-candidate', candidateType: 'host', protocol: 'udp' },
      ),
      false,
    ).rttMs;
  assert.equal(rtt({ currentRoundTripTime: 0.0384 }), 38.4);
  assert.equal(rtt({ currentRoundTripTime: 0.001 }), 1);
  assert.equal(rtt({ currentRoundTripTime: 0 }), 0);
  assert.equal(rtt({ totalRoundTripTime: 0.9, responsesReceived: 10 }), 90);
  assert.equal(rtt({ totalRoundTripTime: 0, responsesReceived: 0 }), null);
  assert.equal(rtt({}), null);
});

// --- the hint ----------------------------------------------------------------

test('hint: TCP paths say why; a long delay says so; otherwise nothing', () => {
  assert.equal(connectionHint({ path: 'turn-tcp', rttMs: 95 }), 'tcp');
  assert.equal(connectionHint({ path: 'turn-tls', rttMs: null }), 'tcp');
  assert.equal(connectionHint({ path: 'tcp', rttMs: 40 }), 'tcp');
  // The cause before its effect.
  assert.equal(connectionHint({ path: 'turn-tcp', rttMs: 800 }), 'tcp');
  assert.equal(connectionHint({ path: 'direct', rttMs: HIGH_RTT_MS + 1 }), 'slow');
  assert.equal(connectionHint({ path: 'turn-udp', rttMs: 450 }), 'slow');
  assert.equal(connectionHint({ path: 'server', rttMs: HIGH_RTT_MS }), null);
  assert.equal(connectionHint({ path: 'direct', rttMs: 38 }), null);
  assert.equal(connectionHint({ path: 'unknown', rttMs: null }), null);
});
