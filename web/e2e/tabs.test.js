// The demo as a person uses it, beyond the happy path: two tabs of the callee (exactly one
// acts on a call), a reload in the middle of a call, a denied microphone, and bad input
// in the forms, each failure shown on the page in words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, signIn } from './harness.js';

const env = serverAndBrowser();

const callState = (page) => page.getAttribute('[data-testid=call-state]', 'data-state');
const errorText = async (page) => {
  await page.waitForSelector('[data-testid=error]:not([hidden])');
  return page.textContent('[data-testid=error]');
};

test('two tabs of the callee: the tab that accepts acts, the other says so, five times over', async () => {
  const caller = await signIn(env.browser, env.server.base, 'tabby');
  const ctx = await env.browser.newContext({ permissions: ['microphone'] });
  const tab1 = await signIn(env.browser, env.server.base, 'tom', ctx);
  const tab2 = await signIn(env.browser, env.server.base, 'tom', ctx);
  for (let i = 0; i < 5; i++) {
    const [taker, other] = i % 2 ? [tab1, tab2] : [tab2, tab1];
    await caller.fill('#callee', 'tom');
    await caller.click('[data-testid=call]');
    // Ringing in every tab.
    for (const t of [tab1, tab2]) await t.waitForSelector('[data-testid=incoming]:not([hidden])');
    await taker.click('[data-testid=accept]');
    for (const p of [caller, taker]) {
      await p.waitForSelector('[data-testid=call-state][data-state=active]', { timeout: 20000 });
      await p.waitForSelector('[data-testid=e2ee][data-state=encrypted]', { timeout: 20000 });
    }
    await other.waitForSelector('[data-testid=incoming]', { state: 'hidden' });
    assert.match(await other.textContent('[data-testid=call-state]'), /answered in another tab/);
    await caller.waitForFunction(() => /^\d{3} \d{3}$/.test(document.querySelector('[data-testid=code]').textContent));
    assert.equal(await caller.textContent('[data-testid=code]'), await taker.textContent('[data-testid=code]'));
    await caller.click('[data-testid=hangup]');
    await taker.waitForSelector('[data-testid=call-state][data-state=ended]');
    // The outcome, and no code and no buttons.
    for (const p of [caller, taker]) {
      assert.equal(await p.textContent('[data-testid=code]'), '');
      assert.equal(await p.isVisible('[data-testid=hangup]'), false);
    }
  }
  await ctx.close();
  await caller.context().close();
});

test('a reload in the middle of a call ends it on both sides at once, and the tab stays signed in', async () => {
  const ann = await signIn(env.browser, env.server.base, 'reann');
  const ben = await signIn(env.browser, env.server.base, 'reben');
  await ann.fill('#callee', 'reben');
  await ann.click('[data-testid=call]');
  await ben.waitForSelector('[data-testid=incoming]:not([hidden])');
  await ben.click('[data-testid=accept]');
  await ann.waitForSelector('[data-testid=call-state][data-state=active]', { timeout: 20000 });
  await ben.reload();
  // The peer learns at once (not after the 30 s grace period of a lost connection).
  await ann.waitForSelector('[data-testid=call-state][data-state=ended]', { timeout: 5000 });
  assert.match(await ann.textContent('[data-testid=call-state]'), /closed or reloaded/);
  await ben.waitForSelector('[data-testid=stream-state][data-state=open]');
  assert.equal(await ben.textContent('#me'), 'reben');
  await ann.context().close();
  await ben.context().close();
});

test('a denied microphone: the caller sees why and sends no offer; the callee declines with no_microphone', async () => {
  // The browser's answer when the person denies the permission prompt.
  const deny = () => {
    navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
  };
  const ctx = await env.browser.newContext();
  await ctx.addInitScript(deny);
  const muted = await signIn(env.browser, env.server.base, 'nomic', ctx);
  const other = await signIn(env.browser, env.server.base, 'hasmic');
  const posts = [];
  muted.on('request', (r) => { if (r.method() === 'POST') posts.push(new URL(r.url()).pathname); });
  await muted.fill('#callee', 'hasmic');
  await muted.click('[data-testid=call]');
  assert.match(await errorText(muted), /microphone/);
  assert.ok(!posts.includes('/api/calls/offer'), 'no offer was sent');
  // As the callee.
  await other.fill('#callee', 'nomic');
  await other.click('[data-testid=call]');
  await muted.waitForSelector('[data-testid=incoming]:not([hidden])');
  await muted.click('[data-testid=accept]');
  assert.match(await errorText(muted), /microphone/);
  await other.waitForSelector('[data-testid=call-state][data-state=declined]');
  assert.match(await other.textContent('[data-testid=call-state]'), /no_microphone|microphone/);
  await ctx.close();
  await other.context().close();
});

test('bad input in every form is refused with a visible reason, and nothing typed is lost', async () => {
  const page = await signIn(env.browser, env.server.base, 'formy');
  // Calling oneself.
  await page.fill('#callee', 'formy');
  await page.click('[data-testid=call]');
  assert.match(await errorText(page), /Call failed/);
  // Joining a conversation that does not exist.
  await page.fill('#join-id', 'no-such-conversation');
  await page.click('#join-form button');
  assert.match(await errorText(page), /Could not join/);
  // A message far over the limit stays in the box.
  await page.fill('#members', 'formy2');
  await page.click('[data-testid=create]');
  await page.waitForSelector('#chat:not([hidden])');
  assert.equal(await page.inputValue('#members'), '', 'the create form is cleared');
  const long = 'x'.repeat(100_000);
  await page.fill('[data-testid=text]', long);
  await page.click('[data-testid=send]');
  assert.match(await errorText(page), /Not sent/);
  assert.equal((await page.inputValue('[data-testid=text]')).length, long.length);
  // Whitespace only: nothing is sent.
  await page.fill('[data-testid=text]', '   ');
  await page.click('[data-testid=send]');
  assert.equal(await page.locator('[data-testid=message]').count(), 0);
  await page.context().close();
  // A name the server refuses: its reason, not "development mode is off".
  const ctx = await env.browser.newContext();
  const fresh = await ctx.newPage();
  await fresh.goto(env.server.base);
  await fresh.evaluate(() => { document.getElementById('user').removeAttribute('maxlength'); });
  await fresh.fill('#user', 'n'.repeat(200));
  await fresh.click('[data-testid=signin]');
  const text = await errorText(fresh);
  assert.match(text, /Could not sign in/);
  assert.doesNotMatch(text, /development mode/);
  assert.equal(await fresh.isVisible('#app'), false, 'nothing of the app shows before sign-in');
  await ctx.close();
});
