// The pure parts of the chat: the message list's rules (chatlog.js) and
// the outbox (chatoutbox.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GROUP_MS, chatLength, continues, linkParts, placeBefore, unseen, withoutControls } from '../js/chatlog.js';
import { MAX_ATTEMPTS, Outbox, PACE_BURST, PACE_RATE, newClientId } from '../js/chatoutbox.js';

test('length counts characters after trimming, as the server does', () => {
  assert.equal(chatLength('  hello  '), 5);
  assert.equal(chatLength('👋🏽'), 2, 'an emoji with a skin tone is two code points');
  assert.equal(chatLength('数学'), 2);
  assert.equal(chatLength(' \n\t '), 0);
});

test('control characters are dropped, tabs and newlines kept', () => {
  assert.equal(withoutControls('a\u0000b\u0007c\u001bd\u007fe\u0085f'), 'abcdef');
  assert.equal(withoutControls('line 1\nline 2\r\n\tindented'), 'line 1\nline 2\r\n\tindented');
});

test('links are cut out of the text, without the punctuation that ends a sentence', () => {
  assert.deepEqual(linkParts('see https://example.org.'), [
    { text: 'see ' },
    { text: 'https://example.org', href: 'https://example.org/' },
    { text: '.' },
  ]);
  assert.deepEqual(linkParts('(at http://a.example/x) ok'), [
    { text: '(at ' },
    { text: 'http://a.example/x', href: 'http://a.example/x' },
    { text: ') ok' },
  ]);
  assert.deepEqual(linkParts('https://en.wikipedia.org/wiki/Go_(game)'), [
    { text: 'https://en.wikipedia.org/wiki/Go_(game)', href: 'https://en.wikipedia.org/wiki/Go_(game)' },
  ]);
});

test('text without a web link stays one plain part', () => {
  assert.deepEqual(linkParts('no links here'), [{ text: 'no links here' }]);
  assert.deepEqual(linkParts('javascript:alert(1) ftp://x.example'), [{ text: 'javascript:alert(1) ftp://x.example' }]);
  assert.deepEqual(linkParts(''), []);
  assert.deepEqual(linkParts('<b>https://x.example</b>'), [
    { text: '<b>' },
    { text: 'https://x.example', href: 'https://x.example/' },
    { text: '</b>' },
  ]);
});

/** @param {number} seq */
const msg = (seq) => /** @type {any} */ ({ seq, text: `m${seq}` });

test('each seq is shown once: repeats, shown ones and seq-less ones are dropped', () => {
  const shown = new Set([2]);
  const batch = [msg(3), msg(2), msg(1), msg(3), /** @type {any} */ ({ text: 'no seq' }), null, /** @type {any} */ ({ seq: '4' })];
  assert.deepEqual(
    unseen(batch, shown).map((m) => m.seq),
    [3, 1],
  );
  assert.deepEqual(unseen([], shown), []);
});

/**
 * Where a seq goes in a list of seqs (0 for pending), as an index; the
 * length for the end.
 * @param {number[]} seqs
 * @param {number} seq
 */
function place(seqs, seq) {
  const items = seqs.map((s, i) => ({ s, i }));
  const before = placeBefore(
    items[items.length - 1] || null,
    (n) => items[n.i - 1] || null,
    (n) => n.s,
    seq,
  );
  return before ? before.i : seqs.length;
}

test('a message goes in seq order, ahead of the pending ones', () => {
  assert.equal(place([], 5), 0);
  assert.equal(place([1, 2, 3], 4), 3, 'the newest goes last');
  assert.equal(place([1, 2, 3, 0, 0], 4), 3, 'before the pending messages');
  assert.equal(place([1, 3, 5], 4), 2);
  assert.equal(place([3, 4, 5, 0], 1), 0, 'an older page goes first');
  assert.equal(place([0, 0], 7), 0);
});

test('placing every message of a shuffled batch sorts them', () => {
  const list = [0, 0]; // two pending
  for (const seq of [5, 1, 9, 3, 7, 2, 8, 4, 6]) list.splice(place(list, seq), 0, seq);
  assert.deepEqual(list, [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0]);
});

test('consecutive messages of one person within minutes share a header', () => {
  const a = { seq: '1', userId: 'u1', time: '1000' };
  assert.equal(continues(a, { seq: '2', userId: 'u1', time: '2000' }), true);
  assert.equal(continues(null, a), false, 'the first message has its header');
  assert.equal(continues(a, { seq: '2', userId: 'u2', time: '2000' }), false, 'another person');
  assert.equal(continues(a, { seq: '3', userId: 'u1', time: '2000' }), false, 'a gap: something may come between');
  assert.equal(continues(a, { seq: '2', userId: 'u1', time: String(1000 + GROUP_MS) }), false, 'too long after');
  assert.equal(continues(a, { userId: 'u1', time: '' }), false, 'a pending message');
  assert.equal(continues({ userId: 'u1' }, { seq: '2', userId: 'u1', time: '1000' }), false, 'after a pending message');
});

/**
 * @param {string} clientId
 * @returns {{clientId: string, text: string, attempts: number}}
 */
const entry = (clientId) => ({ clientId, text: `text of ${clientId}`, attempts: 0 });

test('the outbox sends one message at a time, in order', () => {
  const box = new Outbox(0);
  assert.equal(box.next(0), null, 'nothing to send');
  const a = entry('a');
  const b = entry('b');
  box.push(a);
  box.push(b);
  const step = box.next(0);
  assert.deepEqual(step, { send: a });
  box.sent(a);
  assert.equal(a.attempts, 1);
  assert.equal(box.inFlight, 'a');
  assert.equal(box.next(0), null, 'a waits for its answer');

  assert.deepEqual(box.acknowledge('a'), { entry: a, freed: true });
  assert.deepEqual(box.next(0), { send: b });
  assert.deepEqual(box.entries, [b]);
});

test('an echo of another tab, or a late one, frees nothing', () => {
  const box = new Outbox(0);
  const a = entry('a');
  box.push(a);
  box.sent(a);
  assert.deepEqual(box.acknowledge('someone-else'), { entry: null, freed: false });
  assert.equal(box.inFlight, 'a');
  const b = entry('b');
  box.push(b);
  // b's echo (a resend answered from the store) arrives before a's.
  assert.deepEqual(box.acknowledge('b'), { entry: b, freed: false });
  assert.deepEqual(box.entries, [a]);
});

test('a refusal takes the message in flight out', () => {
  const box = new Outbox(0);
  const a = entry('a');
  const b = entry('b');
  box.push(a);
  box.push(b);
  box.sent(a);
  assert.equal(box.refused(), a);
  assert.equal(box.inFlight, '');
  assert.deepEqual(box.entries, [b]);
  assert.equal(box.refused(), null, 'nothing in flight: nothing refused');
  assert.deepEqual(box.entries, [b]);
});

test('a reconnect sends the message in flight again, until it gives up', () => {
  const box = new Outbox(0);
  const a = entry('a');
  box.push(a);
  for (let i = 1; i <= MAX_ATTEMPTS; i++) {
    assert.deepEqual(box.next(i * 1000), { send: a });
    box.sent(a);
    box.reconnected(i * 1000);
    assert.equal(box.inFlight, '');
  }
  assert.deepEqual(box.next(10_000), { giveUp: a });
  assert.deepEqual(box.entries, []);
});

test('the outbox keeps to the server\'s pace: a burst, then a steady rate', () => {
  const box = new Outbox(0);
  for (let i = 0; i < PACE_BURST + 1; i++) box.push(entry(`m${i}`));
  for (let i = 0; i < PACE_BURST; i++) {
    const step = /** @type {any} */ (box.next(0));
    assert.ok(step && step.send, `message ${i + 1} of the burst`);
    box.acknowledge(step.send.clientId);
  }
  const waiting = /** @type {any} */ (box.next(0));
  assert.ok(waiting && waiting.wait > 0, 'the burst is spent');
  assert.ok(waiting.wait <= 1000 / PACE_RATE + 20, `waits ${waiting.wait} ms, one token's time`);
  assert.ok('send' in /** @type {any} */ (box.next(1000 / PACE_RATE)), 'a token later it goes');
});

test('a reconnect starts the pace afresh', () => {
  const box = new Outbox(0);
  box.pace.tokens = 0;
  box.push(entry('a'));
  assert.ok('wait' in /** @type {any} */ (box.next(0)));
  box.reconnected(0);
  assert.ok('send' in /** @type {any} */ (box.next(0)));
});

test('client ids are unique and printable', () => {
  const ids = new Set(Array.from({ length: 100 }, newClientId));
  assert.equal(ids.size, 100);
  for (const id of ids) assert.match(id, /^[\x21-\x7e]{1,64}$/);
});
