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
  li.innerHTML = "<b></b> <span></span>";
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
  handshake_timeout: "the key exchange did not finish in time"
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
  $("code").textContent = current.code ?? "--- ---";
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
async function signIn(e) {
  e.preventDefault();
  const user = $("user").value.trim();
  if (!user) return;
  client = new PqcallClient({ getToken: devTokens("", user) });
  calls = new CallManager(client);
  window.pqcall = { client, calls };
  client.addEventListener("statechange", () => {
    diag();
    log(`stream ${client.state}`);
  });
  client.addEventListener("event", (e2) => {
    diag();
    if (e2.detail.name !== "typing") log(e2.detail.name);
  });
  client.addEventListener("post", diag);
  client.addEventListener("reset", () => {
    if (conv) openConversation(conv);
  });
  client.addEventListener("conversation.created", (e2) => {
    const o = document.createElement("option");
    o.value = e2.detail.conversation_id;
    o.textContent = `${e2.detail.title || "untitled"} (${e2.detail.members.join(", ")})`;
    $("convs").append(o);
    if (!conv) openConversation(e2.detail.conversation_id);
  });
  client.addEventListener("message.new", (e2) => addMessage(e2.detail.message));
  client.addEventListener("typing", (e2) => {
    const { conversation_id: c, user_id: u, active } = e2.detail;
    if (c !== conv) return;
    clearTimeout(typingTimers.get(u));
    $("typing").textContent = active ? `${u} is typing\u2026` : "";
    if (active) typingTimers.set(u, setTimeout(() => {
      $("typing").textContent = "";
    }, 6e3));
  });
  calls.addEventListener("incoming", (e2) => {
    const call = e2.detail;
    $("incoming-from").textContent = call.peer;
    show("incoming", true);
    current = call;
    call.addEventListener("state", () => {
      if (call.state !== "ringing") show("incoming", false);
    });
    log(`incoming call from ${call.peer}`);
  });
  calls.addEventListener("pcstate", (e2) => {
    $("pc-state").textContent = e2.detail.state;
    $("pc-state").dataset.state = e2.detail.state;
  });
  await client.connect();
  $("me").textContent = user;
  show("signin", false);
  show("app", true);
  diag();
}
$("signin-form").addEventListener("submit", signIn);
$("create-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const members = $("members").value.split(",").map((s) => s.trim()).filter(Boolean);
  const { conversation_id } = await client.createConversation(members, { title: $("title").value || void 0, open: $("open").checked });
  await openConversation(conversation_id);
});
$("join-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const id = $("join-id").value.trim();
  await client.joinConversation(id);
  await openConversation(id);
});
$("convs").addEventListener("change", () => openConversation($("convs").value));
$("send-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = $("text").value;
  if (!body || !conv) return;
  $("text").value = "";
  client.typing(conv, false).catch(() => {
  });
  const { message } = await client.send(conv, body);
  addMessage(message);
});
var lastTyping = 0;
$("text").addEventListener("input", () => {
  if (!conv || Date.now() - lastTyping < 2e3) return;
  lastTyping = Date.now();
  client.typing(conv, true).catch(() => {
  });
});
$("call-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  showError("");
  let call;
  try {
    call = await calls.call($("callee").value.trim());
  } catch (err) {
    showError(`Call failed: ${REASONS[err.code] ?? err.message}`);
    return;
  }
  track(call);
  log(`calling ${call.peer} (rang ${call.devices} device${call.devices === 1 ? "" : "s"})`);
});
$("accept").addEventListener("click", async () => {
  show("incoming", false);
  showError("");
  track(current);
  try {
    await current.accept();
  } catch (err) {
    showError(`Could not accept: ${REASONS[err.code] ?? err.message}`);
    renderCall();
  }
});
$("decline").addEventListener("click", async () => {
  show("incoming", false);
  await current.decline();
});
$("hangup").addEventListener("click", () => current?.hangup());
$("mute").addEventListener("click", () => {
  current?.mute(!current.muted);
  renderCall();
});
setInterval(diag, 1e3);
