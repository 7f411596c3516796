// Pure parts of recording.js: how the owner's list shows a recording's
// length, its files' sizes and order, and when it asks the server again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { formatBytes, formatDuration, recordingLength, sortFiles, stillFinishing } from '../js/recordingsdialog.js';

test('a duration reads like a clock', () => {
  assert.equal(formatDuration(0), '0:00');
  assert.equal(formatDuration(7000), '0:07');
  assert.equal(formatDuration(1499), '0:01');
  assert.equal(formatDuration(59600), '1:00');
  assert.equal(formatDuration(12 * 60000 + 3000), '12:03');
  assert.equal(formatDuration(3600000 + 2 * 60000 + 3000), '1:02:03');
  assert.equal(formatDuration(10 * 3600000), '10:00:00');
});

test('a duration that makes no sense reads 0:00', () => {
  assert.equal(formatDuration(-5000), '0:00');
  assert.equal(formatDuration(NaN), '0:00');
  assert.equal(formatDuration(/** @type {any} */ (undefined)), '0:00');
});

test('sizes in the largest unit that fits, in the language', () => {
  assert.equal(formatBytes(0, 'en'), '0 kB');
  assert.equal(formatBytes(850, 'en'), '0.9 kB');
  assert.equal(formatBytes(12345, 'en'), '12.3 kB');
  assert.equal(formatBytes(2500000, 'en'), '2.5 MB');
  assert.equal(formatBytes(123456789, 'en'), '123 MB');
  assert.equal(formatBytes(1.2e9, 'en'), '1.2 GB');
  assert.equal(formatBytes(2500000, 'es'), '2,5 MB');
  assert.equal(formatBytes(-1, 'en'), '0 kB');
});

test('files: by person, then camera, screen, microphone', () => {
  const files = [
    { participant: 'Ben', participantId: 'p_b', source: 'microphone', startOffsetMs: 0 },
    { participant: 'ana', participantId: 'p_a', source: 'microphone', startOffsetMs: 0 },
    { participant: 'Ben', participantId: 'p_b', source: 'camera', startOffsetMs: 0 },
    { participant: 'Ana', participantId: 'p_a', source: 'screen', startOffsetMs: 5000 },
    { participant: 'Ana', participantId: 'p_a', source: 'camera', startOffsetMs: 0 },
  ];
  const sorted = sortFiles(files, 'en');
  assert.deepEqual(
    sorted.map((f) => `${f.participantId}/${f.source}`),
    ['p_a/camera', 'p_a/screen', 'p_a/microphone', 'p_b/camera', 'p_b/microphone'],
  );
  assert.notEqual(sorted, files, 'a new array');
  assert.equal(files[0].participant, 'Ben', 'the given one untouched');
});

test('files: two people of one name stay apart, a later share after an earlier one', () => {
  const files = [
    { participant: 'Ana', participantId: 'p_2', source: 'camera', startOffsetMs: 0 },
    { participant: 'Ana', participantId: 'p_1', source: 'screen', startOffsetMs: 60000 },
    { participant: 'Ana', participantId: 'p_1', source: 'camera', startOffsetMs: 0 },
    { participant: 'Ana', participantId: 'p_1', source: 'screen', startOffsetMs: 1000 },
    { participant: '', participantId: 'p_0', source: 'camera', startOffsetMs: 0 },
  ];
  assert.deepEqual(
    sortFiles(files, 'en').map((f) => `${f.participantId}/${f.source}/${f.startOffsetMs}`),
    ['p_0/camera/0', 'p_1/camera/0', 'p_1/screen/1000', 'p_1/screen/60000', 'p_2/camera/0'],
  );
  assert.deepEqual(sortFiles(/** @type {any} */ (undefined)), []);
});

test('a recording lasts from its start to its stop, or to now while it runs', () => {
  const startedAt = '2026-12-02T06:10:00.000Z';
  const now = Date.parse('2026-12-02T06:15:00Z');
  assert.equal(recordingLength({ state: 'done', startedAt, stoppedAt: '2026-12-02T06:12:30.500Z' }, now), 150500);
  assert.equal(recordingLength({ state: 'recording', startedAt }, now), 300000);
  // Interrupted (the server died): no stop time, so no length.
  assert.equal(recordingLength({ state: 'interrupted', startedAt }, now), null);
  assert.equal(recordingLength({ state: 'done', startedAt: 'soon' }, now), null);
  assert.equal(recordingLength({ state: 'done', startedAt, stoppedAt: '2026-12-02T06:00:00Z' }, now), null);
});

test('a list that still shows a stopped recording running is asked again', () => {
  assert.equal(stillFinishing([{ state: 'recording' }, { state: 'done' }], false), true);
  assert.equal(stillFinishing([{ state: 'recording' }], true), false, 'the room records: it does run');
  assert.equal(stillFinishing([{ state: 'done' }, { state: 'interrupted' }], false), false);
  assert.equal(stillFinishing([], false), false);
});

test('the page has the hooks, hidden until they apply', () => {
  const html = readFileSync(new URL('../room.html', import.meta.url), 'utf8');
  for (const id of ['recording-indicator', 'prejoin-recording-notice', 'toggle-recording', 'recordings-open']) {
    const tag = new RegExp(`<[a-z]+ [^>]*data-testid="${id}"[^>]*>`).exec(html);
    assert.ok(tag, `room.html has ${id}`);
    assert.match(tag[0], /\shidden[\s>]/, `${id} starts hidden`);
  }
  assert.match(/<[a-z]+ [^>]*data-testid="recording-indicator"[^>]*>/.exec(html)?.[0] || '', /role="status"/);
  assert.match(/<[a-z]+ [^>]*data-testid="toggle-recording"[^>]*>/.exec(html)?.[0] || '', /aria-pressed="false"/);
});
