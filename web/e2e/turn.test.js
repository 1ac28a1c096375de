// Calls through TURN: coturn from Debian's package on 127.0.0.1 with `use-auth-secret`,
// pqcall handing out TURN REST credentials for it (`GET /api/ice-servers`), and two
// Chromium pages that may use relay candidates only: the call connects through coturn
// and both sides decrypt each other's audio.
import { test, after } from 'node:test';
import { createHmac } from 'node:crypto';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect, coturn, freePort, launch, signIn, startNativePeer, startServer } from './harness.js';

const SECRET = 'turn-e2e-secret-0123456789';

const haveCoturn = spawnSync('sh', ['-c', 'command -v turnserver']).status === 0;

/** The local candidate type of the selected pair of the page's last call. */
const selectedType = (page) => page.evaluate(async () => {
  const call = [...window.pqcall.calls.calls.values()].at(-1);
  const stats = await call.pc.getStats();
  let pair;
  stats.forEach((r) => { if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId); });
  return pair ? stats.get(pair.localCandidateId)?.candidateType : null;
});

test('a call through coturn with credentials from pqcall, relay candidates only', { skip: !haveCoturn && 'no turnserver (apt-get install -y coturn)' }, async () => {
  const port = await freePort();
  const turn = await coturn(port, SECRET);
  const server = await startServer(['--turn-url', `turn:127.0.0.1:${port}?transport=udp`, '--turn-secret', SECRET]);
  const browser = await launch();
  after(async () => { await browser.close(); await server.stop(); turn.kill(); });
  const pages = [];
  for (const user of ['tina', 'ted']) {
    const page = await signIn(browser, server.base, user);
    await page.evaluate(() => { window.pqcall.calls.iceTransportPolicy = 'relay'; });
    pages.push(page);
  }
  const [tina, ted] = pages;
  await connect(tina, ted, 'ted');
  for (const p of pages) {
    assert.equal(await selectedType(p), 'relay', 'media goes through the TURN server');
    await p.waitForFunction(async () => {
      const call = [...window.pqcall.calls.calls.values()].at(-1);
      return (await call._e2ee.refreshStats()).received >= 25;
    }, null, { polling: 100, timeout: 20000 });
  }
});

/**
 * Relay candidates the page gathers with `iceServers` (relay only), and the error codes
 * of the TURN requests that failed (401: coturn refused the credentials).
 */
const gather = (page, iceServers) => page.evaluate(async (iceServers) => {
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: 'relay' });
  const relay = [];
  const errors = [];
  pc.addEventListener('icecandidate', (e) => { if (e.candidate?.type === 'relay') relay.push(e.candidate.candidate); });
  pc.addEventListener('icecandidateerror', (e) => errors.push(e.errorCode));
  pc.createDataChannel('probe');
  const done = new Promise((r) => pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') r(); }));
  await pc.setLocalDescription(await pc.createOffer());
  await done;
  pc.close();
  return { relay: relay.length, errors };
}, iceServers);

/** Credentials as coturn's use-auth-secret checks them, made here, independently of pqcall. */
function credentials(url, secret, expiresAt, user) {
  const username = `${expiresAt}:${user}`;
  return [{ urls: [url], username, credential: createHmac('sha1', secret).update(username).digest('base64') }];
}

test('coturn refuses expired credentials and credentials made with another secret', { skip: !haveCoturn && 'no turnserver (apt-get install -y coturn)' }, async () => {
  const port = await freePort();
  const turn = await coturn(port, SECRET);
  const url = `turn:127.0.0.1:${port}?transport=udp`;
  // A pqcall whose --turn-secret is not coturn's.
  const wrong = await startServer(['--turn-url', url, '--turn-secret', 'not-the-turn-secret']);
  const browser = await launch();
  after(async () => { await browser.close(); await wrong.stop(); turn.kill(); });
  const page = await signIn(browser, wrong.base, 'wendy');
  const now = Math.floor(Date.now() / 1000);
  // The control: fresh credentials with the right secret get a relay candidate.
  assert.ok((await gather(page, credentials(url, SECRET, now + 600, 'wendy'))).relay >= 1);
  const expired = await gather(page, credentials(url, SECRET, now - 60, 'wendy'));
  assert.equal(expired.relay, 0, 'expired credentials get no relay');
  assert.ok(expired.errors.includes(401), `expired: ${expired.errors}`);
  const served = await page.evaluate(() => window.pqcall.client.iceServers());
  const bad = await gather(page, served);
  assert.equal(bad.relay, 0, "pqcall's credentials under another secret get no relay");
  assert.ok(bad.errors.includes(401), `wrong secret: ${bad.errors}`);
});

test('the native client through coturn, relay candidates only, with Chromium', { skip: !haveCoturn && 'no turnserver (apt-get install -y coturn)' }, async () => {
  const port = await freePort();
  const turn = await coturn(port, SECRET);
  const server = await startServer(['--turn-url', `turn:127.0.0.1:${port}?transport=udp`, '--turn-secret', SECRET]);
  const browser = await launch();
  const native = await startNativePeer(server.base, 'nate', ['--answer', '--relay']);
  after(async () => { native.stop(); await browser.close(); await server.stop(); turn.kill(); });
  const page = await signIn(browser, server.base, 'rita');
  await page.evaluate(() => { window.pqcall.calls.iceTransportPolicy = 'relay'; });
  await page.fill('#callee', 'nate');
  await page.click('[data-testid=call]');
  await page.waitForSelector('[data-testid=e2ee][data-state=encrypted]', { timeout: 30000 });
  assert.equal(await selectedType(page), 'relay');
  await page.waitForFunction(async () => {
    const call = [...window.pqcall.calls.calls.values()].at(-1);
    return (await call._e2ee.refreshStats()).received >= 25;
  }, null, { polling: 100, timeout: 20000 });
  await page.click('[data-testid=hangup]');
  const report = await native.report;
  assert.equal(report.outcome, 'hangup');
  assert.ok(report.received > 0, JSON.stringify(report));
});
