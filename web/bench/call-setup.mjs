// Browser call setup time: 20 calls between two Chromium pages through a real pqcall
// server; from the offer's creation to both peer connections `connected`, and to media
// from the peer decrypting on both sides (SFrame, docs/PROTOCOL.md §7), and the time both
// sides spent computing the ML-KEM handshake.
//
//   cargo build --bin pqcall && cd web && node bench/call-setup.mjs [calls]
import { launch, signIn, startServer } from '../e2e/harness.js';

const calls = Number(process.argv[2] ?? 20);
const server = await startServer(['--offers-per-minute', '100000']);
const browser = await launch();
const alice = await signIn(browser, server.base, 'alice');
const bob = await signIn(browser, server.base, 'bob');
await bob.evaluate(() => window.pqcall.calls.addEventListener('incoming', (e) => e.detail.accept()));
const setup = [];
const media = [];
const share = [];
for (let i = 0; i < calls; i++) {
  const r = await alice.evaluate(async () => {
    const { calls: mgr } = window.pqcall;
    const call = await mgr.call('bob');
    await new Promise((ok) => {
      const check = () => (call.connectedAt && call.state === 'active' && call.decryptingAt ? ok() : setTimeout(check, 1));
      check();
    });
    return { id: call.id, startedAt: call.startedAt, connectedAt: call.connectedAt, decryptingAt: call.decryptingAt, hs: call.handshakeMs };
  });
  const b = await bob.evaluate(async (id) => {
    const call = window.pqcall.calls.calls.get(id);
    await new Promise((ok) => {
      const check = () => (call.connectedAt && call.state === 'active' && call.decryptingAt ? ok() : setTimeout(check, 1));
      check();
    });
    return { connectedAt: call.connectedAt, decryptingAt: call.decryptingAt, hs: call.handshakeMs };
  }, r.id);
  await alice.evaluate(() => [...window.pqcall.calls.calls.values()].at(-1).hangup());
  const total = Math.max(r.connectedAt, b.connectedAt) - r.startedAt;
  setup.push(total);
  media.push(Math.max(r.decryptingAt, b.decryptingAt) - r.startedAt);
  share.push((r.hs + b.hs) / total);
}
const sorted = [...setup].sort((x, y) => x - y);
const pct = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
const med = (v) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
console.log(`${calls} browser calls: offer -> both connected median ${pct(0.5).toFixed(1)} ms, p95 ${pct(0.95).toFixed(1)} ms`);
const m = [...media].sort((x, y) => x - y);
console.log(`offer -> media from the peer decrypting on both sides: median ${m[Math.floor(m.length / 2)].toFixed(1)} ms, p95 ${m[Math.min(m.length - 1, Math.ceil(0.95 * m.length) - 1)].toFixed(1)} ms`);
console.log(`handshake computation (both sides): median ${(100 * med(share)).toFixed(1)}% of the setup time`);
await browser.close();
await server.stop();
