//! The shell: the only code that touches the Workers runtime. It moves bytes between the
//! runtime and the core, and decides nothing: every choice it acts on is a core function's
//! answer.
//!
//! - [`runtime`]: the runtime boundary, every binding to the Workers runtime;
//! - [`handlers`]: the fetch and queue handlers, and the admin API;
//! - [`outbox`]: the per-chat Durable Object and its client;
//! - [`environment`] (settings and bindings once per isolate) and [`forward`] (one attempt to
//!   the origin), which the handlers and the outbox share.

pub mod environment;
pub mod forward;
pub mod handlers;
pub mod outbox;
pub mod runtime;
