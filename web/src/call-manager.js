// Places and receives calls for one client: routes each call event to its call, in order;
// keeps events that arrive before the offer's response names the call; starts each call's
// E2EE worker ahead of time.

import { Call, FINAL } from './calls.js';
import { spareWorker } from './e2ee.js';
import { parseFingerprints } from './fingerprint.js';
import { callerStart } from './handshake.js';

/** Events for a call id this client has not learned yet: at most this many, this long. */
const EARLY_MAX = 256;
const EARLY_TTL_MS = 60_000;

/** Places and receives calls for one client. Events: 'incoming', 'callstate', 'pcstate'. */
export class CallManager extends EventTarget {
  /**
   * @param {import('./client.js').PqcallClient} client
   * @param {{iceServers?: RTCIceServer[], iceTransportPolicy?: RTCIceTransportPolicy, getMedia?: () => Promise<MediaStream>}} [opts]
   *   `iceServers`: fixed ones; without, the server's (`GET /api/ice-servers`).
   *   `iceTransportPolicy: 'relay'` sends media through TURN only (to test a TURN server).
   */
  constructor(client, opts = {}) {
    super();
    this.client = client;
    this.iceServers = opts.iceServers ?? null;
    this.iceTransportPolicy = opts.iceTransportPolicy ?? 'all';
    // Fetched ahead of the first call, so that it costs no time then.
    if (!this.iceServers) this.currentIceServers().catch(() => {});
    this.getMedia = opts.getMedia ?? (() => navigator.mediaDevices.getUserMedia({ audio: true, video: false }));
    /** @type {Map<string, Call>} */
    this.calls = new Map();
    /** A worker started ahead of the next call (one per call, never shared). */
    this._spare = null;
    /** call id -> {at, events}: events that arrived before this client learned the id. */
    this._early = new Map();
    this._queue = Promise.resolve();
    this._replenish();
    for (const name of ['call.offer', 'call.answer', 'call.answered_elsewhere', 'call.confirm', 'call.ice', 'call.update', 'call.declined', 'call.ended', 'call.missed']) {
      client.addEventListener(name, (e) => this._enqueue(() => this._onEvent(name, e.detail)));
    }
    // Back online after a network change: restart ICE in the calls this side placed.
    globalThis.addEventListener?.('online', () => {
      for (const call of this.calls.values()) call.restartIce();
    });
    /** Calls another tab of this user placed or took: call id -> when it said so. */
    this._elsewhere = new Map();
    client.addEventListener('tab', (e) => this._enqueue(() => this._onTab(e.detail)));
    // The page goes away (closed, reloaded) mid-call: end its calls now, so the peer
    // does not wait for the connection's grace period to learn it.
    globalThis.addEventListener?.('pagehide', () => this._leave());
    // `_leave` cannot wait for a token: keep the one it uses fresh while a call is on.
    this._fresh = setInterval(() => {
      if (!this._ownCalls().next().done) this.client.freshToken().catch(() => {});
    }, 30_000);
    this._fresh.unref?.(); // (Node) a timer that keeps nothing alive
  }

  /** The calls this tab acts on and that are not over. */
  *_ownCalls() {
    for (const call of this.calls.values()) {
      if (!FINAL.includes(call.state) && (call.role === 'caller' || call._release)) yield call;
    }
  }

  _leave() {
    for (const call of this._ownCalls()) {
      // A callee still answering declines; anything else ends (a caller's ringing call
      // is canceled by its end).
      const declining = call.role === 'callee' && call.state === 'ringing';
      this.client.endNow(call.id, 'page_closed', declining ? 'decline' : 'end');
      call._set(declining ? 'declined' : call.state === 'ringing' ? 'canceled' : 'ended', 'page_closed');
    }
  }

  /** Another tab placed or took call `call_id`: this tab leaves it alone. */
  _onTab(m) {
    if (!m || (m.kind !== 'placed' && m.kind !== 'taken') || typeof m.call_id !== 'string') return;
    const now = Date.now();
    for (const [id, at] of this._elsewhere) if (now - at > EARLY_TTL_MS) this._elsewhere.delete(id);
    if (this._elsewhere.size >= EARLY_MAX) this._elsewhere.delete(this._elsewhere.keys().next().value);
    this._elsewhere.set(m.call_id, now);
    this._early.delete(m.call_id);
    const call = this.calls.get(m.call_id);
    if (call && !call._release && call.role === 'callee') call._set('ended', 'answered_in_another_tab');
  }

  /**
   * The ICE servers for the next peer connection: the fixed ones, or the server's list
   * (refreshed before its TURN credentials expire). Without one, host candidates only.
   * @returns {Promise<RTCIceServer[]>}
   */
  async currentIceServers() {
    if (this.iceServers) return this.iceServers;
    try {
      return await this.client.iceServers();
    } catch {
      return [];
    }
  }

  /** The spare worker for a new call (the next spare starts when a call finishes). */
  _takeWorker() {
    const w = this._spare ?? spareWorker();
    this._spare = null;
    return w;
  }

  _replenish() {
    if (typeof Worker !== 'undefined') this._spare ??= spareWorker();
  }

  // Events of one stream are handled one at a time, in order.
  _enqueue(fn) {
    this._queue = this._queue.then(fn).catch((e) => this._warn('event', e));
  }

  _warn(what, e) {
    this.dispatchEvent(new CustomEvent('warning', { detail: { what, error: e } }));
    console.warn('pqcall', what, e);
  }

  /**
   * Calls `to`; resolves once the offer is out (the call rings). Rejects with a
   * HandshakeError('e2ee_unsupported') where the browser cannot encrypt media, before
   * anything is sent; the microphone is released on every failure.
   */
  async call(to) {
    const call = new Call(this, null, to, 'caller');
    call.startedAt = call._mark('offer');
    // The ML-KEM key pair is made while the microphone and the peer connection start.
    const t = performance.now();
    const starting = callerStart().then((r) => { call.handshakeMs += performance.now() - t; return r; });
    starting.catch(() => {}); // awaited below, unless the peer connection failed first
    try {
      const pc = await call._makePc();
      await pc.setLocalDescription(await pc.createOffer());
      call.offerSdp = pc.localDescription.sdp;
      parseFingerprints(call.offerSdp);
      const { caller, offer } = await starting;
      call._hs = caller;
      const res = await this.client.offer(to, call.offerSdp, offer);
      call.id = res.call_id;
      call.devices = res.devices;
      call._mark('offer_sent');
      // This tab acts on the call; the user's other tabs leave it alone.
      call._release = await this.client.claim(`call:${call.id}`);
      this.client.tellTabs({ kind: 'placed', call_id: call.id });
    } catch (e) {
      call._teardown();
      throw e;
    }
    this.calls.set(call.id, call);
    // Events for this call that came before the offer's response: in order, before later ones.
    this._enqueue(() => this._replayEarly(call.id));
    call._flushIce();
    return call;
  }

  async _replayEarly(id) {
    const early = this._early.get(id);
    this._early.delete(id);
    for (const [name, d] of early?.events ?? []) await this.calls.get(id)?._onEvent(name, d);
  }

  _keepEarly(name, d) {
    const now = Date.now();
    for (const [id, e] of this._early) if (now - e.at > EARLY_TTL_MS) this._early.delete(id);
    let entry = this._early.get(d.call_id);
    if (!entry) {
      if (this._early.size >= EARLY_MAX) return;
      entry = { at: now, events: [] };
      this._early.set(d.call_id, entry);
    }
    if (entry.events.length < EARLY_MAX) entry.events.push([name, d]);
  }

  async _onEvent(name, d) {
    if (this._elsewhere.has(d.call_id)) return;
    if (name === 'call.offer') {
      if (this.calls.has(d.call_id)) return;
      const call = new Call(this, d.call_id, d.from, 'callee');
      call.offerSdp = d.sdp;
      call.offerKem = d.kem;
      call.expiresAt = d.expires_at;
      call._mark('incoming');
      this.calls.set(d.call_id, call);
      this.dispatchEvent(new CustomEvent('incoming', { detail: call }));
      return;
    }
    const call = this.calls.get(d.call_id);
    if (call && !this._early.has(d.call_id)) await call._onEvent(name, d);
    else this._keepEarly(name, d);
  }
}
