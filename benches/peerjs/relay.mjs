// The relay anchor (BENCHMARKS.md): one Node.js client relays the same 3.3 KB trickle-ICE
// batch inside an answered call through pqcall (`POST /api/calls/ice` → `call.ice` on the
// callee's SSE stream) and through a PeerJS 1.0.2 server (a CANDIDATE message over
// WebSocket, forwarded to the other peer), one message at a time and then with 100 in
// flight, the two servers alternating run by run. It reports one-way latency (one clock:
// the sender and the receiver are this process) and each server's CPU per message from
// /proc/<pid>/stat.
//
//   npm ci && node relay.mjs --pqcall ../../target/release/pqcall [--count 3000] [--runs 2]
//
// With `--perf FILE`, only pqcall runs, with 100 in flight, under `perf record` with
// DWARF call graphs (profile-relay.sh draws the flame graph).

import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { createInterface } from 'node:readline';
import { WebSocket } from 'ws';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const PQCALL = arg('pqcall', '../../target/release/pqcall');
const COUNT = Number(arg('count', 3000));
const RUNS = Number(arg('runs', 2));
const INFLIGHT = Number(arg('inflight', 100));
const PERF = arg('perf', null);
// `--kernel-profiles DIR`: each timed run also records its server with `perf record -g`
// (the kernel's call graphs; user space unwound by frame pointers only) to
// DIR/<server>-<in flight>-<run>.data (pqcall-fetch-100-0.data, peerjs-1.0.2-100-0.data).
const KERNEL_PROFILES = arg('kernel-profiles', null);
// `--syscalls`: each timed run also counts the server's system calls, context switches
// and page faults (`perf stat -p` on the server process) and prints them per message. The
// tracepoints make every system call dearer: read the counts, not that run's CPU.
const SYSCALLS = process.argv.includes('--syscalls');
// `--await-sends`: a message stays in flight until its send finished too (`measure`).
const AWAIT_SENDS = process.argv.includes('--await-sends');
// `--against OTHER_PQCALL`: two pqcall binaries instead of pqcall and PeerJS.
const AGAINST = arg('against', null);
// `--transport`: how the client reaches pqcall. `fetch` (default, the table's): Node's
// fetch (undici), HTTP/1.1 keep-alive; `http1`: node:http with a keep-alive agent;
// `h2`: one HTTP/2 connection (h2c, node:http2) carrying the streams and the POSTs, as
// a browser over TLS does.
const TRANSPORT = arg('transport', 'fetch');
const TICKS = 100; // USER_HZ

/** The batch: 20 host candidates, about 3.3 KB of JSON, from the fixture the Rust load
 * tool and the allocation bench read too; `seq` rides in the first. */
const BATCH = JSON.parse(readFileSync(new URL('../fixtures/ice-batch.json', import.meta.url), 'utf8'));
function batch(seq) {
  const candidates = BATCH.map((c) => ({ ...c }));
  candidates[0].candidate = candidates[0].candidate.replace('{seq}', String(seq));
  return candidates;
}

/** utime and stime of `pid` (user space and kernel), in seconds. */
function cpu(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { user: Number(f[11]) / TICKS, kernel: Number(f[12]) / TICKS };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

/** Starts a process and resolves with it once `ready(line)` matched a stdout line. */
function start(cmd, args, ready) {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PQCALL_LOG: 'warn' } });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout });
    lines.on('line', (l) => { const m = ready(l); if (m) resolve({ proc, m }); });
    proc.on('exit', (c) => reject(new Error(`${cmd} exited ${c}`)));
  });
}

/** An SSE parser: feed it the stream's chunks; it calls `on(name, data)` per event. */
function sse(on) {
  const dec = new TextDecoder();
  let buf = '';
  return (chunk) => {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let name = 'message';
      let data = '';
      for (const line of frame.split('\n')) {
        if (line.startsWith('event: ')) name = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (data) on(name, data);
    }
  };
}

/** A response read whole. */
const reply = (status, text) => ({ status, text, json: () => (text ? JSON.parse(text) : {}) });

/** The client's way to pqcall (`--transport`): `request(method, path, headers, body)`
 * resolves with the whole response; `stream(path, headers, on)` reads an SSE stream. */
function transport(base) {
  const json = { 'content-type': 'application/json' };
  if (TRANSPORT === 'h2') {
    const session = http2.connect(base);
    const send = (headers, body) => {
      const req = session.request(headers);
      req.end(body);
      return req;
    };
    return {
      request: (method, path, headers, body) => new Promise((resolve, reject) => {
        const req = send({ ':method': method, ':path': path, ...json, ...headers }, body);
        let status = 0;
        const chunks = [];
        req.on('response', (h) => { status = h[':status']; });
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => resolve(reply(status, Buffer.concat(chunks).toString())));
        req.on('error', reject);
      }),
      stream: (path, headers, on) => send({ ':method': 'GET', ':path': path, ...headers }).on('data', sse(on)),
      close: () => session.destroy(),
    };
  }
  if (TRANSPORT === 'http1') {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1000 });
    const send = (method, path, headers, body, onRes) => {
      const req = http.request(`${base}${path}`, { method, agent, headers: { ...json, ...headers } }, onRes);
      req.end(body);
      return req;
    };
    return {
      request: (method, path, headers, body) => new Promise((resolve, reject) => {
        send(method, path, headers, body, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve(reply(res.statusCode, Buffer.concat(chunks).toString())));
        }).on('error', reject);
      }),
      stream: (path, headers, on) => send('GET', path, headers, undefined, (res) => res.on('data', sse(on))),
      close: () => agent.destroy(),
    };
  }
  return {
    request: async (method, path, headers, body) => {
      const r = await fetch(`${base}${path}`, { method, headers: { ...json, ...headers }, body });
      return reply(r.status, await r.text());
    },
    stream: async (path, headers, on) => {
      const reader = (await fetch(`${base}${path}`, { headers })).body.getReader();
      const feed = sse(on);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        feed(value);
      }
    },
    close: () => {},
  };
}

/** An HS256 JWT for `user`, valid for an hour (RFC 7519; the claims pqcall reads). */
function hs256(secret, user) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: user, exp })}`;
  return `${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`;
}

/** pqcall: an answered call between alice and bob; `send(seq)` relays one batch. */
async function pqcallRelay(onArrive, bin = PQCALL) {
  // As in production: no development mode (its token route and Host check), tokens
  // signed with the server's HS256 secret by the app's backend, here this script.
  const secret = randomBytes(32).toString('hex');
  const { proc, m } = await start(bin, ['serve', '--jwt-secret', secret, '--bind', '127.0.0.1:0', '--database', ':memory:',
    '--rate-per-sec', '1000000', '--rate-burst', '1000000', '--ip-rate-per-sec', '1000000', '--ip-rate-burst', '1000000', '--max-connections-per-ip', '100000'],
  (l) => l.match(/listening on (http:\/\/\S+)/));
  const base = m[1];
  const client = transport(base);
  const [ta, tb] = [hs256(secret, 'alice'), hs256(secret, 'bob')];
  const waiters = new Map();
  const open = (tok, onEvent) => new Promise((hello) => {
    client.stream('/api/events', { authorization: `Bearer ${tok}` }, (name, data) => {
      if (name === 'hello') hello(JSON.parse(data).conn_id); else onEvent(name, data);
    });
  });
  const next = (name) => new Promise((r) => waiters.set(name, r));
  const dispatch = (name, data) => {
    if (name === 'call.ice') return onArrive(Number(/candidate:(\d+) /.exec(data)[1]));
    const w = waiters.get(name);
    if (w) { waiters.delete(name); w(JSON.parse(data)); }
  };
  const ca = await open(ta, dispatch);
  const cb = await open(tb, dispatch);
  const post = async (tok, conn, path, body) => {
    const r = await client.request('POST', path, { authorization: `Bearer ${tok}`, 'x-pqcall-conn': conn }, JSON.stringify(body));
    if (r.status >= 300) throw new Error(`${path}: ${r.status} ${r.text}`);
    return r.json();
  };
  const b64 = (n) => Buffer.alloc(n).toString('base64');
  const offered = next('call.offer');
  const { call_id } = await post(ta, ca, '/api/calls/offer', { to: 'bob', sdp: 'v=0\r\n', kem: { suite: 'ML-KEM-768', ek: b64(1184), commit: b64(32) } });
  await offered;
  await post(tb, cb, '/api/calls/answer', { call_id, sdp: 'v=0\r\n', kem: { ct: b64(1088) } });
  const send = (seq) => post(ta, ca, '/api/calls/ice', { call_id, candidates: batch(seq), done: false });
  const name = `${bin === PQCALL ? 'pqcall' : 'pqcall (other)'} ${TRANSPORT}`;
  return { name, pid: proc.pid, send, stop: () => { client.close(); proc.kill(); } };
}

/** PeerJS 1.0.2: two peers on one server; `send(seq)` relays one CANDIDATE message. */
async function peerjsRelay(onArrive) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const bin = new URL('./node_modules/peer/dist/bin/peerjs.js', import.meta.url).pathname;
  const { proc } = await start(process.execPath, [bin, '--port', String(port)], (l) => l.includes('Started PeerServer'));
  const connect = (id) => new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/peerjs?key=peerjs&id=${id}&token=t${id}`);
    ws.on('message', (m) => {
      const msg = JSON.parse(m);
      if (msg.type === 'OPEN') resolve(ws);
      else if (msg.type === 'CANDIDATE') onArrive(msg.payload.seq);
    });
  });
  const alice = await connect('alice');
  await connect('bob');
  const send = (seq) => new Promise((resolve) => {
    alice.send(JSON.stringify({ type: 'CANDIDATE', dst: 'bob', payload: { seq, type: 'media', connectionId: 'mc_x', candidates: batch(seq) } }), resolve);
  });
  return { name: 'PeerJS 1.0.2', pid: proc.pid, send, stop: () => proc.kill() };
}

/** `COUNT` messages, `inflight` at a time: latencies (µs) and server CPU per message. */
async function measure(make, inflight, run = 0) {
  const sentAt = new Map();
  const lat = [];
  let arrived;
  // A message is in flight until it arrived; with `--await-sends`, also until its send
  // finished (pqcall: the POST's response read; PeerJS: the frame written), as for an
  // app that awaits its fetch. Without it, a client that falls behind reading responses
  // keeps more requests open than messages in flight, on as many connections.
  let pending = 0;
  const left = new Map();
  const finish = (seq) => {
    const n = left.get(seq) - 1;
    if (n > 0) { left.set(seq, n); return; }
    left.delete(seq);
    pending--;
    arrived?.();
  };
  const onArrive = (seq) => {
    const t = sentAt.get(seq);
    if (t === undefined) return;
    lat.push(Number(process.hrtime.bigint() - t) / 1000);
    sentAt.delete(seq);
    finish(seq);
  };
  const relay = await make(onArrive);
  // Sends not finished yet (without --await-sends a message's event may arrive before its
  // send has finished: pqcall's response read, PeerJS's frame written).
  const inProgress = new Set();
  const send = (seq) => {
    sentAt.set(seq, process.hrtime.bigint());
    left.set(seq, AWAIT_SENDS ? 2 : 1);
    pending++;
    const sent = relay.send(seq);
    inProgress.add(sent);
    sent.then(() => { inProgress.delete(sent); if (AWAIT_SENDS) finish(seq); }, (e) => { console.error(e); process.exit(1); });
    return sent;
  };
  // Warm-up.
  for (let i = 0; i < 200; i++) { await send(1e6 + i); while (pending > 0) await new Promise((r) => { arrived = r; }); }
  lat.length = 0;
  const tag = relay.name.toLowerCase().replace(/[^a-z0-9.]+/g, '-');
  const record = PERF
    ? ['--call-graph', 'dwarf,32768', '-o', PERF]
    : KERNEL_PROFILES && ['-g', '-o', `${KERNEL_PROFILES}/${tag}-${inflight}-${run}.data`];
  const perf = record && attachPerf(['record', '-F', '999', ...record, '-p', String(relay.pid)], 1000);
  const counts = SYSCALLS && countSyscalls(relay.pid);
  await Promise.all([perf?.attached, counts?.attached]);
  const cpu0 = cpu(relay.pid);
  const t0 = process.hrtime.bigint();
  for (let seq = 0; seq < COUNT; seq++) {
    while (pending >= inflight) await new Promise((r) => { arrived = r; });
    send(seq);
  }
  while (pending > 0) await new Promise((r) => { arrived = r; });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu1 = cpu(relay.pid);
  const perMsg = (s) => (s / COUNT) * 1e6;
  const userUs = perMsg(cpu1.user - cpu0.user);
  const kernelUs = perMsg(cpu1.kernel - cpu0.kernel);
  if (perf) await perf.stop();
  const perMessage = counts && (await counts.stop());
  // The server stops only once every send has finished: one stopped with a response still
  // on its way would fail that send.
  await Promise.allSettled([...inProgress]);
  relay.stop();
  lat.sort((a, b) => a - b);
  return { name: relay.name, p50: percentile(lat, 50), p99: percentile(lat, 99), cpuUs: userUs + kernelUs, userUs, kernelUs, rate: COUNT / secs, perMessage };
}

/** `perf stat` on `pid`'s system calls, context switches and page faults: `attached`
 * resolves once it counts; `stop()` resolves with the events seen at least once every 20
 * messages, per message. The counts include the idle seconds around the timed run, which
 * add a few events, not one per message. */
function countSyscalls(pid) {
  // Two seconds to attach its many tracepoints.
  const perf = attachPerf(['stat', '-x', ',', '-e', 'context-switches,page-faults,syscalls:sys_enter_*', '-p', String(pid)], 2000, true);
  return {
    attached: perf.attached,
    stop: async () => {
      // perf stat prints its counts on stderr when it ends.
      const rows = (await perf.stop()).split('\n').map((l) => l.split(',')).filter((f) => f.length > 2 && Number(f[0]) >= COUNT / 20);
      return rows.map(([n, , ev]) => `${ev.replace('syscalls:sys_enter_', '')} ${(Number(n) / COUNT).toFixed(2)}`).join(', ');
    },
  };
}

/** `perf ARGS` started: `attached` resolves after `settleMs` (perf says nothing when it
 * has attached); `stop()` interrupts it and resolves once it has ended (at once if it
 * already ended, failing) with its stderr when `capture`d, else shown as it comes. */
function attachPerf(args, settleMs, capture = false) {
  const proc = spawn('perf', args, { stdio: ['ignore', 'inherit', capture ? 'pipe' : 'inherit'] });
  let err = '';
  proc.stderr?.on('data', (c) => { err += c; });
  const ended = new Promise((r) => proc.on('exit', r));
  return {
    attached: new Promise((r) => setTimeout(r, settleMs)),
    stop: async () => {
      proc.kill('SIGINT');
      await ended;
      return err;
    },
  };
}

if (PERF) {
  const r = await measure(pqcallRelay, INFLIGHT);
  console.log(`profiled: pqcall, ${INFLIGHT} in flight, server CPU/msg ${r.cpuUs.toFixed(1)} µs (perf adds its own)`);
  process.exit(0);
}
const rows = [];
for (let run = 0; run < RUNS; run++) {
  for (const inflight of [1, INFLIGHT]) {
    const other = AGAINST ? (f) => pqcallRelay(f, AGAINST) : peerjsRelay;
    for (const make of run % 2 ? [other, pqcallRelay] : [pqcallRelay, other]) {
      const r = await measure(make, inflight, run);
      rows.push({ run, inflight, ...r });
      console.log(`run ${run} in flight ${String(inflight).padStart(3)}  ${r.name.padEnd(13)} one-way p50 ${r.p50.toFixed(0).padStart(6)} µs  p99 ${r.p99.toFixed(0).padStart(6)} µs  server CPU/msg ${r.cpuUs.toFixed(1).padStart(6)} µs (user ${r.userUs.toFixed(1)}, kernel ${r.kernelUs.toFixed(1)})  ${r.rate.toFixed(0)} msg/s`);
      if (r.perMessage) console.log(`    per message: ${r.perMessage}`);
    }
  }
}
process.exit(0);
