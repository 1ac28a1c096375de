// The cost of end-to-end media encryption in Chromium (docs/PROTOCOL.md §7):
// 1. SFrame alone: 2,000 seals and opens of a 60-byte Opus-sized frame in a page.
// 2. In a live call between two pages through a real pqcall server: the worker's time
//    per frame (sealing on the sender, opening on the receiver), averaged over the call.
// 3. The whole browser's CPU during 10 s of a call, with the E2EE worker and without it:
//    two peer connections in one page, the same fake audio, transforms on or off.
//
//   cargo build --bin pqcall && cd web && npm run build && node bench/e2ee.mjs [seconds]
import { readFileSync, readdirSync } from 'node:fs';
import { launch, signIn, startServer } from '../e2e/harness.js';

const seconds = Number(process.argv[2] ?? 10);
const server = await startServer();
const browser = await launch();

// 1. Isolated.
const page = await signIn(browser, server.base, 'bench-solo');
const solo = await page.evaluate(async () => {
  const { sframe } = await import('./dist/pqcall.js');
  const base = await sframe.importBaseKey(crypto.getRandomValues(new Uint8Array(32)));
  const tx = new sframe.Sender(await sframe.deriveKid(base, 0));
  const rx = new sframe.Receiver(await sframe.deriveKid(base, 0), 4096);
  const frame = crypto.getRandomValues(new Uint8Array(60));
  const n = 2000;
  const sealed = [];
  let t = performance.now();
  for (let i = 0; i < n; i++) sealed.push(await tx.seal(frame));
  const seal = (performance.now() - t) / n;
  t = performance.now();
  for (const f of sealed) await rx.open(f);
  const open = (performance.now() - t) / n;
  return { seal, open, received: rx.received };
});
console.log(`SFrame in a page, 60-byte frame, ${solo.received} frames: seal ${(solo.seal * 1000).toFixed(1)} µs, open ${(solo.open * 1000).toFixed(1)} µs`);

// 2. A live call.
const alice = await signIn(browser, server.base, 'bench-alice');
const bob = await signIn(browser, server.base, 'bench-bob');
await alice.fill('#callee', 'bench-bob');
await alice.click('[data-testid=call]');
await bob.waitForSelector('[data-testid=incoming]:not([hidden])');
await bob.click('[data-testid=accept]');
for (const p of [alice, bob]) await p.waitForSelector('[data-testid=e2ee][data-state=encrypted]', { timeout: 20000 });
await new Promise((r) => setTimeout(r, seconds * 1000));
for (const [name, p] of [['alice', alice], ['bob', bob]]) {
  const s = await p.evaluate(async () => {
    const call = [...window.pqcall.calls.calls.values()].at(-1);
    return call._e2ee.refreshStats();
  });
  console.log(`live call, ${name}: ${s.sent} frames sealed, ${(1000 * s.encryptMs / s.sent).toFixed(1)} µs each; ${s.received} opened, ${(1000 * s.decryptMs / s.received).toFixed(1)} µs each; dropped ${s.dropped}`);
}
await alice.click('[data-testid=hangup]');

// 3. Whole-browser CPU, E2EE on and off.
const ticks = () => {
  let sum = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('chromium')) continue;
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      sum += Number(f[11]) + Number(f[12]);
    } catch { /* gone */ }
  }
  return sum;
};
// mode: 'off' (no transform), 'passthrough' (a worker transform that changes nothing: the
// cost of the encoded-transform pipeline itself), 'e2ee' (the client's SFrame worker).
async function loopCall(mode) {
  const p = await signIn(browser, server.base, `bench-loop-${mode}`);
  await p.evaluate(async (mode) => {
    const { sframe } = await import('./dist/pqcall.js');
    const mk = () => new RTCPeerConnection();
    const [a, b] = [mk(), mk()];
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const base = await sframe.importBaseKey(crypto.getRandomValues(new Uint8Array(32)));
    for (const [pc, other] of [[a, b], [b, a]]) {
      pc.onicecandidate = (e) => e.candidate && other.addIceCandidate(e.candidate);
      pc.addTrack(stream.getAudioTracks()[0], stream);
      if (mode === 'passthrough') {
        const code = 'onrtctransform = (e) => e.transformer.readable.pipeTo(e.transformer.writable);';
        const worker = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })));
        const t = pc.getTransceivers()[0];
        t.sender.transform = new RTCRtpScriptTransform(worker, {});
        t.receiver.transform = new RTCRtpScriptTransform(worker, {});
      }
      if (mode === 'e2ee') {
        const worker = new Worker('./dist/e2ee-worker.js', { type: 'module' });
        const t = pc.getTransceivers()[0];
        t.sender.transform = new RTCRtpScriptTransform(worker, { side: 'send' });
        t.receiver.transform = new RTCRtpScriptTransform(worker, { side: 'recv' });
        worker.postMessage({ type: 'keys', send: base, recv: base, sendKid: 0, recvKid: 0 });
      }
      pc.ontrack = (e) => { const el = new Audio(); el.srcObject = e.streams[0]; el.play(); };
    }
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription);
    await new Promise((r) => { const c = () => (a.connectionState === 'connected' ? r() : setTimeout(c, 20)); c(); });
    window.loop = [a, b];
  }, mode);
  await new Promise((r) => setTimeout(r, 1000));
  const t0 = ticks();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const used = (ticks() - t0) / 100; // clock ticks of 10 ms
  await p.context().close();
  return used;
}
const cpu = {};
for (const mode of ['off', 'passthrough', 'e2ee']) cpu[mode] = await loopCall(mode);
const perFrame = (a, b) => (1e6 * (cpu[b] - cpu[a]) / seconds / 200).toFixed(0);
console.log(`whole browser CPU, ${seconds} s of a call with both ends in one page (two audio streams, 100 frames/s sealed and 100 opened): ` +
  `no transform ${(100 * cpu.off / seconds).toFixed(1)} % of a core, pass-through transform ${(100 * cpu.passthrough / seconds).toFixed(1)} %, E2EE ${(100 * cpu.e2ee / seconds).toFixed(1)} %; ` +
  `per frame: the transform pipeline ${perFrame('off', 'passthrough')} µs, SFrame with WebCrypto ${perFrame('passthrough', 'e2ee')} µs`);
await browser.close();
await server.stop();
