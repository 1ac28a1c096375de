// The WebCrypto ML-KEM path in Chromium reproduces the handshake vectors: the key from
// each seed, the shared secret from each ciphertext, and the whole key schedule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { serverAndBrowser } from './harness.js';

const doc = JSON.parse(readFileSync(new URL('../../crypto/tests/vectors/handshake-v1.json', import.meta.url)));
const env = serverAndBrowser();

test('Chromium WebCrypto ML-KEM-768 reproduces every vector', async () => {
  const page = await env.browser.newPage();
  await page.goto(env.server.base);
  const results = await page.evaluate(async (cases) => {
    const { handshake } = await import('/dist/pqcall.js');
    const { webCryptoKem, transcriptHash, keySchedule } = handshake;
    const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    const unhex = (h) => Uint8Array.from(h.match(/../g), (x) => parseInt(x, 16));
    const out = [];
    for (const c of cases) {
      const { ek, decapsulate } = await webCryptoKem.keygen(unhex(c.inputs.keygen_seed));
      const ss = await decapsulate(unhex(c.outputs.ct));
      const i = c.inputs;
      const th = transcriptHash({ callId: i.call_id, callerId: i.caller_id, calleeId: i.callee_id, fpA: i.fp_a, fpB: i.fp_b, ek, commit: unhex(c.outputs.commit), ct: unhex(c.outputs.ct), nA: unhex(i.n_a) });
      const k = keySchedule(ss, th);
      out.push({ ek: hex(ek), ss: hex(ss), th: hex(th), code: k.code });
    }
    // And a fresh random round trip: WebCrypto encapsulates, WebCrypto decapsulates.
    const { ek, decapsulate } = await webCryptoKem.keygen();
    const { ct, ss } = await webCryptoKem.encapsulate(ek);
    const back = await decapsulate(ct);
    return { out, roundTrip: hex(ss) === hex(back), backend: (await handshake.defaultKem()).name };
  }, doc.cases);
  assert.equal(results.backend, 'webcrypto', 'Chromium uses WebCrypto ML-KEM');
  assert.ok(results.roundTrip);
  doc.cases.forEach((c, n) => {
    assert.equal(results.out[n].ek, c.outputs.ek, `${c.name}: ek`);
    assert.equal(results.out[n].ss, c.outputs.ss, `${c.name}: ss`);
    assert.equal(results.out[n].th, c.outputs.th, `${c.name}: TH`);
    assert.equal(results.out[n].code, c.outputs.code, `${c.name}: code`);
  });
});
