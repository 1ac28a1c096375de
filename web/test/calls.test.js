// The call manager's buffer of events for call ids it has not learned yet (an answer can
// overtake the response to the offer that created the call): bounded in ids, in events
// per id and in time, whatever a peer or the server sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallManager } from '../src/call-manager.js';

const managerWithClient = () => {
  const client = new EventTarget();
  client.userId = 'alice';
  return { client, mgr: new CallManager(client) };
};
const send = (client, name, detail) => client.dispatchEvent(new CustomEvent(name, { detail }));

test('events for unknown calls: at most 256 call ids, 256 events each', async () => {
  const { client, mgr } = managerWithClient();
  for (let i = 0; i < 1000; i++) send(client, 'call.ice', { call_id: `id-${i}`, candidates: [] });
  for (let i = 0; i < 1000; i++) send(client, 'call.ice', { call_id: 'id-0', candidates: [] });
  await mgr._queue;
  assert.equal(mgr._early.size, 256);
  assert.equal(mgr._early.get('id-0').events.length, 256);
  assert.equal(mgr._early.get('id-999'), undefined, 'ids beyond the cap are not kept');
});

test('events for unknown calls expire after a minute, making room for new ones', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const { client, mgr } = managerWithClient();
  for (let i = 0; i < 256; i++) send(client, 'call.answer', { call_id: `old-${i}`, sdp: '' });
  await mgr._queue;
  assert.equal(mgr._early.size, 256);
  t.mock.timers.tick(60_001);
  send(client, 'call.answer', { call_id: 'new', sdp: '' });
  await mgr._queue;
  assert.deepEqual([...mgr._early.keys()], ['new']);
});

test('kept events are replayed in order once the offer names the call', async () => {
  const { client, mgr } = managerWithClient();
  const seen = [];
  const call = { _onEvent: async (name, d) => seen.push([name, d.n]) };
  for (let n = 0; n < 3; n++) send(client, n ? 'call.ice' : 'call.answer', { call_id: 'c1', n });
  await mgr._queue;
  mgr.calls.set('c1', call);
  mgr._enqueue(() => mgr._replayEarly('c1'));
  send(client, 'call.ice', { call_id: 'c1', n: 3 });
  await mgr._queue;
  assert.deepEqual(seen, [['call.answer', 0], ['call.ice', 1], ['call.ice', 2], ['call.ice', 3]]);
  assert.equal(mgr._early.size, 0);
});

test("other tabs' calls: at most 256 ids, each forgotten after a minute", async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const { client, mgr } = managerWithClient();
  for (let i = 0; i < 1000; i++) send(client, 'tab', { kind: i % 2 ? 'taken' : 'placed', call_id: `t-${i}` });
  send(client, 'tab', { kind: 'nonsense', call_id: 'x' });
  send(client, 'tab', { kind: 'taken', call_id: 42 });
  await mgr._queue;
  assert.equal(mgr._elsewhere.size, 256, 'a tab cannot grow this without bound');
  assert.ok(mgr._elsewhere.has('t-999') && !mgr._elsewhere.has('t-0'), 'the oldest make room');
  // Events of a call another tab acts on are ignored here.
  send(client, 'call.ice', { call_id: 't-999', candidates: [] });
  await mgr._queue;
  assert.equal(mgr._early.has('t-999'), false);
  t.mock.timers.tick(60_001);
  send(client, 'tab', { kind: 'placed', call_id: 'fresh' });
  await mgr._queue;
  assert.deepEqual([...mgr._elsewhere.keys()], ['fresh']);
});
