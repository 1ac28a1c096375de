export const FINAL: string[];
/**
 * One call. `state`: ringing | connecting | active | ended | declined | canceled | missed | failed.
 * `reason` says why a call ended or failed (`answered_in_another_tab`: this user took it in
 * another tab, which alone acts on it). Events: 'state', 'code', 'track', 'dtls', 'e2ee',
 * 'message' (a decrypted data-channel message).
 */
export class Call extends EventTarget {
    constructor(mgr: any, id: any, peer: any, role: any);
    mgr: any;
    id: any;
    peer: any;
    role: any;
    state: string;
    /** @type {RTCPeerConnection|null} */ pc: RTCPeerConnection | null;
    code: any;
    dtlsVerified: boolean;
    muted: boolean;
    remoteStream: MediaStream;
    offerSdp: any;
    answerSdp: any;
    offerKem: any;
    _hs: any;
    _pendingRemoteIce: any[];
    _localIce: any[];
    _iceTimer: number;
    _iceDone: boolean;
    /** Time this side spent computing the ML-KEM handshake, in ms. */
    handshakeMs: number;
    /**
     * `performance.timeOrigin + performance.now()` when the offer was created, when the peer
     * connection connected, and when the first frame from the peer decrypted.
     */
    startedAt: any;
    connectedAt: number;
    decryptingAt: number;
    /**
     * Diagnostics: when each step of the setup happened on this side, in the same clock
     * (`offer`, `offer_sent`, `incoming`, `answer_sent`, `answer`, `confirm_sent`,
     * `peer_confirm`, `keys`, `connected`, `sealing`, `decrypting`; see BENCHMARKS.md).
     */
    timeline: {};
    _mark(step: any, at?: number): number;
    _set(state: any, reason: any): void;
    reason: any;
    _teardown(): void;
    _release: any;
    /** End-to-end encryption: `{state, sent, received, dropped}` (frames of this call). */
    get e2ee(): {
        state: string;
        sent: number;
        received: number;
        dropped: number;
    };
    /** Sends a data-channel message (string or bytes), SFrame-encrypted; false if not open yet. */
    send(message: any): Promise<boolean>;
    /** Fails the call: tells the peer (ends, or declines while ringing) and says why. */
    _fail(reason: any): Promise<void>;
    /** Mutes or unmutes the microphone. */
    mute(on: any): void;
    _makePc(): Promise<RTCPeerConnection>;
    _e2eeRefused: boolean;
    _e2ee: CallE2ee;
    localStream: any;
    _dc: RTCDataChannel;
    /**
     * Fail closed (§7): some time after the keys are in and media connected, this side's
     * frames must be encrypted (its sent count grows) and the peer's must decrypt while they
     * arrive; otherwise the call ends with `e2ee_failed`.
     */
    _armE2eeCheck(): void;
    _e2eeTimer: number;
    _e2eeChecked: boolean;
    /**
     * Restarts ICE in an active call: a new offer with fresh ICE credentials through
     * `/api/calls/update`; the callee answers. Only the caller offers (the callee's offer
     * would lose to the caller's anyway). Also called when the browser comes back online.
     */
    restartIce(): Promise<void>;
    _restarting: boolean;
    restarts: any;
    /**
     * A new offer or answer from the peer (`call.update`). Its DTLS fingerprints must be the
     * ones the handshake bound, or the safety code would no longer vouch for the media: a
     * different one ends the call with `fingerprint_mismatch`.
     */
    _onUpdate(d: any): Promise<void>;
    /** A restart gathers candidates anew, so their end is sent again. */
    _newIceGeneration(): void;
    _doneSent: boolean;
    _flushIce(): Promise<void>;
    _addRemoteIce(candidates: any): Promise<void>;
    /**
     * The peer's DTLS certificate must match a fingerprint bound in the transcript (§6). Fails
     * closed: any error or mismatch ends the call with `fingerprint_mismatch`. Where the
     * browser does not expose the certificate, there is nothing to check.
     */
    _verifyDtls(): Promise<void>;
    _dtlsChecked: boolean;
    /** The safety code appears only once the peer's tag and the certificate check passed. */
    _showCode(): void;
    _pendingCode: any;
    /**
     * Callee: accept a ringing call. A key or SDP that fails its check, or a browser that
     * cannot encrypt media, declines the call with the reason (`bad_key`,
     * `fingerprint_mismatch`, `e2ee_unsupported`) and rejects with a HandshakeError.
     */
    accept(): Promise<void>;
    _accepted: boolean;
    /** Callee: decline a ringing call. */
    decline(reason?: string): Promise<void>;
    /** Either side: hang up (cancels a call that still rings). */
    hangup(reason?: string): Promise<void>;
    _ctx(): {
        callId: string;
        callerId: string;
        calleeId: string;
        fpA: string;
        fpB: string;
    };
    _onEvent(name: any, d: any): Promise<void>;
    _keying: Promise<void>;
    _done(keys: any): Promise<void>;
    _keysIn: boolean;
}
import { CallE2ee } from './e2ee.js';
