// The pure parts of the keyboard shortcuts (shortcuts.js) and of the
// screen-reader announcements (a11y.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SHORTCUTS, isTypingTarget, shortcutFor, spaceActivates } from '../js/shortcuts.js';
import { clip, summarize, summarizeMessages } from '../js/a11y.js';

const body = { tagName: 'BODY' };
const button = { tagName: 'BUTTON' };

/**
 * @param {string} key
 * @param {Partial<import('../js/shortcuts.js').KeyPress>} [more]
 */
const press = (key, more = {}) => shortcutFor({ key, target: body, ...more });

test('each letter maps to its action, in either case', () => {
  assert.equal(press('m'), 'mic');
  assert.equal(press('v'), 'camera');
  assert.equal(press('s'), 'screen');
  assert.equal(press('h'), 'hand');
  assert.equal(press('c'), 'chat');
  assert.equal(press('M', { shiftKey: true }), 'mic'); // Shift or Caps Lock
  assert.equal(press('?', { shiftKey: true, code: 'Slash' }), 'help');
  assert.equal(press(' ', { code: 'Space' }), 'push-to-talk');
});

test('other keys do nothing', () => {
  for (const key of ['a', 'x', '1', 'Enter', 'Escape', 'Tab', 'ArrowUp', 'F1', '/']) {
    assert.equal(press(key), null, key);
  }
});

test('Ctrl, Meta and Alt turn shortcuts off', () => {
  assert.equal(press('m', { ctrlKey: true }), null);
  assert.equal(press('m', { metaKey: true }), null);
  assert.equal(press('c', { altKey: true }), null);
  assert.equal(press(' ', { ctrlKey: true }), null);
  assert.equal(press('?', { altKey: true, shiftKey: true }), null);
});

test('typing in a text field, a select or contenteditable is never a shortcut', () => {
  const typing = [
    { tagName: 'INPUT' },
    { tagName: 'INPUT', type: 'text' },
    { tagName: 'INPUT', type: 'search' },
    { tagName: 'input', type: 'EMAIL' },
    { tagName: 'TEXTAREA' },
    { tagName: 'SELECT' },
    { tagName: 'DIV', isContentEditable: true },
    { tagName: 'DIV', role: 'textbox' },
  ];
  for (const target of typing) {
    assert.equal(isTypingTarget(target), true, JSON.stringify(target));
    for (const key of ['m', 'v', 's', 'h', 'c', '?', ' ']) {
      assert.equal(shortcutFor({ key, target }), null, `${key} in ${JSON.stringify(target)}`);
    }
  }
});

test('letters work on buttons and checkboxes, Space activates them instead', () => {
  for (const target of [button, { tagName: 'INPUT', type: 'checkbox' }, { tagName: 'SUMMARY' }, { tagName: 'DIV', role: 'menuitem' }]) {
    assert.equal(isTypingTarget(target), false);
    assert.equal(spaceActivates(target), true);
    assert.equal(shortcutFor({ key: 'm', target }), 'mic');
    assert.equal(shortcutFor({ key: ' ', code: 'Space', target }), null);
  }
  assert.equal(spaceActivates(body), false);
  assert.equal(shortcutFor({ key: ' ', target: null }), 'push-to-talk');
});

test('input methods and dead keys are left alone', () => {
  assert.equal(press('m', { isComposing: true }), null);
  assert.equal(press('Process', { code: 'KeyM' }), null);
  assert.equal(press('Dead', { code: 'KeyC' }), null);
});

test('a held letter fires once; a held Space stays push to talk', () => {
  assert.equal(press('m', { repeat: true }), null);
  assert.equal(press('?', { repeat: true }), null);
  assert.equal(press(' ', { repeat: true }), 'push-to-talk');
});

test('a layout without Latin letters goes by the physical key', () => {
  assert.equal(press('ь', { code: 'KeyM' }), 'mic'); // Russian: the M key types ь
  assert.equal(press('м', { code: 'KeyV' }), 'camera');
  // AZERTY: the character typed wins over the key's position.
  assert.equal(press('m', { code: 'Semicolon' }), 'mic');
  assert.equal(press('q', { code: 'KeyA' }), null);
});

test('the table lists every action once, with its key and help text', () => {
  const actions = SHORTCUTS.map((s) => s.action);
  assert.equal(new Set(actions).size, actions.length);
  for (const s of SHORTCUTS) {
    assert.ok(s.label.startsWith('keys.'), s.label);
    if (s.key.length === 1) assert.equal(shortcutFor({ key: s.key.toLowerCase(), target: body }), s.action, s.key);
  }
});

test('announcements coalesce names of one kind', () => {
  assert.equal(summarize('joined', []), null);
  assert.deepEqual(summarize('joined', ['Ana']), { key: 'a11y.joined', params: { name: 'Ana' } });
  assert.deepEqual(summarize('left', ['Ana', 'Ben']), { key: 'a11y.leftTwo', params: { first: 'Ana', second: 'Ben' } });
  assert.deepEqual(summarize('hand', ['Ana', 'Ben', 'Chen', 'Dee']), { key: 'a11y.handMany', params: { name: 'Ana', count: 3 } });
});

test('one chat message is read, a burst is counted', () => {
  assert.equal(summarizeMessages([]), null);
  assert.deepEqual(summarizeMessages([{ name: 'Ana', text: 'hi\n  there' }]), { key: 'a11y.message', params: { name: 'Ana', text: 'hi there' } });
  assert.deepEqual(summarizeMessages([{ name: 'Ana', text: 'a' }, { name: 'Ben', text: 'b' }]), { key: 'a11y.messages', params: { count: 2 } });
});

test('clip cuts long texts by characters', () => {
  assert.equal(clip('short'), 'short');
  assert.equal(clip('数学'.repeat(100), 5), '数学数学…');
  assert.equal(clip('👋'.repeat(10), 3), '👋👋…');
});
