// pqcall browser client: the protocol client, calls with the ML-KEM-768 handshake, and
// the handshake itself for applications that drive their own peer connections.
export { PqcallClient, PqcallError, devTokens, EVENTS } from './client.js';
export { CallManager, Call } from './calls.js';
export * as handshake from './handshake.js';
