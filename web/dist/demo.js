// src/demo.js
import { CallManager, PqcallClient, devTokens } from "./pqcall.js";

// src/demo-chat.js
var $ = (id) => document.getElementById(id);
var show = (id, on) => {
  $(id).hidden = !on;
};
var hhmm = (secs) => new Date(secs * 1e3).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
var when = (secs) => {
  const d = new Date(secs * 1e3);
  return d.toDateString() === (/* @__PURE__ */ new Date()).toDateString() ? hhmm(secs) : `${d.toLocaleDateString()} ${hhmm(secs)}`;
};
var OUTCOME = { ended: "answered", declined: "declined", canceled: "canceled", missed: "missed" };
function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "data") Object.assign(e.dataset, v);
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  e.append(...children.filter((c) => c != null));
  return e;
}
var Chats = class {
  /**
   * @param {import('./pqcall.js').PqcallClient} client
   * @param {{call: (peer: string) => Promise<void>, guarded: Function, busy: () => boolean}} app
   */
  constructor(client2, app) {
    this.client = client2;
    this.app = app;
    this.convs = /* @__PURE__ */ new Map();
    this.presence = /* @__PURE__ */ new Map();
    this.openId = null;
    this.seen = /* @__PURE__ */ new Set();
    this.readBy = /* @__PURE__ */ new Map();
    this.clock = 0;
    this.typingTimers = /* @__PURE__ */ new Map();
    this.lastTyping = 0;
    this.history = [];
    this.listen();
  }
  get me() {
    return this.client.userId;
  }
  title(c) {
    return c.title || c.members.filter((m) => m !== this.me).join(", ") || "just you";
  }
  others(c) {
    return c.members.filter((m) => m !== this.me);
  }
  peerOf(c) {
    const o = this.others(c);
    return o.length === 1 ? o[0] : null;
  }
  online(u) {
    return this.presence.get(u) === true;
  }
  /** Reloads the list, presence and history (at start and whenever the stream reopens). */
  async refresh() {
    const { conversations } = await this.client.listConversations({ limit: 100 });
    const old = this.convs;
    this.convs = new Map(conversations.map((c, i) => [c.conversation_id, { ...c, rank: old.get(c.conversation_id)?.rank ?? -i }]));
    await this.refreshPresence();
    this.renderList();
    if (this.openId && this.convs.has(this.openId)) this.renderHead();
    await this.refreshHistory();
  }
  async refreshPresence() {
    const users = [...new Set([...this.convs.values()].flatMap((c) => this.others(c)))].slice(0, 100);
    if (!users.length) return;
    const { presence } = await this.client.presence(users);
    for (const [u, p] of Object.entries(presence)) this.presence.set(u, p.online);
  }
  renderList() {
    const items = [...this.convs.values()].sort((a, b) => b.rank - a.rank).map((c) => {
      const peer = this.peerOf(c);
      const on = peer ? this.online(peer) : this.others(c).some((u) => this.online(u));
      const last = c.last_message;
      const b = el(
        "button",
        { type: "button", className: "item", data: { testid: "conv", id: c.conversation_id }, "aria-current": String(c.conversation_id === this.openId) },
        el("span", { className: "dot", data: { online: String(on), testid: "presence" }, title: on ? "online" : "offline" }),
        el("span", { className: "name", textContent: this.title(c) }),
        c.unread > 0 ? el("span", { className: "badge", data: { testid: "unread" }, textContent: c.unread > 99 ? "99+" : String(c.unread) }) : el("span"),
        el("span", { className: "preview", textContent: last ? `${last.from === this.me ? "you" : last.from}: ${last.body}` : "no messages yet" })
      );
      b.addEventListener("click", this.app.guarded("Could not open the conversation", () => this.open(c.conversation_id)));
      return el("li", {}, b);
    });
    $("conv-list").replaceChildren(...items);
    show("no-convs", items.length === 0);
    if (items.length === 0) $("new-chat").open = true;
  }
  renderHead() {
    const c = this.convs.get(this.openId);
    if (!c) return;
    $("chat-title").textContent = this.title(c);
    $("chat-members").replaceChildren(...c.members.map((m) => el(
      "span",
      { data: { testid: "member", user: m, online: String(m === this.me || this.online(m)) } },
      el("span", { className: "dot", data: { online: String(m === this.me || this.online(m)) } }),
      m === this.me ? `${m} (you)` : m
    )));
    const peer = this.peerOf(c);
    const btn = $("call-peer-btn");
    btn.textContent = peer ? `Call ${peer}` : "Call";
    const busy = this.app.busy();
    btn.disabled = !peer || !this.online(peer) || busy;
    $("call-hint").textContent = !peer ? "calls are one to one: call a member by name below" : busy ? "you are in a call" : this.online(peer) ? "" : `${peer} is offline`;
  }
  /** Opens conversation `id`: its newest messages, read up to the newest. */
  async open(id) {
    if (!this.convs.has(id)) await this.refresh();
    this.openId = id;
    this.seen.clear();
    $("messages").replaceChildren();
    $("conv-id").textContent = id;
    $("typing").textContent = "";
    show("chat", true);
    show("pick", false);
    $("app").dataset.view = "pane";
    this.renderHead();
    const { messages } = await this.client.loadMessages(id, { limit: 50 });
    messages.forEach((m) => this.add(m));
    await this.markRead();
    this.renderList();
  }
  add(m) {
    if (m.conversation_id !== this.openId || this.seen.has(m.id)) return;
    this.seen.add(m.id);
    const mine = m.from === this.me;
    const at = new Date(m.created_at * 1e3);
    const li = el(
      "li",
      { className: mine ? "mine" : "", data: { testid: "message", id: m.id } },
      el("b", { textContent: m.from }),
      el("span", { className: "body", textContent: m.body }),
      el(
        "span",
        { className: "meta" },
        el("time", { dateTime: at.toISOString(), textContent: hhmm(m.created_at) }),
        mine ? el("span", { className: "ticks", data: { testid: "ticks", read: "false" }, title: "sent", textContent: "\u2713" }) : null
      )
    );
    $("messages").append(li);
    $("messages").scrollTop = 1e9;
    if (mine) this.renderTicks();
  }
  /** Own messages get ✓✓ once another member's read marker reached them. */
  renderTicks() {
    const marks = [...this.readBy.get(this.openId)?.values() ?? []];
    for (const li of $("messages").querySelectorAll("li.mine")) {
      const read = marks.some((id) => id >= li.dataset.id);
      const t = li.querySelector(".ticks");
      t.dataset.read = String(read);
      t.textContent = read ? "\u2713\u2713" : "\u2713";
      t.title = read ? "read" : "sent";
    }
  }
  /** Marks the open conversation read up to its newest message from someone else. */
  async markRead() {
    const c = this.convs.get(this.openId);
    if (!c || document.hidden) return;
    const theirs = [...$("messages").querySelectorAll("li:not(.mine)")].at(-1);
    c.unread = 0;
    if (theirs) await this.client.markRead(this.openId, theirs.dataset.id);
  }
  /** Moves a conversation to the top with `message` as its newest. */
  touch(id, message) {
    const c = this.convs.get(id);
    if (!c) return;
    c.rank = ++this.clock;
    if (message) c.last_message = message;
  }
  async send(body) {
    const id = this.openId;
    this.client.typing(id, false).catch(() => {
    });
    const { message } = await this.client.send(id, body);
    this.touch(id, message);
    this.add(message);
    this.renderList();
  }
  typed() {
    if (!this.openId || Date.now() - this.lastTyping < 2e3) return;
    this.lastTyping = Date.now();
    this.client.typing(this.openId, true).catch(() => {
    });
  }
  async refreshHistory() {
    const { calls: calls2 } = await this.client.callHistory({ limit: 50 });
    this.history = calls2;
    this.renderHistory();
  }
  renderHistory() {
    const seen = Number(sessionStorage.getItem(`pqcall-calls-seen-${this.me}`) ?? 0);
    const unseen = this.history.filter((c) => c.outcome === "missed" && c.direction === "incoming" && c.ended_at > seen).length;
    $("missed-badge").textContent = String(unseen);
    show("missed-badge", unseen > 0);
    const calls2 = [...this.history].sort((a, b) => b.started_at - a.started_at);
    const items = calls2.map((c) => {
      const back = el("button", { type: "button", data: { testid: "call-back" }, textContent: "Call" });
      back.addEventListener("click", this.app.guarded("Call failed", () => this.app.call(c.peer)));
      const what = c.direction === "incoming" && c.outcome === "missed" ? "missed call" : `${c.direction === "outgoing" ? "outgoing" : "incoming"} \xB7 ${OUTCOME[c.outcome] ?? c.outcome}`;
      const long = c.answered_at ? ` \xB7 ${Math.max(0, c.ended_at - c.answered_at)} s` : "";
      return el(
        "li",
        { data: { testid: "history-call", outcome: c.outcome, direction: c.direction } },
        el("span", { textContent: c.direction === "outgoing" ? "\u2197" : "\u2199", title: c.direction }),
        el("span", { className: "name", textContent: c.peer }),
        back,
        el("span", { className: "when", textContent: `${what}${long} \xB7 ${when(c.started_at)}` })
      );
    });
    $("history").replaceChildren(...items);
    show("no-calls", items.length === 0);
  }
  /** Shows the chats or the calls tab. */
  tab(calls2) {
    $("app").dataset.view = "list";
    $("tab-chats").setAttribute("aria-selected", String(!calls2));
    $("tab-calls").setAttribute("aria-selected", String(calls2));
    show("chats-view", !calls2);
    show("calls-view", calls2);
    if (calls2) {
      sessionStorage.setItem(`pqcall-calls-seen-${this.me}`, String(Math.floor(Date.now() / 1e3)));
      this.renderHistory();
    }
  }
  listen() {
    const on = (name, fn) => this.client.addEventListener(name, (e) => fn(e.detail));
    on("conversation.created", async (d) => {
      await this.refresh();
      this.touch(d.conversation_id);
      this.renderList();
      if (!this.openId) await this.open(d.conversation_id);
    });
    on("conversation.member_joined", (d) => this.refresh().then(() => this.touch(d.conversation_id)));
    on("message.new", async ({ conversation_id: id, message }) => {
      const known = this.convs.has(id);
      if (!known) await this.refresh();
      this.touch(id, message);
      const c = this.convs.get(id);
      if (id === this.openId) {
        this.add(message);
        if (message.from !== this.me) await this.markRead().catch(() => {
        });
      } else if (c && known && message.from !== this.me) c.unread += 1;
      this.renderList();
    });
    on("message.read", ({ conversation_id: id, user_id: u, message_id: m }) => {
      const marks = this.readBy.get(id) ?? /* @__PURE__ */ new Map();
      if ((marks.get(u) ?? "") < m) marks.set(u, m);
      this.readBy.set(id, marks);
      if (id === this.openId) this.renderTicks();
    });
    on("presence.changed", ({ user_id: u, online }) => {
      this.presence.set(u, online);
      this.renderList();
      this.renderHead();
    });
    on("typing", ({ conversation_id: c, user_id: u, active }) => {
      if (c !== this.openId) return;
      clearTimeout(this.typingTimers.get(u));
      $("typing").textContent = active ? `${u} is typing\u2026` : "";
      if (active) this.typingTimers.set(u, setTimeout(() => {
        $("typing").textContent = "";
      }, 6e3));
    });
    on("call.missed", () => this.refreshHistory().catch(() => {
    }));
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.markRead().then(() => this.renderList()).catch(() => {
      });
    });
  }
};

// src/demo.js
var $2 = (id) => document.getElementById(id);
var show2 = (id, on) => {
  $2(id).hidden = !on;
};
var client;
var calls;
var chats;
var current;
var incoming;
var FINAL = ["ended", "declined", "canceled", "missed", "failed"];
function log(line) {
  const li = document.createElement("li");
  li.textContent = `${(/* @__PURE__ */ new Date()).toLocaleTimeString()} ${line}`;
  $2("log").prepend(li);
  while ($2("log").children.length > 50) $2("log").lastChild.remove();
}
function diag() {
  $2("d-state").textContent = client?.state ?? "closed";
  $2("d-role").textContent = client?.role ?? "-";
  $2("d-conn").textContent = client?.connId ?? "-";
  $2("d-last").textContent = client?.lastEventId ?? "-";
  $2("d-reconnects").textContent = client?.reconnects ?? 0;
  $2("d-rtt").textContent = client?.lastPostMs != null ? `${client.lastPostMs.toFixed(1)} ms` : "-";
  $2("state").textContent = STREAM_TEXT[client?.state ?? "closed"] ?? client.state;
  $2("state").dataset.state = client?.state ?? "closed";
}
function showError(text) {
  $2("error").textContent = text;
  show2("error", !!text);
}
$2("error").addEventListener("click", () => showError(""));
var ringing = null;
function ring(peer) {
  ringing?.stop();
  const base = "pqcall";
  let audio = null;
  try {
    audio = new AudioContext();
  } catch {
  }
  const beep = () => {
    if (!audio) return;
    audio.resume().catch(() => {
    });
    const t = audio.currentTime;
    for (const start of [0, 0.4]) {
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.frequency.value = 440;
      o.connect(g).connect(audio.destination);
      g.gain.setValueAtTime(1e-4, t + start);
      g.gain.exponentialRampToValueAtTime(0.15, t + start + 0.03);
      g.gain.exponentialRampToValueAtTime(1e-4, t + start + 0.3);
      o.start(t + start);
      o.stop(t + start + 0.32);
    }
  };
  let flip = true;
  const flash = () => {
    document.title = flip ? `\u260E ${peer} is calling` : base;
    flip = !flip;
  };
  beep();
  flash();
  const timers = [setInterval(beep, 2500), setInterval(flash, 900)];
  document.body.dataset.ringing = "true";
  ringing = {
    stop() {
      timers.forEach(clearInterval);
      audio?.close().catch(() => {
      });
      document.title = base;
      delete document.body.dataset.ringing;
      ringing = null;
    }
  };
}
var REASONS = {
  bad_key: "the caller's key failed the ML-KEM check",
  key_confirmation_failed: "the key exchange did not confirm: someone may be in the middle",
  fingerprint_mismatch: "the DTLS certificate does not match the one bound in the key exchange",
  e2ee_failed: "audio could not be end-to-end encrypted, so the call was ended",
  e2ee_unsupported: "this browser cannot encrypt call audio end to end",
  handshake_timeout: "the key exchange did not finish in time",
  no_microphone: "no microphone: allow it in the browser (or plug one in) and try again",
  answered_in_another_tab: "answered in another tab",
  page_closed: "the other side closed or reloaded the page",
  busy: "they are in another call"
};
var STREAM_TEXT = { open: "connected", connecting: "connecting\u2026", reconnecting: "reconnecting\u2026", closed: "offline" };
var STATE_TEXT = {
  ringing: "ringing\u2026",
  connecting: "connecting\u2026",
  active: "in call",
  ended: "call ended",
  declined: "declined",
  canceled: "canceled",
  missed: "no answer",
  failed: "failed"
};
var MEDIA_TEXT = { new: "waiting", checking: "connecting", connected: "connected", disconnected: "interrupted", failed: "failed", closed: "closed" };
var REFUSALS = [
  [/you cannot call yourself/, "you cannot call yourself"],
  [/`(members\[\d+\]|to|user)`: a user id is/, "names are 1 to 128 characters"],
  [/`body`: at most (\d+) bytes/, "the message is too long (at most $1 bytes)"],
  [/request body exceeds/, "the message is too long (at most 16384 bytes)"]
];
function why(err) {
  if (REASONS[err?.code]) return REASONS[err.code];
  const message = err?.message ?? String(err);
  for (const [re, words] of REFUSALS) if (re.test(message)) return message.replace(new RegExp(`.*${re.source}.*`), words);
  return message;
}
var guarded = (what, fn) => async (e) => {
  e?.preventDefault?.();
  showError("");
  try {
    await fn(e);
  } catch (err) {
    console.warn(what, err);
    showError(`${what}: ${why(err)}`);
  }
};
var E2EE_TEXT = {
  off: "",
  waiting: "setting up end-to-end encryption\u2026",
  keyed: "keys agreed; waiting for encrypted audio from the other side\u2026",
  encrypted: "end-to-end encrypted \xB7 post-quantum (ML-KEM-768 + AES-256-GCM)",
  failed: "not encrypted: call refused",
  unsupported: "not encrypted: call refused (this browser cannot encrypt calls end to end)"
};
function view(which) {
  $2("app").dataset.view = which;
  renderCall();
}
var live = (call) => !!call && !FINAL.includes(call.state);
function renderCall() {
  const inView = !!current && !current.closed && (current.role === "caller" || current.state !== "ringing");
  show2("incall", inView);
  show2("call-bar", live(current) && inView && $2("app").dataset.view === "list");
  chats?.renderHead();
  if (!current) return;
  const done = FINAL.includes(current.state);
  $2("call-peer").textContent = current.peer;
  $2("call-bar").textContent = `\u25CF ${STATE_TEXT[current.state]} with ${current.peer}: tap to return`;
  const reason = done && current.reason ? REASONS[current.reason] : null;
  $2("call-state").textContent = current.reason === "answered_in_another_tab" ? "answered in another tab: the call goes on there" : reason ? `${STATE_TEXT[current.state]}: ${reason}` : STATE_TEXT[current.state] ?? current.state;
  $2("call-state").dataset.state = current.state;
  $2("code").textContent = done ? "" : current.code ?? "--- ---";
  if (done) {
    $2("pc-state").textContent = "closed";
    $2("pc-state").dataset.state = "closed";
  }
  $2("dtls").textContent = done || current.dtlsVerified == null ? "" : current.dtlsVerified ? "DTLS certificate matches the transcript" : "DTLS MISMATCH";
  const e = current.e2ee;
  const e2eeState = done && !["failed", "unsupported"].includes(e.state) ? "off" : e.state;
  $2("e2ee").textContent = E2EE_TEXT[e2eeState] ?? e2eeState;
  $2("e2ee").dataset.state = e2eeState;
  $2("d-e2ee").textContent = `sent ${e.sent} \xB7 received ${e.received} \xB7 dropped ${e.dropped}`;
  $2("mute").textContent = current.muted ? "Unmute" : "Mute";
  $2("mute").hidden = done || current.state === "ringing";
  $2("hangup").hidden = done;
  $2("close-call").hidden = !done;
  show2("code-box", !done);
  $2("verify").hidden = !!current.verified || !current.code;
  show2("verified", !!current.verified);
}
function track(call) {
  current = call;
  view("pane");
  call.addEventListener("state", () => {
    if (call === current) renderCall();
    if (FINAL.includes(call.state)) {
      log(`call ${call.state}${call.reason ? ` (${call.reason})` : ""}`);
      chats.refreshHistory().catch(() => {
      });
    }
  });
  const mine = (fn) => () => {
    if (call === current) fn();
  };
  call.addEventListener("code", mine(() => {
    renderCall();
    log(`safety code ${call.code}`);
  }));
  call.addEventListener("dtls", mine(renderCall));
  call.addEventListener("e2ee", mine(renderCall));
  call.addEventListener("track", () => {
    $2("remote-audio").srcObject = call.remoteStream;
  });
  renderCall();
}
var signingIn = null;
function signIn(user) {
  signingIn ??= startSession(user).finally(() => {
    signingIn = null;
  });
  return signingIn;
}
async function startSession(user) {
  $2("signin-form").querySelector("button").disabled = true;
  try {
    const getToken = devTokens("", user);
    await getToken();
    client?.close();
    client = new PqcallClient({ getToken });
    await wire(user);
  } finally {
    $2("signin-form").querySelector("button").disabled = false;
  }
}
async function wire(user) {
  calls = new CallManager(client);
  window.pqcall = { client, calls };
  client.addEventListener("statechange", () => {
    diag();
    log(`stream ${client.state}`);
  });
  client.addEventListener("event", (e) => {
    diag();
    if (e.detail.name !== "typing") log(e.detail.name);
  });
  client.addEventListener("post", diag);
  chats = new Chats(client, { guarded, call: placeCall, busy: () => live(current) });
  client.addEventListener("reset", () => {
    if (chats.openId) chats.open(chats.openId).catch(() => {
    });
  });
  client.addEventListener("statechange", () => {
    if (client.state === "open" && chats.loaded) chats.refresh().catch((err) => showError(`Could not load your conversations: ${why(err)}`));
  });
  calls.addEventListener("incoming", (e) => {
    const call = e.detail;
    if (live(incoming)) {
      call.decline("busy").catch(() => {
      });
      return;
    }
    incoming = call;
    $2("incoming-from").textContent = call.peer;
    $2("accept").textContent = live(current) ? "End call and accept" : "Accept";
    show2("incoming", true);
    ring(call.peer);
    if (!live(current)) {
      current = call;
      renderCall();
    }
    call.addEventListener("state", () => {
      if (call.state !== "ringing" && incoming === call) {
        incoming = null;
        show2("incoming", false);
        ringing?.stop();
        if (current === call || !live(current)) track(call);
      }
    });
    log(`incoming call from ${call.peer}`);
  });
  calls.addEventListener("pcstate", (e) => {
    if (e.detail.call && e.detail.call !== current) return;
    $2("pc-state").textContent = MEDIA_TEXT[e.detail.state] ?? e.detail.state;
    $2("pc-state").dataset.state = e.detail.state;
  });
  await client.connect();
  await chats.refresh();
  chats.loaded = true;
  sessionStorage.setItem("pqcall-user", user);
  $2("me").textContent = user;
  $2("me").title = user;
  show2("sign-out", true);
  show2("signin", false);
  show2("app", true);
  diag();
}
$2("signin-form").addEventListener("submit", guarded("Could not sign in", async () => {
  const user = $2("user").value.trim();
  if (!user) throw new Error("enter a name");
  await signIn(user);
}));
var saved = sessionStorage.getItem("pqcall-user");
if (saved) {
  signIn(saved).catch((err) => {
    if (err?.status >= 400 && err.status < 500) sessionStorage.removeItem("pqcall-user");
    showError(`Could not sign in: ${why(err)}`);
  });
}
$2("create-form").addEventListener("submit", guarded("Could not create the conversation", async () => {
  const members = $2("members").value.split(",").map((s) => s.trim()).filter(Boolean);
  if (!members.length) throw new Error("name at least one member");
  const { conversation_id } = await client.createConversation(members, { title: $2("title").value.trim() || void 0, open: $2("open").checked });
  $2("members").value = "";
  $2("title").value = "";
  $2("open").checked = false;
  $2("new-chat").open = false;
  await chats.open(conversation_id);
}));
$2("join-form").addEventListener("submit", guarded("Could not join", async () => {
  const id = $2("join-id").value.trim();
  if (!id) throw new Error("paste a conversation id");
  await client.joinConversation(id);
  $2("join-id").value = "";
  await chats.open(id);
}));
$2("send-form").addEventListener("submit", guarded("Not sent", async () => {
  const body = $2("text").value;
  if (!body.trim() || !chats.openId) return;
  await chats.send(body);
  if ($2("text").value === body) $2("text").value = "";
}));
$2("text").addEventListener("input", () => chats.typed());
$2("text").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $2("send-form").requestSubmit();
  }
});
$2("tab-chats").addEventListener("click", () => chats.tab(false));
$2("tab-calls").addEventListener("click", () => chats.tab(true));
$2("back").addEventListener("click", () => view("list"));
$2("new-chat").addEventListener("toggle", () => {
  if ($2("new-chat").open) $2("members").focus();
});
async function placeCall(to) {
  if (live(current)) throw new Error("hang up the current call first");
  $2("pc-state").textContent = MEDIA_TEXT.new;
  $2("pc-state").dataset.state = "new";
  const call = await calls.call(to);
  track(call);
  log(`calling ${call.peer} (rang ${call.devices} device${call.devices === 1 ? "" : "s"})`);
  if (call.devices === 0) showError(`${call.peer} is not online: it rings until they open pqcall or the call is missed.`);
}
$2("call-form").addEventListener("submit", guarded("Call failed", async () => {
  const to = $2("callee").value.trim();
  if (!to) throw new Error("name the person to call");
  await placeCall(to);
}));
$2("call-peer-btn").addEventListener("click", guarded("Call failed", async () => {
  const c = chats.convs.get(chats.openId);
  const peer = c && chats.peerOf(c);
  if (!peer) throw new Error("calls are one to one");
  await placeCall(peer);
}));
$2("verify").addEventListener("click", () => {
  if (!current?.code) return;
  current.verified = true;
  log(`safety code ${current.code} verified`);
  renderCall();
});
$2("close-call").addEventListener("click", () => {
  if (current) current.closed = true;
  renderCall();
  if (!chats.openId) view("list");
});
$2("accept").addEventListener("click", guarded("Could not accept", async () => {
  const call = incoming;
  if (!call) return;
  incoming = null;
  show2("incoming", false);
  ringing?.stop();
  if (live(current) && current !== call) await current.hangup();
  $2("pc-state").textContent = MEDIA_TEXT.new;
  $2("pc-state").dataset.state = "new";
  track(call);
  try {
    await call.accept();
  } finally {
    renderCall();
  }
}));
$2("decline").addEventListener("click", guarded("Could not decline", async () => {
  const call = incoming;
  incoming = null;
  show2("incoming", false);
  ringing?.stop();
  if (current === call) {
    current = null;
    renderCall();
  }
  await call?.decline();
}));
$2("call-bar").addEventListener("click", () => view("pane"));
$2("sign-out").addEventListener("click", () => {
  for (const call of calls?.calls.values() ?? []) if (live(call)) call.hangup().catch(() => {
  });
  sessionStorage.removeItem("pqcall-user");
  client?.close();
  location.reload();
});
$2("hangup").addEventListener("click", guarded("Could not hang up", () => current?.hangup()));
$2("mute").addEventListener("click", () => {
  current?.mute(!current.muted);
  renderCall();
});
setInterval(diag, 1e3);
