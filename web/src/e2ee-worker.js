// The media worker of one call (docs/PROTOCOL.md §7): every encoded-transform of the call
// runs here, so all tracks of this side share one SFrame sender and its counter.
// Frames before the keys exist are dropped; zero-length frames pass untouched; frames
// that do not decrypt are dropped and counted; nothing is ever played or sent in clear.
import { Receiver, Sender, deriveKid } from './sframe.js';

let sender = null;
let receiver = null;
// arrived: frames from the peer after the keys; played: frames handed to the decoder (every
// one of them decrypted, so played === received always holds).
// encryptMs / decryptMs: time spent sealing and opening frames (for BENCHMARKS.md).
const stats = { sent: 0, received: 0, dropped: 0, early: 0, arrived: 0, played: 0, encryptMs: 0, decryptMs: 0, reasons: {} };
let announced = false;

function report() {
  if (receiver) { stats.received = receiver.received; stats.dropped = receiver.dropped; stats.reasons = { ...receiver.reasons }; }
  if (sender) stats.sent = sender.sent;
  self.postMessage({ type: 'stats', stats });
}

async function encrypt(frame, controller) {
  if (frame.data.byteLength === 0) return controller.enqueue(frame);
  if (!sender) { stats.early++; return undefined; }
  const t = performance.now();
  frame.data = (await sender.seal(new Uint8Array(frame.data))).buffer;
  stats.encryptMs += performance.now() - t;
  controller.enqueue(frame);
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
  if (!announced) { announced = true; report(); self.postMessage({ type: 'decrypting' }); }
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

self.onmessage = async ({ data }) => {
  switch (data.type) {
    // createEncodedStreams(): the streams are transferred here.
    case 'streams': attach(data.side, data.readable, data.writable); break;
    // The keys of §7 as non-extractable HKDF CryptoKeys, once the peer's tag verified.
    case 'keys': {
      const [tx, rx] = await Promise.all([deriveKid(data.send, data.sendKid), deriveKid(data.recv, data.recvKid)]);
      // New keys (a rekey): the counter and the counts go on.
      const [prevSender, prevReceiver] = [sender, receiver];
      sender = new Sender(tx);
      if (prevSender && prevSender.k.kid === sender.k.kid) sender.next = prevSender.next;
      receiver = new Receiver(rx);
      if (prevReceiver) Object.assign(receiver, { received: prevReceiver.received, dropped: prevReceiver.dropped, reasons: prevReceiver.reasons });
      announced = false;
      self.postMessage({ type: 'keyed' });
      break;
    }
    case 'stats': report(); break;
    default:
  }
};

setInterval(report, 500);
