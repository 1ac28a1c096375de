// End to end in real Chromium: every audio frame of a call is SFrame-encrypted with the
// handshake's keys (docs/PROTOCOL.md §7), the data channel too; a receiver with a wrong
// key plays silence and counts drops; a bad ML-KEM key is declined with `bad_key`; events
// that beat the offer's response to the caller are kept until it arrives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, serverAndBrowser, signIn } from './harness.js';

const env = serverAndBrowser();

const lastCall = 'const call = [...window.pqcall.calls.calls.values()].at(-1);';

/** Inbound audio energy (a sum over time) and the E2EE counters of the page's last call. */
const probe = (page) => page.evaluate(async () => {
  const call = [...window.pqcall.calls.calls.values()].at(-1);
  let energy = 0;
  (await call.pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'audio') energy = r.totalAudioEnergy ?? 0; });
  await call._e2ee.refreshStats();
  const { arrived, played, early } = call._e2ee.stats;
  return { energy, ...call.e2ee, arrived, played, early };
});

test('audio and data are end-to-end encrypted both ways; a wrong key plays silence', async () => {
  const alice = await signIn(env.browser, env.server.base, 'e2ee-alice');
  const bob = await signIn(env.browser, env.server.base, 'e2ee-bob');
  await connect(alice, bob, 'e2ee-bob');
  for (const p of [alice, bob]) {
    assert.match(await p.textContent('[data-testid=e2ee]'), /end-to-end encrypted · post-quantum \(ML-KEM-768 \+ AES-256-GCM\)/);
    // The code shows only after the tag and the DTLS certificate check passed.
    await p.waitForFunction(() => /^\d{3} \d{3}$/.test(document.querySelector('[data-testid=code]').textContent));
    // No voice activity in clear beside the encrypted frames (RFC 6464 not negotiated).
    assert.doesNotMatch(await p.evaluate(`(() => { ${lastCall} return call.offerSdp + call.answerSdp; })()`), /ssrc-audio-level/);
    // Both transforms ran in this call's worker (attached before the offer/answer).
    assert.deepEqual(await p.evaluate(`(() => { ${lastCall} return call._e2ee.attached; })()`), { send: 1, recv: 1 });
  }
  // Audio is heard: the decrypted stream has energy.
  for (const p of [alice, bob]) {
    await p.waitForFunction(async () => {
      const call = [...window.pqcall.calls.calls.values()].at(-1);
      let e = 0;
      (await call.pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'audio') e = r.totalAudioEnergy ?? 0; });
      return e > 0.01;
    }, null, { polling: 100, timeout: 20000 });
    const s = await probe(p);
    assert.ok(s.sent > 0 && s.received > 0, JSON.stringify(s));
    assert.equal(s.dropped, 0, 'nothing dropped once both sides had keys');
    // Every frame handed to the decoder was one that decrypted: none played in clear.
    assert.equal(s.played, s.received);
  }
  // Wait for the fail-closed check to have passed on both sides.
  for (const p of [alice, bob]) await p.waitForFunction(() => { const call = [...window.pqcall.calls.calls.values()].at(-1); return call._e2eeChecked === true; });

  // Data channel, both ways: SFrame inside, decrypted on the other side.
  const received = (p) => p.evaluate(`(() => { ${lastCall} return new Promise((r) => call.addEventListener('message', (e) => r(e.detail), { once: true })); })()`);
  const atBob = received(bob);
  await alice.waitForFunction(async () => { const call = [...window.pqcall.calls.calls.values()].at(-1); return call.send('hello bob'); });
  assert.equal(await atBob, 'hello bob');
  const atAlice = received(alice);
  await bob.waitForFunction(async () => { const call = [...window.pqcall.calls.calls.values()].at(-1); return call.send('hello alice'); });
  assert.equal(await atAlice, 'hello alice');

  // Bob's receiver gets a wrong key: every frame from alice fails, bob hears silence.
  await bob.evaluate(`(async () => {
    ${lastCall}
    const wrong = await crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), 'HKDF', false, ['deriveKey', 'deriveBits']);
    call._e2ee.worker.postMessage({ type: 'keys', send: call._e2ee.keys.send, recv: wrong, sendKid: 2, recvKid: 0 });
  })()`);
  const dropsAbove = (n) => bob.waitForFunction(async (min) => { const call = [...window.pqcall.calls.calls.values()].at(-1); return (await call._e2ee.refreshStats()).dropped >= min; }, n, { polling: 100, timeout: 20000 });
  await dropsAbove(50);
  const before = await probe(bob);
  await dropsAbove(before.dropped + 100);
  const later = await probe(bob);
  assert.equal(later.received, before.received, 'no frame decrypts under the wrong key');
  assert.equal(later.played, before.played, 'nothing reaches the decoder');
  assert.ok(later.energy - before.energy < 1e-6, `silence: energy ${before.energy} -> ${later.energy}`);
  // Alice, with the right keys, still hears bob.
  const a = await probe(alice);
  assert.equal(a.dropped, 0);
  await alice.click('[data-testid=hangup]');
  await bob.waitForSelector('[data-testid=call-state][data-state=ended]');
  assert.equal(await bob.textContent('[data-testid=code]'), '', 'no code after the call');
  await alice.context().close();
  await bob.context().close();
});

test('a bad ML-KEM key: the callee declines with bad_key and both pages say so', async () => {
  const alice = await signIn(env.browser, env.server.base, 'badkey-alice');
  const bob = await signIn(env.browser, env.server.base, 'badkey-bob');
  // Alice's client sends an encapsulation key that fails FIPS 203's modulus check.
  await alice.evaluate(() => {
    const c = window.pqcall.client;
    const offer = c.offer.bind(c);
    c.offer = (to, sdp, kem) => offer(to, sdp, { ...kem, ek: btoa(String.fromCharCode(...new Uint8Array(1184).fill(0xff))) });
  });
  await alice.fill('#callee', 'badkey-bob');
  await alice.click('[data-testid=call]');
  await bob.waitForSelector('[data-testid=incoming]:not([hidden])');
  await bob.click('[data-testid=accept]');
  await bob.waitForSelector('[data-testid=error]:not([hidden])');
  assert.match(await bob.textContent('[data-testid=error]'), /ML-KEM check/);
  await alice.waitForSelector('[data-testid=call-state][data-state=declined]');
  assert.match(await alice.textContent('[data-testid=call-state]'), /ML-KEM check/);
  assert.equal(await bob.evaluate(`(() => { ${lastCall} return call.reason; })()`), 'bad_key');
  await alice.context().close();
  await bob.context().close();
});

test("the answer beats the offer's response to the caller: the call still connects", async () => {
  const alice = await signIn(env.browser, env.server.base, 'race-alice');
  const bob = await signIn(env.browser, env.server.base, 'race-bob');
  let release;
  const held = new Promise((r) => { release = r; });
  await alice.route('**/api/calls/offer', async (route) => {
    const response = await route.fetch();
    await held;
    await route.fulfill({ response });
  });
  await alice.fill('#callee', 'race-bob');
  await alice.click('[data-testid=call]');
  await bob.waitForSelector('[data-testid=incoming]:not([hidden])');
  await bob.click('[data-testid=accept]');
  // Bob has answered (call.answer and his ICE are on their way to alice) before alice
  // learns the call id.
  await bob.waitForSelector('[data-testid=call-state][data-state=connecting]');
  await alice.waitForFunction(() => window.pqcall.calls._early.size === 1);
  release();
  for (const p of [alice, bob]) {
    await p.waitForSelector('[data-testid=call-state][data-state=active]', { timeout: 20000 });
    await p.waitForSelector('[data-testid=e2ee][data-state=encrypted]', { timeout: 20000 });
  }
  assert.equal(await alice.textContent('[data-testid=code]'), await bob.textContent('[data-testid=code]'));
  await alice.context().close();
  await bob.context().close();
});

test('a browser without encoded transforms refuses calls, and says so', async () => {
  const alice = await signIn(env.browser, env.server.base, 'noe2ee-alice');
  const bob = await signIn(env.browser, env.server.base, 'noe2ee-bob');
  const strip = () => { delete window.RTCRtpScriptTransform; delete RTCRtpSender.prototype.createEncodedStreams; };
  // As the caller: an error on the page, and no offer leaves the browser.
  let offers = 0;
  await alice.route('**/api/calls/offer', (route) => { offers++; return route.continue(); });
  await alice.evaluate(strip);
  await alice.fill('#callee', 'noe2ee-bob');
  await alice.click('[data-testid=call]');
  await alice.waitForSelector('[data-testid=error]:not([hidden])');
  assert.match(await alice.textContent('[data-testid=error]'), /cannot encrypt call audio end to end/);
  assert.equal(offers, 0);
  // As the callee: Accept declines with e2ee_unsupported; both pages say why.
  await bob.fill('#callee', 'noe2ee-alice');
  await bob.click('[data-testid=call]');
  await alice.waitForSelector('[data-testid=incoming]:not([hidden])');
  await alice.click('[data-testid=accept]');
  await alice.waitForSelector('[data-testid=error]:has-text("cannot encrypt call audio end to end")');
  await bob.waitForSelector('[data-testid=call-state][data-state=declined]');
  assert.match(await bob.textContent('[data-testid=call-state]'), /cannot encrypt call audio end to end/);
  await alice.context().close();
  await bob.context().close();
});

test("a callee tag that does not verify: the caller ends the call, both pages say why, no code", async () => {
  const alice = await signIn(env.browser, env.server.base, 'tag-alice');
  const bob = await signIn(env.browser, env.server.base, 'tag-bob');
  // Bob's client flips a bit of the tag it sends back (what a relay in the middle causes).
  await bob.evaluate(() => {
    const c = window.pqcall.client;
    const confirm = c.confirm.bind(c);
    c.confirm = (id, kem) => {
      const tag = Uint8Array.from(atob(kem.tag), (ch) => ch.charCodeAt(0));
      tag[0] ^= 1;
      return confirm(id, { ...kem, tag: btoa(String.fromCharCode(...tag)) });
    };
  });
  await alice.fill('#callee', 'tag-bob');
  await alice.click('[data-testid=call]');
  await bob.waitForSelector('[data-testid=incoming]:not([hidden])');
  await bob.click('[data-testid=accept]');
  await alice.waitForSelector('[data-testid=call-state][data-state=failed]', { timeout: 20000 });
  assert.match(await alice.textContent('[data-testid=call-state]'), /did not confirm: someone may be in the middle/);
  await bob.waitForSelector('[data-testid=call-state][data-state=ended]');
  assert.match(await bob.textContent('[data-testid=call-state]'), /did not confirm/);
  for (const p of [alice, bob]) assert.equal(await p.textContent('[data-testid=code]'), '', 'no code on an ended call');
  assert.equal(await alice.evaluate(`(() => { ${lastCall} return call.e2ee.sent; })()`), 0, 'no frame ever sent');
  await alice.context().close();
  await bob.context().close();
});

test('fail closed: a side whose frames are not being encrypted ends the call with e2ee_failed', async () => {
  const alice = await signIn(env.browser, env.server.base, 'closed-alice');
  const bob = await signIn(env.browser, env.server.base, 'closed-bob');
  // Bob's worker never gets its keys (as when a transform is silently ignored): nothing he
  // captures is sent, so his sent count never grows.
  await bob.evaluate(async () => {
    const { CallE2ee } = await import('./dist/pqcall.js');
    CallE2ee.prototype.setKeys = async function setKeys() { this._set('keyed'); };
  });
  await alice.fill('#callee', 'closed-bob');
  await alice.click('[data-testid=call]');
  await bob.waitForSelector('[data-testid=incoming]:not([hidden])');
  await bob.click('[data-testid=accept]');
  await bob.waitForSelector('[data-testid=call-state][data-state=failed]', { timeout: 20000 });
  assert.match(await bob.textContent('[data-testid=call-state]'), /could not be end-to-end encrypted/);
  assert.match(await bob.textContent('[data-testid=e2ee]'), /not encrypted: call refused/);
  await alice.waitForSelector('[data-testid=call-state][data-state=ended]');
  assert.match(await alice.textContent('[data-testid=call-state]'), /could not be end-to-end encrypted/);
  await alice.context().close();
  await bob.context().close();
});
