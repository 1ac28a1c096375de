// The demo as a small chat-and-call app (PROTOCOL §9 in real Chromium): presence dots
// and the call button follow the other user signing in and out; unread badges count and
// clear, read ticks turn; an incoming call rings and flashes the title, "codes match"
// marks it verified; a missed call is in the history after the server restarts (the
// SQLite file kept); screenshots of the main views on a desktop and a 390 px phone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, serverAndBrowser, signIn, startServer } from './harness.js';

const env = serverAndBrowser(['--conn-grace-ms', '1000']);
const shots = fileURLToPath(new URL('../../docs/', import.meta.url));
mkdirSync(shots, { recursive: true });
const PHONE = { width: 390, height: 844 };

/** Creates a conversation with `members` titled `title` from `page`'s sidebar. */
async function create(page, members, title) {
  if (!(await page.isVisible('#members'))) await page.click('#new-chat summary');
  await page.fill('#members', members);
  await page.fill('#title', title);
  await page.click('[data-testid=create]');
  await page.waitForSelector(`[data-testid=chat-title]:has-text("${title}")`);
}

const conv = (title) => `[data-testid=conv]:has-text("${title}")`;

test('presence dots and the call button follow the other user signing in and out', async () => {
  const amy = await signIn(env.browser, env.server.base, 'pamy');
  await create(amy, 'pbob', 'lunch');
  await amy.waitForSelector(`${conv('lunch')} [data-testid=presence][data-online=false]`);
  assert.equal(await amy.isDisabled('[data-testid=call-peer]'), true, 'no call to someone offline');
  assert.match(await amy.textContent('[data-testid=call-hint]'), /pbob is offline/);

  const bob = await signIn(env.browser, env.server.base, 'pbob');
  await amy.waitForSelector(`${conv('lunch')} [data-testid=presence][data-online=true]`);
  await amy.waitForSelector('[data-testid=member][data-user=pbob][data-online=true]');
  await amy.waitForSelector('[data-testid=call-peer]:not([disabled])');
  assert.equal(await amy.textContent('[data-testid=call-hint]'), '');
  // Bob sees Amy online too, from his first look at the list.
  await bob.waitForSelector(`${conv('lunch')} [data-testid=presence][data-online=true]`);
  await amy.screenshot({ path: `${shots}app-chat.png` });

  await bob.context().close();
  await amy.waitForSelector(`${conv('lunch')} [data-testid=presence][data-online=false]`);
  await amy.waitForSelector('[data-testid=call-peer][disabled]');
  await amy.context().close();
});

test('unread badges count and clear; the sender sees read ticks', async () => {
  const amy = await signIn(env.browser, env.server.base, 'uamy');
  const bob = await signIn(env.browser, env.server.base, 'ubob');
  await create(amy, 'ubob', 'news');
  await bob.waitForSelector('[data-testid=chat-title]:has-text("news")');
  await create(amy, 'ubob', 'other');
  // Amy looks at "other"; Bob writes twice in "news".
  for (const text of ['first', 'second']) {
    await bob.fill('[data-testid=text]', text);
    await bob.click('[data-testid=send]');
    await bob.waitForSelector(`[data-testid=message]:has-text("${text}")`);
  }
  await amy.waitForSelector(`${conv('news')} [data-testid=unread]:has-text("2")`);
  assert.equal(await bob.getAttribute('[data-testid=message]:has-text("second") [data-testid=ticks]', 'data-read'), 'false');
  // The conversation with the newest message is listed first.
  assert.match(await amy.textContent('[data-testid=conv] >> nth=0'), /news/);

  await amy.click(conv('news'));
  await amy.waitForSelector('[data-testid=message]:has-text("second")');
  // Enter sends; Shift+Enter (here: a typed newline) stays in the message.
  await amy.fill('[data-testid=text]', 'line one\nline two');
  await amy.press('[data-testid=text]', 'Enter');
  await bob.waitForSelector('[data-testid=message]:has-text("line two")');
  assert.equal(await bob.textContent('[data-testid=message]:has-text("line two") .body'), 'line one\nline two');
  assert.equal(await amy.inputValue('[data-testid=text]'), '');
  await amy.waitForSelector(`${conv('news')} [data-testid=unread]`, { state: 'detached' });
  await bob.waitForSelector('[data-testid=message]:has-text("second") [data-testid=ticks][data-read=true]');
  // After a reload the count is still zero: the marker is on the server.
  await amy.reload();
  await amy.waitForSelector(conv('news'));
  assert.equal(await amy.locator(`${conv('news')} [data-testid=unread]`).count(), 0);
  await amy.context().close();
  await bob.context().close();
});

test('an incoming call rings and flashes the title; "codes match" marks it verified', async () => {
  const amy = await signIn(env.browser, env.server.base, 'ramy');
  const bob = await signIn(env.browser, env.server.base, 'rbob');
  await create(amy, 'rbob', 'calls');
  await amy.waitForSelector('[data-testid=call-peer]:not([disabled])');
  await amy.click('[data-testid=call-peer]');
  await bob.waitForSelector('[data-testid=incoming]:not([hidden])');
  await bob.waitForFunction(() => document.body.dataset.ringing === 'true');
  await bob.waitForFunction(() => document.title.includes('ramy is calling'));
  await bob.setViewportSize(PHONE);
  await bob.screenshot({ path: `${shots}app-incoming-390.png` });
  await bob.click('[data-testid=accept]');
  await bob.waitForFunction(() => !document.body.dataset.ringing && document.title === 'pqcall');
  for (const p of [amy, bob]) await p.waitForSelector('[data-testid=call-state][data-state=active]', { timeout: 30000 });
  const code = await amy.textContent('[data-testid=code]');
  assert.equal(code, await bob.textContent('[data-testid=code]'));
  assert.equal(await amy.isVisible('[data-testid=verified]'), false);
  await amy.click('[data-testid=verify]');
  await amy.waitForSelector('[data-testid=verified]:not([hidden])');
  assert.equal(await amy.isVisible('[data-testid=verify]'), false);
  await amy.waitForSelector('[data-testid=e2ee][data-state=encrypted]', { timeout: 20000 });
  await amy.screenshot({ path: `${shots}app-call.png` });
  await bob.screenshot({ path: `${shots}app-call-390.png` });
  await amy.click('[data-testid=hangup]');
  for (const p of [amy, bob]) await p.waitForSelector('[data-testid=call-state][data-state=ended]');
  // The finished call is in both histories, answered.
  await amy.click('[data-testid=tab-calls]');
  await amy.waitForSelector('[data-testid=history-call][data-outcome=ended][data-direction=outgoing]:has-text("rbob")');
  // On the phone, back to the list first.
  await bob.click('#back');
  await bob.click('[data-testid=tab-calls]');
  await bob.waitForSelector('[data-testid=history-call][data-outcome=ended][data-direction=incoming]:has-text("ramy")');
  await amy.context().close();
  await bob.context().close();
});

test('a missed call is in the history after the server restarts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pqcall-app-'));
  const db = join(dir, 'chat.db');
  const flags = ['--database', db, '--ring-timeout-ms', '1500'];
  let server = await startServer(flags);
  try {
    const amy = await signIn(env.browser, server.base, 'mamy');
    const bob = await signIn(env.browser, server.base, 'mbob');
    await amy.fill('#callee', 'mbob');
    await amy.click('[data-testid=call]');
    await bob.waitForSelector('[data-testid=incoming]:not([hidden])');
    // Nobody answers.
    await amy.waitForSelector('[data-testid=call-state][data-state=missed]', { timeout: 20000 });
    await bob.waitForSelector('[data-testid=missed-badge]:has-text("1")');
    await amy.context().close();
    await bob.context().close();
    await server.stop();

    server = await startServer(flags);
    const again = await signIn(env.browser, server.base, 'mbob');
    await again.waitForSelector('[data-testid=missed-badge]:has-text("1")');
    await again.click('[data-testid=tab-calls]');
    const entry = '[data-testid=history-call][data-outcome=missed][data-direction=incoming]';
    await again.waitForSelector(`${entry}:has-text("mamy")`);
    assert.match(await again.textContent(entry), /missed call/);
    await again.waitForSelector('[data-testid=missed-badge]', { state: 'hidden' });
    await again.screenshot({ path: `${shots}app-history.png` });
    await again.setViewportSize(PHONE);
    await again.screenshot({ path: `${shots}app-history-390.png` });
    // Call back from the history.
    await again.click(`${entry} [data-testid=call-back]`);
    await again.waitForSelector('[data-testid=call-state][data-state=ringing]');
    await again.context().close();
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a second call during a call: the first stays on screen; declined, or taken by ending the first', async () => {
  const ana = await signIn(env.browser, env.server.base, 'wana');
  const ben = await signIn(env.browser, env.server.base, 'wben');
  const cy = await signIn(env.browser, env.server.base, 'wcy');
  await create(ana, 'wben', 'waiting');
  await connect(ana, ben, 'wben');
  const second = async () => {
    await cy.fill('#callee', 'wana');
    await cy.click('[data-testid=call]');
    await ana.waitForSelector('[data-testid=incoming]:not([hidden])');
    assert.equal(await ana.textContent('#accept'), 'End call and accept');
    // The call with ben is still in view, with its code and its Hang up button.
    assert.match(await ana.textContent('#call-peer'), /wben/);
    assert.equal(await ana.getAttribute('[data-testid=call-state]', 'data-state'), 'active');
    assert.equal(await ana.isVisible('[data-testid=hangup]'), true);
    assert.equal(await ana.isDisabled('[data-testid=call-peer]'), true, 'no second call from the header');
  };
  await second();
  await ana.click('[data-testid=decline]');
  await cy.waitForSelector('[data-testid=call-state][data-state=declined]');
  assert.equal(await ana.getAttribute('[data-testid=call-state]', 'data-state'), 'active');
  assert.match(await ana.textContent('#call-peer'), /wben/);
  await second();
  await ana.click('[data-testid=accept]');
  await ben.waitForSelector('[data-testid=call-state][data-state=ended]');
  for (const p of [ana, cy]) await p.waitForSelector('[data-testid=call-state][data-state=active]', { timeout: 30000 });
  assert.match(await ana.textContent('#call-peer'), /wcy/);
  assert.equal(await ana.evaluate(() => [...window.pqcall.calls.calls.values()].filter((c) => c.state === 'active').length), 1);
  // On a phone, the list keeps a way back to the call.
  await ana.setViewportSize(PHONE);
  await ana.click('#back');
  await ana.waitForSelector('[data-testid=call-bar]:not([hidden])');
  await ana.click('[data-testid=call-bar]');
  await ana.waitForSelector('[data-testid=hangup]:visible');
  await ana.click('[data-testid=hangup]');
  await cy.waitForSelector('[data-testid=call-state][data-state=ended]');
  assert.equal(await ana.textContent('[data-testid=e2ee]'), '', 'an ended call says nothing about encryption');
  for (const p of [ana, ben, cy]) await p.context().close();
});
