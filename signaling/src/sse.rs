//! Server-Sent Events framing (docs/PROTOCOL.md §3; WHATWG HTML §9.2).

/// Frames one event: `id:` (when logged), `event:`, one `data:` line, blank line.
///
/// `data` must be one line; JSON from `serde_json::to_string` always is.
pub fn frame(id: Option<&str>, event: &str, data: &str) -> String {
    let mut s = String::with_capacity(data.len() + event.len() + 40);
    if let Some(id) = id {
        s.push_str("id: ");
        s.push_str(id);
        s.push('\n');
    }
    s.push_str("event: ");
    s.push_str(event);
    s.push_str("\ndata: ");
    s.push_str(data);
    s.push_str("\n\n");
    s
}

/// A `retry:` line: the reconnection delay the client should use, in milliseconds.
pub fn retry(ms: u64) -> String {
    format!("retry: {ms}\n\n")
}

/// A heartbeat comment.
pub const KEEP_ALIVE: &str = ": keep-alive\n\n";
