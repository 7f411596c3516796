// @ts-check
// Mesh topology: one RTCPeerConnection per remote participant, negotiated
// with the "perfect negotiation" pattern
// (https://developer.mozilla.org/en-US/docs/Web/API/WebRTC_API/Perfect_negotiation).
//
// Either side may offer at any time (a screen share, an ICE restart). When
// two offers cross, the polite side (the smaller participant id) rolls its
// own offer back and answers; the impolite side ignores the incoming offer
// and waits for the answer to its own.
//
// Joining is kept free of that glare on purpose: the newcomer (who learns of
// the others from welcome) makes the first offer, and the others attach
// their tracks only when that offer arrives, so their tracks ride in the
// answer. Measured in Chromium: when a join did collide, the polite side's
// rollback sometimes left ICE gathering stuck and the pair never connected.
// A watchdog restarts ICE if that still happens after a later collision.
//
// Each connection also carries one small data channel (negotiated, id 0,
// created with the local tracks) for messages between the two pages
// themselves; the mode switch uses it to agree when the pair's connection
// is no longer needed (see call.js).

import { signalMessage } from './messages.js';
import { SignalKind } from './protocol.js';

/** @typedef {import('./protocol.js').Signal} Signal */
/** @typedef {import('./protocol.js').ICEServer} ICEServer */
/** @typedef {import('./media.js').LocalTrack} LocalTrack */

/** How long ICE may stay "disconnected" before we restart it ourselves. */
const DISCONNECTED_GRACE_MS = 5000;
/** How long a negotiated connection may show no ICE progress at all. */
const STUCK_ICE_MS = 6000;
/** How long the side that waits for the newcomer's offer waits before offering itself. */
const FIRST_OFFER_WAIT_MS = 4000;

/**
 * @typedef {Object} MeshParams
 * @property {string} selfId my participant id
 * @property {number} epoch the mode epoch, stamped on outgoing signals
 * @property {ICEServer[]} iceServers from welcome
 * @property {(msg: import('./protocol.js').ClientMessage) => void} send
 * @property {() => LocalTrack[]} localTracks what a peer connection should send
 * @property {(peerId: string, track: MediaStreamTrack, stream: MediaStream|null) => void} onTrack
 * @property {(peerId: string, state: RTCPeerConnectionState) => void} onPeerState
 * @property {(peerId: string, msg: any) => void} [onMessage] a message from the
 *   peer's page on our data channel (see sendTo)
 */

/**
 * @typedef {Object} PeerOptions
 * @property {boolean} initiator true for the newcomer: it makes the first offer
 * @property {boolean} [expectMedia] the remote side may send media (it is not a
 *   spectator); an initiator with nothing to send still offers to receive it
 */

export class Mesh {
  /** @param {MeshParams} params */
  constructor(params) {
    this.params = params;
    /** @type {Map<string, Peer>} */
    this.peers = new Map();
    this.closed = false;
    /** The epoch this mesh was built in. */
    this.since = params.epoch;
  }

  /**
   * Creates the connection to a participant (idempotent).
   * @param {string} peerId
   * @param {PeerOptions} opts
   * @returns {Peer|undefined}
   */
  addPeer(peerId, opts) {
    let peer = this.peers.get(peerId);
    if (!peer && !this.closed) {
      peer = new Peer(this, peerId);
      this.peers.set(peerId, peer);
      if (opts.initiator) peer.start(!!opts.expectMedia);
      else peer.awaitOffer();
    }
    return peer;
  }

  /** @param {string} peerId */
  removePeer(peerId) {
    const peer = this.peers.get(peerId);
    if (!peer) return;
    this.peers.delete(peerId);
    peer.close();
  }

  /**
   * Handles a relayed `signal`. A signal from someone we have not met yet
   * (it can overtake participant-joined) creates the connection.
   * @param {Signal} msg
   */
  handleSignal(msg) {
    if (this.closed || !msg.from) return;
    // A signal of a mesh older than this one (before an SFU period) is stale.
    if (msg.epoch && msg.epoch < this.since) return;
    this.addPeer(msg.from, { initiator: false })?.enqueue(msg);
  }

  /**
   * Sends a new track to every peer (screen share, a camera opened late).
   * @param {MediaStreamTrack} track
   * @param {MediaStream} stream
   */
  addTrack(track, stream) {
    for (const peer of this.peers.values()) peer.addTrack(track, stream);
  }

  /** @param {MediaStreamTrack} track */
  removeTrack(track) {
    for (const peer of this.peers.values()) peer.removeTrack(track);
  }

  /**
   * Sends track in place of oldTrack to every peer (another camera or
   * microphone was picked): RTCRtpSender.replaceTrack, no renegotiation.
   * @param {MediaStreamTrack} oldTrack
   * @param {MediaStreamTrack} track
   * @returns {Promise<void>}
   */
  async replaceTrack(oldTrack, track) {
    await Promise.all([...this.peers.values()].map((peer) => peer.replaceTrack(oldTrack, track)));
  }

  /**
   * Sends a message to the peer's page on the pair's data channel, as soon
   * as the channel is open.
   * @param {string} peerId
   * @param {any} msg
   */
  sendTo(peerId, msg) {
    this.peers.get(peerId)?.post(msg);
  }

  /**
   * The connection to a participant, to read its stats.
   * @param {string} peerId
   * @returns {RTCPeerConnection|null}
   */
  connection(peerId) {
    return this.peers.get(peerId)?.pc || null;
  }

  /**
   * The sender of a local track on the first connected peer, to read the
   * track's stats from; null if none sends it.
   * @param {MediaStreamTrack} track
   * @returns {RTCRtpSender|null}
   */
  senderOf(track) {
    for (const peer of this.peers.values()) {
      const sender = peer.senders.get(track);
      if (sender && peer.pc.connectionState === 'connected') return sender;
    }
    return null;
  }

  /** @param {number} epoch the room's new mode epoch */
  setEpoch(epoch) {
    this.params.epoch = epoch;
  }

  close() {
    this.closed = true;
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
  }

  /**
   * Peer id -> the states of its connection, for tests and debugging.
   * @returns {Object<string, {connection: string, signaling: string, ice: string, polite: boolean}>}
   */
  states() {
    /** @type {Object<string, {connection: string, signaling: string, ice: string, polite: boolean}>} */
    const out = {};
    for (const [id, peer] of this.peers) {
      const pc = peer.pc;
      out[id] = { connection: pc.connectionState, signaling: pc.signalingState, ice: pc.iceConnectionState, polite: peer.polite };
    }
    return out;
  }
}

/** One remote participant's connection and its negotiation state. */
class Peer {
  /**
   * @param {Mesh} mesh
   * @param {string} id the remote participant id
   */
  constructor(mesh, id) {
    this.mesh = mesh;
    this.id = id;
    // Plain string order on both sides gives exactly one polite peer per pair.
    this.polite = mesh.params.selfId < id;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.settingRemoteAnswerPending = false;
    /** Whether the local tracks are on this connection yet (see awaitOffer). */
    this.attached = false;
    /** Incoming signals are applied one at a time, in arrival order. */
    this.queue = Promise.resolve();
    /** @type {Map<MediaStreamTrack, RTCRtpSender>} */
    this.senders = new Map();
    this.disconnectTimer = 0;
    this.stuckTimer = 0;
    this.firstOfferTimer = 0;
    /** @type {RTCDataChannel|null} */
    this.channel = null;
    /** @type {string[]} messages waiting for the channel to open */
    this.outbox = [];

    const pc = new RTCPeerConnection({ iceServers: mesh.params.iceServers || [] });
    this.pc = pc;
    pc.onnegotiationneeded = () => this.offer();
    pc.onicecandidate = ({ candidate }) => {
      // null marks the end of candidates; the server drops the field, and
      // the receiver treats a missing candidate the same way.
      this.send(SignalKind.CANDIDATE, { candidate: candidate ? candidate.toJSON() : null });
    };
    pc.ontrack = ({ track, streams }) => mesh.params.onTrack(id, track, streams[0] || null);
    pc.oniceconnectionstatechange = () => this.watchIce();
    pc.onsignalingstatechange = () => {
      if (pc.signalingState === 'stable') this.watchStuck();
    };
    pc.onconnectionstatechange = () => mesh.params.onPeerState(id, pc.connectionState);
  }

  /**
   * Newcomer side: attach my tracks, which triggers the first offer. With
   * nothing to send, offer to receive, so that the pair still connects.
   * @param {boolean} expectMedia
   */
  start(expectMedia) {
    this.attachLocal();
    if (this.senders.size === 0 && expectMedia) {
      this.pc.addTransceiver('video', { direction: 'recvonly' });
      this.pc.addTransceiver('audio', { direction: 'recvonly' });
    }
  }

  /**
   * Existing side: wait for the newcomer's offer and answer it with my
   * tracks. If no offer comes (an older client, a lost message), attach
   * them anyway after a while, which makes me offer instead.
   */
  awaitOffer() {
    this.firstOfferTimer = window.setTimeout(() => this.attachLocal(), FIRST_OFFER_WAIT_MS);
  }

  /** Puts every local track on this connection, once. */
  attachLocal() {
    clearTimeout(this.firstOfferTimer);
    if (this.attached) return;
    this.attached = true;
    this.openChannel();
    for (const { track, stream } of this.mesh.params.localTracks()) this.addTrack(track, stream);
  }

  /**
   * Opens the pair's data channel. Both sides create it with the same id
   * (negotiated), so neither waits for the other's datachannel event. The
   * side that answers the first offer creates it after applying that
   * offer, whose m=application section it then shares: no extra offer.
   */
  openChannel() {
    if (this.channel || this.pc.signalingState === 'closed') return;
    const channel = this.pc.createDataChannel('meet', { negotiated: true, id: 0 });
    this.channel = channel;
    channel.onopen = () => {
      for (const data of this.outbox.splice(0)) channel.send(data);
    };
    channel.onmessage = ({ data }) => {
      let msg;
      try {
        msg = JSON.parse(typeof data === 'string' ? data : '');
      } catch {
        return;
      }
      this.mesh.params.onMessage?.(this.id, msg);
    };
  }

  /** @param {any} msg */
  post(msg) {
    const data = JSON.stringify(msg);
    if (this.channel && this.channel.readyState === 'open') this.channel.send(data);
    else if (this.outbox.length < 16) this.outbox.push(data);
  }

  /**
   * @param {'offer'|'answer'|'candidate'} kind
   * @param {{sdp?: string, candidate?: any}} payload
   */
  send(kind, payload) {
    if (this.mesh.closed) return;
    this.mesh.params.send(signalMessage(this.id, kind, payload, this.mesh.params.epoch));
  }

  /** negotiationneeded: make an offer (the implicit setLocalDescription picks it). */
  async offer() {
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      const desc = this.pc.localDescription;
      if (desc && desc.type === 'offer') this.send(SignalKind.OFFER, { sdp: desc.sdp });
    } catch (err) {
      console.warn('mesh: offer to', this.id, 'failed', err);
    } finally {
      this.makingOffer = false;
    }
  }

  /** @param {Signal} msg */
  enqueue(msg) {
    this.queue = this.queue
      .then(() => this.apply(msg))
      .catch((err) => console.warn('mesh: signal from', this.id, 'failed', err));
  }

  /** @param {Signal} msg */
  async apply(msg) {
    const pc = this.pc;
    if (pc.signalingState === 'closed') return;

    if (msg.kind === SignalKind.CANDIDATE) {
      if (!msg.candidate) {
        // End of candidates. Only a hint: ICE completes without it, so a
        // browser that rejects the marker is not an error worth reporting.
        await pc.addIceCandidate().catch(() => {});
        return;
      }
      try {
        await pc.addIceCandidate(msg.candidate);
      } catch (err) {
        // Candidates of an offer we ignored are expected to fail.
        if (!this.ignoreOffer) throw err;
      }
      return;
    }

    if (msg.kind !== SignalKind.OFFER && msg.kind !== SignalKind.ANSWER) return;
    const description = { type: msg.kind, sdp: msg.sdp || '' };
    const readyForOffer = !this.makingOffer && (pc.signalingState === 'stable' || this.settingRemoteAnswerPending);
    const offerCollision = description.type === 'offer' && !readyForOffer;
    this.ignoreOffer = !this.polite && offerCollision;
    if (this.ignoreOffer) return;

    this.settingRemoteAnswerPending = description.type === 'answer';
    try {
      // For the polite side in a collision this rolls back its own offer.
      await pc.setRemoteDescription(description);
    } finally {
      this.settingRemoteAnswerPending = false;
    }
    if (description.type === 'offer') {
      // First offer from a newcomer: my tracks go into this very answer
      // (addTrack reuses the transceivers the offer just created).
      this.attachLocal();
      await pc.setLocalDescription();
      const answer = pc.localDescription;
      if (answer && answer.type === 'answer') this.send(SignalKind.ANSWER, { sdp: answer.sdp });
    }
  }

  /**
   * Restarts ICE when the path breaks: at once on "failed", and after a
   * grace period on "disconnected" (which often heals by itself).
   */
  watchIce() {
    const state = this.pc.iceConnectionState;
    clearTimeout(this.disconnectTimer);
    if (state !== 'new') clearTimeout(this.stuckTimer);
    if (state === 'failed') {
      this.pc.restartIce();
    } else if (state === 'disconnected') {
      this.disconnectTimer = window.setTimeout(() => {
        if (this.pc.iceConnectionState === 'disconnected') this.pc.restartIce();
      }, DISCONNECTED_GRACE_MS);
    }
  }

  /**
   * After a completed offer/answer, ICE must leave "new" soon. If it does
   * not (candidates never gathered, see the top of this file), restart it.
   */
  watchStuck() {
    clearTimeout(this.stuckTimer);
    if (!this.pc.remoteDescription || this.pc.iceConnectionState !== 'new') return;
    this.stuckTimer = window.setTimeout(() => {
      const pc = this.pc;
      if (pc.signalingState === 'stable' && pc.iceConnectionState === 'new' && pc.getTransceivers().length > 0) {
        console.warn('mesh: ICE to', this.id, 'never started; restarting it');
        pc.restartIce();
      }
    }, STUCK_ICE_MS);
  }

  /**
   * @param {MediaStreamTrack} track
   * @param {MediaStream} stream
   */
  addTrack(track, stream) {
    // Before attachLocal the track is picked up from localTracks() later.
    if (!this.attached || this.senders.has(track) || this.pc.signalingState === 'closed') return;
    this.senders.set(track, this.pc.addTrack(track, stream));
  }

  /** @param {MediaStreamTrack} track */
  removeTrack(track) {
    const sender = this.senders.get(track);
    if (!sender) return;
    this.senders.delete(track);
    if (this.pc.signalingState !== 'closed') this.pc.removeTrack(sender);
  }

  /**
   * @param {MediaStreamTrack} oldTrack
   * @param {MediaStreamTrack} track
   */
  async replaceTrack(oldTrack, track) {
    const sender = this.senders.get(oldTrack);
    if (!sender) return; // not attached yet: attachLocal picks up the new track
    this.senders.delete(oldTrack);
    this.senders.set(track, sender);
    if (this.pc.signalingState === 'closed') return;
    try {
      await sender.replaceTrack(track);
    } catch (err) {
      // Not expected for a track of the same kind; renegotiating still
      // gets the new device through.
      console.warn('mesh: replaceTrack to', this.id, 'failed; renegotiating', err);
      this.senders.delete(track);
      this.pc.removeTrack(sender);
      this.senders.set(track, this.pc.addTrack(track, this.mesh.params.localTracks().find((t) => t.track === track)?.stream || new MediaStream([track])));
    }
  }

  close() {
    clearTimeout(this.disconnectTimer);
    clearTimeout(this.stuckTimer);
    clearTimeout(this.firstOfferTimer);
    this.pc.onnegotiationneeded = null;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.oniceconnectionstatechange = null;
    this.pc.onsignalingstatechange = null;
    this.pc.onconnectionstatechange = null;
    if (this.channel) {
      this.channel.onopen = null;
      this.channel.onmessage = null;
    }
    this.pc.close();
  }
}
