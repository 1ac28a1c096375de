// The page's side of a call's end-to-end media encryption (docs/PROTOCOL.md §7): one worker
// per call runs every encoded transform (e2ee-worker.js); data-channel messages are sealed
// here. Transforms are attached right after addTrack, before any offer or answer exists:
// Chromium silently ignores a transform attached after setLocalDescription and then
// sends clear frames.
import { HandshakeError } from './bytes.js';
import { KID, Receiver, Sender, decodeData, deriveKid, encodeData, importBaseKey } from './sframe.js';

/** 'script' (RTCRtpScriptTransform), 'streams' (createEncodedStreams) or null. */
export function e2eeSupport() {
  if (typeof RTCRtpScriptTransform !== 'undefined') return 'script';
  if (typeof RTCRtpSender !== 'undefined' && RTCRtpSender.prototype.createEncodedStreams) return 'streams';
  return null;
}

const newWorker = () => new Worker(new URL('./e2ee-worker.js', import.meta.url), { type: 'module' });

/**
 * A worker started ahead of the call that will use it, so its start-up (a few tens of ms of
 * CPU) is off the call's critical path; null where encoded transforms are missing.
 */
export const spareWorker = () => (e2eeSupport() ? newWorker() : null);

const AUDIO_LEVEL = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

/**
 * `state`: 'waiting' (no keys yet) → 'keyed' → 'encrypted' (frames from the peer decrypt),
 * or 'failed'. Events: 'state', 'stats', 'mark' (`{step, at}`: when the worker got its keys,
 * sealed its first frame, decrypted the peer's first frame).
 */
export class CallE2ee extends EventTarget {
  /** @param {Worker} [worker] a fresh worker from `spareWorker()`, not used by any other call */
  constructor(worker) {
    super();
    this.mode = e2eeSupport();
    if (!this.mode) throw new HandshakeError('e2ee_unsupported', 'this browser cannot encrypt call audio end to end (no encoded transforms)');
    this.state = 'waiting';
    this.stats = { sent: 0, received: 0, dropped: 0, early: 0, arrived: 0 };
    this.attached = { send: 0, recv: 0 };
    this.worker = worker ?? newWorker();
    this.worker.onmessage = ({ data }) => {
      if (data.type === 'stats') {
        this.stats = data.stats;
        this.dispatchEvent(new Event('stats'));
        if (data.reply) for (const done of this._refreshing.splice(0)) done(this.stats);
      }
      if (data.type === 'attached') this.attached[data.side]++;
      if (data.type === 'keyed') for (const done of this._keyed.splice(0)) done();
      if (data.type === 'mark') this.dispatchEvent(new CustomEvent('mark', { detail: data }));
      if (data.type === 'decrypting') {
        this._decrypting = true;
        if (this.state === 'keyed') this._set('encrypted');
      }
    };
    this.data = null;
    /** Resolvers waiting for the worker to have its keys, and for fresh counts. */
    this._keyed = [];
    this._refreshing = [];
  }

  _set(state) {
    if (this.state === state || this.state === 'failed') return;
    this.state = state;
    this.dispatchEvent(new Event('state'));
  }

  /** Extra RTCPeerConnection configuration the mode needs. */
  pcConfig() {
    return this.mode === 'streams' ? { encodedInsertableStreams: true } : {};
  }

  _attach(side, endpoint) {
    if (this.mode === 'script') {
      endpoint.transform = new RTCRtpScriptTransform(this.worker, { side });
    } else {
      const { readable, writable } = endpoint.createEncodedStreams();
      this.worker.postMessage({ type: 'streams', side, readable, writable }, [readable, writable]);
    }
  }

  /** Every sender and receiver of the peer connection, and no audio level in clear. */
  attachAll(pc) {
    for (const t of pc.getTransceivers()) {
      if (t.sender.track && !t.sender.transform && !t._pqE2ee) this._attach('send', t.sender);
      if (!t.receiver.transform && !t._pqE2ee) this._attach('recv', t.receiver);
      t._pqE2ee = true;
      try {
        const exts = t.getHeaderExtensionsToNegotiate?.();
        if (exts) t.setHeaderExtensionsToNegotiate(exts.map((e) => (e.uri === AUDIO_LEVEL ? { ...e, direction: 'stopped' } : e)));
      } catch { /* not negotiable here: the platform keeps it */ }
    }
  }

  /**
   * Installs this side's keys: media in the worker, data here; resolves once both hold
   * them. Sending starts at once, or
   * with `hold`, only at `release()`: §7 lets a side send only once it verified the peer's
   * tag, but the caller may receive as soon as it has the keys, one round trip earlier.
   * @param {'caller'|'callee'} role @param {{mediaCaller: Uint8Array, mediaCallee: Uint8Array}} keys
   * @param {{hold?: boolean}} [opts]
   */
  async setKeys(role, keys, { hold = false } = {}) {
    this.held = hold;
    const [mine, theirs] = role === 'caller' ? [keys.mediaCaller, keys.mediaCallee] : [keys.mediaCallee, keys.mediaCaller];
    const caller = role === 'caller';
    // The worker imports its own copy of the bytes (and wipes it) at once, so media does
    // not wait for this thread, which is busy with the peer connection at this moment.
    const inWorker = new Promise((resolve) => this._keyed.push(resolve));
    this.worker.postMessage({ type: 'keys', hold, send: mine, recv: theirs, sendKid: caller ? KID.callerMedia : KID.calleeMedia, recvKid: caller ? KID.calleeMedia : KID.callerMedia });
    const [send, recv] = await Promise.all([importBaseKey(mine), importBaseKey(theirs)]);
    mine.fill(0);
    theirs.fill(0);
    this.keys = { send, recv };
    const [dtx, drx] = await Promise.all([
      deriveKid(send, caller ? KID.callerData : KID.calleeData),
      deriveKid(recv, caller ? KID.calleeData : KID.callerData),
    ]);
    this.data = { sender: new Sender(dtx), receiver: new Receiver(drx) };
    await inWorker;
    if (!hold) this._ready();
  }

  // Both tags verified and this side's keys in: 'encrypted' if the peer's frames already
  // decrypt (the caller can decrypt before it may send), else 'keyed' until they do.
  _ready() { this._set(this._decrypting ? 'encrypted' : 'keyed'); }

  /** Starts sending with the keys installed with `hold` (the peer's tag verified). */
  release() {
    this.held = false;
    this.worker.postMessage({ type: 'send' });
    this._ready();
  }

  /** Seals a data-channel message (string or bytes); null before this side may send. */
  async sealData(message) {
    return this.data && !this.held ? this.data.sender.seal(encodeData(message)) : null;
  }

  /** Opens a data-channel message; null when it is dropped (counted). */
  async openData(bytes) {
    if (!this.data) return null;
    const plain = await this.data.receiver.open(new Uint8Array(bytes));
    return plain ? decodeData(plain) : null;
  }

  /** Counters read by the worker after every message sent to it before (they are also
   * pushed every half second). */
  refreshStats() {
    if (this.closed) return Promise.resolve(this.stats);
    return new Promise((resolve) => {
      this._refreshing.push(resolve);
      this.worker.postMessage({ type: 'stats' });
    });
  }

  fail() { this._set('failed'); }

  /** Ends the worker; counts asked for from now on are the last ones it sent. */
  close() {
    this.closed = true;
    this.worker.terminate();
    for (const done of this._refreshing.splice(0)) done(this.stats);
    for (const done of this._keyed.splice(0)) done();
  }
}
