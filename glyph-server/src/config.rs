//! The server's configuration: one clap struct; every option is also an
//! environment variable (`GLYPH_...`), and its doc comment is its `--help`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// glyph-server: stores and forwards end-to-end encrypted messages.
/// With no options it keeps a SQLite database in ./glyph-data and listens
/// on 127.0.0.1:8080.
#[derive(Clone, Parser)]
#[command(name = "glyph-server", version, about)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "GLYPH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory for the server's own files: the SQLite database (unless
    /// --database-url says otherwise) and the generated JWT secret.
    #[arg(long, env = "GLYPH_DATA_DIR", default_value = "glyph-data")]
    pub data_dir: PathBuf,

    /// Database URL: `sqlite:PATH` or `postgres://USER@HOST/DB`. Default:
    /// `sqlite:<data-dir>/glyph.db`. Several instances may share one
    /// PostgreSQL database.
    #[arg(long, env = "GLYPH_DATABASE_URL")]
    pub database_url: Option<String>,

    /// The URL people reach this server at (behind a proxy, the proxy's),
    /// e.g. https://glyph.example.org. Used in links the server makes.
    #[arg(long, env = "GLYPH_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Largest request body accepted, in bytes (larger: 413).
    #[arg(long, env = "GLYPH_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest envelope or self-copy accepted, in bytes (larger: 413).
    #[arg(long, env = "GLYPH_MAX_ENVELOPE_BYTES", default_value_t = 64 * 1024)]
    pub max_envelope_bytes: usize,

    /// Most copies (recipients) one send may carry.
    #[arg(long, env = "GLYPH_MAX_COPIES", default_value_t = 1000)]
    pub max_copies: usize,

    /// Most one-time prekeys one upload may carry.
    #[arg(long, env = "GLYPH_MAX_PREKEYS_PER_UPLOAD", default_value_t = 100)]
    pub max_prekeys_per_upload: usize,

    /// Most one-time prekeys stored per user.
    #[arg(long, env = "GLYPH_MAX_PREKEY_STOCK", default_value_t = 1000)]
    pub max_prekey_stock: u64,

    /// Lifetime of an access token, in seconds.
    #[arg(long, env = "GLYPH_JWT_LIFETIME_SECS", default_value_t = 3600)]
    pub jwt_lifetime_secs: u64,

    /// Secret that signs access tokens (at least 32 bytes). Default: a
    /// random secret generated on first start and kept in
    /// <data-dir>/jwt-secret (mode 0600). Instances sharing a database must
    /// share the secret.
    #[arg(long, env = "GLYPH_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Login and challenge requests allowed per client address per minute.
    #[arg(long, env = "GLYPH_AUTH_PER_MINUTE", default_value_t = 60)]
    pub auth_per_minute: u32,

    /// Registrations allowed per client address per minute.
    #[arg(long, env = "GLYPH_REGISTER_PER_MINUTE", default_value_t = 20)]
    pub register_per_minute: u32,

    /// Sends allowed per user per minute.
    #[arg(long, env = "GLYPH_SENDS_PER_MINUTE", default_value_t = 1200)]
    pub sends_per_minute: u32,

    /// Where media blobs are kept: unset, the `media/` folder under
    /// --data-dir; or `s3://BUCKET[/PREFIX]` for S3-compatible storage
    /// (needs the `s3` build feature; credentials, region and endpoint come
    /// from the usual AWS_* environment variables, e.g. AWS_ENDPOINT_URL).
    #[arg(long, env = "GLYPH_MEDIA_URL")]
    pub media_url: Option<String>,

    /// Largest media file one upload may hold, in bytes (its sealed blob may
    /// be 16 bytes longer, for the tag; larger: 413).
    #[arg(long, env = "GLYPH_MAX_MEDIA_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub max_media_bytes: u64,

    /// Media each user may keep stored, in bytes (more: 413 quota_exceeded).
    #[arg(long, env = "GLYPH_MEDIA_QUOTA_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub media_quota_bytes: u64,

    /// Largest one-view share blob, in bytes (larger: 413).
    #[arg(long, env = "GLYPH_MAX_SHARE_BYTES", default_value_t = 1024 * 1024)]
    pub max_share_bytes: usize,

    /// Most views one share may allow.
    #[arg(long, env = "GLYPH_MAX_SHARE_VIEWS", default_value_t = 100)]
    pub max_share_views: u32,

    /// Shares created per client address per minute.
    #[arg(long, env = "GLYPH_SHARES_PER_MINUTE", default_value_t = 10)]
    pub shares_per_minute: u32,

    /// Take the client address from the first X-Forwarded-For entry (only
    /// behind a reverse proxy that sets it).
    #[arg(long, env = "GLYPH_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,

    /// Seconds between sweeps of expired messages and challenges.
    #[arg(long, env = "GLYPH_SWEEP_SECS", default_value_t = 30)]
    pub sweep_secs: u64,

    /// Longest wait for a database connection, in milliseconds. When the
    /// database does not answer, requests fail after this long with 503
    /// `database_unavailable` (and `/readyz` says so).
    #[arg(
        long,
        env = "GLYPH_DATABASE_ACQUIRE_TIMEOUT_MS",
        default_value_t = 2000
    )]
    pub database_acquire_timeout_ms: u64,

    /// The most sends written in one database transaction (group commit:
    /// sends that arrive together share a commit). 1 commits each send on
    /// its own, as before group commit (for measuring against).
    #[arg(long, env = "GLYPH_MAX_SEND_BATCH", default_value_t = crate::store::DEFAULT_MAX_SEND_BATCH)]
    pub max_send_batch: usize,

    /// Seconds a client may take to send a request's headers.
    #[arg(long, env = "GLYPH_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// Seconds a client may take to send a JSON request body (408 after).
    /// A media upload gets this plus a second per 32 KiB it declares.
    #[arg(long, env = "GLYPH_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub body_timeout_secs: u64,

    /// Seconds a connection may stay silent in both directions before it is
    /// closed (WebSockets are pinged every 20 s, so they stay open).
    #[arg(long, env = "GLYPH_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,

    /// Most connections (WebSockets included) open at once; more clients
    /// wait until one closes.
    #[arg(long, env = "GLYPH_MAX_CONNECTIONS", default_value_t = 20_000)]
    pub max_connections: usize,
}

impl Config {
    /// The limits every connection gets.
    pub fn connection_limits(&self) -> crate::serve::Limits {
        crate::serve::Limits {
            header_read: Duration::from_secs(self.header_timeout_secs.max(1)),
            idle: Duration::from_secs(self.idle_timeout_secs.max(1)),
            max_connections: self.max_connections,
        }
    }

    /// The longest wait for a database connection.
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.database_acquire_timeout_ms.max(1))
    }

    /// How the store is opened.
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            acquire_timeout: self.acquire_timeout(),
            max_send_batch: self.max_send_batch.max(1),
        }
    }

    /// The longest a JSON request body may take to arrive.
    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs.max(1))
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", self.data_dir.join("glyph.db").display()))
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database", &redact_url(&self.database_url()))
            .field("public_url", &self.public_url)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_envelope_bytes", &self.max_envelope_bytes)
            .field("media_url", &self.media_url)
            .field("max_media_bytes", &self.max_media_bytes)
            .field("media_quota_bytes", &self.media_quota_bytes)
            .field("jwt_lifetime_secs", &self.jwt_lifetime_secs)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<set>"))
            .field("connection_limits", &self.connection_limits())
            .field("acquire_timeout", &self.acquire_timeout())
            .field("max_send_batch", &self.max_send_batch)
            .finish_non_exhaustive()
    }
}

/// A database URL without its password.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***{}", &url[..scheme], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let config = Config::parse_from([
            "glyph-server",
            "--jwt-secret",
            "super-secret-value-0123456789abcdef",
            "--database-url",
            "postgres://glyph:hunter2@db/glyph",
        ]);
        let text = format!("{config:?}");
        assert!(!text.contains("super-secret"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("glyph:***@db/glyph"), "{text}");
    }

    #[test]
    fn defaults_are_the_readme_command() {
        let config = Config::parse_from(["glyph-server"]);
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.database_url(), "sqlite:glyph-data/glyph.db");
    }
}
