// quality.js: what a received video is like, from two getStats snapshots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { qualityGrade, resolutionLabel, videoQuality, videoSnapshot } from '../js/quality.js';

const inbound = (over) => ({
  id: 'IT01V1',
  type: 'inbound-rtp',
  kind: 'video',
  ssrc: 1111,
  trackIdentifier: 'track-a',
  timestamp: 10_000,
  bytesReceived: 100_000,
  packetsReceived: 1000,
  packetsLost: 10,
  framesDecoded: 300,
  frameWidth: 960,
  frameHeight: 540,
  framesPerSecond: 15,
  lastPacketReceivedTimestamp: 9_990,
  ...over,
});

test('the snapshot is the inbound video of that track', () => {
  const report = new Map([
    ['a', { id: 'a', type: 'inbound-rtp', kind: 'audio', trackIdentifier: 'track-a', bytesReceived: 5 }],
    ['b', inbound({ trackIdentifier: 'track-b', frameWidth: 320 })],
    ['c', inbound({})],
    ['d', { id: 'd', type: 'candidate-pair' }],
  ]);
  const s = videoSnapshot(report, 'track-a');
  assert.deepEqual(s, { at: 10_000, ssrc: '1111', bytes: 100_000, packets: 1000, lost: 10, frames: 300, width: 960, height: 540, fps: 15 });
  assert.equal(videoSnapshot(report, 'nope'), null);
  assert.equal(videoSnapshot(null, 'track-a'), null);
  // An array works too; of two streams of one track, the live one counts.
  const two = [inbound({ ssrc: 1, lastPacketReceivedTimestamp: 5 }), inbound({ ssrc: 2, lastPacketReceivedTimestamp: 9 })];
  assert.equal(videoSnapshot(two, 'track-a')?.ssrc, '2');
  // Missing fields read 0 (Firefox before a frame), no fps is null.
  const bare = videoSnapshot([{ type: 'inbound-rtp', kind: 'video', trackIdentifier: 't', timestamp: 1 }], 't');
  assert.deepEqual(bare, { at: 1, ssrc: '', bytes: 0, packets: 0, lost: 0, frames: 0, width: 0, height: 0, fps: null });
});

test('rates come from the difference of two snapshots', () => {
  const before = videoSnapshot([inbound({})], 'track-a');
  const now = videoSnapshot(
    [inbound({ timestamp: 12_000, bytesReceived: 350_000, packetsReceived: 1490, packetsLost: 20, framesDecoded: 330, frameWidth: 480, frameHeight: 270, framesPerSecond: 14 })],
    'track-a',
  );
  // 250,000 bytes in 2 s: 1,000 kbit/s; 10 lost of 500 sent: 2 %; 30 frames: 15 fps.
  assert.deepEqual(videoQuality(before, now), { width: 480, height: 270, kbps: 1000, lossPct: 2, fps: 15 });
});

test('a first look knows the resolution only', () => {
  const now = videoSnapshot([inbound({})], 'track-a');
  assert.deepEqual(videoQuality(null, now), { width: 960, height: 540, kbps: null, lossPct: null, fps: 15 });
});

test('another stream, counters that went back or no time between count as a first look', () => {
  const before = videoSnapshot([inbound({})], 'track-a');
  const other = videoSnapshot([inbound({ ssrc: 2222, timestamp: 12_000, bytesReceived: 500 })], 'track-a');
  assert.equal(videoQuality(before, other).kbps, null);
  const back = videoSnapshot([inbound({ timestamp: 12_000, bytesReceived: 50 })], 'track-a');
  assert.equal(videoQuality(before, back).kbps, null);
  assert.equal(videoQuality(before, before).kbps, null);
});

test('loss never goes negative, and nothing due is no loss figure', () => {
  const before = videoSnapshot([inbound({})], 'track-a');
  // Duplicates make packetsLost fall: no loss, not a negative one.
  const dup = videoSnapshot([inbound({ timestamp: 11_000, bytesReceived: 110_000, packetsReceived: 1100, packetsLost: 5 })], 'track-a');
  assert.equal(videoQuality(before, dup).lossPct, 0);
  // Paused: no packet came, none was lost.
  const idle = videoSnapshot([inbound({ timestamp: 11_000 })], 'track-a');
  const q = videoQuality(before, idle);
  assert.equal(q.kbps, 0);
  assert.equal(q.lossPct, null);
  assert.equal(q.fps, 0);
});

test('the grade follows the loss; nothing flowing is idle', () => {
  const q = (kbps, lossPct, width = 640) => ({ width, height: 360, kbps, lossPct, fps: 15 });
  assert.equal(qualityGrade(null), 'idle');
  assert.equal(qualityGrade(q(null, null)), 'idle');
  assert.equal(qualityGrade(q(0, null)), 'idle');
  assert.equal(qualityGrade(q(800, 1, 0)), 'idle');
  assert.equal(qualityGrade(q(800, 0)), 'good');
  assert.equal(qualityGrade(q(800, null)), 'good');
  assert.equal(qualityGrade(q(800, 1.9)), 'good');
  assert.equal(qualityGrade(q(800, 2)), 'fair');
  assert.equal(qualityGrade(q(800, 8)), 'poor');
});

test('resolutions read as players say them', () => {
  assert.equal(resolutionLabel({ width: 960, height: 540, kbps: 1, lossPct: 0, fps: 1 }), '540p');
  assert.equal(resolutionLabel({ width: 0, height: 0, kbps: 1, lossPct: 0, fps: 1 }), '');
  assert.equal(resolutionLabel(null), '');
});
