// speakerview.js: which tile the speaker view shows large.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pickFocus } from '../js/speakerview.js';

const tile = (id, over = {}) => ({ id, local: false, pinnedAt: 0, screen: false, ...over });
const me = tile('me', { local: true });

test('alone, there is no focus: the grid shows my tile', () => {
  assert.equal(pickFocus([me], 'me', ''), '');
  assert.equal(pickFocus([], '', ''), '');
});

test('the speaker takes the focus; when I speak, the last focus stays', () => {
  const tiles = [me, tile('a'), tile('b')];
  assert.equal(pickFocus(tiles, 'b', 'a'), 'b');
  assert.equal(pickFocus(tiles, 'me', 'b'), 'b');
  // Nobody spoke yet: the first other person.
  assert.equal(pickFocus(tiles, '', ''), 'a');
  // The last focus left: the speaker if any, else the first.
  assert.equal(pickFocus(tiles, '', 'gone'), 'a');
});

test('a shared screen comes before the speaker', () => {
  const tiles = [me, tile('a'), tile('b', { screen: true })];
  assert.equal(pickFocus(tiles, 'a', 'a'), 'b');
});

test('the tile pinned last comes before everything', () => {
  const tiles = [me, tile('a', { pinnedAt: 5 }), tile('b', { screen: true }), tile('c', { pinnedAt: 9 })];
  assert.equal(pickFocus(tiles, 'b', 'b'), 'c');
  // My own tile is never the focus, even pinned (it cannot be).
  assert.equal(pickFocus([{ ...me, pinnedAt: 99 }, tile('a')], 'me', ''), 'a');
});
