//! The functional core: every decision of webim-edge as pure Rust over bytes, strings and
//! numbers, with no `worker` import. The clock and the hash functions come in as values, so
//! every step is deterministic and tested natively.
//!
//! The modules are layered: each uses only modules listed above it in the map of `docs/design.md`
//! (no cycles, nothing importing the crate root or the shell).

pub mod admin;
pub mod breaker;
pub mod clean_chat;
pub mod console;
pub mod credentials;
pub mod dead_filter;
pub mod delivery;
pub mod error;
pub mod event;
pub mod hashing;
pub mod inbound_auth;
pub mod intake;
pub mod log_line;
pub mod notices;
pub mod origin;
pub mod outbox;
pub mod outbox_call;
pub mod outcome;
pub mod params;
pub mod reply;
pub mod retry;
pub mod route;
pub mod settings;
pub mod standard_webhooks;
pub mod times;
pub mod version;
pub mod warm_up;
pub mod webim_signature;
