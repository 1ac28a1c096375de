/** Places and receives calls for one client. Events: 'incoming', 'callstate', 'pcstate'. */
export class CallManager extends EventTarget {
    /**
     * @param {import('./client.js').PqcallClient} client
     * @param {{iceServers?: RTCIceServer[], iceTransportPolicy?: RTCIceTransportPolicy, getMedia?: () => Promise<MediaStream>}} [opts]
     *   `iceServers`: fixed ones; without, the server's (`GET /api/ice-servers`).
     *   `iceTransportPolicy: 'relay'` sends media through TURN only (to test a TURN server).
     */
    constructor(client: import("./client.js").PqcallClient, opts?: {
        iceServers?: RTCIceServer[];
        iceTransportPolicy?: RTCIceTransportPolicy;
        getMedia?: () => Promise<MediaStream>;
    });
    client: import("./client.js").PqcallClient;
    iceServers: RTCIceServer[];
    iceTransportPolicy: RTCIceTransportPolicy;
    getMedia: () => Promise<MediaStream>;
    /** @type {Map<string, Call>} */
    calls: Map<string, Call>;
    /** A worker started ahead of the next call (one per call, never shared). */
    _spare: any;
    /** call id -> {at, events}: events that arrived before this client learned the id. */
    _early: Map<any, any>;
    _queue: Promise<void>;
    /** Calls another tab of this user placed or took: call id -> when it said so. */
    _elsewhere: Map<any, any>;
    _fresh: number;
    /** The calls this tab acts on and that are not over. */
    _ownCalls(): Generator<Call, void, unknown>;
    _leave(): void;
    /** Another tab placed or took call `call_id`: this tab leaves it alone. */
    _onTab(m: any): void;
    /**
     * The ICE servers for the next peer connection: the fixed ones, or the server's list
     * (refreshed before its TURN credentials expire). Without one, host candidates only.
     * @returns {Promise<RTCIceServer[]>}
     */
    currentIceServers(): Promise<RTCIceServer[]>;
    /** The spare worker for a new call (the next spare starts when a call finishes). */
    _takeWorker(): any;
    _replenish(): void;
    _enqueue(fn: any): void;
    _warn(what: any, e: any): void;
    /**
     * Calls `to`; resolves once the offer is out (the call rings). Rejects with a
     * HandshakeError('e2ee_unsupported') where the browser cannot encrypt media, before
     * anything is sent; the microphone is released on every failure.
     */
    call(to: any): Promise<Call>;
    _replayEarly(id: any): Promise<void>;
    _keepEarly(name: any, d: any): void;
    _onEvent(name: any, d: any): Promise<void>;
}
import { Call } from './calls.js';
