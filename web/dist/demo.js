// src/demo.js
import { CallManager, PqcallClient, devTokens } from "./pqcall.js";
var $ = (id) => document.getElementById(id);
var show = (id, on) => {
  $(id).hidden = !on;
};
var client;
var calls;
var current;
var conv = null;
var typingTimers = /* @__PURE__ */ new Map();
var seenMessages = /* @__PURE__ */ new Set();
function log(line) {
  const li = document.createElement("li");
  li.textContent = `${(/* @__PURE__ */ new Date()).toLocaleTimeString()} ${line}`;
  $("log").prepend(li);
  while ($("log").children.length > 50) $("log").lastChild.remove();
}
function diag() {
  $("d-state").textContent = client?.state ?? "closed";
  $("d-role").textContent = client?.role ?? "-";
  $("d-conn").textContent = client?.connId ?? "-";
  $("d-last").textContent = client?.lastEventId ?? "-";
  $("d-reconnects").textContent = client?.reconnects ?? 0;
  $("d-rtt").textContent = client?.lastPostMs != null ? `${client.lastPostMs.toFixed(1)} ms` : "-";
  $("state").textContent = client?.state ?? "closed";
  $("state").dataset.state = client?.state ?? "closed";
}
function addMessage(m) {
  if (m.conversation_id !== conv || seenMessages.has(m.id)) return;
  seenMessages.add(m.id);
  const li = document.createElement("li");
  li.dataset.testid = "message";
  li.className = m.from === client.userId ? "mine" : "";
  li.innerHTML = "<time></time><b></b> <span></span>";
  const at = new Date(m.created_at * 1e3);
  li.querySelector("time").dateTime = at.toISOString();
  li.querySelector("time").textContent = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  li.querySelector("b").textContent = m.from;
  li.querySelector("span").textContent = m.body;
  $("messages").append(li);
  $("messages").scrollTop = 1e9;
}
async function openConversation(id) {
  conv = id;
  seenMessages.clear();
  $("messages").replaceChildren();
  $("conv-id").textContent = id;
  show("chat", true);
  const { messages } = await client.loadMessages(id, { limit: 50 });
  messages.forEach(addMessage);
}
function showError(text) {
  $("error").textContent = text;
  show("error", !!text);
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
  page_closed: "the other side closed or reloaded the page"
};
var why = (err) => REASONS[err?.code] ?? err?.message ?? String(err);
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
function renderCall() {
  show("incall", !!current && (current.role === "caller" || current.state !== "ringing"));
  if (!current) return;
  const done = ["ended", "declined", "canceled", "missed", "failed"].includes(current.state);
  $("call-peer").textContent = current.peer;
  $("call-state").textContent = current.reason && done ? `${current.state} (${REASONS[current.reason] ?? current.reason})` : current.state;
  $("call-state").dataset.state = current.state;
  $("code").textContent = done ? "" : current.code ?? "--- ---";
  if (done) {
    $("pc-state").textContent = "closed";
    $("pc-state").dataset.state = "closed";
  }
  $("dtls").textContent = done || current.dtlsVerified == null ? "" : current.dtlsVerified ? "DTLS certificate matches the transcript" : "DTLS MISMATCH";
  const e = current.e2ee;
  $("e2ee").textContent = E2EE_TEXT[e.state] ?? e.state;
  $("e2ee").dataset.state = e.state;
  $("d-e2ee").textContent = `sent ${e.sent} \xB7 received ${e.received} \xB7 dropped ${e.dropped}`;
  $("mute").textContent = current.muted ? "Unmute" : "Mute";
  $("mute").hidden = done;
  $("hangup").hidden = done;
}
function track(call) {
  current = call;
  call.addEventListener("state", () => {
    renderCall();
    if (["ended", "declined", "canceled", "missed", "failed"].includes(call.state)) log(`call ${call.state}${call.reason ? ` (${call.reason})` : ""}`);
  });
  call.addEventListener("code", () => {
    renderCall();
    log(`safety code ${call.code}`);
  });
  call.addEventListener("dtls", renderCall);
  call.addEventListener("e2ee", renderCall);
  call.addEventListener("track", () => {
    $("remote-audio").srcObject = call.remoteStream;
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
  $("signin-form").querySelector("button").disabled = true;
  try {
    const getToken = devTokens("", user);
    await getToken();
    client?.close();
    client = new PqcallClient({ getToken });
    await wire(user);
  } finally {
    $("signin-form").querySelector("button").disabled = false;
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
  client.addEventListener("reset", () => {
    if (conv) openConversation(conv);
  });
  client.addEventListener("conversation.created", (e) => {
    const o = document.createElement("option");
    o.value = e.detail.conversation_id;
    o.textContent = `${e.detail.title || "untitled"} (${e.detail.members.join(", ")})`;
    $("convs").append(o);
    if (!conv) openConversation(e.detail.conversation_id);
  });
  client.addEventListener("message.new", (e) => addMessage(e.detail.message));
  client.addEventListener("typing", (e) => {
    const { conversation_id: c, user_id: u, active } = e.detail;
    if (c !== conv) return;
    clearTimeout(typingTimers.get(u));
    $("typing").textContent = active ? `${u} is typing\u2026` : "";
    if (active) typingTimers.set(u, setTimeout(() => {
      $("typing").textContent = "";
    }, 6e3));
  });
  calls.addEventListener("incoming", (e) => {
    const call = e.detail;
    $("incoming-from").textContent = call.peer;
    show("incoming", true);
    current = call;
    call.addEventListener("state", () => {
      if (call.state !== "ringing") {
        show("incoming", false);
        if (current === call) renderCall();
      }
    });
    log(`incoming call from ${call.peer}`);
  });
  calls.addEventListener("pcstate", (e) => {
    $("pc-state").textContent = e.detail.state;
    $("pc-state").dataset.state = e.detail.state;
  });
  await client.connect();
  sessionStorage.setItem("pqcall-user", user);
  $("me").textContent = user;
  show("signin", false);
  show("app", true);
  diag();
}
$("signin-form").addEventListener("submit", guarded("Could not sign in", async () => {
  const user = $("user").value.trim();
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
$("create-form").addEventListener("submit", guarded("Could not create the conversation", async () => {
  const members = $("members").value.split(",").map((s) => s.trim()).filter(Boolean);
  if (!members.length) throw new Error("name at least one member");
  const { conversation_id } = await client.createConversation(members, { title: $("title").value.trim() || void 0, open: $("open").checked });
  $("members").value = "";
  $("title").value = "";
  await openConversation(conversation_id);
}));
$("join-form").addEventListener("submit", guarded("Could not join", async () => {
  const id = $("join-id").value.trim();
  if (!id) throw new Error("paste a conversation id");
  await client.joinConversation(id);
  $("join-id").value = "";
  await openConversation(id);
}));
$("convs").addEventListener("change", guarded("Could not open the conversation", () => openConversation($("convs").value)));
$("send-form").addEventListener("submit", guarded("Not sent", async () => {
  const body = $("text").value;
  if (!body.trim() || !conv) return;
  client.typing(conv, false).catch(() => {
  });
  const { message } = await client.send(conv, body);
  if ($("text").value === body) $("text").value = "";
  addMessage(message);
}));
var lastTyping = 0;
$("text").addEventListener("input", () => {
  if (!conv || Date.now() - lastTyping < 2e3) return;
  lastTyping = Date.now();
  client.typing(conv, true).catch(() => {
  });
});
$("call-form").addEventListener("submit", guarded("Call failed", async () => {
  const to = $("callee").value.trim();
  if (!to) throw new Error("name the person to call");
  $("pc-state").textContent = "new";
  $("pc-state").dataset.state = "new";
  const call = await calls.call(to);
  track(call);
  log(`calling ${call.peer} (rang ${call.devices} device${call.devices === 1 ? "" : "s"})`);
  if (call.devices === 0) showError(`${call.peer} is not online: it rings until they open pqcall or the call is missed.`);
}));
$("accept").addEventListener("click", guarded("Could not accept", async () => {
  show("incoming", false);
  $("pc-state").textContent = "new";
  $("pc-state").dataset.state = "new";
  track(current);
  try {
    await current.accept();
  } finally {
    renderCall();
  }
}));
$("decline").addEventListener("click", guarded("Could not decline", async () => {
  show("incoming", false);
  await current.decline();
}));
$("hangup").addEventListener("click", guarded("Could not hang up", () => current?.hangup()));
$("mute").addEventListener("click", () => {
  current?.mute(!current.muted);
  renderCall();
});
setInterval(diag, 1e3);
