//! The Glyph server: it stores and forwards sealed boxes and never sees a
//! plaintext or a private key.
//!
//! Key-based authentication (a signed challenge answered with a one-hour
//! JWT), users and an optional handle directory, signed and one-time
//! prekeys, the message table (an envelope per recipient and a sealed
//! self-copy), group rosters, and live WebSocket push; storage behind the
//! [`store::Store`] trait, with SQLite (the embedded default) and PostgreSQL
//! (several instances sharing one database). The encrypted media store and
//! the one-view share relay come next.
//!
//! `main` only parses [`config::Config`] and calls [`app::run`].
#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod input;
pub mod limits;
pub mod metrics;
pub mod push;
pub mod routes;
pub mod store;
