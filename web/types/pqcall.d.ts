export { Call } from "./calls.js";
export { CallManager } from "./call-manager.js";
export * as handshake from "./handshake.js";
export * as fingerprint from "./fingerprint.js";
export * as sframe from "./sframe.js";
export { PqcallClient, PqcallError, devTokens, EVENTS } from "./client.js";
export { CallE2ee, e2eeSupport } from "./e2ee.js";
