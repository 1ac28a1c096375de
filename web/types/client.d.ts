/**
 * A development-mode token source (`pqcall serve --dev`), refreshed before it expires.
 * @param {string} baseUrl the server ('' for the page's own origin)
 * @param {string} user
 * @returns {() => Promise<string>}
 */
export function devTokens(baseUrl: string, user: string): () => Promise<string>;
/** A refused request: `code` is the protocol's error code. */
export class PqcallError extends Error {
    /** @param {number} status @param {string} code @param {string} message @param {any} [body] */
    constructor(status: number, code: string, message: string, body?: any);
    status: number;
    code: string;
    body: any;
}
/** The events of docs/PROTOCOL.md §3-4 (app events are added with `listen`). */
export const EVENTS: string[];
/**
 * @typedef {'closed'|'connecting'|'open'|'reconnecting'} StreamState
 * @typedef {{ baseUrl?: string, getToken: () => Promise<string>, share?: boolean,
 *             maxBackoffMs?: number }} ClientOptions
 */
export class PqcallClient extends EventTarget {
    /** @param {ClientOptions} opts */
    constructor(opts: ClientOptions);
    baseUrl: string;
    getToken: () => Promise<string>;
    maxBackoffMs: number;
    /** @type {StreamState} */
    state: StreamState;
    /** @type {string|null} */ connId: string | null;
    /** @type {string|null} */ userId: string | null;
    /** @type {string|null} */ lastEventId: string | null;
    reconnects: number;
    lastPostMs: number;
    /** 'leader' runs the stream, 'follower' hears it from another tab, 'solo' has its own */
    role: string;
    _names: Set<string>;
    _es: EventSource;
    _attempt: number;
    _timer: number;
    _closed: boolean;
    _share: boolean;
    _onOnline: () => void;
    _onOffline: () => void;
    _onVisible: () => void;
    /** Also deliver events named `name` (e.g. an `app.*` event). */
    listen(name: any): void;
    /** Opens the stream (or joins the one another tab holds). */
    connect(): Promise<void>;
    _channel: BroadcastChannel;
    _release: (value: any) => void;
    close(): void;
    _setState(s: any): void;
    _open(): Promise<void>;
    _reconnectSoon(delay: any): void;
    _onEvent(name: any, e: any): void;
    _emit(name: any, data: any, id: any): void;
    _onShared(m: any): void;
    /**
     * POSTs JSON with the token (and this device's connection id when `conn`).
     * @returns {Promise<any>} the JSON result (null for 204)
     */
    post(path: any, body: any, { conn }?: {
        conn?: boolean;
    }): Promise<any>;
    /**
     * The ICE servers for a peer connection (`GET /api/ice-servers`: STUN, and TURN with
     * short-lived credentials), cached until a minute before they expire.
     * @returns {Promise<RTCIceServer[]>}
     */
    iceServers(): Promise<RTCIceServer[]>;
    _ice: any;
    /** A token from `getToken`, also kept for `endNow` (which cannot wait for one). */
    freshToken(): Promise<string>;
    _token: string;
    /**
     * Ends (or, `action = 'decline'`, declines) a call while the page goes away
     * (`pagehide`): a keepalive request the browser sends even as it unloads, with the
     * token last used (no await in between).
     */
    endNow(callId: any, reason: any, action?: string): void;
    /**
     * Claims `name` for this tab among the tabs of this user (Web Locks): resolves to a
     * function that gives it back, or null when another tab holds it. Closing the tab
     * gives it back too. Without shared streams, every claim succeeds.
     * @returns {Promise<(() => void) | null>}
     */
    claim(name: any): Promise<(() => void) | null>;
    /** Tells this user's other tabs `m` (they get a 'tab' event with it). */
    tellTabs(m: any): void;
    createConversation(members: any, { title, open }?: {}): Promise<any>;
    joinConversation(conversationId: any): Promise<any>;
    loadMessages(conversationId: any, { before, limit }?: {}): Promise<any>;
    typing(conversationId: any, active: any): Promise<any>;
    /**
     * This user's conversations, most recent activity first, each with its last message
     * and unread count. `before`: the last conversation id of the previous page.
     * @param {{before?: string, limit?: number}} [page]
     */
    listConversations({ before, limit }?: {
        before?: string;
        limit?: number;
    }): Promise<any>;
    /** Moves this user's read marker forward to `messageId` (the others get `message.read`). */
    markRead(conversationId: any, messageId: any): Promise<any>;
    /**
     * Whether each of `users` (at most 100) is online; only users who share a
     * conversation with this one are shown (everyone else reads as offline).
     * @param {string[]} users
     */
    presence(users: string[]): Promise<any>;
    /**
     * This user's finished calls, newest first. `before`: the last call id of the
     * previous page.
     * @param {{before?: string, limit?: number}} [page]
     */
    callHistory({ before, limit }?: {
        before?: string;
        limit?: number;
    }): Promise<any>;
    /** Sends a message; retried with the same `client_msg_id` until it is stored. */
    send(conversationId: any, body: any, clientMsgId?: `${string}-${string}-${string}-${string}-${string}`, tries?: number): Promise<any>;
    offer(to: any, sdp: any, kem: any): Promise<any>;
    answer(callId: any, sdp: any, kem: any): Promise<any>;
    confirm(callId: any, kem: any): Promise<any>;
    ice(callId: any, candidates: any, done: any): Promise<any>;
    update(callId: any, sdp: any, kind: any): Promise<any>;
    decline(callId: any, reason: any): Promise<any>;
    end(callId: any, reason: any): Promise<any>;
}
export type StreamState = "closed" | "connecting" | "open" | "reconnecting";
export type ClientOptions = {
    baseUrl?: string;
    getToken: () => Promise<string>;
    share?: boolean;
    maxBackoffMs?: number;
};
