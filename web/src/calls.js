// Calls over pqcall: RTCPeerConnection, offer/answer with the ML-KEM-768 handshake,
// trickle ICE batched over a few milliseconds, confirms both ways, SFrame end-to-end
// encryption of every frame with the handshake's keys (e2ee.js), a check that the DTLS
// certificate in use is one the transcript bound, and the safety code once both hold.

import { HandshakeError } from './bytes.js';
import { PqcallError } from './client.js';
import { CallE2ee } from './e2ee.js';
import { certificateMatches, fingerprintFromSdp, parseFingerprints } from './fingerprint.js';
import {
  calleeAnswer, calleeConfirm, callerFinish, callerVerify, callContext,
} from './handshake.js';

const ICE_BATCH_MS = 5;
/** How long after keys + connected the client waits for its own frames to be encrypted. */
const E2EE_CHECK_MS = 3000;
export const FINAL = ['ended', 'declined', 'canceled', 'missed', 'failed'];

/** How long the peer's DTLS certificate may take to show after `connected`. */
const CERT_WAIT_MS = 3000;

/**
 * The peer's DTLS certificate. Chromium may report `connected` a moment before the DTLS
 * transport exposes it (seen on a busy machine), so an empty list is asked again, on the
 * transport's state changes and every 100 ms, for up to `CERT_WAIT_MS`; null after that.
 */
async function remoteCertificate(transport) {
  const until = performance.now() + CERT_WAIT_MS;
  for (;;) {
    const [cert] = transport.getRemoteCertificates();
    if (cert || performance.now() >= until) return cert ?? null;
    await new Promise((resolve) => {
      const next = () => {
        clearTimeout(timer);
        transport.removeEventListener('statechange', next);
        resolve();
      };
      const timer = setTimeout(next, 100);
      transport.addEventListener('statechange', next);
    });
  }
}

/**
 * One call. `state`: ringing | connecting | active | ended | declined | canceled | missed | failed.
 * `reason` says why a call ended or failed (`answered_in_another_tab`: this user took it in
 * another tab, which alone acts on it). Events: 'state', 'code', 'track', 'dtls', 'e2ee',
 * 'message' (a decrypted data-channel message).
 */
export class Call extends EventTarget {
  constructor(mgr, id, peer, role) {
    super();
    this.mgr = mgr;
    this.id = id;
    this.peer = peer;
    this.role = role;
    this.state = 'ringing';
    /** @type {RTCPeerConnection|null} */ this.pc = null;
    this.code = null;
    this.dtlsVerified = null;
    this.muted = false;
    this.remoteStream = new MediaStream();
    this.offerSdp = null;
    this.answerSdp = null;
    this.offerKem = null;
    this._hs = null;
    this._pendingRemoteIce = [];
    this._localIce = [];
    this._iceTimer = null;
    this._iceDone = false;
    /** Time this side spent computing the ML-KEM handshake, in ms. */
    this.handshakeMs = 0;
    /**
     * `performance.timeOrigin + performance.now()` when the offer was created, when the peer
     * connection connected, and when the first frame from the peer decrypted.
     */
    this.startedAt = null;
    this.connectedAt = null;
    this.decryptingAt = null;
    /**
     * Diagnostics: when each step of the setup happened on this side, in the same clock
     * (`offer`, `offer_sent`, `incoming`, `answer_sent`, `answer`, `confirm_sent`,
     * `peer_confirm`, `keys`, `connected`, `sealing`, `decrypting`; see BENCHMARKS.md).
     */
    this.timeline = {};
  }

  _mark(step, at = performance.timeOrigin + performance.now()) {
    this.timeline[step] ??= at;
    return at;
  }

  _set(state, reason) {
    if (this.state === state || FINAL.includes(this.state)) return;
    this.state = state;
    this.reason = reason;
    if (FINAL.includes(state)) this._teardown();
    this.dispatchEvent(new CustomEvent('state', { detail: { state, reason } }));
    this.mgr.dispatchEvent(new CustomEvent('callstate', { detail: { call: this, state, reason } }));
  }

  _teardown() {
    this._release?.();
    this._release = null;
    clearTimeout(this._iceTimer);
    clearTimeout(this._e2eeTimer);
    this.localStream?.getTracks().forEach((t) => t.stop());
    this.pc?.close();
    this._e2ee?.close();
    this.code = null;
    this.mgr._replenish();
  }

  /** End-to-end encryption: `{state, sent, received, dropped}` (frames of this call). */
  get e2ee() {
    const e = this._e2ee;
    if (!e) return { state: this._e2eeRefused ? 'unsupported' : 'off', sent: 0, received: 0, dropped: 0 };
    return { state: e.state, sent: e.stats.sent, received: e.stats.received, dropped: e.stats.dropped };
  }

  /** Sends a data-channel message (string or bytes), SFrame-encrypted; false if not open yet. */
  async send(message) {
    if (this._dc?.readyState !== 'open') return false;
    const sealed = await this._e2ee.sealData(message);
    if (!sealed) return false;
    this._dc.send(sealed);
    return true;
  }

  /** Fails the call: tells the peer (ends, or declines while ringing) and says why. */
  async _fail(reason) {
    if (FINAL.includes(this.state)) return;
    const ringing = this.state === 'ringing';
    try {
      if (ringing && this.role === 'callee') await this.mgr.client.decline(this.id, reason);
      else if (this.id) await this.mgr.client.end(this.id, reason);
    } catch (e) { this.mgr._warn('fail', e); }
    this._e2ee?.fail();
    this._set('failed', reason);
  }

  /** Mutes or unmutes the microphone. */
  mute(on) {
    this.muted = on;
    this.localStream?.getAudioTracks().forEach((t) => { t.enabled = !on; });
  }

  async _makePc() {
    let e2ee;
    try {
      e2ee = new CallE2ee(this.mgr._takeWorker());
    } catch (e) {
      this._e2eeRefused = true;
      throw e;
    }
    this._e2ee = e2ee;
    e2ee.addEventListener('mark', (e) => this._mark(e.detail.step, e.detail.at));
    e2ee.addEventListener('state', () => {
      if (e2ee.state === 'encrypted') this.decryptingAt = performance.timeOrigin + performance.now();
      this.dispatchEvent(new CustomEvent('e2ee', { detail: this.e2ee }));
    });
    e2ee.addEventListener('stats', () => this.dispatchEvent(new CustomEvent('e2ee', { detail: this.e2ee })));
    const iceServers = await this.mgr.currentIceServers();
    const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: this.mgr.iceTransportPolicy, ...e2ee.pcConfig() });
    this.pc = pc;
    try {
      this.localStream = await this.mgr.getMedia();
    } catch (e) {
      // Denied, or no microphone at all: a reason the other side is told.
      throw new HandshakeError('no_microphone', `the microphone is not available (${e?.name ?? e})`);
    }
    this.localStream.getTracks().forEach((t) => pc.addTrack(t, this.localStream));
    // Before any description exists: a transform attached later is silently ignored.
    e2ee.attachAll(pc);
    // The data channel, negotiated out of band (same id on both sides), SFrame inside.
    this._dc = pc.createDataChannel('pqcall', { negotiated: true, id: 0 });
    this._dc.binaryType = 'arraybuffer';
    this._dc.onmessage = async (ev) => {
      if (typeof ev.data === 'string') return; // §7: only binary SFrames; a clear string is dropped
      const message = await e2ee.openData(ev.data);
      if (message !== null) this.dispatchEvent(new CustomEvent('message', { detail: message }));
    };
    pc.ontrack = (e) => {
      this.remoteStream.addTrack(e.track);
      this.dispatchEvent(new CustomEvent('track', { detail: e.track }));
    };
    pc.onicecandidate = (e) => {
      if (e.candidate) this._localIce.push(e.candidate.toJSON());
      else this._iceDone = true;
      if (!this._iceTimer) this._iceTimer = setTimeout(() => this._flushIce(), ICE_BATCH_MS);
    };
    pc.onconnectionstatechange = () => {
      this.mgr.dispatchEvent(new CustomEvent('pcstate', { detail: { call: this, state: pc.connectionState } }));
      if (pc.connectionState === 'connected' && !this.connectedAt) {
        this.connectedAt = this._mark('connected');
        this._verifyDtls();
        this._armE2eeCheck();
      }
    };
    // A network change breaks the path: the caller restarts ICE within the call (§4).
    pc.oniceconnectionstatechange = () => {
      if (pc.iceConnectionState === 'failed') this.restartIce();
    };
    return pc;
  }

  /**
   * Fail closed (§7): some time after the keys are in and media connected, this side's
   * frames must be encrypted (its sent count grows) and the peer's must decrypt while they
   * arrive; otherwise the call ends with `e2ee_failed`.
   */
  _armE2eeCheck() {
    if (this._e2eeTimer || !this._keysIn || this.pc?.connectionState !== 'connected') return;
    this._e2eeTimer = setTimeout(async () => {
      // Counts fresh from the worker, not the last pushed ones: a busy machine may have
      // delayed those.
      const s = await this._e2ee.refreshStats();
      if (this.state !== 'active') return;
      if (s.sent === 0 || (s.arrived > 0 && s.received === 0)) this._fail('e2ee_failed');
      else this._e2eeChecked = true;
    }, E2EE_CHECK_MS);
  }

  /**
   * Restarts ICE in an active call: a new offer with fresh ICE credentials through
   * `/api/calls/update`; the callee answers. Only the caller offers (the callee's offer
   * would lose to the caller's anyway). Also called when the browser comes back online.
   */
  async restartIce() {
    if (this.role !== 'caller' || this.state !== 'active' || !this.pc || this._restarting) return;
    this._restarting = true;
    try {
      const offer = await this.pc.createOffer({ iceRestart: true });
      await this.pc.setLocalDescription(offer);
      this.restarts = (this.restarts ?? 0) + 1;
      await this.mgr.client.update(this.id, offer.sdp, 'offer');
      this._newIceGeneration();
    } catch (e) {
      this._restarting = false;
      this.mgr._warn('ice restart', e);
    }
  }

  /**
   * A new offer or answer from the peer (`call.update`). Its DTLS fingerprints must be the
   * ones the handshake bound, or the safety code would no longer vouch for the media: a
   * different one ends the call with `fingerprint_mismatch`.
   */
  async _onUpdate(d) {
    const bound = this.role === 'caller' ? this.answerSdp : this.offerSdp;
    let same = false;
    try {
      same = fingerprintFromSdp(d.sdp) === fingerprintFromSdp(bound);
    } catch {
      same = false;
    }
    if (!same) {
      await this._fail('fingerprint_mismatch');
      return;
    }
    try {
      if (d.kind === 'offer') {
        await this.pc.setRemoteDescription({ type: 'offer', sdp: d.sdp });
        await this.pc.setLocalDescription(await this.pc.createAnswer());
        await this.mgr.client.update(this.id, this.pc.localDescription.sdp, 'answer');
        this._newIceGeneration();
      } else {
        await this.pc.setRemoteDescription({ type: 'answer', sdp: d.sdp });
        this._restarting = false;
      }
    } catch (e) {
      this.mgr._warn('call.update', e);
    }
  }

  /** A restart gathers candidates anew, so their end is sent again. */
  _newIceGeneration() {
    this._doneSent = false;
    this._iceDone = false;
  }

  async _flushIce() {
    this._iceTimer = null;
    // The caller learns its call id from the offer's result; the callee sends after answering.
    if (!this.id || (this.role === 'callee' && this.state === 'ringing')) return;
    const candidates = this._localIce.splice(0);
    const done = this._iceDone && !this._doneSent;
    if (!candidates.length && !done) return;
    if (done) this._doneSent = true;
    try {
      await this.mgr.client.ice(this.id, candidates, done || undefined);
    } catch (e) {
      this.mgr._warn('ice', e);
    }
  }

  async _addRemoteIce(candidates) {
    if (!this.pc?.remoteDescription) {
      this._pendingRemoteIce.push(...candidates);
      return;
    }
    for (const c of candidates) {
      try { await this.pc.addIceCandidate(c); } catch (e) { this.mgr._warn('addIceCandidate', e); }
    }
  }

  /**
   * The peer's DTLS certificate must match a fingerprint bound in the transcript (§6). Fails
   * closed: any error or mismatch ends the call with `fingerprint_mismatch`. Where the
   * browser does not expose the certificate, there is nothing to check.
   */
  async _verifyDtls() {
    const transport = this.pc?.getSenders().find((s) => s.transport)?.transport;
    if (!transport?.getRemoteCertificates) { this._dtlsChecked = true; this._showCode(); return; }
    let ok = false;
    try {
      const cert = await remoteCertificate(transport);
      ok = !!cert && (await certificateMatches(cert, this.role === 'caller' ? this.answerSdp : this.offerSdp));
    } catch (e) {
      this.mgr._warn('dtls', e);
    }
    this.dtlsVerified = ok;
    this._dtlsChecked = true;
    this.dispatchEvent(new CustomEvent('dtls', { detail: ok }));
    if (ok) this._showCode();
    else await this._fail('fingerprint_mismatch');
  }

  /** The safety code appears only once the peer's tag and the certificate check passed. */
  _showCode() {
    if (!this._pendingCode || !this._dtlsChecked || this.state !== 'active') return;
    this.code = this._pendingCode;
    this._pendingCode = null;
    this.dispatchEvent(new CustomEvent('code', { detail: this.code }));
  }

  /**
   * Callee: accept a ringing call. A key or SDP that fails its check, or a browser that
   * cannot encrypt media, declines the call with the reason (`bad_key`,
   * `fingerprint_mismatch`, `e2ee_unsupported`) and rejects with a HandshakeError.
   */
  async accept() {
    if (this.state !== 'ringing') throw new PqcallError(409, 'invalid_state', `this call is ${this.state}`);
    // Exactly one tab of this user acts on a call: the one that claims it first.
    this._release ??= await this.mgr.client.claim(`call:${this.id}`);
    if (!this._release) {
      this._set('ended', 'answered_in_another_tab');
      throw new PqcallError(409, 'answered_in_another_tab', 'this call was answered in another tab');
    }
    this.mgr.client.tellTabs({ kind: 'taken', call_id: this.id });
    let callee;
    let answer;
    let pc;
    try {
      parseFingerprints(this.offerSdp);
      // The encapsulation and the microphone at once; both settle before any failure is
      // handled, so a refused key still releases the microphone.
      const t = performance.now();
      const answering = calleeAnswer(this.offerKem).then((r) => { this.handshakeMs += performance.now() - t; return r; });
      const [hs, made] = await Promise.allSettled([answering, this._makePc()]);
      if (hs.status === 'rejected') throw hs.reason;
      if (made.status === 'rejected') throw made.reason;
      ({ callee, answer } = hs.value);
      pc = made.value;
    } catch (e) {
      const reason = e?.code === 'invalid_key' || e?.code === 'bad_encoding' || e?.code === 'bad_suite' ? 'bad_key' : e?.code ?? 'failed';
      await this._fail(reason);
      throw new HandshakeError(reason, e?.message ?? String(e));
    }
    try {
      this._accepted = true;
      await pc.setRemoteDescription({ type: 'offer', sdp: this.offerSdp });
      await pc.setLocalDescription(await pc.createAnswer());
      this.answerSdp = pc.localDescription.sdp;
      this._hs = callee;
      this._mark('answer_sent');
      await this.mgr.client.answer(this.id, this.answerSdp, answer);
    } catch (e) {
      // Nobody else can answer now (the other tabs stood back): end it, say why.
      await this._fail('failed');
      throw e;
    }
    // The caller's confirm may already have made the call active.
    if (this.state === 'ringing') this._set('connecting');
    await this._addRemoteIce(this._pendingRemoteIce.splice(0));
    this._flushIce();
  }

  /** Callee: decline a ringing call. */
  async decline(reason = 'declined') {
    await this.mgr.client.decline(this.id, reason);
    this._set('declined', reason);
  }

  /** Either side: hang up (cancels a call that still rings). */
  async hangup(reason = 'hangup') {
    const was = this.state;
    if (FINAL.includes(was)) return;
    try { await this.mgr.client.end(this.id, reason); } catch (e) { this.mgr._warn('end', e); }
    this._set(was === 'ringing' ? 'canceled' : 'ended', reason);
  }

  _ctx() {
    const caller = this.role === 'caller' ? this.mgr.client.userId : this.peer;
    const callee = this.role === 'caller' ? this.peer : this.mgr.client.userId;
    return callContext(this.id, caller, callee, this.offerSdp, this.answerSdp);
  }

  async _onEvent(name, d) {
    // Another tab of this user rang too but did not accept: it only shows the outcome.
    const acting = this.role === 'caller' || this._accepted;
    if (!acting && ['call.answer', 'call.confirm', 'call.ice', 'call.update'].includes(name)) return;
    switch (name) {
      case 'call.answer': {
        if (this.state !== 'ringing') return;
        this._mark('answer');
        this.answerSdp = d.sdp;
        let ctx;
        try {
          ctx = this._ctx();
        } catch {
          await this._fail('fingerprint_mismatch');
          return;
        }
        // The confirm goes out while the answer is applied, not after: both sides then
        // have their keys by the time media connects.
        const t = performance.now();
        let broken = null;
        const confirming = callerFinish(this._hs, d.kem, ctx).then(async (finished) => {
          this.handshakeMs += performance.now() - t;
          this._hs = finished.waiting;
          this._mark('confirm_sent');
          const sent = this.mgr.client.confirm(this.id, finished.confirm);
          // Receiving may start now; sending waits for the callee's tag (§7).
          const { mediaCaller, mediaCallee } = finished.waiting.keys;
          this._keying = this._e2ee.setKeys(this.role, { mediaCaller, mediaCallee }, { hold: true });
          await sent;
        }, (e) => { broken = e; });
        confirming.catch(() => {}); // a failed request is reported below, once awaited
        try {
          await this.pc.setRemoteDescription({ type: 'answer', sdp: d.sdp });
        } catch (e) {
          this.mgr._warn('answer', e);
          await this._fail('failed');
          return;
        }
        this._set('connecting');
        await this._addRemoteIce(this._pendingRemoteIce.splice(0));
        await confirming;
        if (broken) {
          this.mgr._warn('handshake', broken);
          await this._fail('key_confirmation_failed');
        }
        break;
      }
      case 'call.confirm': {
        // The confirm can overtake the response to this side's own answer: go by the
        // handshake's step, not by the call state.
        if (FINAL.includes(this.state) || this._hs?.step !== (this.role === 'callee' ? 'answered' : 'confirmed')) return;
        try {
          if (this.role === 'callee') {
            const t = performance.now();
            const { keys, reply } = calleeConfirm(this._hs, d.kem, this._ctx());
            this.handshakeMs += performance.now() - t;
            this._mark('peer_confirm');
            // The caller's tag verified: this side's media may start (§7) while the reply
            // is on its way, which takes a request's round trip off the setup.
            const replied = this.mgr.client.confirm(this.id, reply);
            this._done(keys);
            await replied;
          } else {
            const t = performance.now();
            const keys = callerVerify(this._hs, d.kem);
            this.handshakeMs += performance.now() - t;
            this._mark('peer_confirm');
            this._done(keys);
          }
        } catch (e) {
          this.mgr._warn('handshake', e);
          await this._fail(e?.code === 'fingerprint_mismatch' ? 'fingerprint_mismatch' : 'key_confirmation_failed');
        }
        break;
      }
      case 'call.ice': await this._addRemoteIce(d.candidates ?? []); break;
      case 'call.update': if (this.state === 'active') await this._onUpdate(d); break;
      case 'call.declined': this._set('declined', d.reason); break;
      case 'call.ended': this._set(d.reason === 'canceled' ? 'canceled' : 'ended', d.reason); break;
      case 'call.missed': this._set('missed'); break;
      case 'call.answered_elsewhere': this._set('ended', 'answered_elsewhere'); break;
      default:
    }
  }

  async _done(keys) {
    this._pendingCode = keys.code;
    this._set('active');
    // Sending media and data only now, after the peer's tag verified (§7).
    if (this._keying) {
      await this._keying;
      this._e2ee.release();
    } else {
      await this._e2ee.setKeys(this.role, { mediaCaller: keys.mediaCaller, mediaCallee: keys.mediaCallee });
    }
    this._keysIn = true;
    this._armE2eeCheck();
    this._showCode();
  }
}
