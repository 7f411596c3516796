// handover.js: which topology each remote tile shows, a whole room's switch
// from one topology to the other, and the rules that switch follows
// (topology.js applies them to real connections).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FLOWING_POLLS,
  HAVE,
  Handover,
  LINGER_MS,
  SFU_RESTART_MIN_MS,
  STALL_POLLS,
  SWITCH_LIMIT_MS,
  SWITCH_TIMEOUT_MS,
  haveMessage,
  isCurrentHave,
  lingerDelay,
  neededTracks,
  nextLook,
  offersOnReturn,
  shouldRestartSFU,
  stalled,
  stillNeedSFU,
} from '../js/handover.js';

// Handover's polling timer is the page's window.setTimeout.
globalThis.window ??= /** @type {any} */ (globalThis);

/** Fake tracks: only their identity matters here. */
const track = (/** @type {string} */ name) => /** @type {any} */ ({ name });
const tracksOf = (/** @type {string} */ tag) => ({ camera: track(`${tag}-cam`), screen: null, audio: track(`${tag}-mic`) });

/** A Handover that records what each tile was last given. */
function recording() {
  /** @type {Map<string, any>} */
  const shown = new Map();
  const h = new Handover((id, tracks) => shown.set(id, tracks));
  return { h, shown };
}

const settle = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

test('a tile shows the tracks of its active topology only', () => {
  const { h, shown } = recording();
  const mesh = tracksOf('mesh');
  h.set('mesh', 'a', mesh);
  assert.equal(shown.get('a'), mesh);
  h.set('sfu', 'a', tracksOf('sfu'));
  assert.equal(shown.get('a'), mesh, 'the SFU is not active for a');
  assert.equal(h.activeOf('a'), 'mesh');
});

test('swap shows the other topology, and refresh shows the active one again', () => {
  const { h, shown } = recording();
  const mesh = tracksOf('mesh');
  const sfu = tracksOf('sfu');
  h.set('mesh', 'a', mesh);
  h.set('sfu', 'a', sfu);
  h.swap('a', 'sfu');
  assert.equal(h.activeOf('a'), 'sfu');
  assert.equal(shown.get('a'), sfu);
  shown.clear();
  h.refresh('a');
  assert.equal(shown.get('a'), sfu);
  h.swap('a', 'mesh');
  assert.equal(h.activeOf('a'), 'mesh');
  assert.equal(h.active.size, 0, 'the primary topology needs no entry');
});

test('a dropped topology has no tracks left; a forgotten participant has none anywhere', () => {
  const { h } = recording();
  h.set('mesh', 'a', tracksOf('mesh'));
  h.set('sfu', 'a', tracksOf('sfu'));
  h.drop('sfu');
  assert.deepEqual(h.get('sfu', 'a'), { camera: null, screen: null, audio: null });
  assert.notDeepEqual(h.get('mesh', 'a'), { camera: null, screen: null, audio: null });
  h.forget('a');
  assert.deepEqual(h.get('mesh', 'a'), { camera: null, screen: null, audio: null });
});

test('reset sets the primary topology without a switch', () => {
  const { h } = recording();
  h.swap('a', 'sfu');
  h.reset('sfu');
  assert.equal(h.primary, 'sfu');
  assert.equal(h.activeOf('a'), 'sfu');
  assert.equal(h.activeOf('newcomer'), 'sfu');
  assert.equal(h.switching, false);
});

test('a switch moves each participant as soon as the new topology delivers it', async () => {
  const { h, shown } = recording();
  const ready = new Set(['a']);
  /** @type {string[]} */
  const swapped = [];
  /** @type {boolean[]} */
  const done = [];
  h.set('sfu', 'a', tracksOf('sfu-a'));
  h.set('sfu', 'b', tracksOf('sfu-b'));
  h.begin(
    {
      to: 'sfu',
      timeoutMs: 10_000,
      limitMs: 10_000,
      holds: async () => true,
      participants: () => ['a', 'b'],
      ready: async (id) => ready.has(id),
      onSwapped: (id) => swapped.push(id),
      onDone: (timedOut) => done.push(timedOut),
    },
    ['a', 'b'],
  );
  assert.equal(h.switching, true);
  await settle();
  assert.deepEqual(swapped, ['a']);
  assert.equal(h.activeOf('a'), 'sfu');
  assert.equal(shown.get('a').camera.name, 'sfu-a-cam');
  assert.equal(h.activeOf('b'), 'mesh', 'b waits on the old topology');
  assert.equal(h.activeOf('c'), 'sfu', 'a newcomer is shown from the new topology at once');
  assert.deepEqual(done, []);

  ready.add('b');
  await settle(250); // the next look comes 100 ms later
  assert.deepEqual(swapped, ['a', 'b']);
  assert.deepEqual(done, [false]);
  assert.equal(h.switching, false);
});

test('at the limit everyone moves, ready or not', async () => {
  const { h } = recording();
  let asked = 0;
  /** @type {boolean[]} */
  const done = [];
  h.begin(
    {
      to: 'sfu',
      timeoutMs: 0,
      limitMs: 0,
      participants: () => ['a', 'b'],
      ready: async () => {
        asked++;
        return false;
      },
      holds: async () => {
        asked++;
        return true;
      },
      onSwapped: () => {},
      onDone: (timedOut) => done.push(timedOut),
    },
    ['a', 'b'],
  );
  await settle();
  assert.equal(asked, 0, 'past the deadline nobody is asked');
  assert.equal(h.activeOf('a'), 'sfu');
  assert.equal(h.activeOf('b'), 'sfu');
  assert.deepEqual(done, [true]);
});

test('past the timeout, whoever the old topology still shows stays on it until the limit', async () => {
  const { h } = recording();
  const holding = new Set(['a', 'b']);
  /** @type {string[]} */
  const swapped = [];
  /** @type {boolean[]} */
  const done = [];
  /** @type {string[]} */
  const askedOld = [];
  h.set('mesh', 'a', tracksOf('mesh-a'));
  h.begin(
    {
      to: 'sfu',
      timeoutMs: 0,
      limitMs: 10_000,
      participants: () => ['a', 'b'],
      ready: async () => false,
      holds: async (id, tracks) => {
        askedOld.push(`${id}:${tracks.camera?.name}`);
        return holding.has(id);
      },
      onSwapped: (id) => swapped.push(id),
      onDone: (timedOut) => done.push(timedOut),
    },
    ['a', 'b'],
  );
  await settle();
  assert.deepEqual(swapped, [], 'the old topology still shows both');
  assert.ok(askedOld.includes('a:mesh-a-cam'), 'asked about the tracks the tile shows now');
  holding.delete('b');
  await settle(250);
  assert.deepEqual(swapped, ['b'], 'b froze on the old topology: it moves, ready or not');
  assert.equal(h.activeOf('a'), 'mesh');
  assert.deepEqual(done, []);
  h.cancel();
});

test('before the timeout the old topology is not asked about', async () => {
  const { h } = recording();
  let asked = 0;
  h.begin(
    {
      to: 'sfu',
      timeoutMs: 10_000,
      limitMs: 20_000,
      participants: () => ['a'],
      ready: async () => false,
      holds: async () => {
        asked++;
        return false;
      },
      onSwapped: () => assert.fail('nothing is ready and the timeout is far'),
      onDone: () => {},
    },
    ['a'],
  );
  await settle(250);
  assert.equal(asked, 0);
  assert.equal(h.activeOf('a'), 'mesh');
  h.cancel();
});

test('a participant who leaves during a switch is not waited for', async () => {
  const { h } = recording();
  let here = ['a', 'b'];
  /** @type {boolean[]} */
  const done = [];
  h.begin(
    {
      to: 'sfu',
      timeoutMs: 10_000,
      limitMs: 10_000,
      holds: async () => true,
      participants: () => here,
      ready: async (id) => id === 'a',
      onSwapped: () => {},
      onDone: (timedOut) => done.push(timedOut),
    },
    ['a', 'b'],
  );
  await settle();
  assert.deepEqual(done, []);
  here = ['a'];
  await settle(250);
  assert.deepEqual(done, [false]);
});

test('a cancelled switch leaves everyone where they are', async () => {
  const { h } = recording();
  let swaps = 0;
  h.begin(
    {
      to: 'sfu',
      timeoutMs: 10_000,
      limitMs: 10_000,
      holds: async () => true,
      participants: () => ['a'],
      ready: async () => false,
      onSwapped: () => swaps++,
      onDone: () => assert.fail('a cancelled switch never ends'),
    },
    ['a'],
  );
  h.cancel();
  await settle(250);
  assert.equal(swaps, 0);
  assert.equal(h.activeOf('a'), 'mesh');
  assert.equal(h.switching, false);
});

test('a topology must deliver each live video, else the live microphone', () => {
  const t = { camera: track('cam'), screen: track('screen'), audio: track('mic') };
  assert.deepEqual(neededTracks({ camera: 'live', microphone: 'live' }, t), [t.camera]);
  assert.deepEqual(neededTracks({ camera: 'live', screen: 'live' }, t), [t.camera, t.screen]);
  assert.deepEqual(neededTracks({ camera: 'paused', microphone: 'live' }, t), [t.audio]);
  assert.deepEqual(neededTracks({ camera: 'paused', microphone: 'paused' }, t), [], 'nothing live: nothing to wait for');
  assert.deepEqual(neededTracks({}, t), []);
  // A video the viewer paused is not awaited: the sound is.
  assert.deepEqual(neededTracks({ camera: 'live', screen: 'live', microphone: 'live' }, t, false), [t.audio]);
  assert.deepEqual(neededTracks({ camera: 'live' }, t, false), []);
  // A track that has not arrived yet is still needed: it shows as null.
  assert.deepEqual(neededTracks({ screen: 'live' }, { camera: null, screen: null, audio: null }), [null]);
});

test('a video flows after FLOWING_POLLS looks in a row with new frames', () => {
  let look = nextLook(undefined, 0);
  assert.deepEqual(look, { frames: 0, streak: 0, idle: 1 });
  for (let i = 1; i <= FLOWING_POLLS; i++) {
    look = nextLook(look, i * 10);
    assert.equal(look.streak, i);
  }
  assert.ok(look.streak >= FLOWING_POLLS);
  // A look without new frames starts the count again.
  look = nextLook(look, look.frames);
  assert.deepEqual(look, { frames: FLOWING_POLLS * 10, streak: 0, idle: 1 });
  // One keyframe is not a flow.
  assert.ok(nextLook(undefined, 1).streak < FLOWING_POLLS);
});

test('a video has stalled after STALL_POLLS looks in a row without new frames', () => {
  let look = nextLook(undefined, 50);
  assert.equal(stalled(look), false, 'a first look that finds frames');
  for (let i = 1; i < STALL_POLLS; i++) {
    look = nextLook(look, 50);
    assert.equal(stalled(look), false, `${i} idle looks`);
  }
  look = nextLook(look, 50);
  assert.equal(stalled(look), true);
  look = nextLook(look, 51);
  assert.equal(stalled(look), false, 'one new frame and it moves again');
});

test('the peers\' word is of this epoch, or stale', () => {
  const word = haveMessage('sfu', 7);
  assert.deepEqual(word, { type: HAVE, via: 'sfu', epoch: 7 });
  assert.equal(isCurrentHave(word, 7), true);
  assert.equal(isCurrentHave(word, 8), false);
  assert.equal(isCurrentHave(word, 6), false, 'a word of a switch I have not seen yet');
  assert.equal(isCurrentHave({ type: 'other', via: 'sfu', epoch: 7 }, 7), false);
  assert.equal(isCurrentHave(null, 7), false);
  assert.equal(isCurrentHave(undefined, 7), false);
});

test('back to the mesh, my SFU publish is needed by whoever was here and has not moved', () => {
  const others = ['a', 'b', 'newcomer'];
  const switchFrom = new Set(['a', 'b']);
  assert.deepEqual(stillNeedSFU({ publishes: true, others, switchFrom, theyHave: new Set() }), ['a', 'b']);
  assert.deepEqual(stillNeedSFU({ publishes: true, others, switchFrom, theyHave: new Set(['a']) }), ['b']);
  assert.deepEqual(stillNeedSFU({ publishes: true, others, switchFrom, theyHave: new Set(['a', 'b']) }), []);
  assert.deepEqual(stillNeedSFU({ publishes: false, others, switchFrom, theyHave: new Set() }), [], 'I publish nothing');
  assert.deepEqual(stillNeedSFU({ publishes: true, others: ['b'], switchFrom, theyHave: new Set() }), ['b'], 'a left');
});

test('the old topology lingers until every page has switched', () => {
  assert.ok(SWITCH_LIMIT_MS > SWITCH_TIMEOUT_MS);
  assert.equal(lingerDelay(1000, 1000), SWITCH_LIMIT_MS + LINGER_MS);
  assert.equal(lingerDelay(1000, 3000), SWITCH_LIMIT_MS + LINGER_MS - 2000);
  assert.equal(lingerDelay(0, SWITCH_LIMIT_MS + LINGER_MS + 5), 0, 'never negative');
});

test('failed SFU connections restart at most once every few seconds', () => {
  assert.equal(shouldRestartSFU('failed', 100, -Infinity), true);
  assert.equal(shouldRestartSFU('disconnected', 100, -Infinity), false);
  assert.equal(shouldRestartSFU('connected', 100, -Infinity), false);
  assert.equal(shouldRestartSFU('failed', 1000 + SFU_RESTART_MIN_MS, 1000), false);
  assert.equal(shouldRestartSFU('failed', 1001 + SFU_RESTART_MIN_MS, 1000), true);
});

test('rebuilding the mesh after the SFU, the smaller id of a pair offers', () => {
  assert.equal(offersOnReturn('a1', 'b2'), true);
  assert.equal(offersOnReturn('b2', 'a1'), false);
  // Exactly one side of each pair offers.
  for (const [x, y] of [['p', 'q'], ['Q', 'p'], ['10', '9']]) {
    assert.notEqual(offersOnReturn(x, y), offersOnReturn(y, x));
  }
});
