// pqcall browser client: the protocol client, calls with the ML-KEM-768 handshake and
// end-to-end encrypted media, and the handshake, the fingerprint rule and SFrame
// themselves for applications that drive their own peer connections.
export { PqcallClient, PqcallError, devTokens, EVENTS } from './client.js';
export { Call } from './calls.js';
export { CallManager } from './call-manager.js';
export * as handshake from './handshake.js';
export * as fingerprint from './fingerprint.js';
export * as sframe from './sframe.js';
export { CallE2ee, e2eeSupport } from './e2ee.js';
