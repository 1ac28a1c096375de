//! Tools that drive a real `pqcall` server from outside, as clients would: `load`
//! (relay latency and server CPU per message, idle-stream memory, the soak, a WebSocket
//! relay for comparison; see BENCHMARKS.md) and `stress` (calls and chat while streams
//! are killed at random, checked for exact counts, order and no loss; see HARDENING.md).
//! Both target 127.0.0.1 only.

pub mod server;
