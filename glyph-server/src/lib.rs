//! The Glyph server: it stores and forwards sealed boxes and never sees a
//! plaintext or a private key.
//!
//! Key-based authentication (a signed challenge answered with a one-hour
//! JWT), users and an optional handle directory, signed and one-time
//! prekeys, the message table (an envelope per recipient and a sealed
//! self-copy), group rosters, live WebSocket push, an encrypted media store
//! with quotas and view-once deletion ([`blobs`]), and the one-view share
//! relay with its web pages; storage behind the [`store::Store`] trait, with
//! SQLite (the embedded default) and PostgreSQL (several instances sharing
//! one database).
//!
//! `main` only parses [`config::Config`] and calls [`app::run`].
#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod blobs;
pub mod config;
pub mod error;
pub mod input;
pub mod limits;
pub mod metrics;
pub mod push;
pub mod routes;
pub mod serve;
pub mod store;
