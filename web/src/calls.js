// Calls over pqcall: RTCPeerConnection, offer/answer with the ML-KEM-768 handshake,
// trickle ICE batched over a few milliseconds, confirms both ways, the safety code, and
// a check that the DTLS certificate in use is the one the transcript bound.

import {
  calleeAnswer, calleeConfirm, callerFinish, callerStart, callerVerify, callContext, fingerprintFromSdp,
} from './handshake.js';

const ICE_BATCH_MS = 5;

/**
 * One call. `state`: ringing | connecting | active | ended | declined | canceled | missed | failed.
 * Events: 'state', 'code', 'track'.
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
    /** `performance.timeOrigin + performance.now()` when the offer was created / when connected. */
    this.startedAt = null;
    this.connectedAt = null;
  }

  _set(state, reason) {
    if (this.state === state) return;
    this.state = state;
    this.reason = reason;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, reason } }));
    this.mgr.dispatchEvent(new CustomEvent('callstate', { detail: { call: this, state, reason } }));
    if (['ended', 'declined', 'canceled', 'missed', 'failed'].includes(state)) this._teardown();
  }

  _teardown() {
    clearTimeout(this._iceTimer);
    this.localStream?.getTracks().forEach((t) => t.stop());
    this.pc?.close();
  }

  /** Mutes or unmutes the microphone. */
  mute(on) {
    this.muted = on;
    this.localStream?.getAudioTracks().forEach((t) => { t.enabled = !on; });
  }

  async _makePc() {
    const pc = new RTCPeerConnection({ iceServers: this.mgr.iceServers });
    this.pc = pc;
    this.localStream = await this.mgr.getMedia();
    this.localStream.getTracks().forEach((t) => pc.addTrack(t, this.localStream));
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
      if (pc.connectionState === 'connected') {
        this.connectedAt = performance.timeOrigin + performance.now();
        this._verifyDtls();
      }
    };
    return pc;
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

  /** The remote DTLS certificate's SHA-256 must be the fingerprint in the transcript. */
  async _verifyDtls() {
    try {
      const transport = this.pc.getSenders().find((s) => s.transport)?.transport;
      const certs = transport?.getRemoteCertificates?.() ?? [];
      if (!certs.length) return;
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', certs[0]));
      const fp = `sha-256 ${Array.from(digest, (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':')}`;
      const expected = fingerprintFromSdp(this.role === 'caller' ? this.answerSdp : this.offerSdp);
      this.dtlsVerified = fp === expected;
      if (!this.dtlsVerified) await this.hangup('key_confirmation_failed');
      this.dispatchEvent(new CustomEvent('dtls', { detail: this.dtlsVerified }));
    } catch (e) {
      this.mgr._warn('dtls', e);
    }
  }

  /** Callee: accept a ringing call. */
  async accept() {
    const pc = await this._makePc();
    await pc.setRemoteDescription({ type: 'offer', sdp: this.offerSdp });
    if (fingerprintFromSdp(pc.remoteDescription.sdp) !== fingerprintFromSdp(this.offerSdp)) throw new Error('fingerprint changed');
    await pc.setLocalDescription(await pc.createAnswer());
    this.answerSdp = pc.localDescription.sdp;
    const t = performance.now();
    const { callee, answer } = await calleeAnswer(this.offerKem);
    this.handshakeMs += performance.now() - t;
    this._hs = callee;
    await this.mgr.client.answer(this.id, this.answerSdp, answer);
    this._set('connecting');
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
    if (['ended', 'declined', 'canceled', 'missed', 'failed'].includes(was)) return;
    try { await this.mgr.client.end(this.id, reason); } catch (e) { this.mgr._warn('end', e); }
    this._set(was === 'ringing' ? 'canceled' : 'ended', reason);
  }

  _ctx() {
    const caller = this.role === 'caller' ? this.mgr.client.userId : this.peer;
    const callee = this.role === 'caller' ? this.peer : this.mgr.client.userId;
    return callContext(this.id, caller, callee, this.offerSdp, this.answerSdp);
  }

  async _onEvent(name, d) {
    switch (name) {
      case 'call.answer': {
        this.answerSdp = d.sdp;
        await this.pc.setRemoteDescription({ type: 'answer', sdp: d.sdp });
        this._set('connecting');
        await this._addRemoteIce(this._pendingRemoteIce.splice(0));
        const t = performance.now();
        const { waiting, confirm } = await callerFinish(this._hs, d.kem, this._ctx());
        this.handshakeMs += performance.now() - t;
        this._hs = waiting;
        await this.mgr.client.confirm(this.id, confirm);
        break;
      }
      case 'call.confirm': {
        try {
          if (this.role === 'callee') {
            const t = performance.now();
            const { keys, reply } = calleeConfirm(this._hs, d.kem, this._ctx());
            this.handshakeMs += performance.now() - t;
            await this.mgr.client.confirm(this.id, reply);
            this._done(keys);
          } else {
            const t = performance.now();
            const keys = callerVerify(this._hs, d.kem);
            this.handshakeMs += performance.now() - t;
            this._done(keys);
          }
        } catch (e) {
          this.mgr._warn('handshake', e);
          await this.hangup('key_confirmation_failed');
          this._set('failed', 'key_confirmation_failed');
        }
        break;
      }
      case 'call.ice': await this._addRemoteIce(d.candidates ?? []); break;
      case 'call.declined': this._set('declined', d.reason); break;
      case 'call.ended': this._set(d.reason === 'canceled' ? 'canceled' : 'ended', d.reason); break;
      case 'call.missed': this._set('missed'); break;
      case 'call.answered_elsewhere': this._set('ended', 'answered_elsewhere'); break;
      default:
    }
  }

  _done(keys) {
    this.keys = { mediaCaller: keys.mediaCaller, mediaCallee: keys.mediaCallee };
    this.code = keys.code;
    this._set('active');
    this.dispatchEvent(new CustomEvent('code', { detail: keys.code }));
  }
}

/** Places and receives calls for one client. Events: 'incoming', 'callstate', 'pcstate'. */
export class CallManager extends EventTarget {
  /**
   * @param {import('./client.js').PqcallClient} client
   * @param {{iceServers?: RTCIceServer[], getMedia?: () => Promise<MediaStream>}} [opts]
   */
  constructor(client, opts = {}) {
    super();
    this.client = client;
    this.iceServers = opts.iceServers ?? [];
    this.getMedia = opts.getMedia ?? (() => navigator.mediaDevices.getUserMedia({ audio: true, video: false }));
    /** @type {Map<string, Call>} */
    this.calls = new Map();
    this._queue = Promise.resolve();
    for (const name of ['call.offer', 'call.answer', 'call.answered_elsewhere', 'call.confirm', 'call.ice', 'call.declined', 'call.ended', 'call.missed']) {
      client.addEventListener(name, (e) => this._enqueue(() => this._onEvent(name, e.detail)));
    }
  }

  // Events of one stream are handled one at a time, in order.
  _enqueue(fn) {
    this._queue = this._queue.then(fn).catch((e) => this._warn('event', e));
  }

  _warn(what, e) {
    this.dispatchEvent(new CustomEvent('warning', { detail: { what, error: e } }));
    console.warn('pqcall', what, e);
  }

  /** Calls `to`; resolves once the offer is out (the call rings). */
  async call(to) {
    const call = new Call(this, null, to, 'caller');
    call.startedAt = performance.timeOrigin + performance.now();
    const pc = await call._makePc();
    await pc.setLocalDescription(await pc.createOffer());
    call.offerSdp = pc.localDescription.sdp;
    const t = performance.now();
    const { caller, offer } = await callerStart();
    call.handshakeMs += performance.now() - t;
    call._hs = caller;
    const res = await this.client.offer(to, call.offerSdp, offer);
    call.id = res.call_id;
    call.devices = res.devices;
    this.calls.set(call.id, call);
    call._flushIce();
    return call;
  }

  async _onEvent(name, d) {
    if (name === 'call.offer') {
      if (this.calls.has(d.call_id)) return;
      const call = new Call(this, d.call_id, d.from, 'callee');
      call.offerSdp = d.sdp;
      call.offerKem = d.kem;
      call.expiresAt = d.expires_at;
      this.calls.set(d.call_id, call);
      this.dispatchEvent(new CustomEvent('incoming', { detail: call }));
      return;
    }
    await this.calls.get(d.call_id)?._onEvent(name, d);
  }
}
