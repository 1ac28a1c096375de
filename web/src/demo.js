// The demo page: sign in (development mode), chat with typing indicators, call with the
// 6-digit safety code, and a diagnostics panel.
import { CallManager, PqcallClient, devTokens } from './pqcall.js';

const $ = (id) => document.getElementById(id);
const show = (id, on) => { $(id).hidden = !on; };
let client;
let calls;
let current; // the call in view
let conv = null; // the open conversation id
const typingTimers = new Map();
const seenMessages = new Set();

function log(line) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${line}`;
  $('log').prepend(li);
  while ($('log').children.length > 50) $('log').lastChild.remove();
}

function diag() {
  $('d-state').textContent = client?.state ?? 'closed';
  $('d-role').textContent = client?.role ?? '-';
  $('d-conn').textContent = client?.connId ?? '-';
  $('d-last').textContent = client?.lastEventId ?? '-';
  $('d-reconnects').textContent = client?.reconnects ?? 0;
  $('d-rtt').textContent = client?.lastPostMs != null ? `${client.lastPostMs.toFixed(1)} ms` : '-';
  $('state').textContent = client?.state ?? 'closed';
  $('state').dataset.state = client?.state ?? 'closed';
}

function addMessage(m) {
  if (m.conversation_id !== conv || seenMessages.has(m.id)) return;
  seenMessages.add(m.id);
  const li = document.createElement('li');
  li.dataset.testid = 'message';
  li.className = m.from === client.userId ? 'mine' : '';
  li.innerHTML = '<time></time><b></b> <span></span>';
  const at = new Date(m.created_at * 1000);
  li.querySelector('time').dateTime = at.toISOString();
  li.querySelector('time').textContent = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  li.querySelector('b').textContent = m.from;
  li.querySelector('span').textContent = m.body;
  $('messages').append(li);
  $('messages').scrollTop = 1e9;
}

async function openConversation(id) {
  conv = id;
  seenMessages.clear();
  $('messages').replaceChildren();
  $('conv-id').textContent = id;
  show('chat', true);
  const { messages } = await client.loadMessages(id, { limit: 50 });
  messages.forEach(addMessage);
}

/** Shows what went wrong, in words, until the next action. */
function showError(text) {
  $('error').textContent = text;
  show('error', !!text);
}

const REASONS = {
  bad_key: "the caller's key failed the ML-KEM check",
  key_confirmation_failed: 'the key exchange did not confirm: someone may be in the middle',
  fingerprint_mismatch: 'the DTLS certificate does not match the one bound in the key exchange',
  e2ee_failed: 'audio could not be end-to-end encrypted, so the call was ended',
  e2ee_unsupported: 'this browser cannot encrypt call audio end to end',
  handshake_timeout: 'the key exchange did not finish in time',
  no_microphone: 'no microphone: allow it in the browser (or plug one in) and try again',
  answered_in_another_tab: 'answered in another tab',
  page_closed: 'the other side closed or reloaded the page',
};

/** A failed action's message: the protocol's reason in words, or the server's sentence. */
const why = (err) => REASONS[err?.code] ?? err?.message ?? String(err);

/** Runs a form's action; a failure is shown on the page, not only in the console. */
const guarded = (what, fn) => async (e) => {
  e?.preventDefault?.();
  showError('');
  try {
    await fn(e);
  } catch (err) {
    console.warn(what, err);
    showError(`${what}: ${why(err)}`);
  }
};
const E2EE_TEXT = {
  off: '',
  waiting: 'setting up end-to-end encryption…',
  keyed: 'keys agreed; waiting for encrypted audio from the other side…',
  encrypted: 'end-to-end encrypted · post-quantum (ML-KEM-768 + AES-256-GCM)',
  failed: 'not encrypted: call refused',
  unsupported: 'not encrypted: call refused (this browser cannot encrypt calls end to end)',
};

function renderCall() {
  show('incall', !!current && (current.role === 'caller' || current.state !== 'ringing'));
  if (!current) return;
  const done = ['ended', 'declined', 'canceled', 'missed', 'failed'].includes(current.state);
  $('call-peer').textContent = current.peer;
  $('call-state').textContent = current.reason && done ? `${current.state} (${REASONS[current.reason] ?? current.reason})` : current.state;
  $('call-state').dataset.state = current.state;
  $('code').textContent = done ? '' : current.code ?? '--- ---';
  if (done) { $('pc-state').textContent = 'closed'; $('pc-state').dataset.state = 'closed'; }
  $('dtls').textContent = done || current.dtlsVerified == null ? '' : current.dtlsVerified ? 'DTLS certificate matches the transcript' : 'DTLS MISMATCH';
  const e = current.e2ee;
  $('e2ee').textContent = E2EE_TEXT[e.state] ?? e.state;
  $('e2ee').dataset.state = e.state;
  $('d-e2ee').textContent = `sent ${e.sent} · received ${e.received} · dropped ${e.dropped}`;
  $('mute').textContent = current.muted ? 'Unmute' : 'Mute';
  $('mute').hidden = done;
  $('hangup').hidden = done;
}

function track(call) {
  current = call;
  call.addEventListener('state', () => { renderCall(); if (['ended', 'declined', 'canceled', 'missed', 'failed'].includes(call.state)) log(`call ${call.state}${call.reason ? ` (${call.reason})` : ''}`); });
  call.addEventListener('code', () => { renderCall(); log(`safety code ${call.code}`); });
  call.addEventListener('dtls', renderCall);
  call.addEventListener('e2ee', renderCall);
  call.addEventListener('track', () => { $('remote-audio').srcObject = call.remoteStream; });
  renderCall();
}

let signingIn = null;
/** Signs in as `user` (once at a time; a second sign-in replaces the first). */
function signIn(user) {
  signingIn ??= startSession(user).finally(() => { signingIn = null; });
  return signingIn;
}

async function startSession(user) {
  $('signin-form').querySelector('button').disabled = true;
  try {
    const getToken = devTokens('', user);
    await getToken(); // a refused name is reported here, before anything else starts
    client?.close();
    client = new PqcallClient({ getToken });
    await wire(user);
  } finally {
    $('signin-form').querySelector('button').disabled = false;
  }
}

async function wire(user) {
  calls = new CallManager(client);
  window.pqcall = { client, calls };
  client.addEventListener('statechange', () => { diag(); log(`stream ${client.state}`); });
  client.addEventListener('event', (e) => { diag(); if (e.detail.name !== 'typing') log(e.detail.name); });
  client.addEventListener('post', diag);
  client.addEventListener('reset', () => { if (conv) openConversation(conv); });
  client.addEventListener('conversation.created', (e) => {
    const o = document.createElement('option');
    o.value = e.detail.conversation_id;
    o.textContent = `${e.detail.title || 'untitled'} (${e.detail.members.join(', ')})`;
    $('convs').append(o);
    if (!conv) openConversation(e.detail.conversation_id);
  });
  client.addEventListener('message.new', (e) => addMessage(e.detail.message));
  client.addEventListener('typing', (e) => {
    const { conversation_id: c, user_id: u, active } = e.detail;
    if (c !== conv) return;
    clearTimeout(typingTimers.get(u));
    $('typing').textContent = active ? `${u} is typing…` : '';
    if (active) typingTimers.set(u, setTimeout(() => { $('typing').textContent = ''; }, 6000));
  });
  calls.addEventListener('incoming', (e) => {
    const call = e.detail;
    $('incoming-from').textContent = call.peer;
    show('incoming', true);
    current = call;
    // Taken in another tab, canceled, missed: the banner goes and the outcome shows.
    call.addEventListener('state', () => { if (call.state !== 'ringing') { show('incoming', false); if (current === call) renderCall(); } });
    log(`incoming call from ${call.peer}`);
  });
  calls.addEventListener('pcstate', (e) => { $('pc-state').textContent = e.detail.state; $('pc-state').dataset.state = e.detail.state; });
  await client.connect();
  // This tab stays signed in as this user across a reload (sessionStorage is per tab).
  sessionStorage.setItem('pqcall-user', user);
  $('me').textContent = user;
  show('signin', false);
  show('app', true);
  diag();
}

$('signin-form').addEventListener('submit', guarded('Could not sign in', async () => {
  const user = $('user').value.trim();
  if (!user) throw new Error('enter a name');
  await signIn(user);
}));
const saved = sessionStorage.getItem('pqcall-user');
if (saved) {
  signIn(saved).catch((err) => {
    // A name the server refuses is forgotten; a network error is not.
    if (err?.status >= 400 && err.status < 500) sessionStorage.removeItem('pqcall-user');
    showError(`Could not sign in: ${why(err)}`);
  });
}
$('create-form').addEventListener('submit', guarded('Could not create the conversation', async () => {
  const members = $('members').value.split(',').map((s) => s.trim()).filter(Boolean);
  if (!members.length) throw new Error('name at least one member');
  const { conversation_id } = await client.createConversation(members, { title: $('title').value.trim() || undefined, open: $('open').checked });
  $('members').value = '';
  $('title').value = '';
  await openConversation(conversation_id);
}));
$('join-form').addEventListener('submit', guarded('Could not join', async () => {
  const id = $('join-id').value.trim();
  if (!id) throw new Error('paste a conversation id');
  await client.joinConversation(id);
  $('join-id').value = '';
  await openConversation(id);
}));
$('convs').addEventListener('change', guarded('Could not open the conversation', () => openConversation($('convs').value)));
$('send-form').addEventListener('submit', guarded('Not sent', async () => {
  const body = $('text').value;
  if (!body.trim() || !conv) return;
  client.typing(conv, false).catch(() => {});
  // The text stays in the box until the server has it.
  const { message } = await client.send(conv, body);
  if ($('text').value === body) $('text').value = '';
  addMessage(message);
}));
let lastTyping = 0;
$('text').addEventListener('input', () => {
  if (!conv || Date.now() - lastTyping < 2000) return;
  lastTyping = Date.now();
  client.typing(conv, true).catch(() => {});
});
$('call-form').addEventListener('submit', guarded('Call failed', async () => {
  const to = $('callee').value.trim();
  if (!to) throw new Error('name the person to call');
  $('pc-state').textContent = 'new';
  $('pc-state').dataset.state = 'new';
  const call = await calls.call(to);
  track(call);
  log(`calling ${call.peer} (rang ${call.devices} device${call.devices === 1 ? '' : 's'})`);
  if (call.devices === 0) showError(`${call.peer} is not online: it rings until they open pqcall or the call is missed.`);
}));
$('accept').addEventListener('click', guarded('Could not accept', async () => {
  show('incoming', false);
  $('pc-state').textContent = 'new';
  $('pc-state').dataset.state = 'new';
  track(current);
  try {
    await current.accept();
  } finally {
    renderCall();
  }
}));
$('decline').addEventListener('click', guarded('Could not decline', async () => { show('incoming', false); await current.decline(); }));
$('hangup').addEventListener('click', guarded('Could not hang up', () => current?.hangup()));
$('mute').addEventListener('click', () => { current?.mute(!current.muted); renderCall(); });
setInterval(diag, 1000);
