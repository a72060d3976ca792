//! The outbox's shell (contract §11, §12), split by role: the Durable Object class
//! ([`object`]), a chat's events in its SQLite storage ([`events`]), the index of dead events
//! ([`dead_index`]), and the client the worker calls objects with ([`client`]). What is decided
//! is the core's: [`crate::logic::outbox`], [`crate::logic::notices`],
//! [`crate::logic::outbox_call`].

pub mod chat;
pub mod client;
pub mod dead_index;
pub mod events;
pub mod object;
pub mod origin;
