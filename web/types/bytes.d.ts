/** @param {Uint8Array} b @returns {string} standard padded base64 */
export function toBase64(b: Uint8Array): string;
/**
 * Strict decode: only the canonical padded encoding of exactly `len` bytes.
 * @param {string} s @param {number} len @param {string} field @returns {Uint8Array}
 */
export function fromBase64(s: string, len: number, field: string): Uint8Array;
/** Constant-time equality of two byte arrays of the same length. */
export function ctEqual(a: any, b: any): boolean;
export function utf8(s: string): Uint8Array;
export function toHex(b: Uint8Array): string;
export function fromHex(h: string): Uint8Array;
/** A handshake step failed; `code` says which check. */
export class HandshakeError extends Error {
    /** @param {string} code @param {string} message */
    constructor(code: string, message: string);
    code: string;
}
