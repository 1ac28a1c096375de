/**
 * The fingerprints of an SDP, or a HandshakeError('fingerprint_mismatch').
 * @param {string} sdp
 * @returns {{binding: string, values: Array<[string, string]>}}
 */
export function parseFingerprints(sdp: string): {
    binding: string;
    values: Array<[string, string]>;
};
/**
 * Whether a DER certificate matches a bound value of the same hash function. False when
 * none of the bound hash functions can be computed here (fail closed).
 * @param {ArrayBuffer} der @param {string} sdp
 */
export function certificateMatches(der: ArrayBuffer, sdp: string): Promise<boolean>;
export function fingerprintFromSdp(sdp: any): string;
