// roles.js: who hosts, who may step on the stage, the order of the people
// list, and which items a participant's menu offers (docs/PROTOCOL.md,
// "Hosts and bans").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isHost, maySelfStage, memberActions, roleChange, roleNews, roleOfAction, roleRank, shouldOfferLobby } from '../js/roles.js';
import { joinRefusal } from '../js/refusals.js';
import { Role } from '../js/protocol.js';

test('the hosts are the owner and the moderators', () => {
  assert.equal(isHost(Role.OWNER), true);
  assert.equal(isHost(Role.MODERATOR), true);
  for (const role of [Role.PRESENTER, Role.PARTICIPANT, Role.SPECTATOR, '', undefined]) assert.equal(isHost(role), false, String(role));
});

test('hosts and presenters step on the stage by themselves; others only when allowed', () => {
  for (const role of [Role.OWNER, Role.MODERATOR, Role.PRESENTER]) {
    assert.equal(maySelfStage(role, false), true, role);
  }
  for (const role of [Role.PARTICIPANT, Role.SPECTATOR]) {
    assert.equal(maySelfStage(role, false), false, role);
    assert.equal(maySelfStage(role, true), true, role);
  }
});

test('the people list orders owner, moderator, presenter, participant, spectator', () => {
  const roles = [Role.SPECTATOR, Role.PARTICIPANT, Role.OWNER, Role.PRESENTER, Role.MODERATOR];
  const sorted = [...roles].sort((a, b) => roleRank(a) - roleRank(b));
  assert.deepEqual(sorted, [Role.OWNER, Role.MODERATOR, Role.PRESENTER, Role.PARTICIPANT, Role.SPECTATOR]);
  assert.equal(roleRank('someday-a-new-role'), roleRank(Role.PARTICIPANT));
});

const plain = { role: Role.PARTICIPANT, onStage: false, micOn: false };

test('nobody but a host gets a menu, and nobody one on themself', () => {
  for (const role of [Role.PRESENTER, Role.PARTICIPANT, Role.SPECTATOR, '']) {
    assert.deepEqual(memberActions(role, plain), [], role);
  }
  assert.deepEqual(memberActions(Role.OWNER, { ...plain, self: true }), []);
});

test('the owner on a participant: stage, roles, hand-over, remove, ban', () => {
  assert.deepEqual(memberActions(Role.OWNER, plain), ['stage-on', 'make-moderator', 'make-presenter', 'make-owner', 'remove', 'ban']);
  assert.deepEqual(memberActions(Role.OWNER, { ...plain, onStage: true, micOn: true }), [
    'stage-off',
    'mute',
    'make-moderator',
    'make-presenter',
    'make-owner',
    'remove',
    'ban',
  ]);
});

test('a moderator gets every item but the hand-over', () => {
  const owner = memberActions(Role.OWNER, { ...plain, micOn: true });
  const moderator = memberActions(Role.MODERATOR, { ...plain, micOn: true });
  assert.deepEqual(moderator, owner.filter((a) => a !== 'make-owner'));
  assert.ok(moderator.includes('ban'));
});

test('a role is offered off for who has it', () => {
  assert.deepEqual(memberActions(Role.OWNER, { ...plain, role: Role.MODERATOR }), ['stage-on', 'unmake-moderator', 'make-owner', 'remove', 'ban']);
  assert.deepEqual(memberActions(Role.OWNER, { ...plain, role: Role.PRESENTER }), ['stage-on', 'make-moderator', 'unmake-presenter', 'make-owner', 'remove', 'ban']);
  assert.deepEqual(memberActions(Role.MODERATOR, { ...plain, role: Role.MODERATOR }), ['stage-on', 'unmake-moderator', 'remove', 'ban']);
});

test('never a role, removal or ban item for the owner', () => {
  const ownerTab = { role: Role.OWNER, onStage: true, micOn: true };
  assert.deepEqual(memberActions(Role.OWNER, ownerTab), ['stage-off', 'mute']);
  assert.deepEqual(memberActions(Role.MODERATOR, ownerTab), ['stage-off', 'mute']);
});

test('each role item sends its role-set', () => {
  assert.equal(roleOfAction('make-moderator'), Role.MODERATOR);
  assert.equal(roleOfAction('make-presenter'), Role.PRESENTER);
  assert.equal(roleOfAction('unmake-moderator'), Role.PARTICIPANT);
  assert.equal(roleOfAction('unmake-presenter'), Role.PARTICIPANT);
  assert.equal(roleOfAction('ban'), '');
});

test('role changes worth a notice', () => {
  assert.equal(roleChange(Role.PARTICIPANT, Role.MODERATOR), 'co-host');
  assert.equal(roleChange(Role.PRESENTER, Role.MODERATOR), 'co-host');
  assert.equal(roleChange(Role.MODERATOR, Role.PARTICIPANT), 'no-co-host');
  assert.equal(roleChange(Role.PARTICIPANT, Role.PRESENTER), 'presenter');
  assert.equal(roleChange(Role.PRESENTER, Role.PARTICIPANT), 'no-presenter');
  // The hand-over has its own news; nothing changed is no news.
  assert.equal(roleChange(Role.MODERATOR, Role.OWNER), '');
  assert.equal(roleChange(Role.OWNER, Role.PARTICIPANT), '');
  assert.equal(roleChange(Role.PARTICIPANT, Role.PARTICIPANT), '');
  assert.equal(roleChange(undefined, Role.MODERATOR), '');
});

test('the lobby is offered after a ban only in a room nothing guards', () => {
  const open = { lobby: false, hasPasscode: false, locked: false };
  assert.equal(shouldOfferLobby(open), true);
  assert.equal(shouldOfferLobby({ ...open, lobby: true }), false);
  assert.equal(shouldOfferLobby({ ...open, hasPasscode: true }), false);
  assert.equal(shouldOfferLobby({ ...open, locked: true }), false);
  assert.equal(shouldOfferLobby({}), true);
  assert.equal(shouldOfferLobby(null), false);
});

test('the news of a role change names its key, for me and for another', () => {
  assert.deepEqual(roleNews(Role.PARTICIPANT, Role.MODERATOR, true), { key: 'call.youCoHost', gained: true });
  assert.deepEqual(roleNews(Role.MODERATOR, Role.PARTICIPANT, false), { key: 'call.noLongerCoHost', gained: false });
  assert.deepEqual(roleNews(Role.PARTICIPANT, Role.PRESENTER, false), { key: 'call.nowPresenter', gained: true });
  assert.deepEqual(roleNews(Role.PRESENTER, Role.PARTICIPANT, true), { key: 'call.youNoLongerPresenter', gained: false });
  assert.equal(roleNews(Role.PARTICIPANT, Role.OWNER, true), null);
});

test('a refused join ends the call for a reason the page can word', () => {
  assert.equal(joinRefusal('banned'), 'banned');
  assert.equal(joinRefusal('invite_expired'), 'invite_expired');
  assert.equal(joinRefusal('unauthorized'), 'bad_grant');
  assert.equal(joinRefusal('room_locked'), 'locked');
  assert.equal(joinRefusal('bad_passcode'), 'passcode');
  assert.equal(joinRefusal('something_new'), 'refused');
});
