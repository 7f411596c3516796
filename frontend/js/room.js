// @ts-check
// Room page controller: loads the room, picks the view (not found, ended,
// pre-join, in the call, left), wires the buttons, and hands the call
// itself to Call (call.js).
//
// URL: /r/<id>[?name=NAME&join=1[&spectator=1]][&invite=X|&token=Y][#pwd=PASSCODE]
//   join=1       skip the pre-join screen and join at once
//   spectator=1  join receive-only: getUserMedia is never called
//   invite=      an invite link's token; token= a join token of another
//                app (grant.js): passed on to every socket; they let the
//                bearer past the lobby and the passcode, with a role (a
//                viewer's joins receive-only), and a token names its bearer
//   #pwd=        the room's passcode (passcode.js): read, then taken out of
//                the address bar; a fragment never reaches the server
// In a classroom, whoever is not on the stage joins receive-only too (no
// camera prompt), as a participant who may be put on the stage later.

// The language first: its catalog loads before the modules below run.
import { errorText, setupLanguageSelect, t } from './i18n.js';
import { Announcer, setupFocusReturn } from './a11y.js';
import { ApiError, getMe, getRoom, rememberedName } from './api.js';
import { Call } from './call.js';
import { Chat } from './chat.js';
import { showChatArchive } from './chatlist.js';
import { DeviceSettings } from './devicesettings.js';
import { setIcon } from './dom.js';
import { grantClaims, linkGrant } from './grant.js';
import { showWait } from './lobby.js';
import { LocalMedia } from './media.js';
import { MeshSpeaking } from './meshlevels.js';
import { OwnerPasscode, PasscodePrompt, offerNewGuest, takeFragmentPasscode } from './passcode.js';
import { PreJoin } from './prejoin.js';
import { Reactions } from './reactions.js';
import { Recording } from './recording.js';
import { ErrorCode, RoomStatus, Source } from './protocol.js';
import { Shortcuts } from './shortcuts.js';
import { SpeakerView } from './speakerview.js';
import { QualityMonitor } from './tilequality.js';
import { toast } from './toast.js';
import { setConnection, setRoomName, setupPanels, setupShareLink, showView } from './ui.js';

/** @typedef {import('./call.js').EndReason} EndReason */

const roomId = decodeURIComponent(location.pathname.split('/')[2] || '');
const params = new URLSearchParams(location.search);
/** The invite or join token of the address, sent on every socket. */
const grant = linkGrant(location.search);
/** What that grant says (unverified: hints for the pre-join screen only). */
const claims = grantClaims(grant.invite || grant.token);
const wantsSpectator = params.get('spectator') === '1' || claims.role === 'viewer';
/** The room's passcode, once known: sent on every socket of this page. */
let passcode = takeFragmentPasscode();
const passcodePrompt = new PasscodePrompt(roomId);
const ownerPasscode = new OwnerPasscode(roomId);

const media = new LocalMedia();
// A room with a lobby holds a joiner until a host answers, and one with
// "wait for the host" until a host is in: the waiting view meanwhile
// (lobby.js says which wait), the call once admitted.
const call = new Call({
  roomId,
  media,
  onEnd: ended,
  onWaiting: (waiting, code) => {
    if (waiting) showWait(code || '');
    showView(waiting ? 'lobby' : 'room');
  },
});
const devices = new DeviceSettings(media, () => call.publisher.canPublish());
const prejoin = new PreJoin(media, join, devices);
const chat = new Chat({
  roomId,
  panel: /** @type {HTMLElement} */ (document.getElementById('chat-panel')),
  toggle: document.querySelector('.chat-toggle'),
});
// Emoji reactions (reactions.js): the picker in the controls bar, the
// floating emoji over the sender's tile.
const reactions = new Reactions({
  controls: document.querySelector('#view-room .controls'),
  nameOf: (id) => call.others.get(id)?.name || '',
  isSelf: (id) => id === call.selfId,
});
// The recording indicator, the hosts' Record button and the owner's
// recordings (recording.js).
const recording = new Recording({ roomId });
/** Says what others do, for screen readers (a11y.js). */
const announcer = new Announcer();
// What each viewer chooses of the others' videos: the speaker view beside
// the grid (speakerview.js), how each video arrives (tilequality.js); the
// tiles' own pause and pin are tilecontrols.js.
new SpeakerView({ grid: call.grid });
new QualityMonitor(call.grid);
// The speaking ring of a mesh room, from the levels the pages share
// (meshlevels.js); in SFU mode the server's active-speaker draws it.
const meshSpeaking = new MeshSpeaking({
  grid: call.grid,
  media,
  mode: () => call.topology.mode,
  selfId: () => call.selfId,
  send: (m) => !!call.signaling?.send(m),
  sender: (track) => call.topology.meshSender(track),
});

/** How the user last joined, for "Rejoin". */
let lastJoin = { name: '', spectator: false, camera: true, microphone: true };

/** The room is a classroom and my identity is not on its stage. */
let classroomViewer = false;

/**
 * Whether I join a classroom off its stage, and so receive-only.
 * @param {import('./protocol.js').Room} room
 * @returns {Promise<boolean>}
 */
async function offClassroomStage(room) {
  if (!room.classroom) return false;
  try {
    const me = await getMe();
    return !(room.stage || []).some((m) => m.userId === me.id);
  } catch {
    return true;
  }
}

/** @returns {Promise<string>} my identity's id, '' if unknown */
function myId() {
  return getMe()
    .then((me) => me.id)
    .catch(() => '');
}

/**
 * Makes sure I can join a room with a passcode: its owner needs none, nor
 * does the bearer of an invite or a join token (the server lets them past
 * it; should it not, the join is refused and the prompt comes then);
 * anyone else gives it, from the link or the prompt, and the server checks
 * it before the pre-join screen (and again at the join).
 * @param {import('./protocol.js').Room} room
 */
async function unlock(room) {
  if (!room.hasPasscode) return;
  if ((await myId()) === room.owner.id) {
    // The owner's own link (home.js adds it when the room is made).
    if (passcode) ownerPasscode.remember(passcode);
    return;
  }
  if (grant.invite || grant.token) return;
  const problem = passcode ? await passcodePrompt.verify(passcode) : '';
  if (!passcode || problem) {
    showView('passcode');
    passcode = await passcodePrompt.ask(problem);
  }
  // Right: should I become a host, the link with it may be shared.
  ownerPasscode.remember(passcode);
}

/**
 * Loads the room and shows the view that fits it.
 */
async function load() {
  showView('loading');
  let room;
  try {
    room = await getRoom(roomId);
  } catch (err) {
    if (err instanceof ApiError && err.code === ErrorCode.UNAUTHORIZED) showView('unauthorized');
    else if (err instanceof ApiError && err.status === 404) showView('missing');
    else if (err instanceof ApiError && err.code === 'room_ended') showEnded();
    else showLoadError(err instanceof ApiError ? errorText(err.code, err.message) : t('room.error.text'));
    return;
  }
  setRoomName(room.name);
  if (room.status === RoomStatus.ENDED) {
    showEnded();
    return;
  }

  await unlock(room);
  // A join token names its bearer (the server takes the token's name).
  const urlName = (params.get('name') || '').trim() || (grant.token ? claims.name : '');
  classroomViewer = await offClassroomStage(room);
  if (params.get('join') === '1') {
    // Straight in: the link's name (or the remembered one; '' lets the
    // server use the identity's name), media unless receive-only.
    if (!wantsSpectator && !classroomViewer) {
      const { error } = await media.acquire({ video: true, audio: true });
      if (error) toast(error, 'error');
    }
    join({ name: urlName || rememberedName(), spectator: wantsSpectator });
    return;
  }

  let name = urlName || rememberedName();
  if (!name) {
    try {
      name = (await getMe()).name;
    } catch {
      name = '';
    }
  }
  showView('prejoin');
  const shown = prejoin.show(room, name, wantsSpectator || classroomViewer);
  if (classroomViewer && !wantsSpectator) explainClassroom();
  await shown;
}

/** The pre-join screen of a classroom viewer: no camera, and why. */
function explainClassroom() {
  const note = document.getElementById('spectator-note');
  if (note) {
    note.textContent = t('prejoin.classroomNote');
  }
  const joinButton = document.getElementById('join');
  if (joinButton) joinButton.textContent = t('prejoin.join');
  const previewNote = document.getElementById('preview-note');
  if (previewNote) previewNote.textContent = t('prejoin.classroomPreview');
}

/**
 * The error view: why the room cannot be shown or joined.
 * @param {string} message
 * @param {string} [title]
 * @param {{code?: string, final?: boolean}} [opts] code: the refusal's
 *   error code (data-code of the view, for tests and styles); final: trying
 *   again cannot help (banned, a dead invite), so no "Try again"
 */
function showLoadError(message, title = t('room.error.title'), opts = {}) {
  const view = /** @type {HTMLElement} */ (document.getElementById('view-error'));
  const text = document.getElementById('error-text');
  if (text) text.textContent = message;
  const heading = view.querySelector('h1');
  if (heading) heading.textContent = title;
  if (opts.code) view.dataset.code = opts.code;
  else delete view.dataset.code;
  const retry = document.getElementById('retry-load');
  if (retry) retry.hidden = !!opts.final;
  showView('error');
}

/**
 * Enters the call view and connects.
 * @param {{name: string, spectator: boolean}} choice
 */
function join(choice) {
  // In a classroom the pre-join screen is receive-only without making the
  // viewer a spectator: the owner may still put a participant on stage.
  if (classroomViewer && !wantsSpectator) choice = { ...choice, spectator: false };
  lastJoin = {
    ...choice,
    camera: media.camera ? media.camera.enabled : lastJoin.camera,
    microphone: media.microphone ? media.microphone.enabled : lastJoin.microphone,
  };
  setConnection('connecting');
  showView('room');
  call.join({ ...choice, passcode, invite: grant.invite, token: grant.token });
  // The chat shares the call's socket (a new one on every join); the
  // announcer listens first, as the chat claims its messages.
  if (call.signaling) {
    announcer.attach(call.signaling);
    chat.attach(call.signaling);
    reactions.attach(call.signaling);
    recording.attach(call.signaling);
    meshSpeaking.attach(call.signaling);
    ownerPasscode.attach(call.signaling);
  }
}

/** The room is over: the ended view, with the chat still readable. */
function showEnded() {
  showView('ended');
  const archive = document.querySelector('[data-testid="chat-archive"]');
  if (!archive) return;
  getMe()
    .then((me) => me.id)
    .catch(() => '')
    .then((selfId) => showChatArchive(roomId, /** @type {HTMLElement} */ (archive), selfId));
}

function leave() {
  lastJoin.camera = media.camera ? media.camera.enabled : lastJoin.camera;
  lastJoin.microphone = media.microphone ? media.microphone.enabled : lastJoin.microphone;
  call.leave();
  showView('left');
}

async function rejoin() {
  if (!lastJoin.spectator && !classroomViewer) {
    const { error } = await media.acquire({ video: true, audio: true });
    if (error) toast(error, 'error');
    // Come back the way you left: muted stays muted.
    media.setEnabled(Source.CAMERA, lastJoin.camera);
    media.setEnabled(Source.MICROPHONE, lastJoin.microphone);
  }
  // A rename in the room (rename.js) is the name to come back with.
  join({ name: call.name || lastJoin.name, spectator: lastJoin.spectator });
}

/**
 * The call ended without the user leaving.
 * @param {EndReason} reason
 * @param {string} message
 */
function ended(reason, message) {
  switch (reason) {
    case 'ended':
      showEnded();
      break;
    case 'missing':
      showView('missing');
      break;
    case 'removed':
      showView('removed');
      break;
    case 'denied':
      // The host said no from the lobby; "Try again" asks again.
      showLoadError(message, t('lobby.deniedTitle'), { code: 'denied' });
      break;
    case 'locked':
      showLoadError(message, t('lobby.lockedTitle'), { code: 'room_locked' });
      break;
    case 'banned':
      // A host removed and banned this identity: coming back cannot help.
      showLoadError(t('refused.bannedText'), t('refused.bannedTitle'), { code: 'banned', final: true });
      break;
    case 'invite_expired':
      showLoadError(t('refused.inviteExpiredText'), t('refused.inviteExpiredTitle'), { code: 'invite_expired', final: true });
      break;
    case 'bad_grant':
      // The link's invite or token did not verify (forged, another room's).
      if (grant.invite || grant.token) {
        showLoadError(grant.token ? t('refused.badTokenText') : t('refused.badInviteText'), t('refused.badLinkTitle'), { code: 'unauthorized', final: true });
      } else {
        showLoadError(message || t('room.error.refused'));
      }
      break;
    case 'passcode':
      // The passcode changed, or the link's was wrong: ask, then come in
      // the way I tried to.
      showView('passcode');
      passcodePrompt.ask(message).then((given) => {
        passcode = given;
        ownerPasscode.remember(given);
        rejoin();
      });
      break;
    case 'invalid_name':
      // The name in the link was refused: let the user type another.
      showView('prejoin');
      getRoom(roomId)
        .then((room) => prejoin.show(room, lastJoin.name, lastJoin.spectator))
        .then(() => prejoin.showError(message))
        .catch(() => showLoadError(message));
      break;
    default:
      showLoadError(message || t('room.error.refused'));
  }
}

function wire() {
  setupLanguageSelect(document.querySelector('#view-prejoin [data-testid="language-select"]'));
  setupFocusReturn();
  setupPanels();
  // M, V, S, H, C, ? and Space (push to talk), during the call only.
  new Shortcuts({ active: () => document.body.dataset.currentView === 'room' });
  setupShareLink(`${location.origin}/r/${encodeURIComponent(roomId)}`);
  const leaveButton = /** @type {HTMLElement} */ (document.getElementById('leave'));
  setIcon(leaveButton, 'leave');
  leaveButton.title = t('call.leaveTitle');

  document.getElementById('toggle-mic')?.addEventListener('click', () => call.publisher.toggle(Source.MICROPHONE));
  document.getElementById('toggle-camera')?.addEventListener('click', () => call.publisher.toggle(Source.CAMERA));
  document.getElementById('toggle-screen')?.addEventListener('click', () => call.publisher.toggleScreen());
  leaveButton.addEventListener('click', leave);
  document.getElementById('rejoin')?.addEventListener('click', rejoin);
  document.getElementById('lobby-leave')?.addEventListener('click', leave);
  document.getElementById('retry-load')?.addEventListener('click', load);
  offerNewGuest(/** @type {HTMLElement} */ (document.getElementById('new-guest')));

  // Closing the tab says goodbye, so the others see "left" at once rather
  // than "lost the connection" after a timeout.
  window.addEventListener('pagehide', () => {
    if (call.signaling) call.leave();
  });
  // Coming back through the back/forward cache finds a page that already
  // left: load it afresh rather than show a dead call.
  window.addEventListener('pageshow', (e) => {
    if (e.persisted) location.reload();
  });

  // Read-only hooks for tests and for curious people in the console.
  Object.defineProperty(window, 'meetDebug', {
    value: Object.freeze({
      selfId: () => call.selfId,
      mode: () => call.topology.mode,
      epoch: () => call.topology.epoch,
      peers: () => call.topology.peerStates(),
      switch: () => call.topology.switchState(),
      chat: () => chat.debugState(),
    }),
    writable: false,
    configurable: false,
  });
}

wire();
if (!roomId) showView('missing');
else load();
