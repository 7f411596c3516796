// hostlist.js: a host's list loaded from the server, where a late answer
// never overwrites a newer state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostList } from '../js/hostlist.js';

test('only a host asks; the newest load wins, a failure says so, and the end of hosting drops a load on its way', async () => {
  /** @type {((v: string[]) => void)[]} */
  const answers = [];
  let renders = 0;
  const list = new HostList(() => new Promise((resolve) => answers.push(resolve)), () => renders++, 'test');
  await list.refresh();
  assert.equal(answers.length, 0, 'not a host: nothing is asked');
  list.setHost(true); // asks once
  const second = list.refresh();
  answers[1](['new']);
  await second;
  answers[0](['old']);
  await Promise.resolve();
  assert.deepEqual(list.items, ['new'], 'the older answer came last and was dropped');
  assert.equal(list.loaded, true);
  assert.equal(renders, 1);

  const failing = new HostList(() => Promise.reject(new Error('offline')), () => renders++, 'test');
  failing.host = true;
  await failing.refresh();
  assert.equal(failing.failed, true);
  assert.equal(failing.loaded, true);

  const third = list.refresh();
  assert.equal(list.setHost(false), true, 'no longer a host');
  answers[2](['after the end of hosting']);
  await third;
  assert.deepEqual(list.items, []);
  assert.equal(list.loaded, false);
  assert.equal(list.setHost(false), false, 'no change');
});
