/** RFC 9605 §4.3: config byte |X|K K K|Y|C C C|, then the KID and counter bytes if long. */
export function encodeHeader(kid: any, ctr: any): Uint8Array<ArrayBuffer>;
/** Parses a header: `{kid, ctr, length}` (BigInts), or null when the bytes are too short. */
export function decodeHeader(buf: any): {
    kid: bigint;
    ctr: bigint;
    length: number;
};
/**
 * The AES-256-GCM key and salt of one KID (RFC 9605 §4.4.2, HKDF-SHA-512 with an empty salt).
 * @param {CryptoKey} base the base key imported as a non-extractable HKDF key
 */
export function deriveKid(base: CryptoKey, kid: any): Promise<{
    kid: bigint;
    key: CryptoKey;
    salt: Uint8Array<ArrayBuffer>;
}>;
/** SFrame(plaintext) = header || AES-GCM(key, nonce, aad = header, plaintext) with the 16-byte tag. */
export function seal({ kid, key, salt }: {
    kid: any;
    key: any;
    salt: any;
}, ctr: any, plaintext: any): Promise<Uint8Array<ArrayBuffer>>;
/** Data-channel plaintexts of §7: a type byte (0x01 text, 0x02 binary), then the message. */
export function encodeData(message: any): Uint8Array<ArrayBuffer>;
/** The message of a data plaintext (string or Uint8Array), or null when malformed. */
export function decodeData(plain: any): any;
export const CIPHER_SUITE: 5;
/** Counters a receiver accepts behind the newest one it accepted (RFC 9605 §9.3). */
export const REPLAY_WINDOW: 256;
export namespace KID {
    let callerMedia: number;
    let callerData: number;
    let calleeMedia: number;
    let calleeData: number;
}
export function importBaseKey(bytes: any): Promise<CryptoKey>;
/** One sender: its KID's key and the counter, from 0, +1 per frame. */
export class Sender {
    constructor(kidKey: any);
    k: any;
    next: bigint;
    get sent(): number;
    /** @param {Uint8Array} plaintext non-empty */
    seal(plaintext: Uint8Array): Promise<Uint8Array<ArrayBuffer>>;
}
/**
 * One receiver: accepts only its KID, each counter once, within the replay window; the
 * window moves only on frames that authenticate. `open` resolves to the plaintext or
 * null (dropped, and counted with its reason).
 */
export class Receiver {
    constructor(kidKey: any, window?: number);
    k: any;
    window: bigint;
    highest: bigint;
    seen: Set<any>;
    received: number;
    dropped: number;
    reasons: {
        malformed: number;
        wrong_kid: number;
        replayed: number;
        authentication: number;
    };
    _drop(why: any): any;
    /** Accepted already, or older than the window. */
    _replayed(ctr: any): boolean;
    /** @param {Uint8Array} frame non-empty */
    open(frame: Uint8Array): Promise<any>;
}
