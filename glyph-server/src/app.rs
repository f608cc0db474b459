//! The application: shared state, the router with its middleware, the
//! expiry sweeper, and serving with graceful shutdown.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::auth::{KnownAccounts, Tokens};
use crate::blobs::{BlobError, Blobs};
use crate::config::Config;
use crate::error::ApiError;
use crate::input::now;
use crate::limits::{RateLimiter, Scope};
use crate::metrics::Metrics;
use crate::push::Hub;
use crate::routes;
use crate::store::{self, Store, StoreError, SweepReport, Wakeup};

/// An upload still unfinished after this long is abandoned by the sweeper.
const STALE_UPLOAD_SECS: i64 = 3600;
/// Blobs deleted from storage per purge.
const PURGE_BATCH: i64 = 500;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Arc<dyn Store>,
    blobs: Blobs,
    tokens: Tokens,
    config: Config,
    hub: Hub,
    limiter: RateLimiter,
    metrics: Metrics,
    known_accounts: KnownAccounts,
    /// Set once when the server begins to shut down.
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    /// State over an open store.
    pub fn new(store: Arc<dyn Store>, blobs: Blobs, config: Config, jwt_secret: &[u8]) -> Self {
        let limiter = RateLimiter::new(&[
            (Scope::Auth, config.auth_per_minute),
            (Scope::Register, config.register_per_minute),
            (Scope::Send, config.sends_per_minute),
            (Scope::Share, config.shares_per_minute),
        ]);
        Self(Arc::new(Inner {
            store,
            blobs,
            tokens: Tokens::new(jwt_secret, config.jwt_lifetime_secs),
            config,
            hub: Hub::default(),
            limiter,
            metrics: Metrics::default(),
            known_accounts: KnownAccounts::default(),
            shutdown: tokio::sync::watch::channel(false).0,
        }))
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.0.store.as_ref()
    }

    /// Media blob storage.
    pub fn blobs(&self) -> &Blobs {
        &self.0.blobs
    }

    /// Deletes from storage the blobs the database marks removed (after a
    /// view, a deletion or a sweep). A failure is logged and retried at the
    /// next sweep: the database, not storage, says what exists.
    pub async fn purge_removed_media(&self) {
        let paths = match self.store().media_to_purge(PURGE_BATCH).await {
            Ok(paths) => paths,
            Err(err) => {
                tracing::warn!(error = %err, "listing media to delete failed");
                return;
            }
        };
        for path in paths {
            match self.blobs().delete(&path).await {
                Ok(()) => {
                    self.metrics()
                        .media_blobs_purged
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if let Err(err) = self.store().media_purged(&path).await {
                        tracing::warn!(error = %err, %path, "recording a deleted blob failed");
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, %path, "deleting a blob failed; will retry")
                }
            }
        }
    }

    /// Token issuing and checking.
    pub fn tokens(&self) -> &Tokens {
        &self.0.tokens
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// Live push.
    pub fn hub(&self) -> &Hub {
        &self.0.hub
    }

    /// Metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// Becomes `true` when the server begins to shut down: long-lived
    /// connections (WebSockets) watch it to say goodbye.
    pub fn shutting_down(&self) -> tokio::sync::watch::Receiver<bool> {
        self.0.shutdown.subscribe()
    }

    /// Tells long-lived connections the server is going away.
    pub fn begin_shutdown(&self) {
        self.0.shutdown.send_replace(true);
    }

    /// Accounts recently seen to exist.
    pub fn known_accounts(&self) -> &KnownAccounts {
        &self.0.known_accounts
    }

    /// Takes a rate-limit token or answers 429.
    pub fn limit(&self, scope: Scope, key: &str) -> Result<(), ApiError> {
        self.0
            .limiter
            .check(scope, key)
            .map_err(ApiError::RateLimited)
    }
}

/// The client's address: the peer, or with `--trust-forwarded-for` the
/// first `X-Forwarded-For` entry.
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.config().trust_forwarded_for {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(|v| v.trim().to_owned());
            if let Some(addr) = forwarded {
                return Ok(ClientAddr(addr));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        Ok(ClientAddr(peer.unwrap_or_else(|| "unknown".into())))
    }
}

/// The full router.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config().max_body_bytes;
    routes::router()
        .fallback(|| async { ApiError::NotFound("no_route", "no such endpoint".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(run_to_completion))
        .with_state(state)
}

/// The last word on error shapes: a failure answered by a layer outside
/// the handlers (a framework rejection, a timeout) without the API's JSON
/// body gets one, with a code from its status. The relay's HTML pages and
/// JSON errors pass through.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status.as_u16() < 400 {
        return response;
    }
    let content_type = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if content_type.starts_with("application/json") || content_type.starts_with("text/html") {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 1024)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .filter(|t| !t.trim().is_empty());
    let message = text.unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_lowercase()
    });
    let body = glyph_api::ErrorBody {
        error: glyph_api::ErrorDetail {
            code: crate::error::code_for_status(status).to_owned(),
            message: message.trim().to_owned(),
            details: None,
        },
    };
    let mut response = (status, axum::Json(body)).into_response();
    for name in [axum::http::header::RETRY_AFTER, axum::http::header::ALLOW] {
        if let Some(value) = parts.headers.get(&name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}

/// Runs each request in a task of its own. A client that hangs up makes
/// the server drop the request's future; without this, a store operation
/// could stop at any await point (PostgreSQL connections were left inside
/// a half-begun transaction that way, see `store::postgres`). Now the
/// handler always runs to its end, and only its answer is thrown away.
async fn run_to_completion(request: Request, next: Next) -> Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(err) => IntoResponse::into_response(ApiError::internal(format!(
            "a request handler failed: {err}"
        ))),
    }
}

async fn record_metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state.metrics().record(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Storage could not be opened or migrated.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// A file or socket operation failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Media storage could not be opened.
    #[error("{0}")]
    Blobs(#[from] BlobError),
    /// The JWT secret is unusable.
    #[error("the JWT secret must be at least 32 bytes")]
    WeakSecret,
}

/// The JWT secret: given, or read from (or created in) the data directory
/// with owner-only permissions.
pub fn jwt_secret(config: &Config) -> Result<Vec<u8>, ServeError> {
    if let Some(secret) = &config.jwt_secret {
        return if secret.len() >= 32 {
            Ok(secret.as_bytes().to_vec())
        } else {
            Err(ServeError::WeakSecret)
        };
    }
    let path = config.data_dir.join("jwt-secret");
    match std::fs::read(&path) {
        Ok(secret) if secret.len() >= 32 => Ok(secret),
        Ok(_) => Err(ServeError::WeakSecret),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => create_secret(&path),
        Err(err) => Err(err.into()),
    }
}

fn create_secret(path: &Path) -> Result<Vec<u8>, ServeError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    let secret: Vec<u8> = bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .into_bytes();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(&secret)?;
    file.sync_all()?;
    Ok(secret)
}

/// The whole `glyph-server` program: parses the command line and the
/// `GLYPH_*` variables, sets up logging (`GLYPH_LOG`), and serves. The
/// binary's `main` is this one call.
pub fn main_from_args() -> std::process::ExitCode {
    use clap::Parser;
    use tracing_subscriber::EnvFilter;

    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            EnvFilter::try_from_env("GLYPH_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("glyph-server: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config, |_| {})) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "glyph-server failed");
            eprintln!("glyph-server: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Opens storage, then serves until SIGTERM or Ctrl-C, finishing requests
/// in flight. `ready` receives the bound address.
pub async fn run(config: Config, ready: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    run_until(config, ready, shutdown_signal()).await
}

/// [`run`], stopping when `shutdown` completes instead of on a signal.
pub async fn run_until(
    config: Config,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServeError> {
    std::fs::create_dir_all(&config.data_dir)?;
    let secret = jwt_secret(&config)?;
    let store = store::open_with(&config.database_url(), &config.store_options()).await?;
    let blobs = Blobs::open(&config)?;
    let state = AppState::new(store, blobs, config.clone(), &secret);
    let sweeper = tokio::spawn(sweep_forever(
        state.clone(),
        Duration::from_secs(config.sweep_secs.max(1)),
    ));
    let wakeups = state
        .store()
        .wakeups()
        .await?
        .map(|stream| tokio::spawn(relay_wakeups(state.clone(), stream)));
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, config = ?config, "glyph-server listening");
    ready(addr);
    let stopping = {
        let state = state.clone();
        async move {
            shutdown.await;
            state.begin_shutdown();
        }
    };
    crate::serve::serve(
        listener,
        router(state.clone()),
        config.connection_limits(),
        stopping,
    )
    .await;
    wait_for_websockets(&state).await;
    sweeper.abort();
    if let Some(task) = wakeups {
        task.abort();
    }
    tracing::info!("glyph-server stopped");
    Ok(())
}

async fn sweep_forever(state: AppState, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let now = now();
        match state.store().sweep(now, now - STALE_UPLOAD_SECS).await {
            Ok(report) if report == SweepReport::default() => {}
            Ok(report) => tracing::info!(
                messages = report.messages,
                shares = report.shares,
                media = report.media,
                "swept expired data"
            ),
            Err(err) => tracing::warn!(error = %err, "sweeping expired data failed"),
        }
        state.purge_removed_media().await;
    }
}

/// Wakes local WebSockets for sends other instances committed. If the
/// listening connection drops, wake-ups may be lost, so every local socket
/// re-reads its inbox once (it holds its cursor; nothing is sent twice).
async fn relay_wakeups(state: AppState, mut stream: crate::store::Wakeups) {
    use futures_util::StreamExt;
    while let Some(wakeup) = stream.next().await {
        match wakeup {
            Wakeup::Device(user_id, device_id) => state.hub().notify([&(user_id, device_id)]),
            Wakeup::Removed(user_id, device_id) => {
                state.known_accounts().forget(&user_id, device_id);
                state.hub().notify([&(user_id, device_id)]);
            }
            Wakeup::Missed => {
                state.known_accounts().forget_all();
                state.hub().notify_all();
            }
            Wakeup::Ignored => {}
        }
    }
    tracing::warn!("the wake-up stream from other instances ended");
}

/// Gives WebSockets told to close (1001) a moment to send their close
/// frames before the process exits.
async fn wait_for_websockets(state: &AppState) {
    use std::sync::atomic::Ordering;
    let deadline = Instant::now() + Duration::from_secs(5);
    while state.metrics().connections.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
