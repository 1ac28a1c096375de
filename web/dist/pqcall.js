var __defProp = Object.defineProperty;
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};

// src/client.js
var PqcallError = class extends Error {
  /** @param {number} status @param {string} code @param {string} message @param {any} [body] */
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
};
var EVENTS = [
  "hello",
  "reset",
  "auth.expired",
  "call.offer",
  "call.answer",
  "call.answered_elsewhere",
  "call.confirm",
  "call.ice",
  "call.update",
  "call.declined",
  "call.ended",
  "call.missed",
  "conversation.created",
  "conversation.member_joined",
  "message.new",
  "typing",
  "message.read",
  "presence.changed"
];
var jitter = (ms) => ms / 2 + Math.random() * ms;
function reach(url, init) {
  return fetch(url, init).catch((e) => {
    throw new PqcallError(0, "network", `the server could not be reached (${e?.message ?? e})`);
  });
}
async function answer(res) {
  if (res.status === 204) return null;
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new PqcallError(res.status, json?.error?.code ?? "http_error", json?.error?.message ?? res.statusText, json);
  return json;
}
var PqcallClient = class extends EventTarget {
  /** @param {ClientOptions} opts */
  constructor(opts2) {
    super();
    this.baseUrl = opts2.baseUrl ?? "";
    this.getToken = opts2.getToken;
    this.maxBackoffMs = opts2.maxBackoffMs ?? 15e3;
    this.state = "closed";
    this.connId = null;
    this.userId = null;
    this.lastEventId = null;
    this.reconnects = 0;
    this.lastPostMs = null;
    this.role = "solo";
    this._names = new Set(EVENTS);
    this._es = null;
    this._attempt = 0;
    this._timer = null;
    this._closed = true;
    this._share = (opts2.share ?? true) && typeof BroadcastChannel !== "undefined" && !!globalThis.navigator?.locks;
    this._onOnline = () => this._reconnectSoon(0);
    this._onOffline = () => {
      if (this.role === "follower" || this._closed) return;
      clearTimeout(this._timer);
      this._es?.close();
      this._es = null;
      this._setState("reconnecting");
    };
    this._onVisible = () => {
      if (document.visibilityState === "visible" && this.state !== "open") this._reconnectSoon(0);
    };
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
    this.userId = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub;
    globalThis.addEventListener?.("online", this._onOnline);
    globalThis.addEventListener?.("offline", this._onOffline);
    globalThis.document?.addEventListener("visibilitychange", this._onVisible);
    if (!this._share) return this._open();
    this._channel = new BroadcastChannel(`pqcall:${this.userId}`);
    this._channel.onmessage = (m) => this._onShared(m.data);
    this.role = "follower";
    this._setState("connecting");
    this._channel.postMessage({ t: "who" });
    navigator.locks.request(`pqcall-stream:${this.userId}`, () => {
      if (this._closed) return void 0;
      this.role = "leader";
      this._open();
      return new Promise((release) => {
        this._release = release;
      });
    });
  }
  close() {
    this._closed = true;
    clearTimeout(this._timer);
    this._es?.close();
    this._es = null;
    this._release?.();
    this._channel?.close();
    globalThis.removeEventListener?.("online", this._onOnline);
    globalThis.removeEventListener?.("offline", this._onOffline);
    globalThis.document?.removeEventListener("visibilitychange", this._onVisible);
    this._setState("closed");
  }
  _setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.dispatchEvent(new CustomEvent("statechange", { detail: s }));
    if (this.role === "leader") this._channel?.postMessage({ t: "state", s, connId: this.connId, lastEventId: this.lastEventId, reconnects: this.reconnects });
  }
  async _open() {
    if (this._closed) return;
    this._setState(this._attempt === 0 && !this.lastEventId ? "connecting" : "reconnecting");
    let ticket;
    try {
      ticket = (await this.post("/api/auth/authenticate", {})).sse_ticket;
    } catch (e) {
      return this._reconnectSoon();
    }
    const q = new URLSearchParams({ ticket });
    if (this.connId) q.set("conn_id", this.connId);
    if (this.lastEventId) q.set("last_event_id", this.lastEventId);
    const es = new EventSource(`${this.baseUrl}/api/events?${q}`);
    this._es = es;
    for (const name of this._names) es.addEventListener(name, (e) => this._onEvent(name, e));
    es.onerror = () => {
      es.close();
      if (this._es === es) this._reconnectSoon();
    };
  }
  _reconnectSoon(delay) {
    if (this._closed || this.role === "follower") return;
    clearTimeout(this._timer);
    this._es?.close();
    this._es = null;
    this._setState("reconnecting");
    const ms = delay ?? jitter(Math.min(this.maxBackoffMs, 250 * 2 ** this._attempt++));
    this._timer = setTimeout(() => {
      this.reconnects++;
      this._open();
    }, ms);
  }
  _onEvent(name, e) {
    const data = e.data ? JSON.parse(e.data) : {};
    if (e.lastEventId) this.lastEventId = e.lastEventId;
    if (name === "hello") {
      this.connId = data.conn_id;
      this._attempt = 0;
      this._setState("open");
    }
    this._emit(name, data, e.lastEventId);
    if (this.role === "leader") this._channel?.postMessage({ t: "event", name, data, id: e.lastEventId, connId: this.connId });
    if (name === "auth.expired") this._reconnectSoon(0);
  }
  _emit(name, data, id) {
    this.dispatchEvent(new CustomEvent(name, { detail: data }));
    this.dispatchEvent(new CustomEvent("event", { detail: { name, data, id } }));
  }
  _onShared(m) {
    if (m.t === "who" && this.role === "leader") {
      this._channel.postMessage({ t: "state", s: this.state, connId: this.connId, lastEventId: this.lastEventId, reconnects: this.reconnects });
    } else if (m.t === "state" && this.role === "follower") {
      Object.assign(this, { connId: m.connId, lastEventId: m.lastEventId, reconnects: m.reconnects });
      this.state = m.s;
      this.dispatchEvent(new CustomEvent("statechange", { detail: m.s }));
    } else if (m.t === "tab") {
      this.dispatchEvent(new CustomEvent("tab", { detail: m.m }));
    } else if (m.t === "event" && this.role === "follower") {
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
    const headers = { "Content-Type": "application/json", Authorization: `Bearer ${await this.freshToken()}` };
    if (conn) {
      if (!this.connId) throw new PqcallError(0, "not_connected", "the event stream is not open yet");
      headers["X-Pqcall-Conn"] = this.connId;
    }
    const t0 = performance.now();
    const res = await reach(`${this.baseUrl}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
    this.lastPostMs = performance.now() - t0;
    this.dispatchEvent(new CustomEvent("post", { detail: { path, ms: this.lastPostMs, status: res.status } }));
    return answer(res);
  }
  /**
   * The ICE servers for a peer connection (`GET /api/ice-servers`: STUN, and TURN with
   * short-lived credentials), cached until a minute before they expire.
   * @returns {Promise<RTCIceServer[]>}
   */
  async iceServers() {
    const now = Date.now() / 1e3;
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
  endNow(callId, reason, action = "end") {
    if (!this._token || !this.connId) return;
    const headers = { "Content-Type": "application/json", Authorization: `Bearer ${this._token}`, "X-Pqcall-Conn": this.connId };
    const body = JSON.stringify({ call_id: callId, reason });
    fetch(`${this.baseUrl}/api/calls/${action}`, { method: "POST", headers, body, keepalive: true }).catch(() => {
    });
  }
  /**
   * Claims `name` for this tab among the tabs of this user (Web Locks): resolves to a
   * function that gives it back, or null when another tab holds it. Closing the tab
   * gives it back too. Without shared streams, every claim succeeds.
   * @returns {Promise<(() => void) | null>}
   */
  claim(name) {
    if (!this._share || !this.userId) return Promise.resolve(() => {
    });
    return new Promise((resolve) => {
      navigator.locks.request(`pqcall-${this.userId}:${name}`, { ifAvailable: true }, (lock) => {
        if (!lock) return resolve(null);
        return new Promise((release) => resolve(release));
      });
    });
  }
  /** Tells this user's other tabs `m` (they get a 'tab' event with it). */
  tellTabs(m) {
    this._channel?.postMessage({ t: "tab", m });
  }
  // ---- chat ----
  createConversation(members, { title, open } = {}) {
    return this.post("/api/conversations/create", { members, title, open });
  }
  joinConversation(conversationId) {
    return this.post("/api/conversations/join", { conversation_id: conversationId });
  }
  loadMessages(conversationId, { before, limit } = {}) {
    return this.post("/api/messages/load", { conversation_id: conversationId, before, limit });
  }
  typing(conversationId, active) {
    return this.post(active ? "/api/typing/start" : "/api/typing/stop", { conversation_id: conversationId });
  }
  // ---- conversations list, read markers, presence, call history (PROTOCOL §9) ----
  /**
   * This user's conversations, most recent activity first, each with its last message
   * and unread count. `before`: the last conversation id of the previous page.
   * @param {{before?: string, limit?: number}} [page]
   */
  listConversations({ before, limit } = {}) {
    return this.post("/api/conversations/list", { before, limit });
  }
  /** Moves this user's read marker forward to `messageId` (the others get `message.read`). */
  markRead(conversationId, messageId) {
    return this.post("/api/messages/read", { conversation_id: conversationId, message_id: messageId });
  }
  /**
   * Whether each of `users` (at most 100) is online; only users who share a
   * conversation with this one are shown (everyone else reads as offline).
   * @param {string[]} users
   */
  presence(users) {
    return this.post("/api/presence/query", { users });
  }
  /**
   * This user's finished calls, newest first. `before`: the last call id of the
   * previous page.
   * @param {{before?: string, limit?: number}} [page]
   */
  callHistory({ before, limit } = {}) {
    return this.post("/api/calls/history", { before, limit });
  }
  /** Sends a message; retried with the same `client_msg_id` until it is stored. */
  async send(conversationId, body, clientMsgId = crypto.randomUUID(), tries = 5) {
    for (let i = 0; ; i++) {
      try {
        return await this.post("/api/messages/send", { conversation_id: conversationId, body, client_msg_id: clientMsgId });
      } catch (e) {
        const retryable = !(e instanceof PqcallError) || e.status >= 500 || e.status === 429;
        if (!retryable || i + 1 >= tries) throw e;
        await new Promise((r) => setTimeout(r, jitter(300 * 2 ** i)));
      }
    }
  }
  // ---- calls (acting for this device's connection) ----
  offer(to, sdp, kem) {
    return this.post("/api/calls/offer", { to, sdp, kem }, { conn: true });
  }
  answer(callId, sdp, kem) {
    return this.post("/api/calls/answer", { call_id: callId, sdp, kem }, { conn: true });
  }
  confirm(callId, kem) {
    return this.post("/api/calls/confirm", { call_id: callId, kem }, { conn: true });
  }
  ice(callId, candidates, done) {
    return this.post("/api/calls/ice", { call_id: callId, candidates, done }, { conn: true });
  }
  update(callId, sdp, kind) {
    return this.post("/api/calls/update", { call_id: callId, sdp, kind }, { conn: true });
  }
  decline(callId, reason) {
    return this.post("/api/calls/decline", { call_id: callId, reason }, { conn: true });
  }
  end(callId, reason) {
    return this.post("/api/calls/end", { call_id: callId, reason }, { conn: true });
  }
};
function devTokens(baseUrl, user) {
  let token = null;
  let exp = 0;
  return async () => {
    if (!token || exp - Date.now() / 1e3 < 60) {
      const res = await reach(`${baseUrl}/api/dev/token`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user }) });
      if (res.status === 404) throw new PqcallError(404, "dev_token", "development mode is off on this server");
      ({ token, expires_at: exp } = await answer(res));
    }
    return token;
  };
}

// src/bytes.js
var te = new TextEncoder();
var utf8 = (s) => te.encode(s);
function toBase64(b) {
  let s = "";
  for (let i = 0; i < b.length; i += 32768) s += String.fromCharCode(...b.subarray(i, i + 32768));
  return btoa(s);
}
function fromBase64(s, len, field) {
  if (typeof s !== "string" || s.length !== Math.ceil(len / 3) * 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) {
    throw new HandshakeError("bad_encoding", `${field} must be ${len} bytes of standard padded base64`);
  }
  const bin = atob(s);
  const out = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  if (out.length !== len || toBase64(out) !== s) throw new HandshakeError("bad_encoding", `${field} is not canonical base64`);
  return out;
}
function ctEqual(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}
var HandshakeError = class extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
};

// src/sframe.js
var sframe_exports = {};
__export(sframe_exports, {
  CIPHER_SUITE: () => CIPHER_SUITE,
  KID: () => KID,
  REPLAY_WINDOW: () => REPLAY_WINDOW,
  Receiver: () => Receiver,
  Sender: () => Sender,
  decodeData: () => decodeData,
  decodeHeader: () => decodeHeader,
  deriveKid: () => deriveKid,
  encodeData: () => encodeData,
  encodeHeader: () => encodeHeader,
  importBaseKey: () => importBaseKey,
  seal: () => seal
});
var CIPHER_SUITE = 5;
var REPLAY_WINDOW = 256;
var KID = { callerMedia: 0, callerData: 1, calleeMedia: 2, calleeData: 3 };
var te2 = new TextEncoder();
function minimalBytes(v) {
  const out = [];
  do {
    out.unshift(Number(v & 0xffn));
    v >>= 8n;
  } while (v > 0n);
  return out;
}
function encodeHeader(kid, ctr) {
  const [k, c] = [BigInt(kid), BigInt(ctr)];
  const bytes = [0];
  if (k < 8n) bytes[0] |= Number(k) << 4;
  else {
    const kb = minimalBytes(k);
    bytes[0] |= 128 | kb.length - 1 << 4;
    bytes.push(...kb);
  }
  if (c < 8n) bytes[0] |= Number(c);
  else {
    const cb = minimalBytes(c);
    bytes[0] |= 8 | cb.length - 1;
    bytes.push(...cb);
  }
  return Uint8Array.from(bytes);
}
function decodeHeader(buf) {
  if (buf.length < 1) return null;
  const cfg = buf[0];
  let at = 1;
  const field = (extended, low) => {
    if (!extended) return BigInt(low);
    const n = low + 1;
    if (at + n > buf.length) return null;
    let v = 0n;
    for (let i = 0; i < n; i++) v = v << 8n | BigInt(buf[at + i]);
    at += n;
    return v;
  };
  const kid = field(cfg & 128, cfg >> 4 & 7);
  if (kid === null) return null;
  const ctr = field(cfg & 8, cfg & 7);
  if (ctr === null) return null;
  return { kid, ctr, length: at };
}
function label(what, kid) {
  const l = te2.encode(`SFrame 1.0 Secret ${what} `);
  const out = new Uint8Array(l.length + 10);
  out.set(l);
  const v = new DataView(out.buffer);
  v.setBigUint64(l.length, BigInt(kid));
  v.setUint16(l.length + 8, CIPHER_SUITE);
  return out;
}
async function deriveKid(base, kid) {
  const hkdf = (info) => ({ name: "HKDF", hash: "SHA-512", salt: new Uint8Array(0), info });
  const key = await crypto.subtle.deriveKey(hkdf(label("key", kid)), base, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  const salt = new Uint8Array(await crypto.subtle.deriveBits(hkdf(label("salt", kid)), base, 96));
  return { kid: BigInt(kid), key, salt };
}
var importBaseKey = (bytes) => crypto.subtle.importKey("raw", bytes, "HKDF", false, ["deriveKey", "deriveBits"]);
function nonce(salt, ctr) {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(4, BigInt(ctr));
  for (let i = 0; i < 12; i++) n[i] ^= salt[i];
  return n;
}
async function seal({ kid, key, salt }, ctr, plaintext) {
  const header = encodeHeader(kid, ctr);
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce(salt, ctr), additionalData: header, tagLength: 128 }, key, plaintext));
  const out = new Uint8Array(header.length + ct.length);
  out.set(header);
  out.set(ct, header.length);
  return out;
}
var Sender = class {
  constructor(kidKey) {
    this.k = kidKey;
    this.next = 0n;
  }
  get sent() {
    return Number(this.next);
  }
  /** @param {Uint8Array} plaintext non-empty */
  async seal(plaintext) {
    const ctr = this.next;
    this.next += 1n;
    return seal(this.k, ctr, plaintext);
  }
};
var Receiver = class {
  constructor(kidKey, window = REPLAY_WINDOW) {
    this.k = kidKey;
    this.window = BigInt(window);
    this.highest = -1n;
    this.seen = /* @__PURE__ */ new Set();
    this.received = 0;
    this.dropped = 0;
    this.reasons = { malformed: 0, wrong_kid: 0, replayed: 0, authentication: 0 };
  }
  _drop(why) {
    this.dropped++;
    this.reasons[why]++;
    return null;
  }
  /** Accepted already, or older than the window. */
  _replayed(ctr) {
    return this.seen.has(ctr) || ctr + this.window <= this.highest;
  }
  /** @param {Uint8Array} frame non-empty */
  async open(frame) {
    const h = decodeHeader(frame);
    if (!h || frame.length < h.length + 16) return this._drop("malformed");
    if (h.kid !== this.k.kid) return this._drop("wrong_kid");
    if (this._replayed(h.ctr)) return this._drop("replayed");
    let plain;
    try {
      plain = new Uint8Array(await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: nonce(this.k.salt, h.ctr), additionalData: frame.subarray(0, h.length), tagLength: 128 },
        this.k.key,
        frame.subarray(h.length)
      ));
    } catch {
      return this._drop("authentication");
    }
    if (this._replayed(h.ctr)) return this._drop("replayed");
    this.seen.add(h.ctr);
    if (h.ctr > this.highest) {
      this.highest = h.ctr;
      for (const c of this.seen) if (c + this.window <= this.highest) this.seen.delete(c);
    }
    this.received++;
    return plain;
  }
};
function encodeData(message) {
  const body = typeof message === "string" ? te2.encode(message) : new Uint8Array(message);
  const out = new Uint8Array(body.length + 1);
  out[0] = typeof message === "string" ? 1 : 2;
  out.set(body, 1);
  return out;
}
function decodeData(plain) {
  if (plain[0] === 2) return plain.slice(1);
  if (plain[0] !== 1) return null;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(plain.subarray(1));
  } catch {
    return null;
  }
}

// src/e2ee.js
function e2eeSupport() {
  if (typeof RTCRtpScriptTransform !== "undefined") return "script";
  if (typeof RTCRtpSender !== "undefined" && RTCRtpSender.prototype.createEncodedStreams) return "streams";
  return null;
}
var newWorker = () => new Worker(new URL("./e2ee-worker.js", import.meta.url), { type: "module" });
var spareWorker = () => e2eeSupport() ? newWorker() : null;
var AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
var CallE2ee = class extends EventTarget {
  /** @param {Worker} [worker] a fresh worker from `spareWorker()`, not used by any other call */
  constructor(worker) {
    super();
    this.mode = e2eeSupport();
    if (!this.mode) throw new HandshakeError("e2ee_unsupported", "this browser cannot encrypt call audio end to end (no encoded transforms)");
    this.state = "waiting";
    this.stats = { sent: 0, received: 0, dropped: 0, early: 0, arrived: 0 };
    this.attached = { send: 0, recv: 0 };
    this.worker = worker ?? newWorker();
    this.worker.onmessage = ({ data }) => {
      if (data.type === "stats") {
        this.stats = data.stats;
        this.dispatchEvent(new Event("stats"));
        if (data.reply) for (const done of this._refreshing.splice(0)) done(this.stats);
      }
      if (data.type === "attached") this.attached[data.side]++;
      if (data.type === "keyed") for (const done of this._keyed.splice(0)) done();
      if (data.type === "mark") this.dispatchEvent(new CustomEvent("mark", { detail: data }));
      if (data.type === "decrypting") {
        this._decrypting = true;
        if (this.state === "keyed") this._set("encrypted");
      }
    };
    this.data = null;
    this._keyed = [];
    this._refreshing = [];
  }
  _set(state) {
    if (this.state === state || this.state === "failed") return;
    this.state = state;
    this.dispatchEvent(new Event("state"));
  }
  /** Extra RTCPeerConnection configuration the mode needs. */
  pcConfig() {
    return this.mode === "streams" ? { encodedInsertableStreams: true } : {};
  }
  _attach(side, endpoint) {
    if (this.mode === "script") {
      endpoint.transform = new RTCRtpScriptTransform(this.worker, { side });
    } else {
      const { readable, writable } = endpoint.createEncodedStreams();
      this.worker.postMessage({ type: "streams", side, readable, writable }, [readable, writable]);
    }
  }
  /** Every sender and receiver of the peer connection, and no audio level in clear. */
  attachAll(pc) {
    for (const t of pc.getTransceivers()) {
      if (t.sender.track && !t.sender.transform && !t._pqE2ee) this._attach("send", t.sender);
      if (!t.receiver.transform && !t._pqE2ee) this._attach("recv", t.receiver);
      t._pqE2ee = true;
      try {
        const exts = t.getHeaderExtensionsToNegotiate?.();
        if (exts) t.setHeaderExtensionsToNegotiate(exts.map((e) => e.uri === AUDIO_LEVEL ? { ...e, direction: "stopped" } : e));
      } catch {
      }
    }
  }
  /**
   * Installs this side's keys: media in the worker, data here; resolves once both hold
   * them. Sending starts at once, or
   * with `hold`, only at `release()`: §7 lets a side send only once it verified the peer's
   * tag, but the caller may receive as soon as it has the keys, one round trip earlier.
   * @param {'caller'|'callee'} role @param {{mediaCaller: Uint8Array, mediaCallee: Uint8Array}} keys
   * @param {{hold?: boolean}} [opts]
   */
  async setKeys(role, keys, { hold = false } = {}) {
    this.held = hold;
    const [mine, theirs] = role === "caller" ? [keys.mediaCaller, keys.mediaCallee] : [keys.mediaCallee, keys.mediaCaller];
    const caller = role === "caller";
    const inWorker = new Promise((resolve) => this._keyed.push(resolve));
    this.worker.postMessage({ type: "keys", hold, send: mine, recv: theirs, sendKid: caller ? KID.callerMedia : KID.calleeMedia, recvKid: caller ? KID.calleeMedia : KID.callerMedia });
    const [send, recv] = await Promise.all([importBaseKey(mine), importBaseKey(theirs)]);
    mine.fill(0);
    theirs.fill(0);
    this.keys = { send, recv };
    const [dtx, drx] = await Promise.all([
      deriveKid(send, caller ? KID.callerData : KID.calleeData),
      deriveKid(recv, caller ? KID.calleeData : KID.callerData)
    ]);
    this.data = { sender: new Sender(dtx), receiver: new Receiver(drx) };
    await inWorker;
    if (!hold) this._ready();
  }
  // Both tags verified and this side's keys in: 'encrypted' if the peer's frames already
  // decrypt (the caller can decrypt before it may send), else 'keyed' until they do.
  _ready() {
    this._set(this._decrypting ? "encrypted" : "keyed");
  }
  /** Starts sending with the keys installed with `hold` (the peer's tag verified). */
  release() {
    this.held = false;
    this.worker.postMessage({ type: "send" });
    this._ready();
  }
  /** Seals a data-channel message (string or bytes); null before this side may send. */
  async sealData(message) {
    return this.data && !this.held ? this.data.sender.seal(encodeData(message)) : null;
  }
  /** Opens a data-channel message; null when it is dropped (counted). */
  async openData(bytes) {
    if (!this.data) return null;
    const plain = await this.data.receiver.open(new Uint8Array(bytes));
    return plain ? decodeData(plain) : null;
  }
  /** Counters read by the worker after every message sent to it before (they are also
   * pushed every half second). */
  refreshStats() {
    if (this.closed) return Promise.resolve(this.stats);
    return new Promise((resolve) => {
      this._refreshing.push(resolve);
      this.worker.postMessage({ type: "stats" });
    });
  }
  fail() {
    this._set("failed");
  }
  /** Ends the worker; counts asked for from now on are the last ones it sent. */
  close() {
    this.closed = true;
    this.worker.terminate();
    for (const done of this._refreshing.splice(0)) done(this.stats);
    for (const done of this._keyed.splice(0)) done();
  }
};

// src/fingerprint.js
var fingerprint_exports = {};
__export(fingerprint_exports, {
  certificateMatches: () => certificateMatches,
  fingerprintFromSdp: () => fingerprintFromSdp,
  parseFingerprints: () => parseFingerprints
});
var PREFIX = "a=fingerprint:";
var SPACE = /[ \t\f\r]+/;
var lowerAscii = (s) => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
var upperAscii = (s) => s.replace(/[a-z]+/g, (m) => m.toUpperCase());
var te3 = new TextEncoder();
function bytewise(a, b) {
  const [x, y] = [te3.encode(a), te3.encode(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}
function parseFingerprints(sdp) {
  const found = /* @__PURE__ */ new Map();
  for (const raw of String(sdp ?? "").split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (!line.startsWith(PREFIX)) continue;
    const parts = line.slice(PREFIX.length).split(SPACE).filter(Boolean);
    if (parts.length !== 2 || parts.some((p) => p.includes(","))) throw new HandshakeError("fingerprint_mismatch", "a fingerprint line is malformed");
    const [hash, hex] = [lowerAscii(parts[0]), upperAscii(parts[1])];
    if (found.has(hash) && found.get(hash) !== hex) {
      throw new HandshakeError("fingerprint_mismatch", "two different fingerprints for one hash function");
    }
    found.set(hash, hex);
  }
  if (!found.size) throw new HandshakeError("fingerprint_mismatch", "the SDP has no fingerprint");
  const items = [...found].map(([h, x]) => `${h} ${x}`).sort(bytewise);
  return { binding: items.join(","), values: [...found] };
}
var fingerprintFromSdp = (sdp) => parseFingerprints(sdp).binding;
var DIGESTS = { "sha-256": "SHA-256", "sha-384": "SHA-384", "sha-512": "SHA-512" };
async function certificateMatches(der, sdp) {
  for (const [hash, hex] of parseFingerprints(sdp).values) {
    if (!DIGESTS[hash]) continue;
    const digest = new Uint8Array(await crypto.subtle.digest(DIGESTS[hash], der));
    const got = Array.from(digest, (b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
    if (got === hex) return true;
  }
  return false;
}

// src/handshake.js
var handshake_exports = {};
__export(handshake_exports, {
  H: () => H,
  LEN: () => LEN,
  SUITE: () => SUITE,
  callContext: () => callContext,
  calleeAnswer: () => calleeAnswer,
  calleeConfirm: () => calleeConfirm,
  callerFinish: () => callerFinish,
  callerStart: () => callerStart,
  callerVerify: () => callerVerify,
  commitment: () => commitment,
  defaultKem: () => defaultKem,
  fingerprintFromSdp: () => fingerprintFromSdp,
  keySchedule: () => keySchedule,
  nobleKem: () => nobleKem,
  transcriptHash: () => transcriptHash,
  webCryptoKem: () => webCryptoKem
});

// node_modules/@noble/hashes/_u64.js
var U32_MASK64 = /* @__PURE__ */ (() => BigInt(2 ** 32 - 1))();
var _32n = /* @__PURE__ */ BigInt(32);
function fromBig(n, le = false) {
  if (le)
    return { h: Number(n & U32_MASK64), l: Number(n >> _32n & U32_MASK64) };
  return { h: Number(n >> _32n & U32_MASK64) | 0, l: Number(n & U32_MASK64) | 0 };
}
function split(lst, le = false) {
  const len = lst.length;
  let Ah = new Uint32Array(len);
  let Al = new Uint32Array(len);
  for (let i = 0; i < len; i++) {
    const { h, l } = fromBig(lst[i], le);
    [Ah[i], Al[i]] = [h, l];
  }
  return [Ah, Al];
}

// node_modules/@noble/hashes/utils.js
function isBytes(a) {
  return a instanceof Uint8Array || ArrayBuffer.isView(a) && a.constructor.name === "Uint8Array" && "BYTES_PER_ELEMENT" in a && a.BYTES_PER_ELEMENT === 1;
}
var atitle = (title) => title ? `"${title}" ` : "";
function anumber(n, title = "") {
  if (typeof n !== "number")
    throw new TypeError(atitle(title) + "expected number, got " + typeof n);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(atitle(title) + "expected integer >= 0, got " + n);
  return n;
}
function abool(value, title = "") {
  if (typeof value !== "boolean")
    throw new TypeError(atitle(title) + "expected boolean, got type=" + typeof value);
  return value;
}
function abytes(value, length, title = "") {
  if (isBytes(value) && (length === void 0 || value.length === length))
    return value;
  if (length !== void 0)
    anumber(length, "length");
  const bytes = isBytes(value);
  const ofLen = length !== void 0 ? ` of length ${length}` : "";
  const got = bytes ? `length=${value.length}` : `type=${typeof value}`;
  const message = atitle(title) + "expected Uint8Array" + ofLen + ", got " + got;
  if (!bytes)
    throw new TypeError(message);
  throw new RangeError(message);
}
var aobject = (value, label2) => {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new TypeError((label2 === "object" ? "" : `"${label2}" `) + "expected object, got type=" + typeof value);
};
var aopts = (value, label2) => {
  aobject(value, label2);
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null)
    throw new TypeError(`"${label2}" expected plain object`);
  if (Object.hasOwn(value, "__proto__"))
    throw new TypeError(`"${label2}.__proto__" is not allowed`);
};
function aexists(instance, checkFinished = true) {
  if (instance.destroyed)
    throw new Error("hash was destroyed");
  if (checkFinished && instance.finished)
    throw new Error("digest() was already called");
}
function aoutput(out, instance) {
  abytes(out, void 0, "output");
  const min = instance.outputLen;
  if (!(out.length >= min)) {
    throw new RangeError('"output" expected length >= ' + min);
  }
}
function u32(arr) {
  return new Uint32Array(arr.buffer, arr.byteOffset, Math.floor(arr.byteLength / 4));
}
function clean(...arrays) {
  for (let i = 0; i < arrays.length; i++) {
    arrays[i].fill(0);
  }
}
var isLE = /* @__PURE__ */ (() => new Uint8Array(new Uint32Array([287454020]).buffer)[0] === 68)();
function byteSwap(word) {
  return word << 24 & 4278190080 | word << 8 & 16711680 | word >>> 8 & 65280 | word >>> 24 & 255;
}
function byteSwap32(arr) {
  for (let i = 0; i < arr.length; i++) {
    arr[i] = byteSwap(arr[i]);
  }
  return arr;
}
var swap32IfBE = isLE ? (u) => u : byteSwap32;
function checkOpts(defaults, opts2, title = "opts") {
  aopts(defaults, "defaults");
  if (opts2 !== void 0)
    aopts(opts2, title);
  const merged = Object.assign(/* @__PURE__ */ Object.create(null), defaults, opts2);
  return merged;
}
function createHasher(hashCons, info = {}) {
  if (typeof hashCons !== "function")
    throw new TypeError('"hashCons" expected function, got type=' + typeof hashCons);
  info = checkOpts({}, info, "info");
  const hashC = (msg, opts2) => hashCons(opts2).update(msg).digest();
  const tmp = hashCons(void 0);
  hashC.outputLen = tmp.outputLen;
  hashC.blockLen = tmp.blockLen;
  hashC.canXOF = tmp.canXOF;
  hashC.create = (opts2) => hashCons(opts2);
  Object.assign(hashC, info);
  return Object.freeze(hashC);
}
function randomBytes(bytesLength = 32) {
  anumber(bytesLength, "bytesLength");
  const cr = typeof globalThis === "object" ? globalThis.crypto : null;
  if (typeof cr?.getRandomValues !== "function")
    throw new Error("crypto.getRandomValues must be defined");
  if (bytesLength > 65536)
    throw new RangeError(`"bytesLength" expected <= 65536, got ${bytesLength}`);
  return cr.getRandomValues(new Uint8Array(bytesLength));
}
var oidNist = (suffix) => ({
  // Current NIST hashAlgs suffixes used here fit in one DER subidentifier octet.
  // Larger suffix values would need base-128 OID encoding and a different length byte.
  oid: Uint8Array.from([6, 9, 96, 134, 72, 1, 101, 3, 4, 2, suffix])
});

// node_modules/@noble/hashes/sha3.js
var _0n = BigInt(0);
var _1n = BigInt(1);
var _2n = BigInt(2);
var _7n = BigInt(7);
var _256n = BigInt(256);
var _0x71n = BigInt(113);
var SHA3_PI = [];
var SHA3_ROTL = [];
var _SHA3_IOTA = [];
for (let round = 0, R = _1n, x = 1, y = 0; round < 24; round++) {
  [x, y] = [y, (2 * x + 3 * y) % 5];
  SHA3_PI.push(2 * (5 * y + x));
  SHA3_ROTL.push((round + 1) * (round + 2) / 2 % 64);
  let t = _0n;
  for (let j = 0; j < 7; j++) {
    R = (R << _1n ^ (R >> _7n) * _0x71n) % _256n;
    if (R & _2n)
      t ^= _1n << (_1n << BigInt(j)) - _1n;
  }
  _SHA3_IOTA.push(t);
}
var IOTAS = split(_SHA3_IOTA, true);
var SHA3_IOTA_H = IOTAS[0];
var SHA3_IOTA_L = IOTAS[1];
var rotlSH = (h, l, s) => h << s | l >>> 32 - s;
var rotlSL = (h, l, s) => l << s | h >>> 32 - s;
var rotlBH = (h, l, s) => l << s - 32 | h >>> 64 - s;
var rotlBL = (h, l, s) => h << s - 32 | l >>> 64 - s;
var rotlH = (h, l, s) => s > 32 ? rotlBH(h, l, s) : rotlSH(h, l, s);
var rotlL = (h, l, s) => s > 32 ? rotlBL(h, l, s) : rotlSL(h, l, s);
var B = new Uint32Array(5 * 2);
function keccakP(s, rounds = 24) {
  if (!(s instanceof Uint32Array))
    throw new TypeError('"s" expected Uint32Array(50), got type=' + typeof s);
  if (s.length !== 50)
    throw new RangeError('"s" expected Uint32Array(50), got length=' + s.length);
  anumber(rounds, "rounds");
  if (rounds < 1 || rounds > 24)
    throw new Error('"rounds" expected integer 1..24');
  for (let round = 24 - rounds; round < 24; round++) {
    for (let x = 0; x < 10; x++)
      B[x] = s[x] ^ s[x + 10] ^ s[x + 20] ^ s[x + 30] ^ s[x + 40];
    for (let x = 0; x < 10; x += 2) {
      const idx1 = (x + 8) % 10;
      const idx0 = (x + 2) % 10;
      const B0 = B[idx0];
      const B1 = B[idx0 + 1];
      const Th = rotlH(B0, B1, 1) ^ B[idx1];
      const Tl = rotlL(B0, B1, 1) ^ B[idx1 + 1];
      for (let y = 0; y < 50; y += 10) {
        s[x + y] ^= Th;
        s[x + y + 1] ^= Tl;
      }
    }
    let curH = s[2];
    let curL = s[3];
    for (let t = 0; t < 24; t++) {
      const shift = SHA3_ROTL[t];
      const Th = rotlH(curH, curL, shift);
      const Tl = rotlL(curH, curL, shift);
      const PI = SHA3_PI[t];
      curH = s[PI];
      curL = s[PI + 1];
      s[PI] = Th;
      s[PI + 1] = Tl;
    }
    for (let y = 0; y < 50; y += 10) {
      const b0 = s[y], b1 = s[y + 1], b2 = s[y + 2], b3 = s[y + 3];
      s[y] ^= ~s[y + 2] & s[y + 4];
      s[y + 1] ^= ~s[y + 3] & s[y + 5];
      s[y + 2] ^= ~s[y + 4] & s[y + 6];
      s[y + 3] ^= ~s[y + 5] & s[y + 7];
      s[y + 4] ^= ~s[y + 6] & s[y + 8];
      s[y + 5] ^= ~s[y + 7] & s[y + 9];
      s[y + 6] ^= ~s[y + 8] & b0;
      s[y + 7] ^= ~s[y + 9] & b1;
      s[y + 8] ^= ~b0 & b2;
      s[y + 9] ^= ~b1 & b3;
    }
    s[0] ^= SHA3_IOTA_H[round];
    s[1] ^= SHA3_IOTA_L[round];
  }
  clean(B);
}
var Keccak = class _Keccak {
  state;
  pos = 0;
  posOut = 0;
  finished = false;
  state32;
  destroyed = false;
  blockLen;
  suffix;
  outputLen;
  canXOF;
  enableXOF = false;
  rounds;
  // NOTE: we accept arguments in bytes instead of bits here.
  constructor(blockLen, suffix, outputLen, enableXOF = false, rounds = 24) {
    anumber(blockLen, "blockLen");
    anumber(suffix, "suffix");
    anumber(rounds, "rounds");
    abool(enableXOF, "enableXOF");
    this.blockLen = blockLen;
    this.suffix = suffix;
    this.outputLen = outputLen;
    this.enableXOF = enableXOF;
    this.canXOF = enableXOF;
    this.rounds = rounds;
    anumber(outputLen, "outputLen");
    if (!(0 < blockLen && blockLen < 200))
      throw new Error('"blockLen" must be 1..199');
    this.state = new Uint8Array(200);
    this.state32 = u32(this.state);
  }
  clone() {
    return this._cloneInto();
  }
  keccak() {
    swap32IfBE(this.state32);
    keccakP(this.state32, this.rounds);
    swap32IfBE(this.state32);
    this.posOut = 0;
    this.pos = 0;
  }
  update(data) {
    aexists(this);
    abytes(data);
    const { blockLen, state, state32 } = this;
    const len = data.length;
    const canUseU32 = blockLen % 4 === 0 && data.byteOffset % 4 === 0;
    const blockLen32 = blockLen / 4;
    const data32 = canUseU32 && len >= blockLen ? u32(data) : void 0;
    for (let pos = 0; pos < len; ) {
      if (data32 !== void 0 && this.pos === 0 && pos % 4 === 0 && len - pos >= blockLen) {
        for (let i = 0, o = pos / 4; i < blockLen32; i++)
          state32[i] ^= data32[o + i];
        pos += blockLen;
        this.pos = blockLen;
        this.keccak();
        continue;
      }
      const take = Math.min(blockLen - this.pos, len - pos);
      for (let i = 0; i < take; i++)
        state[this.pos++] ^= data[pos++];
      if (this.pos === blockLen)
        this.keccak();
    }
    return this;
  }
  finish() {
    if (this.finished)
      return;
    this.finished = true;
    const { state, suffix, pos, blockLen } = this;
    state[pos] ^= suffix;
    if ((suffix & 128) !== 0 && pos === blockLen - 1)
      this.keccak();
    state[blockLen - 1] ^= 128;
    this.keccak();
  }
  writeInto(out) {
    aexists(this, false);
    abytes(out);
    this.finish();
    const bufferOut = this.state;
    const { blockLen } = this;
    for (let pos = 0, len = out.length; pos < len; ) {
      if (this.posOut >= blockLen)
        this.keccak();
      const take = Math.min(blockLen - this.posOut, len - pos);
      out.set(bufferOut.subarray(this.posOut, this.posOut + take), pos);
      this.posOut += take;
      pos += take;
    }
    return out;
  }
  xofInto(out) {
    if (!this.enableXOF)
      throw new Error("XOF is not enabled");
    return this.writeInto(out);
  }
  xof(bytes) {
    anumber(bytes);
    return this.xofInto(new Uint8Array(bytes));
  }
  digestInto(out) {
    aoutput(out, this);
    if (this.finished)
      throw new Error("digest() was already called");
    this.writeInto(out.length === this.outputLen ? out : out.subarray(0, this.outputLen));
    this.destroy();
  }
  digest() {
    const out = new Uint8Array(this.outputLen);
    this.digestInto(out);
    return out;
  }
  destroy() {
    this.destroyed = true;
    clean(this.state);
  }
  _cloneInto(to) {
    const { blockLen, suffix, outputLen, rounds, enableXOF } = this;
    to ||= new _Keccak(blockLen, suffix, outputLen, enableXOF, rounds);
    to.blockLen = blockLen;
    to.state32.set(this.state32);
    to.pos = this.pos;
    to.posOut = this.posOut;
    to.finished = this.finished;
    to.rounds = rounds;
    to.suffix = suffix;
    to.outputLen = outputLen;
    to.enableXOF = enableXOF;
    to.canXOF = this.canXOF;
    to.destroyed = this.destroyed;
    return to;
  }
};
var genKeccak = (suffix, blockLen, outputLen, info = {}) => createHasher(() => new Keccak(blockLen, suffix, outputLen), info);
var sha3_256 = /* @__PURE__ */ genKeccak(
  6,
  136,
  32,
  /* @__PURE__ */ oidNist(8)
);
var sha3_512 = /* @__PURE__ */ genKeccak(
  6,
  72,
  64,
  /* @__PURE__ */ oidNist(10)
);
var genShake = (suffix, blockLen, outputLen, info = {}) => createHasher((opts2 = {}) => {
  opts2 = checkOpts({}, opts2);
  return new Keccak(blockLen, suffix, opts2.dkLen === void 0 ? outputLen : opts2.dkLen, true);
}, info);
var shake128 = /* @__PURE__ */ genShake(31, 168, 16, /* @__PURE__ */ oidNist(11));
var shake256 = /* @__PURE__ */ genShake(31, 136, 32, /* @__PURE__ */ oidNist(12));

// node_modules/@noble/curves/utils.js
function aobject2(value, title = "object") {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new TypeError(title === "object" ? "expected valid options object" : `"${title}" expected object, got type=${typeof value}`);
  return value;
}
function validateObject(object, fields = {}, optFields = {}, title = "object") {
  aobject2(object, title);
  aobject2(fields, "fields");
  aobject2(optFields, "optFields");
  function checkField(fieldName, expectedType, isOpt) {
    const label2 = title === "object" ? `param "${String(fieldName)}"` : `"${title}.${String(fieldName)}"`;
    const val = object[fieldName];
    if (!Object.hasOwn(object, fieldName) && (isOpt ? val !== void 0 : expectedType !== "function")) {
      throw new TypeError(`${label2} is invalid: expected own property`);
    }
    if (isOpt && val === void 0)
      return;
    const current = typeof val;
    if (current !== expectedType || val === null)
      throw new TypeError(`${label2} is invalid: expected ${expectedType}, got ${current}`);
  }
  const iter = (f, isOpt) => Object.entries(f).forEach(([k, v]) => checkField(k, v, isOpt));
  iter(fields, false);
  iter(optFields, true);
}

// node_modules/@noble/curves/abstract/fft.js
function checkU32(n, title = "n") {
  if (typeof n !== "number")
    throw new TypeError(`wrong u32 integer "${title}": expected number, got type=${typeof n}`);
  if (!Number.isSafeInteger(n) || n < 0 || n > 4294967295)
    throw new RangeError(`wrong u32 integer "${title}": expected 0..4294967295, got ${n}`);
  return n;
}
function isPowerOfTwo(x) {
  checkU32(x, "x");
  return (x & x - 1) === 0 && x !== 0;
}
function reverseBits(n, bits) {
  checkU32(n);
  if (typeof bits !== "number")
    throw new TypeError('"bits" expected number, got type=' + typeof bits);
  if (!Number.isSafeInteger(bits) || bits < 0 || bits > 32)
    throw new Error(`expected integer 0 <= bits <= 32, got ${bits}`);
  let reversed = 0;
  for (let i = 0; i < bits; i++, n >>>= 1)
    reversed = reversed << 1 | n & 1;
  return reversed >>> 0;
}
function log2(n) {
  checkU32(n);
  return 31 - Math.clz32(n);
}
function bitReversalInplace(values) {
  if (!values || typeof values !== "object" || typeof values.length !== "number")
    throw new TypeError('"values" expected array-like, got type=' + typeof values);
  const n = values.length;
  if (!isPowerOfTwo(n))
    throw new Error("expected positive power-of-two length, got " + n);
  const bits = log2(n);
  for (let i = 0; i < n; i++) {
    const j = reverseBits(i, bits);
    if (i < j) {
      const tmp = values[i];
      values[i] = values[j];
      values[j] = tmp;
    }
  }
  return values;
}
var FFTCore = (F2, coreOpts) => {
  validateObject(coreOpts, { N: "number", roots: "object", dit: "boolean" }, { invertButterflies: "boolean", skipStages: "number", brp: "boolean" }, "coreOpts");
  const { N: N2, roots, dit, invertButterflies = false, skipStages = 0, brp = true } = coreOpts;
  checkU32(N2, "coreOpts.N");
  const bits = log2(N2);
  if (!isPowerOfTwo(N2))
    throw new Error("FFT: Polynomial size should be power of two");
  checkU32(skipStages, "coreOpts.skipStages");
  const maxSkipStages = bits === 0 ? 0 : bits - 1;
  if (skipStages > maxSkipStages)
    throw new Error(`FFT: wrong skipStages: expected 0 <= skipStages <= ${maxSkipStages}`);
  if (roots.length !== N2)
    throw new Error(`FFT: wrong roots length: expected ${N2}, got ${roots.length}`);
  const isDit = dit !== invertButterflies;
  return (values) => {
    if (values.length !== N2)
      throw new Error("FFT: wrong Polynomial length");
    if (dit && brp)
      bitReversalInplace(values);
    for (let i = 0, g = 1; i < bits - skipStages; i++) {
      const s = dit ? i + 1 + skipStages : bits - i;
      const m = 1 << s;
      const m2 = m >> 1;
      const stride = N2 >> s;
      for (let k = 0; k < N2; k += m) {
        for (let j = 0, grp = g++; j < m2; j++) {
          const rootPos = invertButterflies ? dit ? N2 - grp : grp : j * stride;
          const i0 = k + j;
          const i1 = k + j + m2;
          const omega = roots[rootPos];
          const b = values[i1];
          const a = values[i0];
          if (isDit) {
            const t = F2.mul(b, omega);
            values[i0] = F2.add(a, t);
            values[i1] = F2.sub(a, t);
          } else if (invertButterflies) {
            values[i0] = F2.add(b, a);
            values[i1] = F2.mul(F2.sub(b, a), omega);
          } else {
            values[i0] = F2.add(a, b);
            values[i1] = F2.mul(F2.sub(a, b), omega);
          }
        }
      }
    }
    if (!dit && brp)
      bitReversalInplace(values);
    return values;
  };
};

// node_modules/@noble/post-quantum/utils.js
var abytesDoc = abytes;
var randomBytes2 = randomBytes;
function aarray2(item, title, inner = () => {
}) {
  if (!Array.isArray(item))
    throw new TypeError(`"${title}" expected array, got type=${typeof item}`);
  for (let i = 0; i < item.length; i++)
    inner(item[i], `${title}[${i}]`);
  return item;
}
function equalBytes(a, b) {
  a = abytes(a);
  b = abytes(b);
  if (a.length !== b.length)
    return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++)
    diff |= a[i] ^ b[i];
  return diff === 0;
}
function copyBytes(bytes) {
  return new Uint8Array(abytes(bytes));
}
function splitCoder(label2, ...lengths) {
  const getLength = (c) => typeof c === "number" ? c : c.bytesLen;
  const bytesLen = lengths.reduce((sum, a) => sum + getLength(a), 0);
  return {
    bytesLen,
    encode: (bufs) => {
      const res = new Uint8Array(bytesLen);
      for (let i = 0, pos = 0; i < lengths.length; i++) {
        const c = lengths[i];
        const l = getLength(c);
        const b = typeof c === "number" ? bufs[i] : c.encode(bufs[i]);
        abytes(b, l, label2);
        res.set(b, pos);
        if (typeof c !== "number")
          b.fill(0);
        pos += l;
      }
      return res;
    },
    decode: (buf) => {
      abytes(buf, bytesLen, label2);
      const res = [];
      for (const c of lengths) {
        const l = getLength(c);
        const b = buf.subarray(0, l);
        res.push(typeof c === "number" ? b : c.decode(b));
        buf = buf.subarray(l);
      }
      return res;
    }
  };
}
function vecCoder(c, vecLen) {
  const coder = c;
  const bytesLen = vecLen * coder.bytesLen;
  return {
    bytesLen,
    encode: (u) => {
      const uArr = aarray2(u, "u");
      if (uArr.length !== vecLen)
        throw new RangeError(`vecCoder.encode: wrong length=${uArr.length}. Expected: ${vecLen}`);
      const res = new Uint8Array(bytesLen);
      for (let i = 0, pos = 0; i < uArr.length; i++) {
        const b = coder.encode(uArr[i]);
        res.set(b, pos);
        b.fill(0);
        pos += b.length;
      }
      return res;
    },
    decode: (a) => {
      abytes(a, bytesLen);
      const r = [];
      for (let i = 0; i < a.length; i += coder.bytesLen)
        r.push(coder.decode(a.subarray(i, i + coder.bytesLen)));
      return r;
    }
  };
}
function cleanBytes(...list) {
  for (const t of list) {
    if (Array.isArray(t))
      for (const b of t)
        b.fill(0);
    else
      t.fill(0);
  }
}
function getMask(bits) {
  anumber(bits, "bits");
  if (bits > 32)
    throw new RangeError('"bits" expected <= 32, got ' + bits);
  return bits === 32 ? 4294967295 : ~(-1 << bits) >>> 0;
}

// node_modules/@noble/post-quantum/_crystals.js
var genCrystals = (opts2) => {
  const { newPoly, N: N2, Q: Q2, F: F2, ROOT_OF_UNITY: ROOT_OF_UNITY2, brvBits, isKyber } = opts2;
  const mod = (a, modulo = Q2) => {
    const result = a % modulo | 0;
    return (result >= 0 ? result | 0 : modulo + result | 0) | 0;
  };
  const smod = (a, modulo = Q2) => {
    const r = mod(a, modulo) | 0;
    return (r > modulo >> 1 ? r - modulo | 0 : r) | 0;
  };
  function getZettas() {
    const out = newPoly(N2);
    for (let i = 0; i < N2; i++) {
      const b = reverseBits(i, brvBits);
      const p = BigInt(ROOT_OF_UNITY2) ** BigInt(b) % BigInt(Q2);
      out[i] = Number(p) | 0;
    }
    return out;
  }
  const nttZetas = getZettas();
  const inv = (_a) => {
    throw new Error("not implemented");
  };
  const field = isKyber ? {
    add: (a, b) => {
      const r = a + b | 0;
      return r >= Q2 ? r - Q2 | 0 : r;
    },
    sub: (a, b) => {
      const r = a - b | 0;
      return r < 0 ? r + Q2 | 0 : r;
    },
    mul: (a, b) => mod((a | 0) * (b | 0)) | 0,
    inv
  } : {
    add: (a, b) => mod((a | 0) + (b | 0)) | 0,
    sub: (a, b) => mod((a | 0) - (b | 0)) | 0,
    mul: (a, b) => mod((a | 0) * (b | 0)) | 0,
    inv
  };
  const nttOpts = {
    N: N2,
    roots: nttZetas,
    invertButterflies: true,
    skipStages: isKyber ? 1 : 0,
    brp: false
  };
  const dif = FFTCore(field, { dit: false, ...nttOpts });
  const dit = FFTCore(field, { dit: true, ...nttOpts });
  const NTT = {
    encode: (r) => {
      return dif(r);
    },
    decode: (r) => {
      dit(r);
      for (let i = 0; i < r.length; i++)
        r[i] = mod(F2 * r[i]);
      return r;
    }
  };
  const bitsCoder = (d, c) => {
    for (let i = 0, bufLen = 0; i < N2; i++) {
      bufLen += d;
      if (bufLen > 32)
        getMask(bufLen);
      bufLen %= 8;
    }
    const mask = getMask(d);
    const bytesLen = d * (N2 / 8);
    return {
      bytesLen,
      encode: (poly_) => {
        const poly = poly_;
        const r = new Uint8Array(bytesLen);
        for (let i = 0, buf = 0, bufLen = 0, pos = 0; i < poly.length; i++) {
          buf |= (c.encode(poly[i]) & mask) << bufLen;
          bufLen += d;
          for (; bufLen >= 8; bufLen -= 8, buf >>= 8)
            r[pos++] = buf & 255;
        }
        return r;
      },
      decode: (bytes) => {
        const r = newPoly(N2);
        for (let i = 0, buf = 0, bufLen = 0, pos = 0; i < bytes.length; i++) {
          buf |= bytes[i] << bufLen;
          bufLen += 8;
          for (; bufLen >= d; bufLen -= d, buf >>= d)
            r[pos++] = c.decode(buf & mask);
        }
        return r;
      }
    };
  };
  return {
    mod,
    smod,
    nttZetas,
    NTT: {
      encode: (r) => NTT.encode(r),
      decode: (r) => NTT.decode(r)
    },
    bitsCoder
  };
};
var createXofShake = (shake) => (seed, blockLen) => {
  if (!blockLen)
    blockLen = shake.blockLen;
  const _seed = new Uint8Array(seed.length + 2);
  _seed.set(seed);
  const seedLen = seed.length;
  const buf = new Uint8Array(blockLen);
  let h = shake.create({});
  let calls = 0;
  let xofs = 0;
  return {
    stats: () => ({ calls, xofs }),
    get: (x, y) => {
      _seed[seedLen + 0] = x;
      _seed[seedLen + 1] = y;
      h.destroy();
      h = shake.create({}).update(_seed);
      calls++;
      return () => {
        xofs++;
        return h.xofInto(buf);
      };
    },
    clean: () => {
      h.destroy();
      cleanBytes(buf, _seed);
    }
  };
};
var XOF128 = /* @__PURE__ */ createXofShake(shake128);

// node_modules/@noble/post-quantum/ml-kem.js
var N = 256;
var Q = 3329;
var F = 3303;
var ROOT_OF_UNITY = 17;
var crystals = /* @__PURE__ */ genCrystals({
  N,
  Q,
  F,
  ROOT_OF_UNITY,
  newPoly: (n) => new Uint16Array(n),
  brvBits: 7,
  isKyber: true
});
var PARAMS = /* @__PURE__ */ (() => Object.freeze({
  512: Object.freeze({ N, Q, K: 2, ETA1: 3, ETA2: 2, du: 10, dv: 4, RBGstrength: 128 }),
  768: Object.freeze({ N, Q, K: 3, ETA1: 2, ETA2: 2, du: 10, dv: 4, RBGstrength: 192 }),
  1024: Object.freeze({ N, Q, K: 4, ETA1: 2, ETA2: 2, du: 11, dv: 5, RBGstrength: 256 })
}))();
var compress = (d) => {
  if (d >= 12)
    return { encode: (i) => i, decode: (i) => i >= Q ? i - Q : i };
  const a = 2 ** (d - 1);
  return {
    // This only matches standalone Compress_d after bitsCoder masks the result into Z_(2^d).
    encode: (i) => ((i << d) + Q / 2) / Q,
    // const decompress = (i: number) => round((Q / 2 ** d) * i);
    decode: (i) => i * Q + a >>> d
  };
};
var byteCoder = (d) => crystals.bitsCoder(d, d === 12 ? { encode: (i) => i, decode: (i) => i >= Q ? i - Q : i } : { encode: (i) => i, decode: (i) => i });
var polyCoder = (d) => d === 12 ? byteCoder(12) : crystals.bitsCoder(d, compress(d));
function polyAdd(a_, b_) {
  const a = a_;
  const b = b_;
  for (let i = 0; i < N; i++) {
    const r = a[i] + b[i];
    a[i] = r >= Q ? r - Q : r;
  }
}
function polySub(a_, b_) {
  const a = a_;
  const b = b_;
  for (let i = 0; i < N; i++) {
    const r = a[i] - b[i];
    a[i] = r < 0 ? r + Q : r;
  }
}
function BaseCaseMultiply(a0, a1, b0, b1, zeta) {
  const c0 = crystals.mod(crystals.mod(a1 * b1) * zeta + a0 * b0);
  const c1 = crystals.mod(a0 * b1 + a1 * b0);
  return { c0, c1 };
}
function MultiplyNTTs(f_, g_) {
  const f = f_;
  const g = g_;
  for (let i = 0; i < N / 2; i++) {
    let z = crystals.nttZetas[64 + (i >> 1)];
    if (i & 1)
      z = -z;
    const { c0, c1 } = BaseCaseMultiply(f[2 * i + 0], f[2 * i + 1], g[2 * i + 0], g[2 * i + 1], z);
    f[2 * i + 0] = c0;
    f[2 * i + 1] = c1;
  }
  return f;
}
function SampleNTT(xof_) {
  const xof = xof_;
  const r = new Uint16Array(N);
  for (let j = 0; j < N; ) {
    const b = xof();
    if (b.length % 3)
      throw new Error("SampleNTT: unaligned block");
    for (let i = 0; j < N && i + 3 <= b.length; i += 3) {
      const d1 = (b[i + 0] >> 0 | b[i + 1] << 8) & 4095;
      const d2 = (b[i + 1] >> 4 | b[i + 2] << 4) & 4095;
      if (d1 < Q)
        r[j++] = d1;
      if (j < N && d2 < Q)
        r[j++] = d2;
    }
  }
  return r;
}
var sampleCBDBytes = (buf, eta) => {
  const r = new Uint16Array(N);
  const b32 = u32(buf);
  swap32IfBE(b32);
  let len = 0;
  for (let i = 0, p = 0, bb = 0, t0 = 0; i < b32.length; i++) {
    let b = b32[i];
    for (let j = 0; j < 32; j++) {
      bb += b & 1;
      b >>= 1;
      len += 1;
      if (len === eta) {
        t0 = bb;
        bb = 0;
      } else if (len === 2 * eta) {
        r[p++] = crystals.mod(t0 - bb);
        bb = 0;
        len = 0;
      }
    }
  }
  swap32IfBE(b32);
  if (len)
    throw new Error(`sampleCBD: leftover bits: ${len}`);
  return r;
};
function sampleCBD(PRF_, seed, nonce2, eta) {
  const PRF = PRF_;
  return sampleCBDBytes(PRF(eta * N / 4, seed, nonce2), eta);
}
var genKPKE = (opts_) => {
  const opts2 = opts_;
  const { K, PRF, XOF, HASH512, ETA1, ETA2, du, dv } = opts2;
  const poly1 = polyCoder(1);
  const polyV = polyCoder(dv);
  const polyU = polyCoder(du);
  const publicCoder = splitCoder("publicKey", vecCoder(polyCoder(12), K), 32);
  const secretCoder = vecCoder(polyCoder(12), K);
  const cipherCoder = splitCoder("ciphertext", vecCoder(polyU, K), polyV);
  const seedCoder = splitCoder("seed", 32, 32);
  const encryptCore = (tHat, getA, msg, seed) => {
    const rHat = [];
    for (let i = 0; i < K; i++)
      rHat.push(crystals.NTT.encode(sampleCBD(PRF, seed, i, ETA1)));
    const tmp2 = new Uint16Array(N);
    const u = [];
    for (let i = 0; i < K; i++) {
      const e1 = sampleCBD(PRF, seed, K + i, ETA2);
      const tmp = new Uint16Array(N);
      for (let j = 0; j < K; j++) {
        const aij = getA(i, j);
        polyAdd(tmp, MultiplyNTTs(aij, rHat[j]));
      }
      polyAdd(e1, crystals.NTT.decode(tmp));
      u.push(e1);
      polyAdd(tmp2, MultiplyNTTs(tHat[i], rHat[i]));
      cleanBytes(tmp);
    }
    const e2 = sampleCBD(PRF, seed, 2 * K, ETA2);
    polyAdd(e2, crystals.NTT.decode(tmp2));
    const v = poly1.decode(msg);
    polyAdd(v, e2);
    cleanBytes(tHat, rHat, tmp2, e2);
    return cipherCoder.encode([u, v]);
  };
  return {
    secretCoder,
    lengths: {
      secretKey: secretCoder.bytesLen,
      publicKey: publicCoder.bytesLen,
      cipherText: cipherCoder.bytesLen
    },
    keygen: (seed) => {
      abytesDoc(seed, 32, "seed");
      const seedDst = new Uint8Array(33);
      seedDst.set(seed);
      seedDst[32] = K;
      const seedHash = HASH512(seedDst);
      const [rho, sigma] = seedCoder.decode(seedHash);
      const sHat = [];
      const tHat = [];
      for (let i = 0; i < K; i++)
        sHat.push(crystals.NTT.encode(sampleCBD(PRF, sigma, i, ETA1)));
      const x = XOF(rho);
      for (let i = 0; i < K; i++) {
        const e = crystals.NTT.encode(sampleCBD(PRF, sigma, K + i, ETA1));
        for (let j = 0; j < K; j++) {
          const aji = SampleNTT(x.get(j, i));
          polyAdd(e, MultiplyNTTs(aji, sHat[j]));
        }
        tHat.push(e);
      }
      x.clean();
      const res = {
        publicKey: publicCoder.encode([tHat, rho]),
        secretKey: secretCoder.encode(sHat)
      };
      cleanBytes(rho, sigma, sHat, tHat, seedDst, seedHash);
      return res;
    },
    encrypt: (publicKey, msg, seed) => {
      const [tHat, rho] = publicCoder.decode(publicKey);
      const x = XOF(rho);
      const res = encryptCore(tHat, (i, j) => SampleNTT(x.get(i, j)), msg, seed);
      x.clean();
      return res;
    },
    // Expands the full Â matrix (public data derived from rho) once, so repeated encryptions
    // against the same ek skip the K² SampleNTT XOF expansions. Cached polys are copied per
    // call because encryptCore mutates its inputs in place.
    prepare: (publicKey) => {
      const [tHat, rho] = publicCoder.decode(publicKey);
      const x = XOF(rho);
      const A = [];
      for (let i = 0; i < K; i++)
        for (let j = 0; j < K; j++)
          A.push(SampleNTT(x.get(i, j)));
      x.clean();
      return {
        encrypt: (msg, seed) => encryptCore(tHat.map((p) => p.slice()), (i, j) => A[i * K + j].slice(), msg, seed),
        clean: () => cleanBytes(tHat, A)
      };
    },
    decrypt: (cipherText, privateKey) => {
      const [u, v] = cipherCoder.decode(cipherText);
      const sk = secretCoder.decode(privateKey);
      const tmp = new Uint16Array(N);
      for (let i = 0; i < K; i++)
        polyAdd(tmp, MultiplyNTTs(sk[i], crystals.NTT.encode(u[i])));
      polySub(v, crystals.NTT.decode(tmp));
      const res = poly1.encode(v);
      cleanBytes(tmp, sk, u, v);
      return res;
    }
  };
};
function createKyber(opts2) {
  const rawOpts = opts2;
  const KPKE = genKPKE(rawOpts);
  const { HASH256, HASH512, KDF } = rawOpts;
  const { secretCoder: KPKESecretCoder, lengths } = KPKE;
  const secretCoder = splitCoder("secretKey", lengths.secretKey, lengths.publicKey, 32, 32);
  const msgLen = 32;
  const seedLen = 64;
  const validateModulus = (publicKey, fn) => {
    const eke = publicKey.subarray(0, 384 * rawOpts.K);
    const ek = KPKESecretCoder.encode(KPKESecretCoder.decode(copyBytes(eke)));
    const ok = equalBytes(ek, eke);
    cleanBytes(ek);
    if (!ok)
      throw new Error(`ML-KEM.${fn}: wrong publicKey modulus`);
  };
  const kemLengths = Object.freeze({
    ...lengths,
    seed: 64,
    msg: msgLen,
    msgRand: msgLen,
    secretKey: secretCoder.bytesLen
  });
  return Object.freeze({
    info: Object.freeze({ type: "ml-kem" }),
    lengths: kemLengths,
    keygen: (seed) => {
      const ownSeed = seed === void 0;
      const s = ownSeed ? randomBytes2(seedLen) : seed;
      let sk;
      let publicKeyHash;
      try {
        abytesDoc(s, seedLen, "seed");
        const keys = KPKE.keygen(s.subarray(0, 32));
        const publicKey = keys.publicKey;
        sk = keys.secretKey;
        publicKeyHash = HASH256(publicKey);
        const secretKey = secretCoder.encode([sk, publicKey, publicKeyHash, s.subarray(32)]);
        return {
          publicKey,
          secretKey
        };
      } finally {
        if (sk !== void 0)
          cleanBytes(sk);
        if (publicKeyHash !== void 0)
          cleanBytes(publicKeyHash);
        if (ownSeed)
          cleanBytes(s);
      }
    },
    getPublicKey: (secretKey) => {
      const [_sk, publicKey, _publicKeyHash, _z] = secretCoder.decode(secretKey);
      return Uint8Array.from(publicKey);
    },
    encapsulate: (publicKey, msg) => {
      const ownMsg = msg === void 0;
      const m = ownMsg ? randomBytes2(msgLen) : msg;
      let kr;
      try {
        abytesDoc(publicKey, lengths.publicKey, "publicKey");
        abytesDoc(m, msgLen, "message");
        validateModulus(publicKey, "encapsulate");
        kr = HASH512.create().update(m).update(HASH256(publicKey)).digest();
        const cipherText = KPKE.encrypt(publicKey, m, kr.subarray(32, 64));
        return {
          cipherText,
          sharedSecret: kr.subarray(0, 32)
        };
      } finally {
        if (kr !== void 0)
          cleanBytes(kr.subarray(32));
        if (ownMsg)
          cleanBytes(m);
      }
    },
    decapsulate: (cipherText, secretKey) => {
      abytesDoc(secretKey, secretCoder.bytesLen, "secretKey");
      abytesDoc(cipherText, lengths.cipherText, "cipherText");
      const k768 = secretCoder.bytesLen - 96;
      const start = k768 + 32;
      const test = HASH256(secretKey.subarray(k768 / 2, start));
      if (!equalBytes(test, secretKey.subarray(start, start + 32)))
        throw new Error("invalid secretKey: hash check failed");
      const [sk, publicKey, publicKeyHash, z] = secretCoder.decode(secretKey);
      const msg = KPKE.decrypt(cipherText, sk);
      const kr = HASH512.create().update(msg).update(publicKeyHash).digest();
      const Khat = kr.subarray(0, 32);
      const cipherText2 = KPKE.encrypt(publicKey, msg, kr.subarray(32, 64));
      const isValid = equalBytes(cipherText, cipherText2);
      const Kbar = KDF.create({ dkLen: 32 }).update(z).update(cipherText).digest();
      cleanBytes(msg, cipherText2, kr.subarray(32), !isValid ? Khat : Kbar);
      return isValid ? Khat : Kbar;
    },
    /**
     * Experimental prototype: pre-expand a public key so repeated encapsulate/decapsulate
     * against the same key skip re-validation, H(ek), t̂ decoding and the K² SampleNTT
     * XOF expansions of Â. Only public data is cached; see {@link KEMPrepared}.
     */
    prepare: (publicKey) => {
      abytesDoc(publicKey, lengths.publicKey, "publicKey");
      validateModulus(publicKey, "prepare");
      const ek = copyBytes(publicKey);
      const publicKeyHash = HASH256(ek);
      const cached = KPKE.prepare(ek);
      return Object.freeze({
        publicKey: ek,
        encapsulate: (msg) => {
          const ownMsg = msg === void 0;
          const m = ownMsg ? randomBytes2(msgLen) : msg;
          let kr;
          try {
            abytesDoc(m, msgLen, "message");
            kr = HASH512.create().update(m).update(publicKeyHash).digest();
            const cipherText = cached.encrypt(m, kr.subarray(32, 64));
            return {
              cipherText,
              sharedSecret: kr.subarray(0, 32)
            };
          } finally {
            if (kr !== void 0)
              cleanBytes(kr.subarray(32));
            if (ownMsg)
              cleanBytes(m);
          }
        },
        decapsulate: (cipherText, secretKey) => {
          abytesDoc(secretKey, secretCoder.bytesLen, "secretKey");
          abytesDoc(cipherText, lengths.cipherText, "cipherText");
          const [sk, ekEmbedded, storedHash, z] = secretCoder.decode(secretKey);
          if (!equalBytes(ekEmbedded, ek) || !equalBytes(storedHash, publicKeyHash))
            throw new Error("ML-KEM.decapsulate: secretKey does not match prepared publicKey");
          const msg = KPKE.decrypt(cipherText, sk);
          const kr = HASH512.create().update(msg).update(publicKeyHash).digest();
          const Khat = kr.subarray(0, 32);
          const cipherText2 = cached.encrypt(msg, kr.subarray(32, 64));
          const isValid = equalBytes(cipherText, cipherText2);
          const Kbar = KDF.create({ dkLen: 32 }).update(z).update(cipherText).digest();
          cleanBytes(msg, cipherText2, kr.subarray(32), !isValid ? Khat : Kbar);
          return isValid ? Khat : Kbar;
        },
        clean: cached.clean
      });
    }
  });
}
function shakePRF(dkLen, key, nonce2) {
  return shake256.create({ dkLen }).update(key).update(new Uint8Array([nonce2])).digest();
}
var opts = /* @__PURE__ */ (() => ({
  HASH256: sha3_256,
  HASH512: sha3_512,
  KDF: shake256,
  XOF: XOF128,
  PRF: shakePRF
}))();
var mk = (params) => createKyber({
  ...opts,
  ...params
});
var ml_kem768 = /* @__PURE__ */ (() => mk(PARAMS[768]))();

// src/handshake.js
var SUITE = "ML-KEM-768";
var LEN = { ek: 1184, ct: 1088, commit: 32, nonce: 32, tag: 32 };
function H(...parts) {
  const h = sha3_256.create();
  for (const p of parts) {
    const b = typeof p === "string" ? utf8(p) : p;
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, b.length);
    h.update(len);
    h.update(b);
  }
  return h.digest();
}
var commitment = (nA) => H("pqcall/v1/commit", nA);
function transcriptHash({ callId, callerId, calleeId, ek, commit, fpA, ct, fpB, nA }) {
  return H("pqcall/v1/th", callId, callerId, calleeId, SUITE, ek, commit, fpA, ct, fpB, nA);
}
function keySchedule(ss, th) {
  const prk = H("pqcall/v1/prk", ss, th);
  const K = (label2) => H(`pqcall/v1/${label2}`, prk);
  const sas = K("sas");
  const n = new DataView(sas.buffer, sas.byteOffset).getUint32(0) % 1e6;
  const code = `${String(Math.floor(n / 1e3)).padStart(3, "0")} ${String(n % 1e3).padStart(3, "0")}`;
  return {
    prk,
    tagCaller: K("tag/caller"),
    tagCallee: K("tag/callee"),
    mediaCaller: K("media/caller"),
    mediaCallee: K("media/callee"),
    sas,
    code
  };
}
var randomBytes3 = (n) => crypto.getRandomValues(new Uint8Array(n));
var nobleKem = {
  name: "noble",
  async keygen(seed = randomBytes3(64)) {
    const { publicKey, secretKey } = ml_kem768.keygen(seed);
    return { ek: publicKey, decapsulate: async (ct) => ml_kem768.decapsulate(ct, secretKey) };
  },
  async encapsulate(ek, m = randomBytes3(32)) {
    const { cipherText, sharedSecret } = ml_kem768.encapsulate(ek, m);
    return { ct: cipherText, ss: sharedSecret };
  }
};
var webCryptoKem = {
  name: "webcrypto",
  async keygen(seed) {
    const alg = { name: SUITE };
    let privateKey;
    let publicKey;
    if (seed) {
      privateKey = await crypto.subtle.importKey("raw-seed", seed, alg, true, ["decapsulateBits"]);
      const jwk = await crypto.subtle.exportKey("jwk", privateKey);
      delete jwk.priv;
      jwk.key_ops = ["encapsulateBits"];
      publicKey = await crypto.subtle.importKey("jwk", jwk, alg, true, ["encapsulateBits"]);
    } else {
      ({ privateKey, publicKey } = await crypto.subtle.generateKey(alg, false, ["encapsulateBits", "decapsulateBits"]));
    }
    const ek = new Uint8Array(await crypto.subtle.exportKey("raw-public", publicKey));
    return {
      ek,
      decapsulate: async (ct) => new Uint8Array(await crypto.subtle.decapsulateBits(alg, privateKey, ct))
    };
  },
  async encapsulate(ek, m) {
    if (m) throw new Error("WebCrypto cannot encapsulate with a chosen message");
    let key;
    try {
      key = await crypto.subtle.importKey("raw-public", ek, { name: SUITE }, false, ["encapsulateBits"]);
    } catch {
      throw new HandshakeError("invalid_key", "the encapsulation key fails the FIPS 203 check");
    }
    const { ciphertext, sharedKey } = await crypto.subtle.encapsulateBits({ name: SUITE }, key);
    return { ct: new Uint8Array(ciphertext), ss: new Uint8Array(sharedKey) };
  }
};
var probed;
async function defaultKem() {
  probed ??= (async () => {
    try {
      if (!globalThis.crypto?.subtle) return nobleKem;
      await crypto.subtle.generateKey({ name: SUITE }, false, ["encapsulateBits", "decapsulateBits"]);
      return webCryptoKem;
    } catch {
      return nobleKem;
    }
  })();
  return probed;
}
async function callerStart(opts2 = {}) {
  const kem = opts2.kem ?? await defaultKem();
  const { ek, decapsulate } = await kem.keygen(opts2.seed);
  const nA = opts2.nA ?? randomBytes3(32);
  const commit = commitment(nA);
  return {
    caller: { ek, commit, nA, decapsulate, step: "offered" },
    offer: { suite: SUITE, ek: toBase64(ek), commit: toBase64(commit) }
  };
}
async function calleeAnswer(offerKem, opts2 = {}) {
  if (offerKem.suite !== void 0 && offerKem.suite !== SUITE) throw new HandshakeError("bad_suite", "unsupported suite");
  const ek = fromBase64(offerKem.ek, LEN.ek, "ek");
  const commit = fromBase64(offerKem.commit, LEN.commit, "commit");
  const kem = opts2.kem ?? await defaultKem();
  let enc;
  try {
    enc = await kem.encapsulate(ek, opts2.m);
  } catch (e) {
    if (e instanceof HandshakeError) throw e;
    throw new HandshakeError("invalid_key", "the encapsulation key fails the FIPS 203 check");
  }
  return { callee: { ek, commit, ct: enc.ct, ss: enc.ss, step: "answered" }, answer: { ct: toBase64(enc.ct) } };
}
function callContext(callId, callerId, calleeId, offerSdp, answerSdp) {
  return { callId, callerId, calleeId, fpA: fingerprintFromSdp(offerSdp), fpB: fingerprintFromSdp(answerSdp) };
}
async function callerFinish(caller, answerKem, ctx) {
  if (caller.step !== "offered") throw new HandshakeError("out_of_order", "caller already finished");
  caller.step = "finished";
  const ct = fromBase64(answerKem.ct, LEN.ct, "ct");
  const ss = await caller.decapsulate(ct);
  caller.decapsulate = null;
  const th = transcriptHash({ ...ctx, ek: caller.ek, commit: caller.commit, ct, nA: caller.nA });
  const keys = keySchedule(ss, th);
  ss.fill(0);
  return {
    waiting: { expected: keys.tagCallee, keys, step: "confirmed" },
    confirm: { nonce: toBase64(caller.nA), tag: toBase64(keys.tagCaller) }
  };
}
function calleeConfirm(callee, confirmKem, ctx) {
  if (callee.step !== "answered") throw new HandshakeError("out_of_order", "callee already confirmed");
  callee.step = "done";
  const nA = fromBase64(confirmKem.nonce, LEN.nonce, "nonce");
  const tag = fromBase64(confirmKem.tag, LEN.tag, "tag");
  if (!ctEqual(commitment(nA), callee.commit)) throw new HandshakeError("key_confirmation_failed", "nonce does not open the commitment");
  const th = transcriptHash({ ...ctx, ek: callee.ek, commit: callee.commit, ct: callee.ct, nA });
  const keys = keySchedule(callee.ss, th);
  callee.ss.fill(0);
  if (!ctEqual(keys.tagCaller, tag)) throw new HandshakeError("key_confirmation_failed", "the caller's tag does not verify");
  return { keys, reply: { tag: toBase64(keys.tagCallee) } };
}
function callerVerify(waiting, replyKem) {
  if (waiting.step !== "confirmed") throw new HandshakeError("out_of_order", "already verified");
  waiting.step = "done";
  const tag = fromBase64(replyKem.tag, LEN.tag, "tag");
  if (!ctEqual(waiting.expected, tag)) throw new HandshakeError("key_confirmation_failed", "the callee's tag does not verify");
  return waiting.keys;
}

// src/calls.js
var ICE_BATCH_MS = 5;
var E2EE_CHECK_MS = 3e3;
var FINAL = ["ended", "declined", "canceled", "missed", "failed"];
var CERT_WAIT_MS = 3e3;
async function remoteCertificate(transport) {
  const until = performance.now() + CERT_WAIT_MS;
  for (; ; ) {
    const [cert] = transport.getRemoteCertificates();
    if (cert || performance.now() >= until) return cert ?? null;
    await new Promise((resolve) => {
      const next = () => {
        clearTimeout(timer);
        transport.removeEventListener("statechange", next);
        resolve();
      };
      const timer = setTimeout(next, 100);
      transport.addEventListener("statechange", next);
    });
  }
}
var Call = class extends EventTarget {
  constructor(mgr, id, peer, role) {
    super();
    this.mgr = mgr;
    this.id = id;
    this.peer = peer;
    this.role = role;
    this.state = "ringing";
    this.pc = null;
    this.code = null;
    this.dtlsVerified = null;
    this.muted = false;
    this.remoteStream = new MediaStream();
    this.offerSdp = null;
    this.answerSdp = null;
    this.offerKem = null;
    this._hs = null;
    this._pendingRemoteIce = [];
    this._localIce = [];
    this._iceTimer = null;
    this._iceDone = false;
    this.handshakeMs = 0;
    this.startedAt = null;
    this.connectedAt = null;
    this.decryptingAt = null;
    this.timeline = {};
  }
  _mark(step, at = performance.timeOrigin + performance.now()) {
    this.timeline[step] ??= at;
    return at;
  }
  _set(state, reason) {
    if (this.state === state || FINAL.includes(this.state)) return;
    this.state = state;
    this.reason = reason;
    if (FINAL.includes(state)) this._teardown();
    this.dispatchEvent(new CustomEvent("state", { detail: { state, reason } }));
    this.mgr.dispatchEvent(new CustomEvent("callstate", { detail: { call: this, state, reason } }));
  }
  _teardown() {
    this._release?.();
    this._release = null;
    clearTimeout(this._iceTimer);
    clearTimeout(this._e2eeTimer);
    this.localStream?.getTracks().forEach((t) => t.stop());
    this.pc?.close();
    this._e2ee?.close();
    this.code = null;
    this.mgr._replenish();
  }
  /** End-to-end encryption: `{state, sent, received, dropped}` (frames of this call). */
  get e2ee() {
    const e = this._e2ee;
    if (!e) return { state: this._e2eeRefused ? "unsupported" : "off", sent: 0, received: 0, dropped: 0 };
    return { state: e.state, sent: e.stats.sent, received: e.stats.received, dropped: e.stats.dropped };
  }
  /** Sends a data-channel message (string or bytes), SFrame-encrypted; false if not open yet. */
  async send(message) {
    if (this._dc?.readyState !== "open") return false;
    const sealed = await this._e2ee.sealData(message);
    if (!sealed) return false;
    this._dc.send(sealed);
    return true;
  }
  /** Fails the call: tells the peer (ends, or declines while ringing) and says why. */
  async _fail(reason) {
    if (FINAL.includes(this.state)) return;
    const ringing = this.state === "ringing";
    try {
      if (ringing && this.role === "callee") await this.mgr.client.decline(this.id, reason);
      else if (this.id) await this.mgr.client.end(this.id, reason);
    } catch (e) {
      this.mgr._warn("fail", e);
    }
    this._e2ee?.fail();
    this._set("failed", reason);
  }
  /** Mutes or unmutes the microphone. */
  mute(on) {
    this.muted = on;
    this.localStream?.getAudioTracks().forEach((t) => {
      t.enabled = !on;
    });
  }
  async _makePc() {
    let e2ee;
    try {
      e2ee = new CallE2ee(this.mgr._takeWorker());
    } catch (e) {
      this._e2eeRefused = true;
      throw e;
    }
    this._e2ee = e2ee;
    e2ee.addEventListener("mark", (e) => this._mark(e.detail.step, e.detail.at));
    e2ee.addEventListener("state", () => {
      if (e2ee.state === "encrypted") this.decryptingAt = performance.timeOrigin + performance.now();
      this.dispatchEvent(new CustomEvent("e2ee", { detail: this.e2ee }));
    });
    e2ee.addEventListener("stats", () => this.dispatchEvent(new CustomEvent("e2ee", { detail: this.e2ee })));
    const iceServers = await this.mgr.currentIceServers();
    const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: this.mgr.iceTransportPolicy, ...e2ee.pcConfig() });
    this.pc = pc;
    try {
      this.localStream = await this.mgr.getMedia();
    } catch (e) {
      throw new HandshakeError("no_microphone", `the microphone is not available (${e?.name ?? e})`);
    }
    this.localStream.getTracks().forEach((t) => pc.addTrack(t, this.localStream));
    e2ee.attachAll(pc);
    this._dc = pc.createDataChannel("pqcall", { negotiated: true, id: 0 });
    this._dc.binaryType = "arraybuffer";
    this._dc.onmessage = async (ev) => {
      if (typeof ev.data === "string") return;
      const message = await e2ee.openData(ev.data);
      if (message !== null) this.dispatchEvent(new CustomEvent("message", { detail: message }));
    };
    pc.ontrack = (e) => {
      this.remoteStream.addTrack(e.track);
      this.dispatchEvent(new CustomEvent("track", { detail: e.track }));
    };
    pc.onicecandidate = (e) => {
      if (e.candidate) this._localIce.push(e.candidate.toJSON());
      else this._iceDone = true;
      if (!this._iceTimer) this._iceTimer = setTimeout(() => this._flushIce(), ICE_BATCH_MS);
    };
    pc.onconnectionstatechange = () => {
      this.mgr.dispatchEvent(new CustomEvent("pcstate", { detail: { call: this, state: pc.connectionState } }));
      if (pc.connectionState === "connected" && !this.connectedAt) {
        this.connectedAt = this._mark("connected");
        this._verifyDtls();
        this._armE2eeCheck();
      }
    };
    pc.oniceconnectionstatechange = () => {
      if (pc.iceConnectionState === "failed") this.restartIce();
    };
    return pc;
  }
  /**
   * Fail closed (§7): some time after the keys are in and media connected, this side's
   * frames must be encrypted (its sent count grows) and the peer's must decrypt while they
   * arrive; otherwise the call ends with `e2ee_failed`.
   */
  _armE2eeCheck() {
    if (this._e2eeTimer || !this._keysIn || this.pc?.connectionState !== "connected") return;
    this._e2eeTimer = setTimeout(async () => {
      const s = await this._e2ee.refreshStats();
      if (this.state !== "active") return;
      if (s.sent === 0 || s.arrived > 0 && s.received === 0) this._fail("e2ee_failed");
      else this._e2eeChecked = true;
    }, E2EE_CHECK_MS);
  }
  /**
   * Restarts ICE in an active call: a new offer with fresh ICE credentials through
   * `/api/calls/update`; the callee answers. Only the caller offers (the callee's offer
   * would lose to the caller's anyway). Also called when the browser comes back online.
   */
  async restartIce() {
    if (this.role !== "caller" || this.state !== "active" || !this.pc || this._restarting) return;
    this._restarting = true;
    try {
      const offer = await this.pc.createOffer({ iceRestart: true });
      await this.pc.setLocalDescription(offer);
      this.restarts = (this.restarts ?? 0) + 1;
      await this.mgr.client.update(this.id, offer.sdp, "offer");
      this._newIceGeneration();
    } catch (e) {
      this._restarting = false;
      this.mgr._warn("ice restart", e);
    }
  }
  /**
   * A new offer or answer from the peer (`call.update`). Its DTLS fingerprints must be the
   * ones the handshake bound, or the safety code would no longer vouch for the media: a
   * different one ends the call with `fingerprint_mismatch`.
   */
  async _onUpdate(d) {
    const bound = this.role === "caller" ? this.answerSdp : this.offerSdp;
    let same = false;
    try {
      same = fingerprintFromSdp(d.sdp) === fingerprintFromSdp(bound);
    } catch {
      same = false;
    }
    if (!same) {
      await this._fail("fingerprint_mismatch");
      return;
    }
    try {
      if (d.kind === "offer") {
        await this.pc.setRemoteDescription({ type: "offer", sdp: d.sdp });
        await this.pc.setLocalDescription(await this.pc.createAnswer());
        await this.mgr.client.update(this.id, this.pc.localDescription.sdp, "answer");
        this._newIceGeneration();
      } else {
        await this.pc.setRemoteDescription({ type: "answer", sdp: d.sdp });
        this._restarting = false;
      }
    } catch (e) {
      this.mgr._warn("call.update", e);
    }
  }
  /** A restart gathers candidates anew, so their end is sent again. */
  _newIceGeneration() {
    this._doneSent = false;
    this._iceDone = false;
  }
  async _flushIce() {
    this._iceTimer = null;
    if (!this.id || this.role === "callee" && this.state === "ringing") return;
    const candidates = this._localIce.splice(0);
    const done = this._iceDone && !this._doneSent;
    if (!candidates.length && !done) return;
    if (done) this._doneSent = true;
    try {
      await this.mgr.client.ice(this.id, candidates, done || void 0);
    } catch (e) {
      this.mgr._warn("ice", e);
    }
  }
  async _addRemoteIce(candidates) {
    if (!this.pc?.remoteDescription) {
      this._pendingRemoteIce.push(...candidates);
      return;
    }
    for (const c of candidates) {
      try {
        await this.pc.addIceCandidate(c);
      } catch (e) {
        this.mgr._warn("addIceCandidate", e);
      }
    }
  }
  /**
   * The peer's DTLS certificate must match a fingerprint bound in the transcript (§6). Fails
   * closed: any error or mismatch ends the call with `fingerprint_mismatch`. Where the
   * browser does not expose the certificate, there is nothing to check.
   */
  async _verifyDtls() {
    const transport = this.pc?.getSenders().find((s) => s.transport)?.transport;
    if (!transport?.getRemoteCertificates) {
      this._dtlsChecked = true;
      this._showCode();
      return;
    }
    let ok = false;
    try {
      const cert = await remoteCertificate(transport);
      ok = !!cert && await certificateMatches(cert, this.role === "caller" ? this.answerSdp : this.offerSdp);
    } catch (e) {
      this.mgr._warn("dtls", e);
    }
    this.dtlsVerified = ok;
    this._dtlsChecked = true;
    this.dispatchEvent(new CustomEvent("dtls", { detail: ok }));
    if (ok) this._showCode();
    else await this._fail("fingerprint_mismatch");
  }
  /** The safety code appears only once the peer's tag and the certificate check passed. */
  _showCode() {
    if (!this._pendingCode || !this._dtlsChecked || this.state !== "active") return;
    this.code = this._pendingCode;
    this._pendingCode = null;
    this.dispatchEvent(new CustomEvent("code", { detail: this.code }));
  }
  /**
   * Callee: accept a ringing call. A key or SDP that fails its check, or a browser that
   * cannot encrypt media, declines the call with the reason (`bad_key`,
   * `fingerprint_mismatch`, `e2ee_unsupported`) and rejects with a HandshakeError.
   */
  async accept() {
    if (this.state !== "ringing") throw new PqcallError(409, "invalid_state", `this call is ${this.state}`);
    this._release ??= await this.mgr.client.claim(`call:${this.id}`);
    if (!this._release) {
      this._set("ended", "answered_in_another_tab");
      throw new PqcallError(409, "answered_in_another_tab", "this call was answered in another tab");
    }
    this.mgr.client.tellTabs({ kind: "taken", call_id: this.id });
    let callee;
    let answer2;
    let pc;
    try {
      parseFingerprints(this.offerSdp);
      const t = performance.now();
      const answering = calleeAnswer(this.offerKem).then((r) => {
        this.handshakeMs += performance.now() - t;
        return r;
      });
      const [hs, made] = await Promise.allSettled([answering, this._makePc()]);
      if (hs.status === "rejected") throw hs.reason;
      if (made.status === "rejected") throw made.reason;
      ({ callee, answer: answer2 } = hs.value);
      pc = made.value;
    } catch (e) {
      const reason = e?.code === "invalid_key" || e?.code === "bad_encoding" || e?.code === "bad_suite" ? "bad_key" : e?.code ?? "failed";
      await this._fail(reason);
      throw new HandshakeError(reason, e?.message ?? String(e));
    }
    try {
      this._accepted = true;
      await pc.setRemoteDescription({ type: "offer", sdp: this.offerSdp });
      await pc.setLocalDescription(await pc.createAnswer());
      this.answerSdp = pc.localDescription.sdp;
      this._hs = callee;
      this._mark("answer_sent");
      await this.mgr.client.answer(this.id, this.answerSdp, answer2);
    } catch (e) {
      await this._fail("failed");
      throw e;
    }
    if (this.state === "ringing") this._set("connecting");
    await this._addRemoteIce(this._pendingRemoteIce.splice(0));
    this._flushIce();
  }
  /** Callee: decline a ringing call. */
  async decline(reason = "declined") {
    await this.mgr.client.decline(this.id, reason);
    this._set("declined", reason);
  }
  /** Either side: hang up (cancels a call that still rings). */
  async hangup(reason = "hangup") {
    const was = this.state;
    if (FINAL.includes(was)) return;
    try {
      await this.mgr.client.end(this.id, reason);
    } catch (e) {
      this.mgr._warn("end", e);
    }
    this._set(was === "ringing" ? "canceled" : "ended", reason);
  }
  _ctx() {
    const caller = this.role === "caller" ? this.mgr.client.userId : this.peer;
    const callee = this.role === "caller" ? this.peer : this.mgr.client.userId;
    return callContext(this.id, caller, callee, this.offerSdp, this.answerSdp);
  }
  async _onEvent(name, d) {
    const acting = this.role === "caller" || this._accepted;
    if (!acting && ["call.answer", "call.confirm", "call.ice", "call.update"].includes(name)) return;
    switch (name) {
      case "call.answer": {
        if (this.state !== "ringing") return;
        this._mark("answer");
        this.answerSdp = d.sdp;
        let ctx;
        try {
          ctx = this._ctx();
        } catch {
          await this._fail("fingerprint_mismatch");
          return;
        }
        const t = performance.now();
        let broken = null;
        const confirming = callerFinish(this._hs, d.kem, ctx).then(async (finished) => {
          this.handshakeMs += performance.now() - t;
          this._hs = finished.waiting;
          this._mark("confirm_sent");
          const sent = this.mgr.client.confirm(this.id, finished.confirm);
          const { mediaCaller, mediaCallee } = finished.waiting.keys;
          this._keying = this._e2ee.setKeys(this.role, { mediaCaller, mediaCallee }, { hold: true });
          await sent;
        }, (e) => {
          broken = e;
        });
        confirming.catch(() => {
        });
        try {
          await this.pc.setRemoteDescription({ type: "answer", sdp: d.sdp });
        } catch (e) {
          this.mgr._warn("answer", e);
          await this._fail("failed");
          return;
        }
        this._set("connecting");
        await this._addRemoteIce(this._pendingRemoteIce.splice(0));
        await confirming;
        if (broken) {
          this.mgr._warn("handshake", broken);
          await this._fail("key_confirmation_failed");
        }
        break;
      }
      case "call.confirm": {
        if (FINAL.includes(this.state) || this._hs?.step !== (this.role === "callee" ? "answered" : "confirmed")) return;
        try {
          if (this.role === "callee") {
            const t = performance.now();
            const { keys, reply } = calleeConfirm(this._hs, d.kem, this._ctx());
            this.handshakeMs += performance.now() - t;
            this._mark("peer_confirm");
            const replied = this.mgr.client.confirm(this.id, reply);
            this._done(keys);
            await replied;
          } else {
            const t = performance.now();
            const keys = callerVerify(this._hs, d.kem);
            this.handshakeMs += performance.now() - t;
            this._mark("peer_confirm");
            this._done(keys);
          }
        } catch (e) {
          this.mgr._warn("handshake", e);
          await this._fail(e?.code === "fingerprint_mismatch" ? "fingerprint_mismatch" : "key_confirmation_failed");
        }
        break;
      }
      case "call.ice":
        await this._addRemoteIce(d.candidates ?? []);
        break;
      case "call.update":
        if (this.state === "active") await this._onUpdate(d);
        break;
      case "call.declined":
        this._set("declined", d.reason);
        break;
      case "call.ended":
        this._set(d.reason === "canceled" ? "canceled" : "ended", d.reason);
        break;
      case "call.missed":
        this._set("missed");
        break;
      case "call.answered_elsewhere":
        this._set("ended", "answered_elsewhere");
        break;
      default:
    }
  }
  async _done(keys) {
    this._pendingCode = keys.code;
    this._set("active");
    if (this._keying) {
      await this._keying;
      this._e2ee.release();
    } else {
      await this._e2ee.setKeys(this.role, { mediaCaller: keys.mediaCaller, mediaCallee: keys.mediaCallee });
    }
    this._keysIn = true;
    this._armE2eeCheck();
    this._showCode();
  }
};

// src/call-manager.js
var EARLY_MAX = 256;
var EARLY_TTL_MS = 6e4;
var CallManager = class extends EventTarget {
  /**
   * @param {import('./client.js').PqcallClient} client
   * @param {{iceServers?: RTCIceServer[], iceTransportPolicy?: RTCIceTransportPolicy, getMedia?: () => Promise<MediaStream>}} [opts]
   *   `iceServers`: fixed ones; without, the server's (`GET /api/ice-servers`).
   *   `iceTransportPolicy: 'relay'` sends media through TURN only (to test a TURN server).
   */
  constructor(client, opts2 = {}) {
    super();
    this.client = client;
    this.iceServers = opts2.iceServers ?? null;
    this.iceTransportPolicy = opts2.iceTransportPolicy ?? "all";
    if (!this.iceServers) this.currentIceServers().catch(() => {
    });
    this.getMedia = opts2.getMedia ?? (() => navigator.mediaDevices.getUserMedia({ audio: true, video: false }));
    this.calls = /* @__PURE__ */ new Map();
    this._spare = null;
    this._early = /* @__PURE__ */ new Map();
    this._queue = Promise.resolve();
    this._replenish();
    for (const name of ["call.offer", "call.answer", "call.answered_elsewhere", "call.confirm", "call.ice", "call.update", "call.declined", "call.ended", "call.missed"]) {
      client.addEventListener(name, (e) => this._enqueue(() => this._onEvent(name, e.detail)));
    }
    globalThis.addEventListener?.("online", () => {
      for (const call of this.calls.values()) call.restartIce();
    });
    this._elsewhere = /* @__PURE__ */ new Map();
    client.addEventListener("tab", (e) => this._enqueue(() => this._onTab(e.detail)));
    globalThis.addEventListener?.("pagehide", () => this._leave());
    this._fresh = setInterval(() => {
      if (!this._ownCalls().next().done) this.client.freshToken().catch(() => {
      });
    }, 3e4);
    this._fresh.unref?.();
  }
  /** The calls this tab acts on and that are not over. */
  *_ownCalls() {
    for (const call of this.calls.values()) {
      if (!FINAL.includes(call.state) && (call.role === "caller" || call._release)) yield call;
    }
  }
  _leave() {
    for (const call of this._ownCalls()) {
      const declining = call.role === "callee" && call.state === "ringing";
      this.client.endNow(call.id, "page_closed", declining ? "decline" : "end");
      call._set(declining ? "declined" : call.state === "ringing" ? "canceled" : "ended", "page_closed");
    }
  }
  /** Another tab placed or took call `call_id`: this tab leaves it alone. */
  _onTab(m) {
    if (!m || m.kind !== "placed" && m.kind !== "taken" || typeof m.call_id !== "string") return;
    const now = Date.now();
    for (const [id, at] of this._elsewhere) if (now - at > EARLY_TTL_MS) this._elsewhere.delete(id);
    if (this._elsewhere.size >= EARLY_MAX) this._elsewhere.delete(this._elsewhere.keys().next().value);
    this._elsewhere.set(m.call_id, now);
    this._early.delete(m.call_id);
    const call = this.calls.get(m.call_id);
    if (call && !call._release && call.role === "callee") call._set("ended", "answered_in_another_tab");
  }
  /**
   * The ICE servers for the next peer connection: the fixed ones, or the server's list
   * (refreshed before its TURN credentials expire). Without one, host candidates only.
   * @returns {Promise<RTCIceServer[]>}
   */
  async currentIceServers() {
    if (this.iceServers) return this.iceServers;
    try {
      return await this.client.iceServers();
    } catch {
      return [];
    }
  }
  /** The spare worker for a new call (the next spare starts when a call finishes). */
  _takeWorker() {
    const w = this._spare ?? spareWorker();
    this._spare = null;
    return w;
  }
  _replenish() {
    if (typeof Worker !== "undefined") this._spare ??= spareWorker();
  }
  // Events of one stream are handled one at a time, in order.
  _enqueue(fn) {
    this._queue = this._queue.then(fn).catch((e) => this._warn("event", e));
  }
  _warn(what, e) {
    this.dispatchEvent(new CustomEvent("warning", { detail: { what, error: e } }));
    console.warn("pqcall", what, e);
  }
  /**
   * Calls `to`; resolves once the offer is out (the call rings). Rejects with a
   * HandshakeError('e2ee_unsupported') where the browser cannot encrypt media, before
   * anything is sent; the microphone is released on every failure.
   */
  async call(to) {
    const call = new Call(this, null, to, "caller");
    call.startedAt = call._mark("offer");
    const t = performance.now();
    const starting = callerStart().then((r) => {
      call.handshakeMs += performance.now() - t;
      return r;
    });
    starting.catch(() => {
    });
    try {
      const pc = await call._makePc();
      await pc.setLocalDescription(await pc.createOffer());
      call.offerSdp = pc.localDescription.sdp;
      parseFingerprints(call.offerSdp);
      const { caller, offer } = await starting;
      call._hs = caller;
      const res = await this.client.offer(to, call.offerSdp, offer);
      call.id = res.call_id;
      call.devices = res.devices;
      call._mark("offer_sent");
      call._release = await this.client.claim(`call:${call.id}`);
      this.client.tellTabs({ kind: "placed", call_id: call.id });
    } catch (e) {
      call._teardown();
      throw e;
    }
    this.calls.set(call.id, call);
    this._enqueue(() => this._replayEarly(call.id));
    call._flushIce();
    return call;
  }
  async _replayEarly(id) {
    const early = this._early.get(id);
    this._early.delete(id);
    for (const [name, d] of early?.events ?? []) await this.calls.get(id)?._onEvent(name, d);
  }
  _keepEarly(name, d) {
    const now = Date.now();
    for (const [id, e] of this._early) if (now - e.at > EARLY_TTL_MS) this._early.delete(id);
    let entry = this._early.get(d.call_id);
    if (!entry) {
      if (this._early.size >= EARLY_MAX) return;
      entry = { at: now, events: [] };
      this._early.set(d.call_id, entry);
    }
    if (entry.events.length < EARLY_MAX) entry.events.push([name, d]);
  }
  async _onEvent(name, d) {
    if (this._elsewhere.has(d.call_id)) return;
    if (name === "call.offer") {
      if (this.calls.has(d.call_id)) return;
      const call2 = new Call(this, d.call_id, d.from, "callee");
      call2.offerSdp = d.sdp;
      call2.offerKem = d.kem;
      call2.expiresAt = d.expires_at;
      call2._mark("incoming");
      this.calls.set(d.call_id, call2);
      this.dispatchEvent(new CustomEvent("incoming", { detail: call2 }));
      return;
    }
    const call = this.calls.get(d.call_id);
    if (call && !this._early.has(d.call_id)) await call._onEvent(name, d);
    else this._keepEarly(name, d);
  }
};
export {
  Call,
  CallE2ee,
  CallManager,
  EVENTS,
  PqcallClient,
  PqcallError,
  devTokens,
  e2eeSupport,
  fingerprint_exports as fingerprint,
  handshake_exports as handshake,
  sframe_exports as sframe
};
/*! Bundled license information:

@noble/curves/utils.js:
  (*! noble-curves - MIT License (c) 2022 Paul Miller (paulmillr.com) *)

@noble/post-quantum/utils.js:
@noble/post-quantum/_crystals.js:
@noble/post-quantum/ml-kem.js:
  (*! noble-post-quantum - MIT License (c) 2024 Paul Miller (paulmillr.com) *)
*/
