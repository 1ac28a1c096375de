//! pqcall: WebRTC call signaling over HTTP POST and Server-Sent Events.
