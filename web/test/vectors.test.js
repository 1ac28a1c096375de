// Reproduces every value of crypto/tests/vectors/handshake-v1.json with the JS
// implementation (noble ML-KEM path; the WebCrypto path is checked in Chromium by
// e2e/vectors.test.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  H, calleeAnswer, calleeConfirm, callerFinish, callerStart, callerVerify, commitment,
  fingerprintFromSdp, keySchedule, nobleKem, transcriptHash,
} from '../src/handshake.js';
import { fromHex, toHex, fromBase64 } from '../src/bytes.js';

const doc = JSON.parse(readFileSync(new URL('../../crypto/tests/vectors/handshake-v1.json', import.meta.url)));
const b64hex = (s, n) => toHex(fromBase64(s, n, 'x'));

test('the vector file is version 1 with at least five cases', () => {
  assert.equal(doc.version, 1);
  assert.ok(doc.cases.length >= 5);
});

for (const c of doc.cases) {
  test(`vector ${c.name}: every intermediate and final value`, async () => {
    const i = c.inputs;
    const o = c.outputs;
    const ctx = { callId: i.call_id, callerId: i.caller_id, calleeId: i.callee_id, fpA: i.fp_a, fpB: i.fp_b };
    const { caller, offer } = await callerStart({ kem: nobleKem, seed: fromHex(i.keygen_seed), nA: fromHex(i.n_a) });
    assert.equal(b64hex(offer.ek, 1184), o.ek);
    assert.equal(b64hex(offer.commit, 32), o.commit);
    const { callee, answer } = await calleeAnswer(offer, { kem: nobleKem, m: fromHex(i.encaps_m) });
    assert.equal(b64hex(answer.ct, 1088), o.ct);
    assert.equal(toHex(callee.ss), o.ss);
    const th = transcriptHash({ ...ctx, ek: fromHex(o.ek), commit: fromHex(o.commit), ct: fromHex(o.ct), nA: fromHex(i.n_a) });
    assert.equal(toHex(th), o.th);
    const ks = keySchedule(fromHex(o.ss), th);
    assert.equal(toHex(ks.prk), o.prk);
    assert.equal(toHex(ks.sas), o.sas);
    const { waiting, confirm } = await callerFinish(caller, answer, ctx);
    assert.equal(b64hex(confirm.tag, 32), o.tag_caller);
    assert.equal(b64hex(confirm.nonce, 32), i.n_a);
    const { keys, reply } = calleeConfirm(callee, confirm, ctx);
    assert.equal(b64hex(reply.tag, 32), o.tag_callee);
    const mine = callerVerify(waiting, reply);
    for (const k of [keys, mine]) {
      assert.equal(toHex(k.mediaCaller), o.media_caller);
      assert.equal(toHex(k.mediaCallee), o.media_callee);
      assert.equal(k.code, o.code);
    }
  });
}

test('H is SHA3-256 of length-prefixed parts', () => {
  // enc("") = 00000000; H of one empty part equals sha3-256(00000000).
  assert.equal(toHex(H('')), toHex(H(new Uint8Array(0))));
  assert.equal(toHex(commitment(new Uint8Array(32))).length, 64);
});

test('tampering is caught at the right step', async () => {
  const ctx = { callId: 'c', callerId: 'a', calleeId: 'b', fpA: 'x', fpB: 'y' };
  const run = async (tamper) => {
    const { caller, offer } = await callerStart({ kem: nobleKem });
    const { callee, answer } = await calleeAnswer(offer, { kem: nobleKem });
    const { waiting, confirm } = await callerFinish(caller, answer, ctx);
    const c2 = tamper === 'nonce' ? { ...confirm, nonce: flip(confirm.nonce) } : tamper === 'tag' ? { ...confirm, tag: flip(confirm.tag) } : confirm;
    const ctx2 = tamper === 'ctx' ? { ...ctx, fpB: 'z' } : ctx;
    const { reply } = calleeConfirm(callee, c2, ctx2);
    return callerVerify(waiting, tamper === 'reply' ? { tag: flip(reply.tag) } : reply);
  };
  const flip = (b64) => (b64[0] === 'A' ? 'B' : 'A') + b64.slice(1);
  await run(null);
  for (const t of ['nonce', 'tag', 'ctx', 'reply']) {
    await assert.rejects(run(t), (e) => e.code === 'key_confirmation_failed', t);
  }
  await assert.rejects(calleeAnswer({ ek: 'AAAA', commit: 'AAAA' }, { kem: nobleKem }), (e) => e.code === 'bad_encoding');
});

test('fingerprints are extracted like the Rust crate does', () => {
  const fixtures = new URL('../../crypto/tests/fixtures/', import.meta.url);
  assert.equal(
    fingerprintFromSdp(readFileSync(new URL('chromium-offer.sdp', fixtures), 'utf8')),
    'sha-256 D5:AA:97:12:8F:C0:6E:F0:24:3F:81:01:74:09:63:B1:2B:B8:25:7F:13:D3:8D:4D:5E:94:F7:B7:1C:14:D8:8F',
  );
  assert.equal(
    fingerprintFromSdp(readFileSync(new URL('webrtc-rs-offer.sdp', fixtures), 'utf8')),
    'sha-256 BD:22:1C:6C:48:14:30:0C:A2:EC:D2:D8:33:EC:C0:96:C5:88:D0:4D:11:CB:F8:24:EE:78:4C:25:28:AD:C3:2C',
  );
  assert.throws(() => fingerprintFromSdp(readFileSync(new URL('chromium-offer-no-fingerprint.sdp', fixtures), 'utf8')), { code: 'fingerprint_mismatch' });
  assert.equal(fingerprintFromSdp('v=0\r\na=fingerprint:SHA-256 ab:cd\r\n'), 'sha-256 AB:CD');
});
