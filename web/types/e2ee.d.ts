/** 'script' (RTCRtpScriptTransform), 'streams' (createEncodedStreams) or null. */
export function e2eeSupport(): "script" | "streams";
export function spareWorker(): Worker;
/**
 * `state`: 'waiting' (no keys yet) → 'keyed' → 'encrypted' (frames from the peer decrypt),
 * or 'failed'. Events: 'state', 'stats', 'mark' (`{step, at}`: when the worker got its keys,
 * sealed its first frame, decrypted the peer's first frame).
 */
export class CallE2ee extends EventTarget {
    /** @param {Worker} [worker] a fresh worker from `spareWorker()`, not used by any other call */
    constructor(worker?: Worker);
    mode: string;
    state: string;
    stats: {
        sent: number;
        received: number;
        dropped: number;
        early: number;
        arrived: number;
    };
    attached: {
        send: number;
        recv: number;
    };
    worker: Worker;
    _decrypting: boolean;
    data: {
        sender: Sender;
        receiver: Receiver;
    };
    /** Resolvers waiting for the worker to have its keys, and for fresh counts. */
    _keyed: any[];
    _refreshing: any[];
    _set(state: any): void;
    /** Extra RTCPeerConnection configuration the mode needs. */
    pcConfig(): {
        encodedInsertableStreams: boolean;
    } | {
        encodedInsertableStreams?: undefined;
    };
    _attach(side: any, endpoint: any): void;
    /** Every sender and receiver of the peer connection, and no audio level in clear. */
    attachAll(pc: any): void;
    /**
     * Installs this side's keys: media in the worker, data here; resolves once both hold
     * them. Sending starts at once, or
     * with `hold`, only at `release()`: §7 lets a side send only once it verified the peer's
     * tag, but the caller may receive as soon as it has the keys, one round trip earlier.
     * @param {'caller'|'callee'} role @param {{mediaCaller: Uint8Array, mediaCallee: Uint8Array}} keys
     * @param {{hold?: boolean}} [opts]
     */
    setKeys(role: "caller" | "callee", keys: {
        mediaCaller: Uint8Array;
        mediaCallee: Uint8Array;
    }, { hold }?: {
        hold?: boolean;
    }): Promise<void>;
    held: boolean;
    keys: {
        send: CryptoKey;
        recv: CryptoKey;
    };
    _ready(): void;
    /** Starts sending with the keys installed with `hold` (the peer's tag verified). */
    release(): void;
    /** Seals a data-channel message (string or bytes); null before this side may send. */
    sealData(message: any): Promise<Uint8Array<ArrayBuffer>>;
    /** Opens a data-channel message; null when it is dropped (counted). */
    openData(bytes: any): Promise<any>;
    /** Counters read by the worker after every message sent to it before (they are also
     * pushed every half second). */
    refreshStats(): Promise<any>;
    fail(): void;
    /** Ends the worker; counts asked for from now on are the last ones it sent. */
    close(): void;
    closed: boolean;
}
import { Sender } from './sframe.js';
import { Receiver } from './sframe.js';
