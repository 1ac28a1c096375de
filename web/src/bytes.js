// Byte helpers: standard padded base64 (docs/PROTOCOL.md §4), hex, UTF-8, constant-time compare.

const te = new TextEncoder();

/** @param {string} s @returns {Uint8Array} */
export const utf8 = (s) => te.encode(s);

/** @param {Uint8Array} b @returns {string} standard padded base64 */
export function toBase64(b) {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * Strict decode: only the canonical padded encoding of exactly `len` bytes.
 * @param {string} s @param {number} len @param {string} field @returns {Uint8Array}
 */
export function fromBase64(s, len, field) {
  if (typeof s !== 'string' || s.length !== Math.ceil(len / 3) * 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) {
    throw new HandshakeError('bad_encoding', `${field} must be ${len} bytes of standard padded base64`);
  }
  const bin = atob(s);
  const out = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  if (out.length !== len || toBase64(out) !== s) throw new HandshakeError('bad_encoding', `${field} is not canonical base64`);
  return out;
}

/** @param {Uint8Array} b @returns {string} */
export const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** @param {string} h @returns {Uint8Array} */
export const fromHex = (h) => Uint8Array.from(h.match(/../g) || [], (x) => parseInt(x, 16));

/** Constant-time equality of two byte arrays of the same length. */
export function ctEqual(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** A handshake step failed; `code` says which check. */
export class HandshakeError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
