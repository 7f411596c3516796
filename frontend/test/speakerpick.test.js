// speakerpick.js: the speaking ring of a mesh room (the SFU's picker, the
// level of a microphone, and when a page says it again).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LEVEL_STEP, MIN_SPEECH, SpeakerPicker, energyLevel, levelNews, levelOfRms, loudestFrame, smoothLevel } from '../js/speakerpick.js';

const levels = (obj) => new Map(Object.entries(obj));

test('the first speaker above the threshold takes the floor at once', () => {
  const p = new SpeakerPicker();
  assert.deepEqual(p.next(levels({ a: 0.01, b: 0.04 })), { id: '', changed: false });
  assert.deepEqual(p.next(levels({ a: 0.3, b: 0.1 })), { id: 'a', changed: true });
  assert.deepEqual(p.next(levels({ a: 0.3, b: 0.1 })), { id: 'a', changed: false });
});

test('a newcomer needs to be 1.5 times as loud for two looks in a row', () => {
  const p = new SpeakerPicker();
  p.next(levels({ a: 0.4 }));
  // Louder, but not 1.5 times: a stays.
  assert.equal(p.next(levels({ a: 0.4, b: 0.55 })).id, 'a');
  assert.equal(p.next(levels({ a: 0.4, b: 0.55 })).id, 'a');
  // 1.5 times as loud once: not yet.
  assert.deepEqual(p.next(levels({ a: 0.2, b: 0.6 })), { id: 'a', changed: false });
  // A look where a holds the floor again starts the count over.
  assert.deepEqual(p.next(levels({ a: 0.5, b: 0.6 })), { id: 'a', changed: false });
  assert.deepEqual(p.next(levels({ a: 0.2, b: 0.6 })), { id: 'a', changed: false });
  // Twice in a row: b.
  assert.deepEqual(p.next(levels({ a: 0.2, b: 0.6 })), { id: 'b', changed: true });
});

test('silence keeps the last speaker, and someone gone counts as silent', () => {
  const p = new SpeakerPicker();
  p.next(levels({ a: 0.5 }));
  assert.deepEqual(p.next(levels({ a: 0, b: 0.02 })), { id: 'a', changed: false });
  assert.deepEqual(p.next(new Map()), { id: 'a', changed: false });
  // a left: b needs its two looks against nobody's 0.
  assert.deepEqual(p.next(levels({ b: 0.3 })), { id: 'a', changed: false });
  assert.deepEqual(p.next(levels({ b: 0.3 })), { id: 'b', changed: true });
});

test('ties go to the smaller id, as on the server', () => {
  const p = new SpeakerPicker();
  assert.equal(p.next(levels({ c: 0.5, b: 0.5, d: 0.5 })).id, 'b');
  // Exactly the threshold is not speech yet (loudest must beat it).
  const q = new SpeakerPicker();
  assert.equal(q.next(levels({ a: MIN_SPEECH })).id, '');
});

test('reset starts from a known speaker', () => {
  const p = new SpeakerPicker();
  p.reset('x');
  assert.deepEqual(p.next(levels({ y: 0.3, x: 0.25 })), { id: 'x', changed: false });
  p.reset('');
  assert.deepEqual(p.next(levels({ y: 0.3 })), { id: 'y', changed: true });
});

test('levels are on the SFU scale: 0 at -70 dB and below, 1 at full scale', () => {
  assert.equal(levelOfRms(0), 0);
  assert.equal(levelOfRms(NaN), 0);
  assert.equal(levelOfRms(1), 1);
  assert.equal(levelOfRms(2), 1);
  assert.equal(levelOfRms(10 ** (-70 / 20)), 0);
  assert.ok(Math.abs(levelOfRms(10 ** (-35 / 20)) - 0.5) < 1e-9);
});

test('the loudest 10 ms frame counts: a short beep in a long silence is heard', () => {
  const samples = new Float32Array(4800);
  assert.equal(loudestFrame(samples, 480), 0);
  // A 10 ms square wave at 0.5 (-6 dB) in the middle of 100 ms of silence.
  for (let i = 2400; i < 2880; i++) samples[i] = i % 2 ? 0.5 : -0.5;
  const level = loudestFrame(samples, 480);
  assert.ok(Math.abs(level - levelOfRms(0.5)) < 1e-6, `level ${level}`);
  // The mean over the whole stretch would read much lower.
  assert.ok(levelOfRms(0.5 * Math.sqrt(0.1)) < level);
  assert.equal(loudestFrame([], 480), 0);
});

test('a level rises at once and falls back gently', () => {
  assert.equal(smoothLevel(0, 0.8, 0.15), 0.8);
  const after = smoothLevel(0.8, 0, 0.15);
  assert.ok(after < 0.8 && after > 0.4, `after ${after}`);
  // Half a second after a beep it still reads as speech.
  assert.ok(smoothLevel(0.7, 0, 0.5) > MIN_SPEECH);
  // Long silence reads 0, not a tail of tiny numbers.
  assert.equal(smoothLevel(0.8, 0, 10), 0);
  assert.equal(smoothLevel(0.5, 0.2, 0), 0.5);
});

test('a level is news when it moved a step, crossed the threshold or reached 0', () => {
  assert.equal(levelNews(0, 0), false);
  assert.equal(levelNews(0.3, 0.3), false);
  assert.equal(levelNews(0.3, 0.304), false);
  assert.equal(levelNews(0.3, 0.3 + LEVEL_STEP / 2), false);
  assert.equal(levelNews(0.3, 0.3 + LEVEL_STEP), true);
  assert.equal(levelNews(0.3, 0.3 - LEVEL_STEP), true);
  assert.equal(levelNews(0.03, 0), true);
  assert.equal(levelNews(0.04, 0.06), true);
  assert.equal(levelNews(0.06, 0.04), true);
  assert.equal(levelNews(0, 0.02), false);
  assert.equal(levelNews(null, 0), true);
});

test('a level from two readings of the energy totals is the RMS between them', () => {
  // 0.25 s of a steady 0.1 amplitude adds 0.1² × 0.25 to the energy.
  const level = energyLevel({ energy: 1, duration: 10 }, { energy: 1 + 0.01 * 0.25, duration: 10.25 });
  assert.ok(level !== null && Math.abs(level - levelOfRms(0.1)) < 1e-9, `level ${level}`);
  assert.equal(energyLevel(null, { energy: 1, duration: 1 }), null);
  assert.equal(energyLevel({ energy: 1, duration: 2 }, { energy: 1, duration: 2 }), null, 'no time between');
  assert.equal(energyLevel({ energy: 5, duration: 2 }, { energy: 1, duration: 3 }), null, 'totals of another connection');
  assert.equal(energyLevel({ energy: 1, duration: 2 }, { energy: 1, duration: 3 }), 0, 'silence');
});
