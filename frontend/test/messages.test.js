// messages.js: the rules both sides apply to media state and publish
// rights, and the media messages a resumed page sends to catch up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMediaAction, mayPublish, mediaMessage, newcomers, resyncActions, stageSetMessage } from '../js/messages.js';

test('who may publish: stage members always, in a classroom nobody else, else all but spectators', () => {
  const cases = [
    // onStage, classroom, spectator -> may publish
    [true, true, true, true],
    [true, true, false, true],
    [true, false, true, true],
    [false, true, false, false],
    [false, true, true, false],
    [false, false, false, true],
    [false, false, true, false],
  ];
  for (const [onStage, classroom, spectator, want] of cases) {
    assert.equal(mayPublish({ onStage, classroom, spectator }), want, JSON.stringify({ onStage, classroom, spectator }));
  }
});

test('media actions change a media map as the server does', () => {
  /** @type {Object<string, string>} */
  const media = {};
  applyMediaAction(media, 'camera', 'published');
  assert.deepEqual(media, { camera: 'live' });
  applyMediaAction(media, 'camera', 'paused');
  assert.deepEqual(media, { camera: 'paused' });
  applyMediaAction(media, 'camera', 'resumed');
  assert.deepEqual(media, { camera: 'live' });
  applyMediaAction(media, 'microphone', 'paused');
  assert.deepEqual(media, { camera: 'live', microphone: 'paused' });
  applyMediaAction(media, 'camera', 'unpublished');
  assert.deepEqual(media, { microphone: 'paused' });
  applyMediaAction(media, 'microphone', 'bogus');
  assert.deepEqual(media, { microphone: 'paused' }, 'an unknown action changes nothing');
});

test('a media message carries a stream id only when there is one', () => {
  assert.deepEqual(mediaMessage('screen', 'published', 's1'), { type: 'media', source: 'screen', action: 'published', streamId: 's1' });
  assert.deepEqual(mediaMessage('camera', 'paused'), { type: 'media', source: 'camera', action: 'paused' });
  assert.deepEqual(stageSetMessage(true), { type: 'stage-set', on: true });
  assert.deepEqual(stageSetMessage(false, 'p1'), { type: 'stage-set', on: false, id: 'p1' });
});

/** @param {Object<string, boolean>} sources source -> enabled */
const live = (sources) => new Map(/** @type {any} */ (Object.entries(sources)));

test('a resume in step with the server sends nothing', () => {
  assert.deepEqual(resyncActions({ camera: 'live', microphone: 'paused' }, live({ camera: true, microphone: false })), []);
  assert.deepEqual(resyncActions({}, live({})), []);
});

test('a resume tells what was opened, closed, paused or resumed while offline', () => {
  assert.deepEqual(resyncActions({ camera: 'live', microphone: 'live' }, live({ camera: true })), [['microphone', 'unpublished']]);
  assert.deepEqual(resyncActions({}, live({ camera: true })), [['camera', 'published']]);
  assert.deepEqual(resyncActions({}, live({ microphone: false })), [
    ['microphone', 'published'],
    ['microphone', 'paused'],
  ]);
  assert.deepEqual(resyncActions({ camera: 'live' }, live({ camera: false })), [['camera', 'paused']]);
  assert.deepEqual(resyncActions({ camera: 'paused' }, live({ camera: true })), [['camera', 'resumed']]);
});

test('withdrawals come first, then each live source in turn', () => {
  assert.deepEqual(resyncActions({ screen: 'live', camera: 'paused' }, live({ camera: true, microphone: true })), [
    ['screen', 'unpublished'],
    ['camera', 'resumed'],
    ['microphone', 'published'],
  ]);
});

test('a screen is never paused', () => {
  assert.deepEqual(resyncActions({ screen: 'live' }, live({ screen: false })), []);
  assert.deepEqual(resyncActions({}, live({ screen: false })), [['screen', 'published']]);
  assert.deepEqual(resyncActions({ screen: 'paused' }, live({ screen: false })), [['screen', 'resumed']]);
});

test('newcomers: one join, a batch, and the batch naming me and people I know', () => {
  /** @param {string} id */
  const p = (id) => ({ id, userId: 'u_' + id, name: id.toUpperCase(), role: 'participant', media: {} });
  const known = new Set(['a']);
  const has = (/** @type {string} */ id) => known.has(id);
  assert.deepEqual(newcomers({ type: 'participant-joined', participant: p('b') }, 'me', has).map((x) => x.id), ['b']);
  assert.deepEqual(newcomers({ type: 'participant-joined', participant: p('a') }, 'me', has), []);
  const batch = { type: /** @type {'participants-joined'} */ ('participants-joined'), participants: [p('a'), p('me'), p('c'), p('d'), p('c')] };
  assert.deepEqual(newcomers(batch, 'me', has).map((x) => x.id), ['c', 'd']);
  assert.deepEqual(newcomers({ type: 'participants-joined', participants: [] }, 'me', has), []);
});
