// The time an ICE restart takes inside a call between two Chromium pages through a real
// pqcall server: from `restartIce()` on the caller (what the client does when the ICE
// connection fails or the browser comes back online) to the new ICE credentials being
// connected on both sides and a frame decrypted on the new path on both sides. The
// browser's own time to declare a path failed is not in it (it depends on its timers).
//
//   cargo build --bin pqcall && cd web && node bench/ice-restart.mjs [restarts] [--turn]
//
// `--turn`: relay candidates only, through coturn on loopback.
import { connect, coturn, freePort, launch, signIn, startServer } from '../e2e/harness.js';

const args = process.argv.slice(2);
const restarts = Number(args.find((a) => /^\d+$/.test(a)) ?? 20);
const relayOnly = args.includes('--turn');
const flags = [];
let turn;
if (relayOnly) {
  const port = await freePort();
  turn = await coturn(port, 'bench-turn-secret');
  flags.push('--turn-url', `turn:127.0.0.1:${port}?transport=udp`, '--turn-secret', 'bench-turn-secret');
}
const server = await startServer(flags);
const browser = await launch();
const alice = await signIn(browser, server.base, 'alice');
const bob = await signIn(browser, server.base, 'bob');
if (relayOnly) for (const p of [alice, bob]) await p.evaluate(() => { window.pqcall.calls.iceTransportPolicy = 'relay'; });

// In a page: resolves once its call's remote ICE ufrag is not `old`, ICE is connected,
// and a frame arrived after that; returns the time (performance.timeOrigin-based).
const settled = (old) => new Promise((resolve) => {
  const call = [...window.pqcall.calls.calls.values()].at(-1);
  let frames = null;
  const check = async () => {
    const pc = call.pc;
    const ufrag = /a=ice-ufrag:(\S+)/.exec(pc.remoteDescription?.sdp ?? '')?.[1];
    const ok = ufrag && ufrag !== old && ['connected', 'completed'].includes(pc.iceConnectionState) && !call._restarting;
    if (ok) {
      const n = (await call._e2ee.refreshStats()).received;
      if (frames === null) frames = n;
      else if (n > frames) return resolve(performance.timeOrigin + performance.now());
    }
    setTimeout(check, 2);
  };
  check();
});
const ufrag = (p) => p.evaluate(() => /a=ice-ufrag:(\S+)/.exec([...window.pqcall.calls.calls.values()].at(-1).pc.remoteDescription.sdp)[1]);

// A call allows 10 updates a minute (docs/PROTOCOL.md §4): five restarts per call.
const times = [];
while (times.length < restarts) {
  await connect(alice, bob, 'bob');
  for (let i = 0; i < 5 && times.length < restarts; i++) {
    const [oldA, oldB] = [await ufrag(alice), await ufrag(bob)];
    const doneA = alice.evaluate(settled, oldA);
    const doneB = bob.evaluate(settled, oldB);
    const t0 = await alice.evaluate(() => {
      const t = performance.timeOrigin + performance.now();
      [...window.pqcall.calls.calls.values()].at(-1).restartIce();
      return t;
    });
    times.push(Math.max(await doneA, await doneB) - t0);
  }
  await alice.click('[data-testid=hangup]');
  await bob.waitForSelector('[data-testid=call-state][data-state=ended]');
}
const sorted = [...times].sort((x, y) => x - y);
const med = sorted[Math.floor(sorted.length / 2)];
const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)];
console.log(`${restarts} ICE restarts${relayOnly ? ' (relay only, coturn)' : ''}: restartIce() -> new ICE connected and media decrypting on both sides: median ${med.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${sorted.at(-1).toFixed(1)} ms`);
await browser.close();
await server.stop();
turn?.kill();
