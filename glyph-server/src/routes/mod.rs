//! The HTTP API. Each module exposes `router()`; this one merges them.

mod auth;
mod devices;
mod groups;
mod media;
mod messages;
mod openapi;
mod ops;
mod pages;
mod prekeys;
mod shares;
mod users;
mod ws;

use axum::Router;

use crate::app::AppState;

pub use openapi::{document as openapi_document, openapi_paths};
pub use ws::{CLOSE_DEVICE_REMOVED, CLOSE_GOING_AWAY, CLOSE_TOKEN_EXPIRED, CLOSE_TOO_SLOW};

/// Every route of the server.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(users::router())
        .merge(auth::router())
        .merge(devices::router())
        .merge(prekeys::router())
        .merge(messages::router())
        .merge(groups::router())
        .merge(media::router())
        .merge(shares::router())
        .merge(pages::router())
        .merge(ws::router())
        .merge(ops::router())
        .merge(openapi::router())
}
