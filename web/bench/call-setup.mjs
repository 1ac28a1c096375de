// Browser call setup time: calls between two Chromium pages through a real pqcall server;
// from the offer's creation to both peer connections `connected`, and to media from the
// peer decrypting on both sides (SFrame, docs/PROTOCOL.md §7); the time both sides spent
// computing the ML-KEM handshake; and where the time goes (each call's timeline, median
// per step).
//
//   cargo build --bin pqcall && cd web && node bench/call-setup.mjs [calls] [--against DIR] [--turn]
//
// `--turn` starts coturn on loopback, serves TURN credentials for it and lets both pages
// use relay candidates only (the path of two peers behind strict NATs).
//
// `--against DIR` also serves another client (a `web/` folder, e.g. a worktree of an older
// commit) from a second server in the same browser, and alternates the two call by call,
// so that load drift on the machine falls on both alike.
import { coturn, freePort, launch, signIn, startServer } from '../e2e/harness.js';

const args = process.argv.slice(2);
const against = args.includes('--against') ? args[args.indexOf('--against') + 1] : null;
const calls = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--against') ?? 20);
const flags = ['--offers-per-minute', '100000'];
const relayOnly = args.includes('--turn');
let turn;
if (relayOnly) {
  const port = await freePort();
  turn = await coturn(port, 'bench-turn-secret');
  flags.push('--turn-url', `turn:127.0.0.1:${port}?transport=udp`, '--turn-secret', 'bench-turn-secret');
}

const browser = await launch();
async function pair(extra) {
  const server = await startServer([...flags, ...extra]);
  const alice = await signIn(browser, server.base, 'alice');
  const bob = await signIn(browser, server.base, 'bob');
  if (relayOnly) for (const p of [alice, bob]) await p.evaluate(() => { window.pqcall.calls.iceTransportPolicy = 'relay'; });
  await bob.evaluate(() => window.pqcall.calls.addEventListener('incoming', (e) => e.detail.accept()));
  return { server, alice, bob, setup: [], media: [], share: [], steps: { alice: {}, bob: {} } };
}
const sides = { current: await pair([]) };
if (against) sides.other = await pair(['--web-dir', against]);

// Both sides' view of one call; `decryptingAt` is undefined on a client without E2EE.
async function waitFor({ id, media }) {
  const mgr = window.pqcall.calls;
  const call = id ? mgr.calls.get(id) : await mgr.call('bob');
  await new Promise((ok) => {
    const check = () => (call.connectedAt && call.state === 'active' && (!media || call.decryptingAt) ? ok() : setTimeout(check, 1));
    check();
  });
  return { id: call.id, startedAt: call.startedAt, connectedAt: call.connectedAt, decryptingAt: call.decryptingAt, hs: call.handshakeMs, timeline: call.timeline };
}

async function oneCall(s) {
  const media = s === sides.current;
  const a = await s.alice.evaluate(waitFor, { id: null, media });
  const b = await s.bob.evaluate(waitFor, { id: a.id, media });
  await s.alice.evaluate(() => [...window.pqcall.calls.calls.values()].at(-1).hangup());
  const total = Math.max(a.connectedAt, b.connectedAt) - a.startedAt;
  s.setup.push(total);
  if (media) s.media.push(Math.max(a.decryptingAt, b.decryptingAt) - a.startedAt);
  s.share.push((a.hs + b.hs) / total);
  for (const [who, v] of [['alice', a], ['bob', b]]) {
    for (const [step, at] of Object.entries(v.timeline ?? {})) (s.steps[who][step] ??= []).push(at - a.startedAt);
  }
}

for (let i = 0; i < calls; i++) {
  for (const s of Object.values(sides)) await oneCall(s);
}

const sorted = (v) => [...v].sort((x, y) => x - y);
const med = (v) => sorted(v)[Math.floor(v.length / 2)];
const p95 = (v) => sorted(v)[Math.min(v.length - 1, Math.ceil(0.95 * v.length) - 1)];
const ms = (x) => `${x.toFixed(1)} ms`;
for (const [name, s] of Object.entries(sides)) {
  const label = (name === 'current' ? 'this client' : `client from ${against}`) + (relayOnly ? ', relay candidates only (coturn)' : '');
  console.log(`${label}, ${calls} calls: offer -> both connected median ${ms(med(s.setup))}, p95 ${ms(p95(s.setup))}`);
  if (s.media.length) console.log(`  offer -> media from the peer decrypting on both sides: median ${ms(med(s.media))}, p95 ${ms(p95(s.media))}`);
  console.log(`  handshake computation (both sides): median ${(100 * med(s.share)).toFixed(1)}% of the setup time`);
}
const rows = [];
for (const who of ['alice', 'bob']) {
  for (const [step, v] of Object.entries(sides.current.steps[who])) rows.push([med(v), `${who} (${who === 'alice' ? 'caller' : 'callee'}) ${step}`]);
}
if (rows.length) {
  console.log('timeline of this client, median ms after the offer was created:');
  for (const [t, what] of rows.sort((x, y) => x[0] - y[0])) console.log(`  ${t.toFixed(1).padStart(6)}  ${what}`);
}
await browser.close();
for (const s of Object.values(sides)) await s.server.stop();
turn?.kill();
