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

test('a tile scrolled out of its strip is not watched, though inside the window', () => {
  // The strip: 400 px wide at the bottom of the window; a tile beyond its
  // right edge, one beyond its left, one half in.
  const strip = { left: 100, top: 600, right: 500, bottom: 700 };
  assert.deepEqual(elementView(rect(520, 610, 160, 90), viewport, 1, true, strip), { width: 0, height: 0 });
  assert.deepEqual(elementView(rect(-80, 610, 160, 90), viewport, 1, true, strip), { width: 0, height: 0 });
  assert.deepEqual(elementView(rect(420, 610, 160, 90), viewport, 1, true, strip), { width: 160, height: 96 });
  // The size is the tile's, not the part that shows: the layer fits the tile.
  assert.deepEqual(elementView(rect(0, 0, 320, 180), viewport, 1, true, { left: 0, top: 0, right: 100, bottom: 100 }), { width: 320, height: 192 });
  // A strip partly off the window: what is off the window is off too.
  assert.deepEqual(elementView(rect(1300, 610, 160, 90), viewport, 1, true, { left: 0, top: 600, right: 2000, bottom: 700 }), { width: 0, height: 0 });
});

test('pinning or unpinning a track is a change to send', () => {
  const a = { id: 'p_a', source: 'camera', width: 320, height: 192 };
  let { sent } = changedViews(new Map(), [a]);
  const pinned = { ...a, pinned: true };
  let changed;
  ({ changed, sent } = changedViews(sent, [pinned]));
  assert.deepEqual(changed, [pinned]);
  ({ changed, sent } = changedViews(sent, [pinned]));
  assert.deepEqual(changed, []);
  ({ changed } = changedViews(sent, [a]));
  assert.deepEqual(changed, [a]);
});
