// The DTLS fingerprint rule of docs/PROTOCOL.md §6, exactly as crypto/src/fingerprint.rs
// applies it (the two are checked against one corpus, crypto/tests/vectors/fingerprint-v1.json):
// every `a=fingerprint:` line is read; its value is two tokens split on ASCII space, tab,
// form feed or CR, neither containing ","; hash name lower-cased and hex upper-cased, ASCII only; all lines of one
// hash function must agree and at least one must exist, else the SDP is refused
// (`fingerprint_mismatch`); the binding is every distinct value, sorted, joined with ",".

import { HandshakeError } from './bytes.js';

const PREFIX = 'a=fingerprint:';
const SPACE = /[ \t\f\r]+/;
const lowerAscii = (s) => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
const upperAscii = (s) => s.replace(/[a-z]+/g, (m) => m.toUpperCase());
// Bytewise order of the UTF-8 encodings (JS's default compares UTF-16 code units).
const te = new TextEncoder();
function bytewise(a, b) {
  const [x, y] = [te.encode(a), te.encode(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/**
 * The fingerprints of an SDP, or a HandshakeError('fingerprint_mismatch').
 * @param {string} sdp
 * @returns {{binding: string, values: Array<[string, string]>}}
 */
export function parseFingerprints(sdp) {
  const found = new Map();
  for (const raw of String(sdp ?? '').split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!line.startsWith(PREFIX)) continue;
    const parts = line.slice(PREFIX.length).split(SPACE).filter(Boolean);
    // "," joins the bound values: inside one it would make the binding ambiguous.
    if (parts.length !== 2 || parts.some((p) => p.includes(','))) throw new HandshakeError('fingerprint_mismatch', 'a fingerprint line is malformed');
    const [hash, hex] = [lowerAscii(parts[0]), upperAscii(parts[1])];
    if (found.has(hash) && found.get(hash) !== hex) {
      throw new HandshakeError('fingerprint_mismatch', 'two different fingerprints for one hash function');
    }
    found.set(hash, hex);
  }
  if (!found.size) throw new HandshakeError('fingerprint_mismatch', 'the SDP has no fingerprint');
  const items = [...found].map(([h, x]) => `${h} ${x}`).sort(bytewise);
  return { binding: items.join(','), values: [...found] };
}

/** The value bound into the transcript (throws like `parseFingerprints`). */
export const fingerprintFromSdp = (sdp) => parseFingerprints(sdp).binding;

const DIGESTS = { 'sha-256': 'SHA-256', 'sha-384': 'SHA-384', 'sha-512': 'SHA-512' };

/**
 * Whether a DER certificate matches a bound value of the same hash function. False when
 * none of the bound hash functions can be computed here (fail closed).
 * @param {ArrayBuffer} der @param {string} sdp
 */
export async function certificateMatches(der, sdp) {
  for (const [hash, hex] of parseFingerprints(sdp).values) {
    if (!DIGESTS[hash]) continue;
    const digest = new Uint8Array(await crypto.subtle.digest(DIGESTS[hash], der));
    const got = Array.from(digest, (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
    if (got === hex) return true;
  }
  return false;
}
