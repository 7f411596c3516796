// Pure parts of rename.js and reactions.js: the name check, as the server
// does it, and the page's own pacing of reactions, as the server's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_NAME_CHARS, checkName } from '../js/rename.js';
import { Pacer } from '../js/reactions.js';
import { REACTIONS, REACTION_BURST, REACTIONS_PER_SECOND } from '../js/protocol.js';

test('a name is trimmed and accepted', () => {
  assert.deepEqual(checkName('  Ana María  '), { name: 'Ana María', error: '' });
  assert.deepEqual(checkName('数学老师'), { name: '数学老师', error: '' });
});

test('an empty name is refused', () => {
  assert.equal(checkName('').error, 'empty');
  assert.equal(checkName(' \t ').error, 'empty');
});

test('length counts characters, not UTF-16 units', () => {
  assert.equal(checkName('a'.repeat(MAX_NAME_CHARS)).error, '');
  assert.equal(checkName('a'.repeat(MAX_NAME_CHARS + 1)).error, 'tooLong');
  // Fifty emoji are fifty characters (a hundred UTF-16 units).
  assert.equal(checkName('😀'.repeat(MAX_NAME_CHARS)).error, '');
  assert.equal(checkName('数'.repeat(MAX_NAME_CHARS + 1)).error, 'tooLong');
});

test('control characters and bidi overrides are refused', () => {
  assert.equal(checkName('Ana\nOwner').error, 'badChars');
  assert.equal(checkName('a\u0007b').error, 'badChars');
  assert.equal(checkName('\u202eAna').error, 'badChars');
  // The zero-width joiner builds emoji: allowed, as on the server.
  assert.equal(checkName('👩\u200d💻 Ana').error, '');
});

test('the pacer lets a burst through, then a steady rate', () => {
  const p = new Pacer(REACTION_BURST, REACTIONS_PER_SECOND);
  for (let i = 0; i < REACTION_BURST; i++) assert.ok(p.take(1000), `reaction ${i + 1} of the burst`);
  assert.equal(p.take(1000), false);
  assert.equal(p.take(1000 + 1000 / REACTIONS_PER_SECOND), true);
  assert.equal(p.take(1000 + 1000 / REACTIONS_PER_SECOND), false);
  // A long pause saves up no more than the burst.
  let n = 0;
  while (p.take(60_000)) n++;
  assert.equal(n, REACTION_BURST);
});

test('the reactions mirror the server set', () => {
  assert.deepEqual([...REACTIONS], ['👍', '👏', '😂', '❤️', '🎉', '😮', '🤔', '✋']);
  assert.equal(REACTIONS[3], '\u2764\ufe0f');
});
