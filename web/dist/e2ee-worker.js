// src/sframe.js
var CIPHER_SUITE = 5;
var REPLAY_WINDOW = 256;
var te = new TextEncoder();
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
  const l = te.encode(`SFrame 1.0 Secret ${what} `);
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

// src/e2ee-worker.js
var sender = null;
var receiver = null;
var held = false;
var stats = { sent: 0, received: 0, dropped: 0, early: 0, arrived: 0, played: 0, encryptMs: 0, decryptMs: 0, reasons: {} };
var announced = false;
var sealing = false;
var mark = (step) => self.postMessage({ type: "mark", step, at: performance.timeOrigin + performance.now() });
function report(reply = false) {
  if (receiver) {
    stats.received = receiver.received;
    stats.dropped = receiver.dropped;
    stats.reasons = { ...receiver.reasons };
  }
  if (sender) stats.sent = sender.sent;
  self.postMessage({ type: "stats", stats, reply });
}
async function encrypt(frame, controller) {
  if (frame.data.byteLength === 0) return controller.enqueue(frame);
  if (!sender || held) {
    stats.early++;
    return void 0;
  }
  const t = performance.now();
  frame.data = (await sender.seal(new Uint8Array(frame.data))).buffer;
  stats.encryptMs += performance.now() - t;
  controller.enqueue(frame);
  if (!sealing) {
    sealing = true;
    mark("sealing");
  }
  return void 0;
}
async function decrypt(frame, controller) {
  if (frame.data.byteLength === 0) return controller.enqueue(frame);
  if (!receiver) {
    stats.early++;
    return void 0;
  }
  const t = performance.now();
  const plain = await receiver.open(new Uint8Array(frame.data));
  stats.decryptMs += performance.now() - t;
  stats.arrived++;
  if (!plain) return void 0;
  frame.data = plain.buffer;
  controller.enqueue(frame);
  stats.played++;
  if (!announced) {
    announced = true;
    mark("decrypting");
    report();
    self.postMessage({ type: "decrypting" });
  }
  return void 0;
}
function attach(side, readable, writable) {
  const transform = side === "send" ? encrypt : decrypt;
  readable.pipeThrough(new TransformStream({ transform })).pipeTo(writable).catch(() => {
  });
  self.postMessage({ type: "attached", side });
}
self.onrtctransform = (event) => {
  const t = event.transformer;
  attach(t.options.side, t.readable, t.writable);
};
var handled = Promise.resolve();
self.onmessage = ({ data }) => {
  handled = handled.then(() => handle(data));
};
async function handle(data) {
  switch (data.type) {
    // createEncodedStreams(): the streams are transferred here.
    case "streams":
      attach(data.side, data.readable, data.writable);
      break;
    // The base keys of §7 once the peer's tag verified: bytes (imported as non-extractable
    // HKDF keys, then wiped) or CryptoKeys.
    case "keys": {
      const base = async (k) => {
        if (!(k instanceof Uint8Array)) return k;
        const key = await importBaseKey(k);
        k.fill(0);
        return key;
      };
      const [send, recv] = await Promise.all([base(data.send), base(data.recv)]);
      const [tx, rx] = await Promise.all([deriveKid(send, data.sendKid), deriveKid(recv, data.recvKid)]);
      const [prevSender, prevReceiver] = [sender, receiver];
      sender = new Sender(tx);
      if (prevSender && prevSender.k.kid === sender.k.kid) sender.next = prevSender.next;
      receiver = new Receiver(rx);
      if (prevReceiver) Object.assign(receiver, { received: prevReceiver.received, dropped: prevReceiver.dropped, reasons: prevReceiver.reasons });
      announced = false;
      held = !!data.hold;
      mark("keys");
      self.postMessage({ type: "keyed" });
      break;
    }
    case "send":
      held = false;
      break;
    case "stats":
      report(true);
      break;
    default:
  }
}
setInterval(() => report(), 500);
