// The grant of a room page's address (grant.js), invite links (invites.js)
// and the link with a passcode (passcode.js): their pure parts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { addGrant, grantClaims, linkGrant } from '../js/grant.js';
import { DEFAULT_INVITE_TTL, INVITE_TTLS, inviteState, relativeTime, sortInvites } from '../js/invites.js';
import { passcodeLink } from '../js/passcode.js';

/** A JWT with these claims (unsigned: the page never checks signatures). */
function jwt(/** @type {object} */ claims) {
  const part = (/** @type {object} */ o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}.c2lnbmF0dXJl`;
}

test('the address carries an invite or a join token', () => {
  assert.deepEqual(linkGrant('?invite=abc.def.ghi'), { invite: 'abc.def.ghi', token: '' });
  assert.deepEqual(linkGrant('token=x.y.z&name=Ana'), { invite: '', token: 'x.y.z' });
  assert.deepEqual(linkGrant(''), { invite: '', token: '' });
  assert.deepEqual(linkGrant('?invite=%20&join=1'), { invite: '', token: '' });
  // URL-encoded as a query value should be, and read back exactly.
  const token = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1XzEifQ.sig-_';
  assert.equal(linkGrant('?' + new URLSearchParams({ token })).token, token);
});

test('the socket URL carries the grant', () => {
  const q = new URLSearchParams({ room: 'r1' });
  addGrant(q, { invite: 'i.n.v', token: '' });
  assert.equal(q.toString(), 'room=r1&invite=i.n.v');
  const q2 = new URLSearchParams({ room: 'r1', resume: 'p_1' });
  addGrant(q2, linkGrant('?token=t.o.k'));
  assert.equal(q2.get('token'), 't.o.k');
  assert.equal(q2.has('invite'), false);
  const q3 = new URLSearchParams({ room: 'r1' });
  addGrant(q3, {});
  assert.equal(q3.toString(), 'room=r1');
});

test('a grant\'s claims are read for hints', () => {
  assert.deepEqual(grantClaims(jwt({ room: 'r1', role: 'viewer', use: 'invite', exp: 1800000000 })), {
    role: 'viewer',
    name: '',
    expiresAt: 1800000000 * 1000,
  });
  // UTF-8 names survive base64url.
  assert.equal(grantClaims(jwt({ sub: 'u_1', name: ' 数学老师 Zoë ', room: 'r1' })).name, '数学老师 Zoë');
});

test('an unreadable grant says nothing', () => {
  const none = { role: '', name: '', expiresAt: 0 };
  assert.deepEqual(grantClaims(''), none);
  assert.deepEqual(grantClaims('not-a-jwt'), none);
  assert.deepEqual(grantClaims('a.%%%.c'), none);
  assert.deepEqual(grantClaims('a.' + Buffer.from('[1,2]').toString('base64url') + '.c'), { role: '', name: '', expiresAt: 0 });
  assert.deepEqual(grantClaims('a.' + Buffer.from('"x"').toString('base64url') + '.c'), none);
  assert.deepEqual(grantClaims(jwt({ role: 7, name: null, exp: 'soon' })), none);
});

test('an invite is active, expired or revoked', () => {
  const now = Date.parse('2026-05-01T12:00:00Z');
  assert.equal(inviteState({ expiresAt: '2026-05-02T12:00:00Z', revoked: false }, now), 'active');
  assert.equal(inviteState({ expiresAt: '2026-05-01T11:59:59Z', revoked: false }, now), 'expired');
  assert.equal(inviteState({ expiresAt: '2026-05-02T12:00:00Z', revoked: true }, now), 'revoked');
  assert.equal(inviteState({ expiresAt: '2026-04-01T12:00:00Z', revoked: true }, now), 'revoked');
  assert.equal(inviteState({ expiresAt: 'garbage' }, now), 'active');
});

test('the list shows working links first, newest first', () => {
  const now = Date.parse('2026-05-01T12:00:00Z');
  const invites = [
    { id: 'old', createdAt: '2026-04-01T00:00:00Z', expiresAt: '2026-04-02T00:00:00Z', revoked: false },
    { id: 'a', createdAt: '2026-05-01T10:00:00Z', expiresAt: '2026-05-04T10:00:00Z', revoked: false },
    { id: 'gone', createdAt: '2026-05-01T11:00:00Z', expiresAt: '2026-05-04T11:00:00Z', revoked: true },
    { id: 'b', createdAt: '2026-05-01T11:30:00Z', expiresAt: '2026-05-01T12:30:00Z', revoked: false },
  ];
  assert.deepEqual(sortInvites(invites, now).map((i) => i.id), ['b', 'a', 'gone', 'old']);
  assert.equal(invites[0].id, 'old', 'the input is left as it was');
});

test('expiry in words, in the largest unit that fits', () => {
  const now = Date.parse('2026-05-01T12:00:00Z');
  const h = 3600000;
  assert.equal(relativeTime(now + 72 * h, now, 'en'), 'in 3 days');
  assert.equal(relativeTime(now + 71 * h, now, 'en'), 'in 3 days');
  assert.equal(relativeTime(now + 24 * h, now, 'en'), 'tomorrow');
  assert.equal(relativeTime(now + 5 * h, now, 'en'), 'in 5 hours');
  assert.equal(relativeTime(now + 10 * 60000, now, 'en'), 'in 10 minutes');
  assert.equal(relativeTime(now - 2 * h, now, 'en'), '2 hours ago');
  assert.equal(relativeTime(now + 5000, now, 'en'), 'in 1 minute');
  assert.equal(relativeTime(now - 5000, now, 'en'), '1 minute ago');
  assert.equal(relativeTime(now + 30 * 24 * h, now, 'en'), 'in 30 days');
  assert.equal(relativeTime(now + 72 * h, now, 'es'), 'dentro de 3 días');
});

test('the lifetimes offered are the page\'s, three days chosen', () => {
  const html = readFileSync(new URL('../room.html', import.meta.url), 'utf8');
  const select = /<select id="invite-ttl"[^>]*>([\s\S]*?)<\/select>/.exec(html);
  assert.ok(select, 'room.html has the invite-ttl select');
  const values = [...select[1].matchAll(/<option value="(\d+)"/g)].map((m) => Number(m[1]));
  assert.deepEqual(values, INVITE_TTLS);
  const chosen = /<option value="(\d+)"[^>]*\bselected\b/.exec(select[1]);
  assert.equal(Number(chosen?.[1]), DEFAULT_INVITE_TTL);
  assert.ok(Math.max(...INVITE_TTLS) <= 30 * 86400, 'at most 30 days, as the server allows');
  const roles = /<select id="invite-role"[^>]*>([\s\S]*?)<\/select>/.exec(html);
  assert.deepEqual([...(roles?.[1] || '').matchAll(/<option value="(\w+)"/g)].map((m) => m[1]), ['presenter', 'participant', 'viewer']);
});

test('the link with a passcode keeps it in the fragment, encoded', () => {
  assert.equal(passcodeLink('https://meet.example', 'zr9rzftqgt', 'tulip-42'), 'https://meet.example/r/zr9rzftqgt#pwd=tulip-42');
  const link = passcodeLink('http://localhost:8080', 'r 1', 'a&b #c=ü');
  assert.equal(link, 'http://localhost:8080/r/r%201#pwd=a%26b%20%23c%3D%C3%BC');
  // What takeFragmentPasscode reads back.
  assert.equal(new URLSearchParams(new URL(link).hash.slice(1)).get('pwd'), 'a&b #c=ü');
});
