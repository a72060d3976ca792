//! The worker's handlers: HTTP requests ([`fetch`], with the admin API in [`admin`]) and queue
//! batches ([`queue`]).

pub mod admin;
pub mod fetch;
pub mod queue;
