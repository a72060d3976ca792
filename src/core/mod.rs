//! The functional core: every decision of webim-edge as pure Rust over bytes, strings and
//! numbers, with no `worker` import. The clock and the hash functions come in as values, so
//! every step is deterministic and tested natively.
//!
//! Modules follow a delivery through the spec, top to bottom: a module uses only the ones
//! listed before it.

pub mod admin;
pub mod clean_chat;
pub mod credentials;
pub mod delivery;
pub mod error;
pub mod event;
pub mod hashing;
pub mod inbound_auth;
pub mod intake;
pub mod log_line;
pub mod origin;
pub mod outbox;
pub mod outcome;
pub mod params;
pub mod reply;
pub mod retry;
pub mod route;
pub mod settings;
pub mod standard_webhooks;
pub mod times;
pub mod version;
pub mod webim_signature;
