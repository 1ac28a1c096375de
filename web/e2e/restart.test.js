// ICE restart inside a call (`/api/calls/update` → `call.update`): the caller restarts
// ICE with a new offer, the callee answers, the call stays up with audio both ways and
// the same keys; an updated SDP with another DTLS fingerprint ends the call with
// `fingerprint_mismatch` on the side that gets it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, serverAndBrowser, signIn } from './harness.js';

const env = serverAndBrowser();

async function activeCall(a, b) {
  const alice = await signIn(env.browser, env.server.base, a);
  const bob = await signIn(env.browser, env.server.base, b);
  await connect(alice, bob, b);
  return [alice, bob];
}

const received = (page) => page.evaluate(async () => {
  const call = [...window.pqcall.calls.calls.values()].at(-1);
  return (await call._e2ee.refreshStats()).received;
});

const iceUfrag = (page, which) => page.evaluate((w) => {
  const call = [...window.pqcall.calls.calls.values()].at(-1);
  return /a=ice-ufrag:(\S+)/.exec(call.pc[w].sdp)?.[1];
}, which);

test('the caller restarts ICE: new ICE credentials, same call, audio keeps flowing', async () => {
  const [alice, bob] = await activeCall('ria', 'rob');
  const before = await iceUfrag(bob, 'remoteDescription');
  const identity = (p) => p.evaluate(() => {
    const call = [...window.pqcall.calls.calls.values()].at(-1);
    return { id: call.id, code: document.querySelector('[data-testid=code]').textContent };
  });
  const was = [await identity(alice), await identity(bob)];
  assert.equal(was[0].code, was[1].code);
  await alice.evaluate(() => [...window.pqcall.calls.calls.values()].at(-1).restartIce());
  await bob.waitForFunction((old) => {
    const call = [...window.pqcall.calls.calls.values()].at(-1);
    return /a=ice-ufrag:(\S+)/.exec(call.pc.remoteDescription.sdp)?.[1] !== old;
  }, before, { timeout: 20000 });
  await alice.waitForFunction(() => {
    const call = [...window.pqcall.calls.calls.values()].at(-1);
    return call.pc.signalingState === 'stable' && !call._restarting;
  }, null, { timeout: 20000 });
  for (const p of [alice, bob]) {
    const n = await received(p);
    await p.waitForFunction(async (m) => {
      const call = [...window.pqcall.calls.calls.values()].at(-1);
      return (await call._e2ee.refreshStats()).received > m + 25;
    }, n, { polling: 100, timeout: 20000 });
    assert.equal(await p.getAttribute('[data-testid=call-state]', 'data-state'), 'active');
  }
  assert.notEqual(await iceUfrag(bob, 'remoteDescription'), before);
  assert.deepEqual([await identity(alice), await identity(bob)], was, 'same call id and safety code');
  await alice.context().close();
  await bob.context().close();
});

test('an update with another DTLS fingerprint ends the call with fingerprint_mismatch', async () => {
  const [alice, bob] = await activeCall('fia', 'fob');
  // The caller's own client would never send this: forge it through the API.
  await alice.evaluate(async () => {
    const mgr = window.pqcall.calls;
    const call = [...mgr.calls.values()].at(-1);
    const sdp = call.pc.localDescription.sdp.replace(/(a=fingerprint:\S+ )([0-9A-F]{2})/, (m, p, h) => p + (h === 'AA' ? 'BB' : 'AA'));
    await mgr.client.post('/api/calls/update', { call_id: call.id, sdp, kind: 'offer' }, { conn: true });
  });
  await bob.waitForFunction(() => {
    const call = [...window.pqcall.calls.calls.values()].at(-1);
    return call.state === 'failed' && call.reason === 'fingerprint_mismatch';
  }, null, { timeout: 20000 });
  await alice.waitForSelector('[data-testid=call-state][data-state=ended]', { timeout: 20000 });
  await alice.context().close();
  await bob.context().close();
});
