// The pqcall protocol client for browsers: tickets + EventSource with lossless resume,
// one stream per origin shared by all tabs, and a helper for every POST endpoint.

/** A refused request: `code` is the protocol's error code. */
export class PqcallError extends Error {
  /** @param {number} status @param {string} code @param {string} message @param {any} [body] */
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/** The events of docs/PROTOCOL.md §3-4 (app events are added with `listen`). */
export const EVENTS = [
  'hello', 'reset', 'auth.expired',
  'call.offer', 'call.answer', 'call.answered_elsewhere', 'call.confirm', 'call.ice', 'call.update',
  'call.declined', 'call.ended', 'call.missed',
  'conversation.created', 'conversation.member_joined', 'message.new', 'typing',
  'message.read', 'presence.changed',
];

const jitter = (ms) => ms / 2 + Math.random() * ms;

/** `fetch`, whose network failure rejects as a PqcallError with code `network`. */
function reach(url, init) {
  return fetch(url, init).catch((e) => {
    throw new PqcallError(0, 'network', `the server could not be reached (${e?.message ?? e})`);
  });
}

/** A response's JSON (null for 204), or its protocol error as a PqcallError. */
async function answer(res) {
  if (res.status === 204) return null;
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new PqcallError(res.status, json?.error?.code ?? 'http_error', json?.error?.message ?? res.statusText, json);
  return json;
}

/**
 * @typedef {'closed'|'connecting'|'open'|'reconnecting'} StreamState
 * @typedef {{ baseUrl?: string, getToken: () => Promise<string>, share?: boolean,
 *             maxBackoffMs?: number }} ClientOptions
 */

export class PqcallClient extends EventTarget {
  /** @param {ClientOptions} opts */
  constructor(opts) {
    super();
    this.baseUrl = opts.baseUrl ?? '';
    this.getToken = opts.getToken;
    this.maxBackoffMs = opts.maxBackoffMs ?? 15000;
    /** @type {StreamState} */
    this.state = 'closed';
    /** @type {string|null} */ this.connId = null;
    /** @type {string|null} */ this.userId = null;
    /** @type {string|null} */ this.lastEventId = null;
    this.reconnects = 0;
    this.lastPostMs = null;
    /** 'leader' runs the stream, 'follower' hears it from another tab, 'solo' has its own */
    this.role = 'solo';
    this._names = new Set(EVENTS);
    this._es = null;
    this._attempt = 0;
    this._timer = null;
    this._closed = true;
    this._share = (opts.share ?? true) && typeof BroadcastChannel !== 'undefined' && !!globalThis.navigator?.locks;
    this._onOnline = () => this._reconnectSoon(0);
    // The browser knows the network is gone: drop the stream now instead of waiting
    // for a dead socket, and come back on `online`.
    this._onOffline = () => {
      if (this.role === 'follower' || this._closed) return;
      clearTimeout(this._timer);
      this._es?.close();
      this._es = null;
      this._setState('reconnecting');
    };
    this._onVisible = () => { if (document.visibilityState === 'visible' && this.state !== 'open') this._reconnectSoon(0); };
  }

  /** Also deliver events named `name` (e.g. an `app.*` event). */
  listen(name) {
    this._names.add(name);
    this._es?.addEventListener(name, (e) => this._onEvent(name, e));
  }

  /** Opens the stream (or joins the one another tab holds). */
  async connect() {
    this._closed = false;
    const token = await this.getToken();
    this.userId = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sub;
    globalThis.addEventListener?.('online', this._onOnline);
    globalThis.addEventListener?.('offline', this._onOffline);
    globalThis.document?.addEventListener('visibilitychange', this._onVisible);
    if (!this._share) return this._open();
    this._channel = new BroadcastChannel(`pqcall:${this.userId}`);
    this._channel.onmessage = (m) => this._onShared(m.data);
    this.role = 'follower';
    this._setState('connecting');
    this._channel.postMessage({ t: 'who' });
    // Whoever holds the lock runs the stream; the rest wait in line behind it.
    navigator.locks.request(`pqcall-stream:${this.userId}`, () => {
      if (this._closed) return undefined;
      this.role = 'leader';
      this._open();
      return new Promise((release) => { this._release = release; });
    });
  }

  close() {
    this._closed = true;
    clearTimeout(this._timer);
    this._es?.close();
    this._es = null;
    this._release?.();
    this._channel?.close();
    globalThis.removeEventListener?.('online', this._onOnline);
    globalThis.removeEventListener?.('offline', this._onOffline);
    globalThis.document?.removeEventListener('visibilitychange', this._onVisible);
    this._setState('closed');
  }

  _setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.dispatchEvent(new CustomEvent('statechange', { detail: s }));
    if (this.role === 'leader') this._channel?.postMessage({ t: 'state', s, connId: this.connId, lastEventId: this.lastEventId, reconnects: this.reconnects });
  }

  async _open() {
    if (this._closed) return;
    this._setState(this._attempt === 0 && !this.lastEventId ? 'connecting' : 'reconnecting');
    let ticket;
    try {
      ticket = (await this.post('/api/auth/authenticate', {})).sse_ticket;
    } catch (e) {
      return this._reconnectSoon();
    }
    const q = new URLSearchParams({ ticket });
    if (this.connId) q.set('conn_id', this.connId);
    if (this.lastEventId) q.set('last_event_id', this.lastEventId);
    const es = new EventSource(`${this.baseUrl}/api/events?${q}`);
    this._es = es;
    for (const name of this._names) es.addEventListener(name, (e) => this._onEvent(name, e));
    es.onerror = () => {
      // A ticket is single-use, so never let EventSource retry with it.
      es.close();
      if (this._es === es) this._reconnectSoon();
    };
  }

  _reconnectSoon(delay) {
    if (this._closed || this.role === 'follower') return;
    clearTimeout(this._timer);
    this._es?.close();
    this._es = null;
    this._setState('reconnecting');
    const ms = delay ?? jitter(Math.min(this.maxBackoffMs, 250 * 2 ** this._attempt++));
    this._timer = setTimeout(() => { this.reconnects++; this._open(); }, ms);
  }

  _onEvent(name, e) {
    const data = e.data ? JSON.parse(e.data) : {};
    if (e.lastEventId) this.lastEventId = e.lastEventId;
    if (name === 'hello') {
      this.connId = data.conn_id;
      this._attempt = 0;
      this._setState('open');
    }
    this._emit(name, data, e.lastEventId);
    if (this.role === 'leader') this._channel?.postMessage({ t: 'event', name, data, id: e.lastEventId, connId: this.connId });
    // The stream's token expired and the server ends the stream: reconnect at once,
    // with a fresh token from getToken() (a new ticket), resuming where it stopped.
    if (name === 'auth.expired') this._reconnectSoon(0);
  }

  _emit(name, data, id) {
    this.dispatchEvent(new CustomEvent(name, { detail: data }));
    this.dispatchEvent(new CustomEvent('event', { detail: { name, data, id } }));
    // `reset`: events were missed; the application reloads its state.
  }

  _onShared(m) {
    if (m.t === 'who' && this.role === 'leader') {
      this._channel.postMessage({ t: 'state', s: this.state, connId: this.connId, lastEventId: this.lastEventId, reconnects: this.reconnects });
    } else if (m.t === 'state' && this.role === 'follower') {
      Object.assign(this, { connId: m.connId, lastEventId: m.lastEventId, reconnects: m.reconnects });
      this.state = m.s;
      this.dispatchEvent(new CustomEvent('statechange', { detail: m.s }));
    } else if (m.t === 'tab') {
      this.dispatchEvent(new CustomEvent('tab', { detail: m.m }));
    } else if (m.t === 'event' && this.role === 'follower') {
      this.connId = m.connId;
      if (m.id) this.lastEventId = m.id;
      this._emit(m.name, m.data, m.id);
    }
  }

  /**
   * POSTs JSON with the token (and this device's connection id when `conn`).
   * @returns {Promise<any>} the JSON result (null for 204)
   */
  async post(path, body, { conn = false } = {}) {
    const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${await this.freshToken()}` };
    if (conn) {
      if (!this.connId) throw new PqcallError(0, 'not_connected', 'the event stream is not open yet');
      headers['X-Pqcall-Conn'] = this.connId;
    }
    const t0 = performance.now();
    const res = await reach(`${this.baseUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    this.lastPostMs = performance.now() - t0;
    this.dispatchEvent(new CustomEvent('post', { detail: { path, ms: this.lastPostMs, status: res.status } }));
    return answer(res);
  }

  /**
   * The ICE servers for a peer connection (`GET /api/ice-servers`: STUN, and TURN with
   * short-lived credentials), cached until a minute before they expire.
   * @returns {Promise<RTCIceServer[]>}
   */
  async iceServers() {
    const now = Date.now() / 1000;
    if (this._ice && this._ice.expires_at - 60 > now) return this._ice.ice_servers;
    const res = await reach(`${this.baseUrl}/api/ice-servers`, { headers: { Authorization: `Bearer ${await this.getToken()}` } });
    this._ice = await answer(res);
    return this._ice.ice_servers;
  }

  /** A token from `getToken`, also kept for `endNow` (which cannot wait for one). */
  async freshToken() {
    this._token = await this.getToken();
    return this._token;
  }

  /**
   * Ends (or, `action = 'decline'`, declines) a call while the page goes away
   * (`pagehide`): a keepalive request the browser sends even as it unloads, with the
   * token last used (no await in between).
   */
  endNow(callId, reason, action = 'end') {
    if (!this._token || !this.connId) return;
    const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${this._token}`, 'X-Pqcall-Conn': this.connId };
    const body = JSON.stringify({ call_id: callId, reason });
    fetch(`${this.baseUrl}/api/calls/${action}`, { method: 'POST', headers, body, keepalive: true }).catch(() => {});
  }

  /**
   * Claims `name` for this tab among the tabs of this user (Web Locks): resolves to a
   * function that gives it back, or null when another tab holds it. Closing the tab
   * gives it back too. Without shared streams, every claim succeeds.
   * @returns {Promise<(() => void) | null>}
   */
  claim(name) {
    if (!this._share || !this.userId) return Promise.resolve(() => {});
    return new Promise((resolve) => {
      navigator.locks.request(`pqcall-${this.userId}:${name}`, { ifAvailable: true }, (lock) => {
        if (!lock) return resolve(null);
        return new Promise((release) => resolve(release));
      });
    });
  }

  /** Tells this user's other tabs `m` (they get a 'tab' event with it). */
  tellTabs(m) {
    this._channel?.postMessage({ t: 'tab', m });
  }

  // ---- chat ----
  createConversation(members, { title, open } = {}) { return this.post('/api/conversations/create', { members, title, open }); }
  joinConversation(conversationId) { return this.post('/api/conversations/join', { conversation_id: conversationId }); }
  loadMessages(conversationId, { before, limit } = {}) { return this.post('/api/messages/load', { conversation_id: conversationId, before, limit }); }
  typing(conversationId, active) { return this.post(active ? '/api/typing/start' : '/api/typing/stop', { conversation_id: conversationId }); }

  // ---- conversations list, read markers, presence, call history (PROTOCOL §9) ----
  /**
   * This user's conversations, most recent activity first, each with its last message
   * and unread count. `before`: the last conversation id of the previous page.
   * @param {{before?: string, limit?: number}} [page]
   */
  listConversations({ before, limit } = {}) { return this.post('/api/conversations/list', { before, limit }); }
  /** Moves this user's read marker forward to `messageId` (the others get `message.read`). */
  markRead(conversationId, messageId) { return this.post('/api/messages/read', { conversation_id: conversationId, message_id: messageId }); }
  /**
   * Whether each of `users` (at most 100) is online; only users who share a
   * conversation with this one are shown (everyone else reads as offline).
   * @param {string[]} users
   */
  presence(users) { return this.post('/api/presence/query', { users }); }
  /**
   * This user's finished calls, newest first. `before`: the last call id of the
   * previous page.
   * @param {{before?: string, limit?: number}} [page]
   */
  callHistory({ before, limit } = {}) { return this.post('/api/calls/history', { before, limit }); }

  /** Sends a message; retried with the same `client_msg_id` until it is stored. */
  async send(conversationId, body, clientMsgId = crypto.randomUUID(), tries = 5) {
    for (let i = 0; ; i++) {
      try {
        return await this.post('/api/messages/send', { conversation_id: conversationId, body, client_msg_id: clientMsgId });
      } catch (e) {
        const retryable = !(e instanceof PqcallError) || e.status >= 500 || e.status === 429;
        if (!retryable || i + 1 >= tries) throw e;
        await new Promise((r) => setTimeout(r, jitter(300 * 2 ** i)));
      }
    }
  }

  // ---- calls (acting for this device's connection) ----
  offer(to, sdp, kem) { return this.post('/api/calls/offer', { to, sdp, kem }, { conn: true }); }
  answer(callId, sdp, kem) { return this.post('/api/calls/answer', { call_id: callId, sdp, kem }, { conn: true }); }
  confirm(callId, kem) { return this.post('/api/calls/confirm', { call_id: callId, kem }, { conn: true }); }
  ice(callId, candidates, done) { return this.post('/api/calls/ice', { call_id: callId, candidates, done }, { conn: true }); }
  update(callId, sdp, kind) { return this.post('/api/calls/update', { call_id: callId, sdp, kind }, { conn: true }); }
  decline(callId, reason) { return this.post('/api/calls/decline', { call_id: callId, reason }, { conn: true }); }
  end(callId, reason) { return this.post('/api/calls/end', { call_id: callId, reason }, { conn: true }); }
}

/**
 * A development-mode token source (`pqcall serve --dev`), refreshed before it expires.
 * @param {string} baseUrl the server ('' for the page's own origin)
 * @param {string} user
 * @returns {() => Promise<string>}
 */
export function devTokens(baseUrl, user) {
  let token = null;
  let exp = 0;
  return async () => {
    if (!token || exp - Date.now() / 1000 < 60) {
      const res = await reach(`${baseUrl}/api/dev/token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user }) });
      if (res.status === 404) throw new PqcallError(404, 'dev_token', 'development mode is off on this server');
      ({ token, expires_at: exp } = await answer(res));
    }
    return token;
  };
}
