// HTTPS with `--tls-self-signed`: Chromium (told to accept the self-signed certificate,
// as a person would after comparing its fingerprint) loads the demo, which is a secure
// context, speaks HTTP/2 for the event stream and every POST, and makes a whole call.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, launch, startServer } from './harness.js';

/** A signed-in page in its own context; `protocols` collects each response's HTTP version. */
async function signIn(browser, base, user) {
  const ctx = await browser.newContext({ permissions: ['microphone'], ignoreHTTPSErrors: true });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.error(`[${user}] pageerror`, e));
  const protocols = [];
  const cdp = await ctx.newCDPSession(page);
  cdp.on('Network.responseReceived', (e) => protocols.push({ url: e.response.url, protocol: e.response.protocol }));
  await cdp.send('Network.enable');
  await page.goto(base);
  await page.fill('#user', user);
  await page.click('[data-testid=signin]');
  await page.waitForSelector('[data-testid=stream-state][data-state=open]');
  return { page, protocols };
}

test('the demo over HTTPS and HTTP/2: a whole call', async () => {
  const server = await startServer(['--tls-self-signed']);
  assert.match(server.base, /^https:\/\/127\.0\.0\.1:\d+$/);
  const browser = await launch();
  after(async () => { await browser.close(); await server.stop(); });
  const alice = await signIn(browser, server.base, 'alice');
  const bob = await signIn(browser, server.base, 'bob');
  assert.equal(await alice.page.evaluate(() => window.isSecureContext), true);
  await connect(alice.page, bob.page, 'bob');

  for (const { page, protocols } of [alice, bob]) {
    const stream = protocols.filter((r) => new URL(r.url).pathname === '/api/events');
    assert.ok(stream.length > 0, 'the event stream was opened');
    assert.deepEqual([...new Set(stream.map((r) => r.protocol))], ['h2']);
    // The POSTs as the page's own timing API sees them.
    const posts = await page.evaluate(() => performance.getEntriesByType('resource')
      .filter((e) => new URL(e.name).pathname.startsWith('/api/calls/'))
      .map((e) => e.nextHopProtocol));
    assert.ok(posts.length >= 2, `call POSTs: ${posts}`);
    assert.deepEqual([...new Set(posts)], ['h2']);
  }
  await alice.page.click('[data-testid=hangup]');
  await bob.page.waitForSelector('[data-testid=call-state][data-state=ended]');
});
