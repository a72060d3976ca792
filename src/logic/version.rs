//! The crate version, as `/healthz` and the outbound `user-agent` report it.

/// `version` of `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
