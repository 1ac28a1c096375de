// The pqcall call handshake of docs/PROTOCOL.md §6, in the browser and in Node.
//
// ML-KEM-768 comes from WebCrypto where `crypto.subtle` supports it (Chromium does) and
// from @noble/post-quantum otherwise; SHA3-256 always from @noble/hashes (WebCrypto has
// none). The Rust crate `pqcall-crypto` implements the same steps; both reproduce
// crypto/tests/vectors/handshake-v1.json.

import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { HandshakeError, ctEqual, fromBase64, toBase64, utf8 } from './bytes.js';
import { fingerprintFromSdp } from './fingerprint.js';

export const SUITE = 'ML-KEM-768';
export const LEN = { ek: 1184, ct: 1088, commit: 32, nonce: 32, tag: 32 };

/** H(enc(p0) || enc(p1) || ...): SHA3-256 of length-prefixed parts. */
export function H(...parts) {
  const h = sha3_256.create();
  for (const p of parts) {
    const b = typeof p === 'string' ? utf8(p) : p;
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, b.length);
    h.update(len);
    h.update(b);
  }
  return h.digest();
}

export { fingerprintFromSdp } from './fingerprint.js';

export const commitment = (nA) => H('pqcall/v1/commit', nA);

/** TH over the public facts of the call. */
export function transcriptHash({ callId, callerId, calleeId, ek, commit, fpA, ct, fpB, nA }) {
  return H('pqcall/v1/th', callId, callerId, calleeId, SUITE, ek, commit, fpA, ct, fpB, nA);
}

/** PRK and every key derived from it. */
export function keySchedule(ss, th) {
  const prk = H('pqcall/v1/prk', ss, th);
  const K = (label) => H(`pqcall/v1/${label}`, prk);
  const sas = K('sas');
  const n = new DataView(sas.buffer, sas.byteOffset).getUint32(0) % 1_000_000;
  const code = `${String(Math.floor(n / 1000)).padStart(3, '0')} ${String(n % 1000).padStart(3, '0')}`;
  return {
    prk,
    tagCaller: K('tag/caller'),
    tagCallee: K('tag/callee'),
    mediaCaller: K('media/caller'),
    mediaCallee: K('media/callee'),
    sas,
    code,
  };
}

const randomBytes = (n) => crypto.getRandomValues(new Uint8Array(n));

/** ML-KEM-768 through @noble/post-quantum. Seeds and messages only for test vectors. */
export const nobleKem = {
  name: 'noble',
  async keygen(seed = randomBytes(64)) {
    const { publicKey, secretKey } = ml_kem768.keygen(seed);
    return { ek: publicKey, decapsulate: async (ct) => ml_kem768.decapsulate(ct, secretKey) };
  },
  async encapsulate(ek, m = randomBytes(32)) {
    const { cipherText, sharedSecret } = ml_kem768.encapsulate(ek, m);
    return { ct: cipherText, ss: sharedSecret };
  },
};

/** ML-KEM-768 through WebCrypto (Chromium). Only a seed can be imported, never a message. */
export const webCryptoKem = {
  name: 'webcrypto',
  async keygen(seed) {
    const alg = { name: SUITE };
    let privateKey;
    let publicKey;
    if (seed) {
      privateKey = await crypto.subtle.importKey('raw-seed', seed, alg, true, ['decapsulateBits']);
      const jwk = await crypto.subtle.exportKey('jwk', privateKey);
      delete jwk.priv;
      jwk.key_ops = ['encapsulateBits'];
      publicKey = await crypto.subtle.importKey('jwk', jwk, alg, true, ['encapsulateBits']);
    } else {
      ({ privateKey, publicKey } = await crypto.subtle.generateKey(alg, false, ['encapsulateBits', 'decapsulateBits']));
    }
    const ek = new Uint8Array(await crypto.subtle.exportKey('raw-public', publicKey));
    return {
      ek,
      decapsulate: async (ct) => new Uint8Array(await crypto.subtle.decapsulateBits(alg, privateKey, ct)),
    };
  },
  async encapsulate(ek, m) {
    if (m) throw new Error('WebCrypto cannot encapsulate with a chosen message');
    let key;
    try {
      key = await crypto.subtle.importKey('raw-public', ek, { name: SUITE }, false, ['encapsulateBits']);
    } catch {
      throw new HandshakeError('invalid_key', 'the encapsulation key fails the FIPS 203 check');
    }
    const { ciphertext, sharedKey } = await crypto.subtle.encapsulateBits({ name: SUITE }, key);
    return { ct: new Uint8Array(ciphertext), ss: new Uint8Array(sharedKey) };
  },
};

let probed;
/** WebCrypto ML-KEM-768 where available, else noble. */
export async function defaultKem() {
  probed ??= (async () => {
    try {
      if (!globalThis.crypto?.subtle) return nobleKem;
      await crypto.subtle.generateKey({ name: SUITE }, false, ['encapsulateBits', 'decapsulateBits']);
      return webCryptoKem;
    } catch {
      return nobleKem;
    }
  })();
  return probed;
}

/**
 * Caller, step 1: key pair, nonce, commitment. Send `offer` (base64) in the offer's `kem`.
 * @param {{kem?: typeof nobleKem, seed?: Uint8Array, nA?: Uint8Array}} [opts] seed and nA for vectors only
 */
export async function callerStart(opts = {}) {
  const kem = opts.kem ?? (await defaultKem());
  const { ek, decapsulate } = await kem.keygen(opts.seed);
  const nA = opts.nA ?? randomBytes(32);
  const commit = commitment(nA);
  return {
    caller: { ek, commit, nA, decapsulate, step: 'offered' },
    offer: { suite: SUITE, ek: toBase64(ek), commit: toBase64(commit) },
  };
}

/**
 * Callee, step 2: checks and encapsulates to the caller's key. Send `answer` in the answer's `kem`.
 * @param {{ek: string, commit: string, suite?: string}} offerKem
 */
export async function calleeAnswer(offerKem, opts = {}) {
  if (offerKem.suite !== undefined && offerKem.suite !== SUITE) throw new HandshakeError('bad_suite', 'unsupported suite');
  const ek = fromBase64(offerKem.ek, LEN.ek, 'ek');
  const commit = fromBase64(offerKem.commit, LEN.commit, 'commit');
  const kem = opts.kem ?? (await defaultKem());
  let enc;
  try {
    enc = await kem.encapsulate(ek, opts.m);
  } catch (e) {
    if (e instanceof HandshakeError) throw e;
    throw new HandshakeError('invalid_key', 'the encapsulation key fails the FIPS 203 check');
  }
  return { callee: { ek, commit, ct: enc.ct, ss: enc.ss, step: 'answered' }, answer: { ct: toBase64(enc.ct) } };
}

/**
 * The public facts both sides bind. Fingerprints come from the two SDPs (§6's rule; throws
 * HandshakeError('fingerprint_mismatch') when either breaks it).
 * @returns {{callId: string, callerId: string, calleeId: string, fpA: string, fpB: string}}
 */
export function callContext(callId, callerId, calleeId, offerSdp, answerSdp) {
  return { callId, callerId, calleeId, fpA: fingerprintFromSdp(offerSdp), fpB: fingerprintFromSdp(answerSdp) };
}

/** Caller, step 3: decapsulates (the private key is dropped), returns the confirm to send. */
export async function callerFinish(caller, answerKem, ctx) {
  if (caller.step !== 'offered') throw new HandshakeError('out_of_order', 'caller already finished');
  caller.step = 'finished';
  const ct = fromBase64(answerKem.ct, LEN.ct, 'ct');
  const ss = await caller.decapsulate(ct);
  caller.decapsulate = null;
  const th = transcriptHash({ ...ctx, ek: caller.ek, commit: caller.commit, ct, nA: caller.nA });
  const keys = keySchedule(ss, th);
  ss.fill(0);
  return {
    waiting: { expected: keys.tagCallee, keys, step: 'confirmed' },
    confirm: { nonce: toBase64(caller.nA), tag: toBase64(keys.tagCaller) },
  };
}

/** Callee, step 4: checks the commitment and the caller's tag; returns keys and the reply. */
export function calleeConfirm(callee, confirmKem, ctx) {
  if (callee.step !== 'answered') throw new HandshakeError('out_of_order', 'callee already confirmed');
  callee.step = 'done';
  const nA = fromBase64(confirmKem.nonce, LEN.nonce, 'nonce');
  const tag = fromBase64(confirmKem.tag, LEN.tag, 'tag');
  if (!ctEqual(commitment(nA), callee.commit)) throw new HandshakeError('key_confirmation_failed', 'nonce does not open the commitment');
  const th = transcriptHash({ ...ctx, ek: callee.ek, commit: callee.commit, ct: callee.ct, nA });
  const keys = keySchedule(callee.ss, th);
  callee.ss.fill(0);
  if (!ctEqual(keys.tagCaller, tag)) throw new HandshakeError('key_confirmation_failed', "the caller's tag does not verify");
  return { keys, reply: { tag: toBase64(keys.tagCallee) } };
}

/** Caller, final: checks the callee's tag. */
export function callerVerify(waiting, replyKem) {
  if (waiting.step !== 'confirmed') throw new HandshakeError('out_of_order', 'already verified');
  waiting.step = 'done';
  const tag = fromBase64(replyKem.tag, LEN.tag, 'tag');
  if (!ctEqual(waiting.expected, tag)) throw new HandshakeError('key_confirmation_failed', "the callee's tag does not verify");
  return waiting.keys;
}
