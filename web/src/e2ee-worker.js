// The media worker of one call (docs/PROTOCOL.md §7): every encoded-transform of the call
// runs here, so all tracks of this side share one SFrame sender and its counter.
// Frames before the keys exist are dropped; zero-length frames pass untouched; frames
// that do not decrypt are dropped and counted; nothing is ever played or sent in clear.
import { Receiver, Sender, deriveKid, importBaseKey } from './sframe.js';

let sender = null;
let receiver = null;
// Keys in, but this side may not send yet (the caller before the callee's tag verified).
let held = false;
// arrived: frames from the peer after the keys; played: frames handed to the decoder (every
// one of them decrypted, so played === received always holds).
// encryptMs / decryptMs: time spent sealing and opening frames (for BENCHMARKS.md).
const stats = { sent: 0, received: 0, dropped: 0, early: 0, arrived: 0, played: 0, encryptMs: 0, decryptMs: 0, reasons: {} };
let announced = false;
let sealing = false;

/** Tells the page when a step happened (the call's timeline, for diagnostics). */
const mark = (step) => self.postMessage({ type: 'mark', step, at: performance.timeOrigin + performance.now() });

/** Posts the counts; `reply` marks an answer to a `stats` request. */
function report(reply = false) {
  if (receiver) { stats.received = receiver.received; stats.dropped = receiver.dropped; stats.reasons = { ...receiver.reasons }; }
  if (sender) stats.sent = sender.sent;
  self.postMessage({ type: 'stats', stats, reply });
}

async function encrypt(frame, controller) {
  if (frame.data.byteLength === 0) return controller.enqueue(frame);
  if (!sender || held) { stats.early++; return undefined; }
  const t = performance.now();
  frame.data = (await sender.seal(new Uint8Array(frame.data))).buffer;
  stats.encryptMs += performance.now() - t;
  controller.enqueue(frame);
  if (!sealing) { sealing = true; mark('sealing'); }
  return undefined;
}

async function decrypt(frame, controller) {
  if (frame.data.byteLength === 0) return controller.enqueue(frame);
  if (!receiver) { stats.early++; return undefined; }
  const t = performance.now();
  const plain = await receiver.open(new Uint8Array(frame.data));
  stats.decryptMs += performance.now() - t;
  stats.arrived++;
  if (!plain) return undefined;
  frame.data = plain.buffer;
  controller.enqueue(frame);
  stats.played++;
  if (!announced) { announced = true; mark('decrypting'); report(); self.postMessage({ type: 'decrypting' }); }
  return undefined;
}

function attach(side, readable, writable) {
  const transform = side === 'send' ? encrypt : decrypt;
  readable.pipeThrough(new TransformStream({ transform })).pipeTo(writable).catch(() => {});
  self.postMessage({ type: 'attached', side });
}

// RTCRtpScriptTransform: Chromium 156 and Safari.
self.onrtctransform = (event) => {
  const t = event.transformer;
  attach(t.options.side, t.readable, t.writable);
};

// One message at a time, in order: a later key never loses a race to an earlier one.
let handled = Promise.resolve();
self.onmessage = ({ data }) => { handled = handled.then(() => handle(data)); };

async function handle(data) {
  switch (data.type) {
    // createEncodedStreams(): the streams are transferred here.
    case 'streams': attach(data.side, data.readable, data.writable); break;
    // The base keys of §7 once the peer's tag verified: bytes (imported as non-extractable
    // HKDF keys, then wiped) or CryptoKeys.
    case 'keys': {
      const base = async (k) => {
        if (!(k instanceof Uint8Array)) return k;
        const key = await importBaseKey(k);
        k.fill(0);
        return key;
      };
      const [send, recv] = await Promise.all([base(data.send), base(data.recv)]);
      const [tx, rx] = await Promise.all([deriveKid(send, data.sendKid), deriveKid(recv, data.recvKid)]);
      // New keys (a rekey): the counter and the counts go on.
      const [prevSender, prevReceiver] = [sender, receiver];
      sender = new Sender(tx);
      if (prevSender && prevSender.k.kid === sender.k.kid) sender.next = prevSender.next;
      receiver = new Receiver(rx);
      if (prevReceiver) Object.assign(receiver, { received: prevReceiver.received, dropped: prevReceiver.dropped, reasons: prevReceiver.reasons });
      announced = false;
      held = !!data.hold;
      mark('keys');
      self.postMessage({ type: 'keyed' });
      break;
    }
    case 'send': held = false; break;
    case 'stats': report(true); break;
    default:
  }
}

setInterval(() => report(), 500);
