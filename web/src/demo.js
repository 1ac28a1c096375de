// The demo app: sign in (development mode); conversations with unread counts, presence,
// read ticks and typing (demo-chat.js); calls with a ring tone, the 6-digit safety code
// and a "codes match" check; call history; errors as toasts; diagnostics folded away.
import { CallManager, PqcallClient, devTokens } from './pqcall.js';
import { Chats } from './demo-chat.js';

const $ = (id) => document.getElementById(id);
const show = (id, on) => { $(id).hidden = !on; };
let client;
let calls;
let chats;
let current; // the call in view
let incoming; // a call ringing here, not yet accepted or declined
const FINAL = ['ended', 'declined', 'canceled', 'missed', 'failed'];

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
  $('state').textContent = STREAM_TEXT[client?.state ?? 'closed'] ?? client.state;
  $('state').dataset.state = client?.state ?? 'closed';
}

/** Shows what went wrong, in words, as a toast until the next action or a click. */
function showError(text) {
  $('error').textContent = text;
  show('error', !!text);
}
$('error').addEventListener('click', () => showError(''));

/** A ring tone (Web Audio, no file) and a flashing tab title while a call rings. */
let ringing = null;
function ring(peer) {
  ringing?.stop();
  const base = 'pqcall';
  let audio = null;
  try { audio = new AudioContext(); } catch { /* no audio output: the title still flashes */ }
  const beep = () => {
    if (!audio) return;
    audio.resume().catch(() => {});
    const t = audio.currentTime;
    for (const start of [0, 0.4]) {
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.frequency.value = 440;
      o.connect(g).connect(audio.destination);
      g.gain.setValueAtTime(0.0001, t + start);
      g.gain.exponentialRampToValueAtTime(0.15, t + start + 0.03);
      g.gain.exponentialRampToValueAtTime(0.0001, t + start + 0.3);
      o.start(t + start);
      o.stop(t + start + 0.32);
    }
  };
  let flip = true;
  const flash = () => { document.title = flip ? `☎ ${peer} is calling` : base; flip = !flip; };
  beep();
  flash();
  const timers = [setInterval(beep, 2500), setInterval(flash, 900)];
  document.body.dataset.ringing = 'true';
  ringing = {
    stop() {
      timers.forEach(clearInterval);
      audio?.close().catch(() => {});
      document.title = base;
      delete document.body.dataset.ringing;
      ringing = null;
    },
  };
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
  busy: 'they are in another call',
};

/** What the event stream's state reads as in the header. */
const STREAM_TEXT = { open: 'connected', connecting: 'connecting…', reconnecting: 'reconnecting…', closed: 'offline' };

/** What each call state reads as. */
const STATE_TEXT = {
  ringing: 'ringing…', connecting: 'connecting…', active: 'in call', ended: 'call ended',
  declined: 'declined', canceled: 'canceled', missed: 'no answer', failed: 'failed',
};
const MEDIA_TEXT = { new: 'waiting', checking: 'connecting', connected: 'connected', disconnected: 'interrupted', failed: 'failed', closed: 'closed' };

/** The server's refusals a person can act on, in their words. */
const REFUSALS = [
  [/you cannot call yourself/, 'you cannot call yourself'],
  [/`(members\[\d+\]|to|user)`: a user id is/, 'names are 1 to 128 characters'],
  [/`body`: at most (\d+) bytes/, 'the message is too long (at most $1 bytes)'],
  [/request body exceeds/, 'the message is too long (at most 16384 bytes)'],
];

/** A failed action's message: the protocol's reason in words, or the server's sentence. */
function why(err) {
  if (REASONS[err?.code]) return REASONS[err.code];
  const message = err?.message ?? String(err);
  for (const [re, words] of REFUSALS) if (re.test(message)) return message.replace(new RegExp(`.*${re.source}.*`), words);
  return message;
}

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

/** On a phone, the list or the pane (a conversation or a call) fills the screen. */
function view(which) {
  $('app').dataset.view = which;
  renderCall();
}

/** Whether `call` is still on (not in a final state). */
const live = (call) => !!call && !FINAL.includes(call.state);

function renderCall() {
  const inView = !!current && !current.closed && (current.role === 'caller' || current.state !== 'ringing');
  show('incall', inView);
  // A call that is on but out of view (the list on a phone) keeps a way back to it.
  show('call-bar', live(current) && inView && $('app').dataset.view === 'list');
  chats?.renderHead();
  if (!current) return;
  const done = FINAL.includes(current.state);
  $('call-peer').textContent = current.peer;
  $('call-bar').textContent = `● ${STATE_TEXT[current.state]} with ${current.peer}: tap to return`;
  const reason = done && current.reason ? REASONS[current.reason] : null;
  $('call-state').textContent = current.reason === 'answered_in_another_tab' ? 'answered in another tab: the call goes on there'
    : reason ? `${STATE_TEXT[current.state]}: ${reason}` : STATE_TEXT[current.state] ?? current.state;
  $('call-state').dataset.state = current.state;
  $('code').textContent = done ? '' : current.code ?? '--- ---';
  if (done) { $('pc-state').textContent = 'closed'; $('pc-state').dataset.state = 'closed'; }
  $('dtls').textContent = done || current.dtlsVerified == null ? '' : current.dtlsVerified ? 'DTLS certificate matches the transcript' : 'DTLS MISMATCH';
  const e = current.e2ee;
  // An ended call says nothing about encryption any more (unless that is why it ended).
  const e2eeState = done && !['failed', 'unsupported'].includes(e.state) ? 'off' : e.state;
  $('e2ee').textContent = E2EE_TEXT[e2eeState] ?? e2eeState;
  $('e2ee').dataset.state = e2eeState;
  $('d-e2ee').textContent = `sent ${e.sent} · received ${e.received} · dropped ${e.dropped}`;
  $('mute').textContent = current.muted ? 'Unmute' : 'Mute';
  $('mute').hidden = done || current.state === 'ringing';
  $('hangup').hidden = done;
  $('close-call').hidden = !done;
  show('code-box', !done);
  $('verify').hidden = !!current.verified || !current.code;
  show('verified', !!current.verified);
}

function track(call) {
  current = call;
  view('pane');
  call.addEventListener('state', () => {
    if (call === current) renderCall();
    if (FINAL.includes(call.state)) {
      log(`call ${call.state}${call.reason ? ` (${call.reason})` : ''}`);
      chats.refreshHistory().catch(() => {});
    }
  });
  const mine = (fn) => () => { if (call === current) fn(); };
  call.addEventListener('code', mine(() => { renderCall(); log(`safety code ${call.code}`); }));
  call.addEventListener('dtls', mine(renderCall));
  call.addEventListener('e2ee', mine(renderCall));
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
  chats = new Chats(client, { guarded, call: placeCall, busy: () => live(current) });
  client.addEventListener('reset', () => { if (chats.openId) chats.open(chats.openId).catch(() => {}); });
  // Whenever the stream (re)opens, what was missed meanwhile is read again.
  client.addEventListener('statechange', () => {
    if (client.state === 'open' && chats.loaded) chats.refresh().catch((err) => showError(`Could not load your conversations: ${why(err)}`));
  });
  calls.addEventListener('incoming', (e) => {
    const call = e.detail;
    // One call at a time: a second caller reaches someone already in a call, who may
    // end that call and take this one, or decline it; the first call stays on screen.
    if (live(incoming)) { call.decline('busy').catch(() => {}); return; }
    incoming = call;
    $('incoming-from').textContent = call.peer;
    $('accept').textContent = live(current) ? 'End call and accept' : 'Accept';
    show('incoming', true);
    ring(call.peer);
    if (!live(current)) { current = call; renderCall(); }
    // Taken in another tab, canceled, missed: the banner goes and the outcome shows.
    call.addEventListener('state', () => {
      if (call.state !== 'ringing' && incoming === call) {
        incoming = null;
        show('incoming', false);
        ringing?.stop();
        if (current === call || !live(current)) track(call);
      }
    });
    log(`incoming call from ${call.peer}`);
  });
  calls.addEventListener('pcstate', (e) => {
    if (e.detail.call && e.detail.call !== current) return;
    $('pc-state').textContent = MEDIA_TEXT[e.detail.state] ?? e.detail.state;
    $('pc-state').dataset.state = e.detail.state;
  });
  await client.connect();
  await chats.refresh();
  chats.loaded = true;
  // This tab stays signed in as this user across a reload (sessionStorage is per tab).
  sessionStorage.setItem('pqcall-user', user);
  $('me').textContent = user;
  $('me').title = user;
  show('sign-out', true);
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
  $('open').checked = false;
  $('new-chat').open = false;
  await chats.open(conversation_id);
}));
$('join-form').addEventListener('submit', guarded('Could not join', async () => {
  const id = $('join-id').value.trim();
  if (!id) throw new Error('paste a conversation id');
  await client.joinConversation(id);
  $('join-id').value = '';
  await chats.open(id);
}));
$('send-form').addEventListener('submit', guarded('Not sent', async () => {
  const body = $('text').value;
  if (!body.trim() || !chats.openId) return;
  // The text stays in the box until the server has it.
  await chats.send(body);
  if ($('text').value === body) $('text').value = '';
}));
$('text').addEventListener('input', () => chats.typed());
$('text').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $('send-form').requestSubmit();
  }
});
$('tab-chats').addEventListener('click', () => chats.tab(false));
$('tab-calls').addEventListener('click', () => chats.tab(true));
$('back').addEventListener('click', () => view('list'));
$('new-chat').addEventListener('toggle', () => { if ($('new-chat').open) $('members').focus(); });

/** Calls `to`: the call view shows it; nobody online is said at once. */
async function placeCall(to) {
  if (live(current)) throw new Error('hang up the current call first');
  $('pc-state').textContent = MEDIA_TEXT.new;
  $('pc-state').dataset.state = 'new';
  const call = await calls.call(to);
  track(call);
  log(`calling ${call.peer} (rang ${call.devices} device${call.devices === 1 ? '' : 's'})`);
  if (call.devices === 0) showError(`${call.peer} is not online: it rings until they open pqcall or the call is missed.`);
}
$('call-form').addEventListener('submit', guarded('Call failed', async () => {
  const to = $('callee').value.trim();
  if (!to) throw new Error('name the person to call');
  await placeCall(to);
}));
$('call-peer-btn').addEventListener('click', guarded('Call failed', async () => {
  const c = chats.convs.get(chats.openId);
  const peer = c && chats.peerOf(c);
  if (!peer) throw new Error('calls are one to one');
  await placeCall(peer);
}));
$('verify').addEventListener('click', () => {
  if (!current?.code) return;
  current.verified = true;
  log(`safety code ${current.code} verified`);
  renderCall();
});
$('close-call').addEventListener('click', () => {
  if (current) current.closed = true;
  renderCall();
  if (!chats.openId) view('list');
});
$('accept').addEventListener('click', guarded('Could not accept', async () => {
  const call = incoming;
  if (!call) return;
  incoming = null;
  show('incoming', false);
  ringing?.stop();
  if (live(current) && current !== call) await current.hangup();
  $('pc-state').textContent = MEDIA_TEXT.new;
  $('pc-state').dataset.state = 'new';
  track(call);
  try {
    await call.accept();
  } finally {
    renderCall();
  }
}));
$('decline').addEventListener('click', guarded('Could not decline', async () => {
  const call = incoming;
  incoming = null;
  show('incoming', false);
  ringing?.stop();
  if (current === call) { current = null; renderCall(); }
  await call?.decline();
}));
$('call-bar').addEventListener('click', () => view('pane'));
$('sign-out').addEventListener('click', () => {
  for (const call of calls?.calls.values() ?? []) if (live(call)) call.hangup().catch(() => {});
  sessionStorage.removeItem('pqcall-user');
  client?.close();
  location.reload();
});
$('hangup').addEventListener('click', guarded('Could not hang up', () => current?.hangup()));
$('mute').addEventListener('click', () => { current?.mute(!current.muted); renderCall(); });
setInterval(diag, 1000);
