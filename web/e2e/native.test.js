// Chromium <-> a native webrtc-rs client (examples/native_peer.rs), both directions, through
// a real pqcall server: same safety code, and every audio frame and data-channel message is
// SFrame-encrypted by one side and decrypts on the other (docs/PROTOCOL.md §7).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, signIn, startNativePeer } from './harness.js';

const env = serverAndBrowser();

const lastCall = 'const call = [...window.pqcall.calls.calls.values()].at(-1);';
const stats = (page) => page.evaluate(`(async () => { ${lastCall} await call._e2ee.refreshStats(); return { ...call.e2ee, played: call._e2ee.stats.played }; })()`);

/** Waits for the E2EE state "encrypted"; on a timeout, says where the call stands. */
async function encrypted(page) {
  try {
    await page.waitForSelector('[data-testid=e2ee][data-state=encrypted]', { timeout: 20000 });
  } catch (e) {
    const where = await page.evaluate(`(() => { ${lastCall}
      return { state: call.state, reason: call.reason, e2ee: call._e2ee?.state, stats: call._e2ee?.stats, pc: call.pc?.connectionState, timeline: call.timeline }; })()`);
    throw new Error(`not encrypted: ${JSON.stringify(where)}`, { cause: e });
  }
}

/** The browser side is in an encrypted call: checks frames and data both ways, hangs up. */
async function exchange(page, native) {
  await page.waitForSelector('[data-testid=call-state][data-state=active]', { timeout: 20000 });
  await encrypted(page);
  const nativeCode = (await native.next(/^safety code /)).match(/safety code (\d{3} \d{3}), e2ee: on/)[1];
  await page.waitForFunction(() => /^\d{3} \d{3}$/.test(document.querySelector('[data-testid=code]').textContent));
  assert.equal(await page.textContent('[data-testid=code]'), nativeCode, 'the same safety code');
  // 50 frames (one second) from the native side decrypted here.
  await page.waitForFunction(async () => { const call = [...window.pqcall.calls.calls.values()].at(-1); return (await call._e2ee.refreshStats()).received >= 50; }, null, { polling: 100, timeout: 20000 });
  const reply = page.evaluate(`(() => { ${lastCall} return new Promise((r) => call.addEventListener('message', (e) => r(e.detail), { once: true })); })()`);
  assert.equal(await page.evaluate(`(async () => { ${lastCall} return call.send('hello native'); })()`), true);
  assert.equal(await reply, 'echo: hello native', 'sealed by the browser, opened natively, and back');
  const browserSide = await stats(page);
  await page.click('[data-testid=hangup]');
  const report = await native.report;
  assert.equal(report.outcome, 'hangup');
  // Native -> browser: nothing dropped, nothing played in clear.
  assert.equal(browserSide.dropped, 0, JSON.stringify(browserSide));
  assert.equal(browserSide.played, browserSide.received);
  assert.ok(browserSide.received <= report.sent);
  // Browser -> native: every frame the browser had sent by then reached the native side
  // and none failed to decrypt. A native caller gets its keys one confirm later than the
  // browser callee, so the browser's first frames may arrive before them: those are
  // dropped as early (§7), never counted as decrypted.
  assert.equal(report.dropped, 0, JSON.stringify(report));
  assert.ok(report.received + report.early >= browserSide.sent, `${JSON.stringify(report)} vs ${JSON.stringify(browserSide)}`);
  assert.ok(report.received > 0, JSON.stringify(report));
  assert.equal(report.messages, 1);
  assert.equal(report.code, nativeCode);
}

test('Chromium calls a native client: encrypted audio and data both ways', async () => {
  const native = await startNativePeer(env.server.base, 'native-bob', ['--answer']);
  const alice = await signIn(env.browser, env.server.base, 'web-alice');
  await alice.fill('#callee', 'native-bob');
  await alice.click('[data-testid=call]');
  await exchange(alice, native);
  await alice.context().close();
});

test('a native client calls Chromium: encrypted audio and data both ways', async () => {
  const bob = await signIn(env.browser, env.server.base, 'web-bob');
  const native = await startNativePeer(env.server.base, 'native-alice', ['--call', 'web-bob']);
  await bob.waitForSelector('[data-testid=incoming]:not([hidden])');
  await bob.click('[data-testid=accept]');
  await exchange(bob, native);
  await bob.context().close();
});
