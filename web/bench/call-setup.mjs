// Browser call setup time: 20 calls between two Chromium pages through a real pqcall
// server; from the offer's creation to both peer connections `connected`, and the time
// both sides spent computing the ML-KEM handshake.
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
const share = [];
for (let i = 0; i < calls; i++) {
  const r = await alice.evaluate(async () => {
    const { calls: mgr } = window.pqcall;
    const call = await mgr.call('bob');
    await new Promise((ok) => {
      const check = () => (call.connectedAt && call.state === 'active' ? ok() : setTimeout(check, 1));
      check();
    });
    const res = { id: call.id, startedAt: call.startedAt, connectedAt: call.connectedAt, hs: call.handshakeMs };
    await call.hangup();
    return res;
  });
  const b = await bob.evaluate(async (id) => {
    const call = window.pqcall.calls.calls.get(id);
    await new Promise((ok) => {
      const check = () => (call.connectedAt && call.state !== 'ringing' ? ok() : setTimeout(check, 1));
      check();
    });
    return { connectedAt: call.connectedAt, hs: call.handshakeMs };
  }, r.id);
  const total = Math.max(r.connectedAt, b.connectedAt) - r.startedAt;
  setup.push(total);
  share.push((r.hs + b.hs) / total);
}
const sorted = [...setup].sort((x, y) => x - y);
const pct = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
const med = (v) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
console.log(`${calls} browser calls: offer -> both connected median ${pct(0.5).toFixed(1)} ms, p95 ${pct(0.95).toFixed(1)} ms`);
console.log(`handshake computation (both sides): median ${(100 * med(share)).toFixed(1)}% of the setup time`);
await browser.close();
await server.stop();
