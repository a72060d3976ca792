//! webim-edge: a Cloudflare Worker that authenticates Webim chat event webhooks and forwards
//! clean, signed events to an internal origin, directly, through a queue or through a durable
//! per-chat outbox.
//!
//! [`logic`] (the functional core) holds every decision as pure Rust, tested natively; `shell` moves bytes between the
//! Workers runtime and the core.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod logic;
mod shell;

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
