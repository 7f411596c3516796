// Pure parts of devices.js: finding the remembered camera, microphone or
// speaker in the devices there are now.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deviceConstraint, groupDevices, matchDevice, parsePrefs } from '../js/devices.js';

const cams = [
  { kind: 'videoinput', deviceId: 'a1', label: 'Built-in Camera' },
  { kind: 'videoinput', deviceId: 'b2', label: 'Logitech C920' },
];

test('the remembered id wins', () => {
  assert.equal(matchDevice(cams, { deviceId: 'b2', label: 'something else' })?.deviceId, 'b2');
});

test('a new id for the same device is found by its label', () => {
  assert.equal(matchDevice(cams, { deviceId: 'old-id', label: 'Logitech C920' })?.deviceId, 'b2');
});

test('a device that is gone matches nothing', () => {
  assert.equal(matchDevice(cams, { deviceId: 'zz', label: 'USB Camera' }), null);
  assert.equal(matchDevice(cams, null), null);
  assert.equal(matchDevice(cams, undefined), null);
});

test('empty labels (no permission yet) never match each other', () => {
  const hidden = [{ kind: 'videoinput', deviceId: 'x', label: '' }];
  assert.equal(matchDevice(hidden, { deviceId: 'gone', label: '' }), null);
});

test('devices are grouped by kind, without id-less or repeated entries', () => {
  const g = groupDevices([
    ...cams,
    { kind: 'audioinput', deviceId: 'default', label: 'Default - Mic' },
    { kind: 'audioinput', deviceId: 'm1', label: 'Mic' },
    { kind: 'audioinput', deviceId: 'm1', label: 'Mic' },
    { kind: 'audiooutput', deviceId: '', label: '' },
    { kind: 'audiooutput', deviceId: 's1', label: 'Speakers' },
  ]);
  assert.deepEqual(g.camera.map((d) => d.deviceId), ['a1', 'b2']);
  assert.deepEqual(g.microphone.map((d) => d.deviceId), ['default', 'm1']);
  assert.deepEqual(g.speaker.map((d) => d.deviceId), ['s1']);
});

test('the constraint is exact for a device that is there, by label too', () => {
  assert.deepEqual(deviceConstraint(cams, { deviceId: 'b2', label: '' }), { exact: 'b2' });
  assert.deepEqual(deviceConstraint(cams, { deviceId: 'old', label: 'Logitech C920' }), { exact: 'b2' });
});

test('without a listed device the remembered id is only a wish', () => {
  assert.deepEqual(deviceConstraint([], { deviceId: 'b2', label: 'Logitech C920' }), { ideal: 'b2' });
});

test('a device that is gone from a full list asks for none (the default)', () => {
  assert.equal(deviceConstraint(cams, { deviceId: 'zz', label: 'USB Camera' }), undefined);
  assert.equal(deviceConstraint(cams, undefined), undefined);
});

test('stored choices are read defensively', () => {
  assert.deepEqual(parsePrefs(null), {});
  assert.deepEqual(parsePrefs('not json'), {});
  assert.deepEqual(parsePrefs('[1,2]'), {});
  assert.deepEqual(
    parsePrefs(JSON.stringify({ camera: { deviceId: 'b2', label: 'C920' }, microphone: { deviceId: 3 }, speaker: 'x', other: {} })),
    { camera: { deviceId: 'b2', label: 'C920' } },
  );
});
