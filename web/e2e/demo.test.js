// End to end in real browsers: two users call each other through a real pqcall server
// with the ML-KEM handshake, see the same safety code, hear each other; decline; chat;
// a message sent while a stream is down arrives once; two tabs share one stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connect, openStreams, serverAndBrowser, signIn, startServer } from './harness.js';

const env = serverAndBrowser();

const bytesReceived = (page) => page.evaluate(async () => {
  const call = [...window.pqcall.calls.calls.values()].at(-1);
  let n = 0;
  (await call.pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'audio') n = r.bytesReceived; });
  return n;
});

async function waitForGrowth(page) {
  const first = await bytesReceived(page);
  await page.waitForFunction(async (f) => {
    const call = [...window.pqcall.calls.calls.values()].at(-1);
    let n = 0;
    (await call.pc.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'audio') n = r.bytesReceived; });
    return n > f;
  }, first, { polling: 100, timeout: 20000 });
  return bytesReceived(page);
}

test('alice calls bob: connected, audio both ways, same code, hang up ends both', async () => {
  const alice = await signIn(env.browser, env.server.base, 'alice');
  const bob = await signIn(env.browser, env.server.base, 'bob');
  await connect(alice, bob, 'bob');
  const [codeA, codeB] = [await alice.textContent('[data-testid=code]'), await bob.textContent('[data-testid=code]')];
  assert.match(codeA, /^\d{3} \d{3}$/);
  assert.equal(codeA, codeB, 'both people see the same safety code');
  assert.ok((await waitForGrowth(alice)) > 0, 'alice hears bob');
  assert.ok((await waitForGrowth(bob)) > 0, 'bob hears alice');
  // The DTLS certificate in use is the one bound into the transcript.
  for (const p of [alice, bob]) await p.waitForFunction(() => document.getElementById('dtls').textContent.includes('matches'));
  const shots = fileURLToPath(new URL('../../docs/', import.meta.url));
  mkdirSync(shots, { recursive: true });
  await alice.screenshot({ path: `${shots}call-alice.png`, fullPage: true });
  await bob.screenshot({ path: `${shots}call-bob.png`, fullPage: true });
  await alice.click('[data-testid=hangup]');
  await alice.waitForSelector('[data-testid=call-state][data-state=ended]');
  await bob.waitForSelector('[data-testid=call-state][data-state=ended]');
  await alice.context().close();
  await bob.context().close();
});

test('bob declines: alice sees the call declined', async () => {
  const alice = await signIn(env.browser, env.server.base, 'alice2');
  const bob = await signIn(env.browser, env.server.base, 'bob2');
  await alice.fill('#callee', 'bob2');
  await alice.click('[data-testid=call]');
  await bob.waitForSelector('[data-testid=incoming]:not([hidden])');
  await bob.click('[data-testid=decline]');
  await alice.waitForSelector('[data-testid=call-state][data-state=declined]');
  await alice.context().close();
  await bob.context().close();
});

test('chat: a message arrives; one sent while the receiver is offline arrives once after', async () => {
  const alice = await signIn(env.browser, env.server.base, 'carol');
  const bob = await signIn(env.browser, env.server.base, 'dave');
  await alice.fill('#members', 'dave');
  await alice.fill('#title', 'plans');
  await alice.click('[data-testid=create]');
  await bob.waitForSelector('#chat:not([hidden])');
  await alice.fill('[data-testid=text]', 'hello dave');
  await alice.click('[data-testid=send]');
  await bob.waitForSelector('[data-testid=message]:has-text("hello dave")');
  // Typing shows on the other side.
  await bob.type('[data-testid=text]', 'h');
  await alice.waitForSelector('[data-testid=typing]:has-text("dave is typing")');

  // Bob's device goes offline: his stream drops.
  await bob.context().setOffline(true);
  await bob.waitForSelector('[data-testid=stream-state]:not([data-state=open])');
  await alice.fill('[data-testid=text]', 'sent while you were away');
  await alice.click('[data-testid=send]');
  await alice.waitForSelector('[data-testid=message]:has-text("sent while you were away")');
  await bob.context().setOffline(false);
  await bob.waitForSelector('[data-testid=stream-state][data-state=open]', { timeout: 20000 });
  await bob.waitForSelector('[data-testid=message]:has-text("sent while you were away")');
  const count = await bob.locator('[data-testid=message]', { hasText: 'sent while you were away' }).count();
  assert.equal(count, 1, 'exactly once');
  await alice.context().close();
  await bob.context().close();
});

test('two tabs of one user share one stream', async () => {
  // A server of its own, so no stream of another test is still being torn down.
  const own = await startServer();
  const ctx = await env.browser.newContext();
  const tab1 = await signIn(env.browser, own.base, 'erin', ctx);
  const tab2 = await signIn(env.browser, own.base, 'erin', ctx);
  assert.equal(await openStreams(own.base), 1, 'one stream for both tabs');
  const roles = [await tab1.textContent('#d-role'), await tab2.textContent('#d-role')].sort();
  assert.deepEqual(roles, ['follower', 'leader']);
  const frank = await signIn(env.browser, own.base, 'frank');
  await frank.fill('#members', 'erin');
  await frank.click('[data-testid=create]');
  await frank.fill('[data-testid=text]', 'to both tabs');
  await frank.click('[data-testid=send]');
  for (const t of [tab1, tab2]) await t.waitForSelector('[data-testid=message]:has-text("to both tabs")');
  // The leader tab closes: the other takes over the stream.
  const leader = (await tab1.textContent('#d-role')) === 'leader' ? tab1 : tab2;
  const follower = leader === tab1 ? tab2 : tab1;
  await leader.close();
  await follower.waitForFunction(() => document.getElementById('d-role').textContent === 'leader');
  await follower.waitForSelector('[data-testid=stream-state][data-state=open]');
  await frank.fill('[data-testid=text]', 'after the handover');
  await frank.click('[data-testid=send]');
  await follower.waitForSelector('[data-testid=message]:has-text("after the handover")');
  await ctx.close();
  await frank.context().close();
  await own.stop();
});
