//! The share relay's web pages: `/s/<code>` (a generic preview card and a
//! "Reveal" button) and `/share` (make a share in the browser), with their
//! script and style sheet. Everything is served from here: no external
//! scripts, fonts or CDNs, and a Content-Security-Policy that forbids them.
//! A `GET` of a page never spends a view; only the page's script does, on
//! a click, through `POST /v1/shares/<code>/open`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::shares::checked_code;
use crate::app::AppState;
use crate::error::ApiError;
use crate::input::ApiPath;
use crate::input::now;

const REVEAL_HTML: &str = include_str!("../../assets/reveal.html");
const GONE_HTML: &str = include_str!("../../assets/gone.html");
const SHARE_HTML: &str = include_str!("../../assets/share.html");
const RELAY_JS: &str = include_str!("../../assets/relay.js");
const RELAY_CSS: &str = include_str!("../../assets/relay.css");
const ICON_SVG: &str = include_str!("../../assets/icon.svg");

/// Only our own script, style and API; no inline code, frames, forms
/// posting elsewhere or plugins.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/s/{code}", get(reveal_page))
        .route("/share", get(share_page))
        .route(
            "/assets/relay.js",
            get(|| async { asset(RELAY_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/assets/relay.css",
            get(|| async { asset(RELAY_CSS, "text/css; charset=utf-8") }),
        )
        // The pages name their icon; /favicon.ico is what browsers ask
        // for without being told.
        .route(
            "/assets/icon.svg",
            get(|| async { asset(ICON_SVG, "image/svg+xml") }),
        )
        .route(
            "/favicon.ico",
            get(|| async { asset(ICON_SVG, "image/svg+xml") }),
        )
}

/// A response with the pages' security headers.
fn hardened(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    let pairs: [(header::HeaderName, &'static str); 7] = [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in pairs {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    hardened(StatusCode::OK, content_type, body.to_owned())
}

fn html(status: StatusCode, body: String) -> Response {
    hardened(status, "text/html; charset=utf-8", body)
}

/// Shows the card and the Reveal button for a live share, or says plainly
/// that it is gone. Reads the share's metadata only: nothing is spent, so
/// link-preview bots and `curl` leave the views as they were.
async fn reveal_page(State(state): State<AppState>, ApiPath(code): ApiPath<String>) -> Response {
    let gone = || html(StatusCode::NOT_FOUND, GONE_HTML.to_owned());
    let Ok(code) = checked_code(&code) else {
        return gone();
    };
    match state.store().share_info(code, now()).await {
        Ok(Some((views_left, _))) => {
            let note = if views_left > 1 {
                format!(" ({views_left} views are left)")
            } else {
                " (it is the only one)".to_owned()
            };
            // `code` is [A-Za-z0-9] only (checked above), safe in an attribute.
            let page = REVEAL_HTML
                .replace("{{CODE}}", code)
                .replace("{{VIEWS_NOTE}}", &note);
            html(StatusCode::OK, page)
        }
        Ok(None) => gone(),
        Err(err) => ApiError::from(err).into_response(),
    }
}

async fn share_page() -> Response {
    html(StatusCode::OK, SHARE_HTML.to_owned())
}
