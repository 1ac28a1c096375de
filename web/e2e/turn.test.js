// Calls through TURN: coturn from Debian's package on 127.0.0.1 with `use-auth-secret`,
// pqcall handing out TURN REST credentials for it (`GET /api/ice-servers`), and two
// Chromium pages that may use relay candidates only: the call connects through coturn
// and both sides decrypt each other's audio.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { connect, launch, signIn, startServer } from './harness.js';

const SECRET = 'turn-e2e-secret-0123456789';

const haveCoturn = spawnSync('sh', ['-c', 'command -v turnserver']).status === 0;

/** A free TCP port on 127.0.0.1 (coturn listens on UDP and TCP there). */
function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function coturn(port) {
  const proc = spawn('turnserver', ['-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', '-p', String(port),
    '--min-port=49152', '--max-port=65000', '--use-auth-secret', `--static-auth-secret=${SECRET}`, '--realm=pqcall.test',
    '--allow-loopback-peers', '--no-tls', '--no-dtls', '--no-cli', '--log-file=stdout'], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Ready once it listens (coturn prints its listener lines).
  await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => { out += d; if (/Total (UDP|General) servers|IPv4. (UDP|TCP) listener opened/.test(out)) resolve(); });
    proc.on('exit', (c) => reject(new Error(`turnserver exited ${c}: ${out.slice(-500)}`)));
  });
  proc.stdout.resume();
  return proc;
}

/** The local candidate type of the selected pair of the page's last call. */
const selectedType = (page) => page.evaluate(async () => {
  const call = [...window.pqcall.calls.calls.values()].at(-1);
  const stats = await call.pc.getStats();
  let pair;
  stats.forEach((r) => { if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId); });
  return pair ? stats.get(pair.localCandidateId)?.candidateType : null;
});

test('a call through coturn with credentials from pqcall, relay candidates only', { skip: !haveCoturn && 'no turnserver (apt-get install -y coturn)' }, async () => {
  const port = await freePort();
  const turn = await coturn(port);
  const server = await startServer(['--turn-url', `turn:127.0.0.1:${port}?transport=udp`, '--turn-secret', SECRET]);
  const browser = await launch();
  after(async () => { await browser.close(); await server.stop(); turn.kill(); });
  const pages = [];
  for (const user of ['tina', 'ted']) {
    const page = await signIn(browser, server.base, user);
    await page.evaluate(() => { window.pqcall.calls.iceTransportPolicy = 'relay'; });
    pages.push(page);
  }
  const [tina, ted] = pages;
  await connect(tina, ted, 'ted');
  for (const p of pages) {
    assert.equal(await selectedType(p), 'relay', 'media goes through the TURN server');
    await p.waitForFunction(async () => {
      const call = [...window.pqcall.calls.calls.values()].at(-1);
      return (await call._e2ee.refreshStats()).received >= 25;
    }, null, { polling: 100, timeout: 20000 });
  }
});
