// views.js: what the page tells the SFU of the videos it shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VIEW_STEP, changedViews, elementView } from '../js/views.js';

const viewport = { width: 1280, height: 720 };
const rect = (left, top, width, height) => ({ left, top, width, height, right: left + width, bottom: top + height });

test('a tile on screen reports its size in device pixels, rounded up', () => {
  assert.deepEqual(elementView(rect(0, 0, 320, 180), viewport, 1, true), { width: 320, height: 192 });
  assert.deepEqual(elementView(rect(10, 10, 320, 180), viewport, 2, true), { width: 640, height: 368 });
  const v = elementView(rect(0, 0, 301, 170), viewport, 1.5, true);
  assert.equal(v.width % VIEW_STEP, 0);
  assert.ok(v.width >= 301 * 1.5 && v.height >= 170 * 1.5);
});

test('a tile off screen, hidden or empty reports 0x0', () => {
  assert.deepEqual(elementView(rect(0, 800, 320, 180), viewport, 1, true), { width: 0, height: 0 });
  assert.deepEqual(elementView(rect(-400, 0, 320, 180), viewport, 1, true), { width: 0, height: 0 });
  assert.deepEqual(elementView(rect(0, 0, 320, 180), viewport, 1, false), { width: 0, height: 0 });
  assert.deepEqual(elementView(rect(0, 0, 0, 0), viewport, 1, true), { width: 0, height: 0 });
  // Partly on screen is watched.
  assert.notDeepEqual(elementView(rect(-100, 600, 320, 180), viewport, 1, true), { width: 0, height: 0 });
});

test('only changed views are sent, and gone tracks are forgotten', () => {
  const a = { id: 'p_a', source: 'camera', width: 320, height: 192 };
  const b = { id: 'p_b', source: 'camera', width: 0, height: 0 };
  let { changed, sent } = changedViews(new Map(), [a, b]);
  assert.deepEqual(changed, [a, b]);
  ({ changed, sent } = changedViews(sent, [a, b]));
  assert.deepEqual(changed, []);
  const bigger = { ...a, width: 640, height: 368 };
  ({ changed, sent } = changedViews(sent, [bigger]));
  assert.deepEqual(changed, [bigger]);
  assert.equal(sent.size, 1, 'p_b left: forgotten');
  ({ changed } = changedViews(sent, [bigger, b]));
  assert.deepEqual(changed, [b], 'p_b back: reported again');
});
