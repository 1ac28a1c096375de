// SFrame (RFC 9605) with the suite AES_256_GCM_SHA512_128 (0x0005), on WebCrypto only, as
// docs/PROTOCOL.md §7 uses it: KID 0/1 caller media/data, 2/3 callee media/data, base key
// the sender's media key of the handshake, empty metadata. Runs in the page, in the media
// worker and in Node (tests). Keys are non-extractable CryptoKeys.

export const CIPHER_SUITE = 0x0005;
/** Counters a receiver accepts behind the newest one it accepted (RFC 9605 §9.3). */
export const REPLAY_WINDOW = 256;
export const KID = { callerMedia: 0, callerData: 1, calleeMedia: 2, calleeData: 3 };

const te = new TextEncoder();

/** The big-endian bytes of a non-negative BigInt, minimal (at least one byte). */
function minimalBytes(v) {
  const out = [];
  do { out.unshift(Number(v & 0xffn)); v >>= 8n; } while (v > 0n);
  return out;
}

/** RFC 9605 §4.3: config byte |X|K K K|Y|C C C|, then the KID and counter bytes if long. */
export function encodeHeader(kid, ctr) {
  const [k, c] = [BigInt(kid), BigInt(ctr)];
  const bytes = [0];
  if (k < 8n) bytes[0] |= Number(k) << 4;
  else { const kb = minimalBytes(k); bytes[0] |= 0x80 | ((kb.length - 1) << 4); bytes.push(...kb); }
  if (c < 8n) bytes[0] |= Number(c);
  else { const cb = minimalBytes(c); bytes[0] |= 0x08 | (cb.length - 1); bytes.push(...cb); }
  return Uint8Array.from(bytes);
}

/** Parses a header: `{kid, ctr, length}` (BigInts), or null when the bytes are too short. */
export function decodeHeader(buf) {
  if (buf.length < 1) return null;
  const cfg = buf[0];
  let at = 1;
  const field = (extended, low) => {
    if (!extended) return BigInt(low);
    const n = low + 1;
    if (at + n > buf.length) return null;
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(buf[at + i]);
    at += n;
    return v;
  };
  const kid = field(cfg & 0x80, (cfg >> 4) & 0x07);
  if (kid === null) return null;
  const ctr = field(cfg & 0x08, cfg & 0x07);
  if (ctr === null) return null;
  return { kid, ctr, length: at };
}

function label(what, kid) {
  const l = te.encode(`SFrame 1.0 Secret ${what} `);
  const out = new Uint8Array(l.length + 10);
  out.set(l);
  const v = new DataView(out.buffer);
  v.setBigUint64(l.length, BigInt(kid));
  v.setUint16(l.length + 8, CIPHER_SUITE);
  return out;
}

/**
 * The AES-256-GCM key and salt of one KID (RFC 9605 §4.4.2, HKDF-SHA-512 with an empty salt).
 * @param {CryptoKey} base the base key imported as a non-extractable HKDF key
 */
export async function deriveKid(base, kid) {
  const hkdf = (info) => ({ name: 'HKDF', hash: 'SHA-512', salt: new Uint8Array(0), info });
  const key = await crypto.subtle.deriveKey(hkdf(label('key', kid)), base, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const salt = new Uint8Array(await crypto.subtle.deriveBits(hkdf(label('salt', kid)), base, 96));
  return { kid: BigInt(kid), key, salt };
}

/** Imports 32 raw bytes as a non-extractable HKDF base key. */
export const importBaseKey = (bytes) => crypto.subtle.importKey('raw', bytes, 'HKDF', false, ['deriveKey', 'deriveBits']);

function nonce(salt, ctr) {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(4, BigInt(ctr));
  for (let i = 0; i < 12; i++) n[i] ^= salt[i];
  return n;
}

/** SFrame(plaintext) = header || AES-GCM(key, nonce, aad = header, plaintext) with the 16-byte tag. */
export async function seal({ kid, key, salt }, ctr, plaintext) {
  const header = encodeHeader(kid, ctr);
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce(salt, ctr), additionalData: header, tagLength: 128 }, key, plaintext));
  const out = new Uint8Array(header.length + ct.length);
  out.set(header);
  out.set(ct, header.length);
  return out;
}

/** One sender: its KID's key and the counter, from 0, +1 per frame. */
export class Sender {
  constructor(kidKey) { this.k = kidKey; this.next = 0n; }
  get sent() { return Number(this.next); }
  /** @param {Uint8Array} plaintext non-empty */
  async seal(plaintext) {
    const ctr = this.next;
    this.next += 1n;
    return seal(this.k, ctr, plaintext);
  }
}

/**
 * One receiver: accepts only its KID, each counter once, within the replay window; the
 * window moves only on frames that authenticate. `open` resolves to the plaintext or
 * null (dropped, and counted with its reason).
 */
export class Receiver {
  constructor(kidKey, window = REPLAY_WINDOW) {
    this.k = kidKey;
    this.window = BigInt(window);
    this.highest = -1n;
    this.seen = new Set();
    this.received = 0;
    this.dropped = 0;
    this.reasons = { malformed: 0, wrong_kid: 0, replayed: 0, authentication: 0 };
  }

  _drop(why) { this.dropped++; this.reasons[why]++; return null; }

  /** Accepted already, or older than the window. */
  _replayed(ctr) { return this.seen.has(ctr) || ctr + this.window <= this.highest; }

  /** @param {Uint8Array} frame non-empty */
  async open(frame) {
    const h = decodeHeader(frame);
    if (!h || frame.length < h.length + 16) return this._drop('malformed');
    if (h.kid !== this.k.kid) return this._drop('wrong_kid');
    if (this._replayed(h.ctr)) return this._drop('replayed');
    let plain;
    try {
      plain = new Uint8Array(await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: nonce(this.k.salt, h.ctr), additionalData: frame.subarray(0, h.length), tagLength: 128 },
        this.k.key, frame.subarray(h.length),
      ));
    } catch {
      return this._drop('authentication');
    }
    // Two decryptions of one counter may overlap; the second one to finish loses.
    if (this._replayed(h.ctr)) return this._drop('replayed');
    this.seen.add(h.ctr);
    if (h.ctr > this.highest) {
      this.highest = h.ctr;
      for (const c of this.seen) if (c + this.window <= this.highest) this.seen.delete(c);
    }
    this.received++;
    return plain;
  }
}

/** Data-channel plaintexts of §7: a type byte (0x01 text, 0x02 binary), then the message. */
export function encodeData(message) {
  const body = typeof message === 'string' ? te.encode(message) : new Uint8Array(message);
  const out = new Uint8Array(body.length + 1);
  out[0] = typeof message === 'string' ? 0x01 : 0x02;
  out.set(body, 1);
  return out;
}

/** The message of a data plaintext (string or Uint8Array), or null when malformed. */
export function decodeData(plain) {
  if (plain[0] === 0x02) return plain.slice(1);
  if (plain[0] !== 0x01) return null;
  try { return new TextDecoder('utf-8', { fatal: true }).decode(plain.subarray(1)); } catch { return null; }
}
