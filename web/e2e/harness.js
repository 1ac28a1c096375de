// Starts a real pqcall server (the cargo-built binary, development mode, in-memory
// history) and Debian's Chromium through playwright-core.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Cargo's target directory (`CARGO_TARGET_DIR`, or a config's `build.target-dir`). */
function targetDir() {
  try {
    const meta = execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return JSON.parse(meta).target_directory;
  } catch {
    return `${root}target`;
  }
}

let bin;
const serverBin = () => { bin ??= process.env.PQCALL_BIN ?? `${targetDir()}/debug/pqcall`; return bin; };

/** A dev server on a free port; `extra` flags may name another `--web-dir`. */
export async function startServer(extra = []) {
  const bin = serverBin();
  const web = extra.includes('--web-dir') ? [] : ['--web-dir', `${root}web`];
  const db = extra.includes('--database') ? [] : ['--database', ':memory:'];
  const proc = spawn(bin, ['serve', '--dev', '--bind', '127.0.0.1:0', ...db, ...web, ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, PQCALL_LOG: process.env.PQCALL_LOG ?? 'warn' },
  });
  const lines = createInterface({ input: proc.stdout });
  const [line] = await once(lines, 'line');
  const base = line.split(' ').pop();
  return { base, proc, stop: async () => { proc.kill('SIGTERM'); await once(proc, 'exit'); } };
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/**
 * `caller` calls `calleeName` (signed in on `callee`), who accepts in the page; resolves
 * once both pages show the peer connection connected, the call active and the media
 * end-to-end encrypted.
 */
export async function connect(caller, callee, calleeName) {
  await caller.fill('#callee', calleeName);
  await caller.click('[data-testid=call]');
  await callee.waitForSelector('[data-testid=incoming]:not([hidden])');
  await callee.click('[data-testid=accept]');
  for (const p of [caller, callee]) {
    await p.waitForSelector('[data-testid=pc-state][data-state=connected]', { timeout: 30000 });
    await p.waitForSelector('[data-testid=call-state][data-state=active]', { timeout: 20000 });
    await p.waitForSelector('[data-testid=e2ee][data-state=encrypted]', { timeout: 20000 });
  }
}

/** A signed-in demo page for `user` in its own browser context (its own "device"). */
export async function signIn(browser, base, user, context) {
  const ctx = context ?? (await browser.newContext({ permissions: ['microphone'] }));
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.error(`[${user}] pageerror`, e));
  await page.goto(base);
  await page.fill('#user', user);
  await page.click('[data-testid=signin]');
  await page.waitForSelector('[data-testid=stream-state][data-state=open]');
  return page;
}

export async function openStreams(base) {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(text.match(/^pqcall_open_streams (\d+)/m)[1]);
}

/**
 * The native webrtc-rs client (examples/native_peer.rs, built by `cargo test`) for one call:
 * `args` is ['--answer'] or ['--call', user]. Resolves once it is connected; `lines` yields
 * its output, `report` resolves to its final counts.
 */
export async function startNativePeer(base, user, args) {
  const bin = process.env.PQCALL_NATIVE_PEER ?? `${dirname(serverBin())}/examples/native_peer`;
  const proc = spawn(bin, ['--url', base, '--user', user, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const out = createInterface({ input: proc.stdout });
  const seen = [];
  const waiters = [];
  out.on('line', (line) => {
    seen.push(line);
    for (const w of waiters.splice(0)) if (!w(line)) waiters.push(w);
  });
  const next = (pattern) => new Promise((resolve) => {
    const hit = seen.find((l) => pattern.test(l));
    if (hit) return resolve(hit);
    waiters.push((l) => (pattern.test(l) ? (resolve(l), true) : false));
    return undefined;
  });
  await next(/^ready as /);
  return {
    proc,
    next,
    report: next(/^report /).then((l) => JSON.parse(l.slice('report '.length))),
    stop: () => proc.kill('SIGTERM'),
  };
}

/**
 * One server and one browser for a test file, started before its tests and stopped after:
 * read `env.server` and `env.browser` inside the tests.
 */
export function serverAndBrowser(extra = []) {
  const env = {};
  before(async () => {
    env.server = await startServer(extra);
    env.browser = await launch();
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.stop();
  });
  return env;
}

/** A free TCP port on 127.0.0.1 (coturn listens on UDP and TCP there). */
export function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/**
 * coturn from Debian's package on 127.0.0.1:`port`, checking TURN REST credentials made
 * with `secret` (`use-auth-secret`), relaying to loopback peers; resolves once it listens.
 */
export async function coturn(port, secret) {
  const proc = spawn('turnserver', ['-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', '-p', String(port),
    '--min-port=49152', '--max-port=65000', '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=pqcall.test',
    '--allow-loopback-peers', '--no-tls', '--no-dtls', '--no-cli', '--log-file=stdout'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => { out += d; if (/Total (UDP|General) servers|IPv4. (UDP|TCP) listener opened/.test(out)) resolve(); });
    proc.on('exit', (c) => reject(new Error(`turnserver exited ${c}: ${out.slice(-500)}`)));
  });
  proc.stdout.resume();
  return proc;
}
