// sfu.js: the camera's simulcast layers on the publish connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CAMERA_LAYERS, cameraLayerCount, sendEncodingsFor } from '../js/sfu.js';

test('a camera gets the top layers its height allows', () => {
  assert.deepEqual(sendEncodingsFor('camera', 720, true).map((e) => e.rid), ['q', 'h', 'f']);
  assert.deepEqual(sendEncodingsFor('camera', 540, true).map((e) => e.rid), ['q', 'h', 'f']);
  assert.equal(sendEncodingsFor('camera', 360, true), undefined, 'below 540 lines: one stream');
  assert.equal(sendEncodingsFor('camera', 240, true), undefined, 'one layer: no simulcast');
  assert.equal(sendEncodingsFor('camera', 720, false), undefined, 'a browser without simulcast');
  assert.equal(cameraLayerCount(0), 3, 'unknown height: all three');
  const f = sendEncodingsFor('camera', 1080, true).at(-1);
  assert.equal(f.scaleResolutionDownBy, 1);
  f.maxBitrate = 1;
  assert.notEqual(CAMERA_LAYERS[2].maxBitrate, 1, 'each call gets its own copies');
});

test('screens and microphones are not simulcast', () => {
  assert.equal(sendEncodingsFor('screen', 1080, true), undefined);
  assert.equal(sendEncodingsFor('microphone', 0, true), undefined);
});
