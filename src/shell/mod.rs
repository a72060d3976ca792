//! The shell: the only code that touches the Workers runtime. It moves bytes between the
//! runtime (requests, responses, the origin fetch, the queue, KV) and the core, and decides
//! nothing: every choice it acts on is a core function's answer.

pub mod admin;
pub mod environment;
pub mod fetch;
pub mod forward;
pub mod http;
pub mod node_crypto;
pub mod outbox;
pub mod queue;
