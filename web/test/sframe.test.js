// The browser's SFrame (web/src/sframe.js) against crypto/tests/vectors/sframe-v1.json (made
// by the Rust side) and RFC 9605's header vectors; the fingerprint parser against the
// corpus the Rust parser is checked on (crypto/tests/vectors/fingerprint-v1.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Receiver, Sender, decodeData, decodeHeader, deriveKid, encodeData, encodeHeader, importBaseKey, seal } from '../src/sframe.js';
import { parseFingerprints } from '../src/fingerprint.js';
import { fromHex, toHex } from '../src/bytes.js';

const vectors = (name) => JSON.parse(readFileSync(new URL(`../../crypto/tests/vectors/${name}`, import.meta.url)));
const handshakes = vectors('handshake-v1.json');
const sframe = vectors('sframe-v1.json');
const rfc = vectors('rfc9605-suite5.json');

test('every SFrame vector: the same bytes, and they open', async () => {
  assert.ok(sframe.entries.length >= 8);
  for (const [n, e] of sframe.entries.entries()) {
    const o = handshakes.cases[e.handshake].outputs;
    assert.equal(e.base_key, e.direction === 'caller->callee' ? o.media_caller : o.media_callee, `entry ${n}`);
    const k = await deriveKid(await importBaseKey(fromHex(e.base_key)), e.kid);
    const wire = await seal(k, BigInt(e.ctr), fromHex(e.plaintext));
    assert.equal(toHex(wire), e.ciphertext, `entry ${n}`);
    const rx = new Receiver(k);
    assert.equal(toHex(await rx.open(fromHex(e.ciphertext))), e.plaintext, `entry ${n}`);
    if (e.kid % 2 === 1) assert.notEqual(decodeData(fromHex(e.plaintext)), null);
  }
});

test('RFC 9605 suite 0x0005 vector: key, salt and frame', async () => {
  for (const c of rfc.cases) {
    const k = await deriveKid(await importBaseKey(fromHex(c.base_key)), c.kid);
    assert.equal(toHex(k.salt), c.sframe_salt);
    // The RFC's frame carries metadata in its AAD; recompute with it to check the key.
    const header = encodeHeader(c.kid, c.ctr);
    const aad = new Uint8Array([...header, ...fromHex(c.metadata)]);
    assert.equal(toHex(aad), c.aad);
    const n = new Uint8Array(12);
    new DataView(n.buffer).setBigUint64(4, BigInt(c.ctr));
    const iv = n.map((b, i) => b ^ k.salt[i]);
    assert.equal(toHex(iv), c.nonce);
    const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad, tagLength: 128 }, k.key, fromHex(c.pt)));
    assert.equal(toHex(header) + toHex(ct), c.ct);
  }
});

test('headers: short and long KIDs and counters, and truncated input', () => {
  const cases = [[0, 0, '00'], [3, 7, '37'], [0, 8, '0808'], [2, 255, '28ff'], [0, 256, '090100'], [1, 2 ** 32, '1c0100000000'], [0x123, 0x4567, '9901234567']];
  for (const [kid, ctr, hex] of cases) {
    assert.equal(toHex(encodeHeader(kid, ctr)), hex);
    const h = decodeHeader(fromHex(hex));
    assert.deepEqual([h.kid, h.ctr, h.length], [BigInt(kid), BigInt(ctr), hex.length / 2]);
  }
  assert.equal(decodeHeader(fromHex('09')), null);
  assert.equal(decodeHeader(new Uint8Array(0)), null);
});

test('tampering, replay, the other KID and a wrong key are dropped and counted', async () => {
  const o = handshakes.cases[0].outputs;
  const base = await importBaseKey(fromHex(o.media_caller));
  const tx = new Sender(await deriveKid(base, 0));
  const rx = new Receiver(await deriveKid(base, 0));
  const frame = await tx.seal(new Uint8Array(60).fill(7));
  assert.deepEqual(await rx.open(frame), new Uint8Array(60).fill(7));
  const flipped = await tx.seal(new Uint8Array(60).fill(8));
  flipped[10] ^= 1;
  assert.equal(await rx.open(flipped), null);
  assert.equal(await rx.open(frame), null);
  const data = await new Sender(await deriveKid(base, 1)).seal(encodeData('hi'));
  assert.equal(await rx.open(data), null);
  const wrong = new Receiver(await deriveKid(await importBaseKey(fromHex(o.media_callee)), 0));
  assert.equal(await wrong.open(await tx.seal(new Uint8Array([1]))), null);
  assert.deepEqual(rx.reasons, { malformed: 0, wrong_kid: 1, replayed: 1, authentication: 1 });
  assert.equal(rx.received, 1);
  assert.equal(wrong.reasons.authentication, 1);
  // The flipped frame did not move the window: the original still opens.
  flipped[10] ^= 1;
  assert.deepEqual(await rx.open(flipped), new Uint8Array(60).fill(8));
  // Far behind the newest accepted counter: too old.
  const frames = [];
  for (let i = 0; i < 300; i++) frames.push(await tx.seal(new Uint8Array([i & 0xff])));
  assert.notEqual(await rx.open(frames[299]), null);
  assert.equal(await rx.open(frames[10]), null);
  assert.equal(rx.reasons.replayed, 2);
});

test('fingerprints: the same answers as the Rust parser on the shared corpus', () => {
  const corpus = vectors('fingerprint-v1.json');
  assert.ok(corpus.cases.length >= 20);
  for (const c of corpus.cases) {
    let got = null;
    try { got = parseFingerprints(c.sdp).binding; } catch (e) { assert.equal(e.code, 'fingerprint_mismatch', c.name); }
    assert.equal(got, c.binding, c.name);
  }
});
