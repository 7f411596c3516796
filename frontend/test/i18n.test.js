// Pure parts of i18n.js: which language a browser gets, and placeholders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fill, pickLanguage } from '../js/i18n.js';

test('a remembered choice wins over the browser languages', () => {
  assert.equal(pickLanguage(['es-ES', 'en'], 'zh-CN'), 'zh-CN');
});

test('an unknown remembered choice is ignored', () => {
  assert.equal(pickLanguage(['es-ES'], 'fr'), 'es');
});

test('the first preferred language we have wins, by primary subtag', () => {
  assert.equal(pickLanguage(['fr-FR', 'zh-CN', 'en'], null), 'zh-CN');
  assert.equal(pickLanguage(['zh-TW'], null), 'zh-CN');
  assert.equal(pickLanguage(['es-MX', 'en'], null), 'es');
  assert.equal(pickLanguage(['EN-gb'], null), 'en');
});

test('nothing we have falls back to English', () => {
  assert.equal(pickLanguage(['fr', 'de'], null), 'en');
  assert.equal(pickLanguage([], null), 'en');
});

test('fill replaces known placeholders and keeps unknown ones', () => {
  assert.equal(fill('{name} joined', { name: 'Ana' }), 'Ana joined');
  assert.equal(fill('{n} of {total}', { n: 2 }), '2 of {total}');
  assert.equal(fill('plain'), 'plain');
});
