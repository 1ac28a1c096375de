/** H(enc(p0) || enc(p1) || ...): SHA3-256 of length-prefixed parts. */
export function H(...parts: any[]): Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
/** TH over the public facts of the call. */
export function transcriptHash({ callId, callerId, calleeId, ek, commit, fpA, ct, fpB, nA }: {
    callId: any;
    callerId: any;
    calleeId: any;
    ek: any;
    commit: any;
    fpA: any;
    ct: any;
    fpB: any;
    nA: any;
}): Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
/** PRK and every key derived from it. */
export function keySchedule(ss: any, th: any): {
    prk: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
    tagCaller: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
    tagCallee: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
    mediaCaller: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
    mediaCallee: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
    sas: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
    code: string;
};
/** WebCrypto ML-KEM-768 where available, else noble. */
export function defaultKem(): Promise<any>;
/**
 * Caller, step 1: key pair, nonce, commitment. Send `offer` (base64) in the offer's `kem`.
 * @param {{kem?: typeof nobleKem, seed?: Uint8Array, nA?: Uint8Array}} [opts] seed and nA for vectors only
 */
export function callerStart(opts?: {
    kem?: typeof nobleKem;
    seed?: Uint8Array;
    nA?: Uint8Array;
}): Promise<{
    caller: {
        ek: any;
        commit: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
        nA: Uint8Array<any>;
        decapsulate: any;
        step: string;
    };
    offer: {
        suite: string;
        ek: string;
        commit: string;
    };
}>;
/**
 * Callee, step 2: checks and encapsulates to the caller's key. Send `answer` in the answer's `kem`.
 * @param {{ek: string, commit: string, suite?: string}} offerKem
 */
export function calleeAnswer(offerKem: {
    ek: string;
    commit: string;
    suite?: string;
}, opts?: {}): Promise<{
    callee: {
        ek: Uint8Array<ArrayBufferLike>;
        commit: Uint8Array<ArrayBufferLike>;
        ct: any;
        ss: any;
        step: string;
    };
    answer: {
        ct: string;
    };
}>;
/**
 * The public facts both sides bind. Fingerprints come from the two SDPs (§6's rule; throws
 * HandshakeError('fingerprint_mismatch') when either breaks it).
 * @returns {{callId: string, callerId: string, calleeId: string, fpA: string, fpB: string}}
 */
export function callContext(callId: any, callerId: any, calleeId: any, offerSdp: any, answerSdp: any): {
    callId: string;
    callerId: string;
    calleeId: string;
    fpA: string;
    fpB: string;
};
/** Caller, step 3: decapsulates (the private key is dropped), returns the confirm to send. */
export function callerFinish(caller: any, answerKem: any, ctx: any): Promise<{
    waiting: {
        expected: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
        keys: {
            prk: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
            tagCaller: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
            tagCallee: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
            mediaCaller: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
            mediaCallee: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
            sas: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
            code: string;
        };
        step: string;
    };
    confirm: {
        nonce: string;
        tag: string;
    };
}>;
/** Callee, step 4: checks the commitment and the caller's tag; returns keys and the reply. */
export function calleeConfirm(callee: any, confirmKem: any, ctx: any): {
    keys: {
        prk: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
        tagCaller: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
        tagCallee: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
        mediaCaller: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
        mediaCallee: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
        sas: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
        code: string;
    };
    reply: {
        tag: string;
    };
};
/** Caller, final: checks the callee's tag. */
export function callerVerify(waiting: any, replyKem: any): any;
export const SUITE: "ML-KEM-768";
export namespace LEN {
    let ek: number;
    let ct: number;
    let commit: number;
    let nonce: number;
    let tag: number;
}
export { fingerprintFromSdp } from "./fingerprint.js";
export function commitment(nA: any): Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
export namespace nobleKem {
    let name: string;
    function keygen(seed?: Uint8Array<any>): Promise<{
        ek: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
        decapsulate: (ct: any) => Promise<Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>>;
    }>;
    function encapsulate(ek: any, m?: Uint8Array<any>): Promise<{
        ct: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
        ss: Uint8Array<ArrayBufferLike> & Uint8Array<ArrayBuffer>;
    }>;
}
export namespace webCryptoKem {
    let name_1: string;
    export { name_1 as name };
    export function keygen(seed: any): Promise<{
        ek: Uint8Array<JsonWebKey & ArrayBuffer>;
        decapsulate: (ct: any) => Promise<Uint8Array<any>>;
    }>;
    export function encapsulate(ek: any, m: any): Promise<{
        ct: Uint8Array<any>;
        ss: Uint8Array<any>;
    }>;
}
