//! The server API over HTTP: typed calls for every route the client uses,
//! with login by signed challenge and silent token renewal (a token is
//! renewed two minutes before it expires, and once more if the server says
//! it expired anyway).

use std::sync::Arc;

use base64ct::{Base64, Encoding};
use futures_util::StreamExt;
use glyph_api::{
    AUTH_LABEL, BINDING_LABEL, ChallengeResponse, CreateShareRequest, ErrorBody, Group, GroupList,
    InboxPage, MediaUploaded, MediaUsage, OneTimePreKeyUpload, OneTimePreKeysUpload, OpenedShare,
    PreKeyCount, RegisterRequest, SendRequest, SendResponse, ShareCreated, SignedPreKeyUpload,
    TokenRequest, TokenResponse, UserRecord, ViewedResponse,
};
use glyph_api::{ClaimDeviceRequest, DeviceInfo, DeviceListBody, MyDevices};
use glyph_crypto::{
    DeviceBundle, DeviceList, DhPublicKey, Identity, PublicIdentity, SignedPreKey, SigningPublicKey,
};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use crate::error::ClientError;

/// Renew a token this many seconds before it expires.
const RENEW_MARGIN_SECS: i64 = 120;
/// Bytes per chunk when uploading media (progress is reported per chunk).
const UPLOAD_CHUNK: usize = 64 * 1024;

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Progress of an upload or download: bytes done and bytes in all.
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// A connection to one server as one device of one user.
pub struct Api {
    http: reqwest::Client,
    base: String,
    identity: Arc<Identity>,
    device_id: u32,
    /// The token and when to renew it.
    token: Mutex<Option<(String, i64)>>,
    /// Told of each new token (the client keeps it in the profile).
    token_sink: std::sync::Mutex<Option<TokenSink>>,
}

/// Receives each new access token and when to renew it.
pub(crate) type TokenSink = Arc<
    dyn Fn(String, i64) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

/// The longest a call waits, in all, for a server that asks to retry later
/// (429, 503, 507 with `Retry-After`) before reporting the refusal.
const MAX_RETRY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Installs rustls's ring provider as the process default (once), for
/// HTTPS and WSS. An app that installed its own provider keeps it.
pub(crate) fn ensure_tls() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The error for a non-success response: the server's JSON error body,
/// or the bare status when the body is not one.
pub(crate) async fn refusal(response: reqwest::Response) -> ClientError {
    let status = response.status().as_u16();
    match response.json::<ErrorBody>().await {
        // (A server can always refuse service; saying so changes nothing
        // this device trusts.)
        Ok(body) if status == 401 && body.error.code == "device_removed" => {
            ClientError::DeviceRemoved
        }
        Ok(body) => ClientError::Api {
            status,
            code: body.error.code,
            message: body.error.message,
            details: body.error.details,
        },
        Err(_) => ClientError::Api {
            status,
            code: "http_error".into(),
            message: format!("HTTP {status}"),
            details: None,
        },
    }
}

/// How long a 429, 503 or 507 asks the client to wait, if it says.
fn retry_after(response: &reqwest::Response) -> Option<std::time::Duration> {
    if !matches!(response.status().as_u16(), 429 | 503 | 507) {
        return None;
    }
    let secs: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(std::time::Duration::from_secs(secs.max(1)))
}

/// An HTTP client for calls that need no account (shares). Built once per
/// process: building one reads every root certificate of the system (about
/// 6 ms on a small VM, several times a share's round trip). It keeps no
/// idle connection, so it holds nothing tied to the async runtime of an
/// earlier call (a pooled connection lives on the runtime that opened it).
pub(crate) fn plain_http() -> Result<reqwest::Client, ClientError> {
    static PLAIN: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(client) = PLAIN.get() {
        return Ok(client.clone());
    }
    ensure_tls();
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(120))
        .pool_max_idle_per_host(0)
        .build()?;
    Ok(PLAIN.get_or_init(|| client).clone())
}

fn b64(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

/// Checks a directory record: its keys parse, its id is its signing key, and
/// the binding signature over both keys verifies.
pub(crate) fn verify_user_record(record: &UserRecord) -> Result<PublicIdentity, ClientError> {
    let bad = || ClientError::BadBinding(record.user_id.clone());
    let sign: [u8; 32] = Base64::decode_vec(&record.sign_pub)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    let dh: [u8; 32] = Base64::decode_vec(&record.dh_pub)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    let sig: [u8; 64] = Base64::decode_vec(&record.binding_sig)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    let sign_pub = SigningPublicKey::from_bytes(&sign).map_err(|_| bad())?;
    if crate::user_id_of(&sign_pub) != record.user_id {
        return Err(bad());
    }
    let message = [BINDING_LABEL, &sign[..], &dh[..]].concat();
    sign_pub.verify(&message, &sig).map_err(|_| bad())?;
    Ok(PublicIdentity {
        sign_pub,
        dh_pub: DhPublicKey::from_bytes(dh),
    })
}

impl Api {
    /// A connection to `base` (e.g. `https://glyph.example.org`) as device
    /// `device_id` of `identity`.
    pub fn new(base: &str, identity: Arc<Identity>, device_id: u32) -> Result<Self, ClientError> {
        ensure_tls();
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(120))
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            identity,
            device_id,
            token: Mutex::new(None),
            token_sink: std::sync::Mutex::new(None),
        })
    }

    /// Uses a token kept from an earlier run until `renew_at`.
    pub(crate) async fn restore_token(&self, token: String, renew_at: i64) {
        if now() < renew_at {
            *self.token.lock().await = Some((token, renew_at));
        }
    }

    /// Calls `sink` with every new token.
    pub(crate) fn on_new_token(&self, sink: TokenSink) {
        *self.token_sink.lock().unwrap_or_else(|p| p.into_inner()) = Some(sink);
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The device this connection logs in as.
    pub fn device_id(&self) -> u32 {
        self.device_id
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Registers this identity (a retry with the same keys is fine).
    pub async fn register(&self) -> Result<UserRecord, ClientError> {
        let public = self.identity.public();
        let binding = [
            BINDING_LABEL,
            public.sign_pub.as_bytes(),
            public.dh_pub.as_bytes(),
        ]
        .concat();
        let request = RegisterRequest {
            sign_pub: public.sign_pub.to_base64(),
            dh_pub: public.dh_pub.to_base64(),
            binding_sig: b64(&self.identity.signing().sign(&binding)),
        };
        self.send_json(Method::POST, "/v1/users", Some(&request), None)
            .await
    }

    /// Logs in: a fresh challenge, signed, traded for a token.
    pub async fn login(&self) -> Result<String, ClientError> {
        let challenge: ChallengeResponse = self
            .send_json(
                Method::POST,
                "/v1/auth/challenge",
                Some(&serde_json::json!({})),
                None,
            )
            .await?;
        let bytes = Base64::decode_vec(&challenge.challenge)
            .map_err(|_| ClientError::BadResponse("challenge is not base64".into()))?;
        let sign_pub = self.identity.public().sign_pub;
        let message = [AUTH_LABEL, &bytes[..], sign_pub.as_bytes()].concat();
        let request = TokenRequest {
            sign_pub: sign_pub.to_base64(),
            challenge: challenge.challenge,
            signature: b64(&self.identity.signing().sign(&message)),
            device_id: self.device_id,
        };
        let token: TokenResponse = self
            .send_json(Method::POST, "/v1/auth/token", Some(&request), None)
            .await?;
        if token.user_id != crate::user_id_of(&sign_pub) || token.device_id != self.device_id {
            return Err(ClientError::BadResponse(
                "the token is for another user or device".into(),
            ));
        }
        // Renew two minutes early, or after three quarters of a short lifetime.
        let lifetime = (token.expires_at - now()).max(0);
        let renew_at = token.expires_at - RENEW_MARGIN_SECS.min(lifetime / 4);
        *self.token.lock().await = Some((token.token.clone(), renew_at));
        let sink = self
            .token_sink
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(sink) = sink {
            sink(token.token.clone(), renew_at).await;
        }
        Ok(token.token)
    }

    /// A token that is not about to expire, logging in if needed.
    pub async fn token(&self) -> Result<String, ClientError> {
        if let Some((token, renew_at)) = self.token.lock().await.as_ref()
            && now() < *renew_at
        {
            return Ok(token.clone());
        }
        self.login().await
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + Sync)>,
        token: Option<&str>,
    ) -> Result<T, ClientError> {
        let mut waited = std::time::Duration::ZERO;
        let response = loop {
            let mut request = self.http.request(method.clone(), self.url(path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await?;
            // Asked to come back shortly: wait (a bounded time) and retry.
            if let Some(delay) = retry_after(&response)
                && waited + delay <= MAX_RETRY_WAIT
            {
                tracing::info!(
                    delay_secs = delay.as_secs(),
                    "the server asks to retry later; waiting"
                );
                tokio::time::sleep(delay).await;
                waited += delay;
                continue;
            }
            break response;
        };
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        if response.status() == StatusCode::NO_CONTENT {
            return serde_json::from_value(serde_json::Value::Null)
                .map_err(|e| ClientError::BadResponse(e.to_string()));
        }
        response
            .json::<T>()
            .await
            .map_err(|e| ClientError::BadResponse(e.to_string()))
    }

    /// An authenticated call; on a 401 it logs in again and retries once.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + Sync)>,
    ) -> Result<T, ClientError> {
        let token = self.token().await?;
        match self
            .send_json(method.clone(), path, body, Some(&token))
            .await
        {
            Err(ClientError::Api { status: 401, .. }) => {
                let token = self.login().await?;
                self.send_json(method, path, body, Some(&token)).await
            }
            other => other,
        }
    }

    /// A user's verified public identity.
    pub async fn user(&self, user_id: &str) -> Result<(UserRecord, PublicIdentity), ClientError> {
        let record: UserRecord = self
            .call(Method::GET, &format!("/v1/users/{user_id}"), None::<&()>)
            .await?;
        let identity = verify_user_record(&record)?;
        Ok((record, identity))
    }

    /// A user by handle.
    pub async fn user_by_handle(
        &self,
        handle: &str,
    ) -> Result<(UserRecord, PublicIdentity), ClientError> {
        let record: UserRecord = self
            .call(Method::GET, &format!("/v1/handles/{handle}"), None::<&()>)
            .await?;
        let identity = verify_user_record(&record)?;
        Ok((record, identity))
    }

    /// Sets my handle.
    pub async fn set_handle(&self, handle: &str) -> Result<UserRecord, ClientError> {
        self.call(
            Method::PUT,
            "/v1/me/handle",
            Some(&glyph_api::SetHandleRequest {
                handle: handle.to_owned(),
            }),
        )
        .await
    }

    /// Publishes a signed prekey.
    pub async fn put_signed_prekey(&self, spk: &SignedPreKey) -> Result<(), ClientError> {
        let upload = SignedPreKeyUpload {
            spk_id: spk.id(),
            spk_pub: spk.public().to_base64(),
            spk_sig: b64(spk.signature()),
        };
        self.call::<Option<serde_json::Value>>(Method::PUT, "/v1/prekeys/signed", Some(&upload))
            .await
            .map(|_| ())
    }

    /// Uploads one-time prekeys.
    pub async fn add_one_time_prekeys(
        &self,
        keys: &[(u32, DhPublicKey)],
    ) -> Result<(), ClientError> {
        for chunk in keys.chunks(100) {
            let upload = OneTimePreKeysUpload {
                keys: chunk
                    .iter()
                    .map(|(id, key)| OneTimePreKeyUpload {
                        id: *id,
                        public: key.to_base64(),
                    })
                    .collect(),
            };
            self.call::<serde_json::Value>(Method::POST, "/v1/prekeys/one-time", Some(&upload))
                .await?;
        }
        Ok(())
    }

    /// Deletes all my one-time prekeys on the server.
    pub async fn clear_one_time_prekeys(&self) -> Result<(), ClientError> {
        self.call::<Option<serde_json::Value>>(Method::DELETE, "/v1/prekeys/one-time", None::<&()>)
            .await
            .map(|_| ())
    }

    /// How many one-time prekeys the server has left.
    pub async fn prekey_count(&self) -> Result<PreKeyCount, ClientError> {
        self.call(Method::GET, "/v1/prekeys/count", None::<&()>)
            .await
    }

    /// One listed device's bundle (claims one of its one-time prekeys),
    /// the signed prekey's signature checked. Whose keys they are is for
    /// the caller to check.
    pub async fn device_bundle(
        &self,
        user_id: &str,
        device_id: u32,
    ) -> Result<DeviceBundle, ClientError> {
        let value: serde_json::Value = self
            .call(
                Method::GET,
                &format!("/v1/users/{user_id}/devices/{device_id}/bundle"),
                None::<&()>,
            )
            .await?;
        let bundle = DeviceBundle::from_json_value(&value)?;
        if bundle.device_id != device_id {
            return Err(ClientError::BadResponse(
                "the server answered with another device's bundle".into(),
            ));
        }
        bundle.bundle.verify()?;
        Ok(bundle)
    }

    /// A user's latest signed device list as the server has it (decoded;
    /// not yet verified: see `devices`).
    pub async fn user_devices(&self, user_id: &str) -> Result<Option<DeviceList>, ClientError> {
        let answer: glyph_api::UserDevices = self
            .call(
                Method::GET,
                &format!("/v1/users/{user_id}/devices"),
                None::<&()>,
            )
            .await?;
        decode_list(answer.list)
    }

    /// My devices as the server knows them, and my latest list (decoded;
    /// not yet verified).
    pub async fn my_devices(&self) -> Result<(Option<DeviceList>, Vec<DeviceInfo>), ClientError> {
        let answer: MyDevices = self.call(Method::GET, "/v1/devices", None::<&()>).await?;
        Ok((decode_list(answer.list)?, answer.devices))
    }

    /// Claims this device's id (409 `device_taken` if a device has it).
    pub async fn claim_device(&self) -> Result<(), ClientError> {
        self.call::<serde_json::Value>(
            Method::POST,
            "/v1/devices",
            Some(&ClaimDeviceRequest {
                device_id: self.device_id,
            }),
        )
        .await
        .map(|_| ())
    }

    /// Publishes a new signed list of my devices.
    pub async fn publish_devices(&self, list: &DeviceList) -> Result<Vec<DeviceInfo>, ClientError> {
        let answer: MyDevices = self
            .call(Method::PUT, "/v1/devices", Some(&list.to_json_value()))
            .await?;
        Ok(answer.devices)
    }

    /// Sends one message's copies.
    pub async fn send(&self, request: &SendRequest) -> Result<SendResponse, ClientError> {
        self.call(Method::POST, "/v1/messages", Some(request)).await
    }

    /// My inbox after `after`.
    pub async fn inbox(&self, after: i64, limit: u32) -> Result<InboxPage, ClientError> {
        self.call(
            Method::GET,
            &format!("/v1/messages?after={after}&limit={limit}"),
            None::<&()>,
        )
        .await
    }

    /// Deletes my copy of a message on the server.
    pub async fn delete_copy(&self, id: i64) -> Result<(), ClientError> {
        self.call::<Option<serde_json::Value>>(
            Method::DELETE,
            &format!("/v1/messages/{id}"),
            None::<&()>,
        )
        .await
        .map(|_| ())
    }

    /// Reports a view-once message viewed.
    pub async fn viewed(&self, id: i64) -> Result<ViewedResponse, ClientError> {
        self.call(
            Method::POST,
            &format!("/v1/messages/{id}/viewed"),
            Some(&serde_json::json!({})),
        )
        .await
    }

    /// Creates a group with these other members.
    pub async fn create_group(&self, members: &[String]) -> Result<Group, ClientError> {
        self.call(
            Method::POST,
            "/v1/groups",
            Some(&glyph_api::CreateGroupRequest {
                members: members.to_vec(),
            }),
        )
        .await
    }

    /// A group's roster.
    pub async fn group(&self, group_id: &str) -> Result<Group, ClientError> {
        self.call(Method::GET, &format!("/v1/groups/{group_id}"), None::<&()>)
            .await
    }

    /// My groups.
    pub async fn groups(&self) -> Result<GroupList, ClientError> {
        self.call(Method::GET, "/v1/groups", None::<&()>).await
    }

    /// Adds a member.
    pub async fn add_member(&self, group_id: &str, user_id: &str) -> Result<Group, ClientError> {
        self.call(
            Method::POST,
            &format!("/v1/groups/{group_id}/members"),
            Some(&glyph_api::AddMemberRequest {
                user_id: user_id.to_owned(),
            }),
        )
        .await
    }

    /// Removes a member (or leaves).
    pub async fn remove_member(&self, group_id: &str, user_id: &str) -> Result<Group, ClientError> {
        self.call(
            Method::DELETE,
            &format!("/v1/groups/{group_id}/members/{user_id}"),
            None::<&()>,
        )
        .await
    }

    /// My media usage and the server's limits.
    pub async fn media_usage(&self) -> Result<MediaUsage, ClientError> {
        self.call(Method::GET, "/v1/media", None::<&()>).await
    }

    /// Uploads a sealed blob, streamed in chunks, reporting progress.
    pub async fn upload_media(
        &self,
        blob: Vec<u8>,
        progress: Option<Progress>,
    ) -> Result<MediaUploaded, ClientError> {
        let total = blob.len() as u64;
        let blob = bytes_of(blob);
        let chunks: Vec<bytes::Bytes> = (0..blob.len())
            .step_by(UPLOAD_CHUNK)
            .map(|start| blob.slice(start..(start + UPLOAD_CHUNK).min(blob.len())))
            .collect();
        let mut sent = 0u64;
        let stream = futures_util::stream::iter(chunks).map(move |chunk| {
            sent += chunk.len() as u64;
            if let Some(report) = &progress {
                report(sent, total);
            }
            Ok::<_, std::io::Error>(chunk)
        });
        let token = self.token().await?;
        let response = self
            .http
            .post(self.url("/v1/media"))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_LENGTH, total)
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        response
            .json()
            .await
            .map_err(|e| ClientError::BadResponse(e.to_string()))
    }

    /// Downloads a blob by its path, reporting progress.
    pub async fn download_media(
        &self,
        path: &str,
        limit: u64,
        progress: Option<Progress>,
    ) -> Result<Vec<u8>, ClientError> {
        let token = self.token().await?;
        let response = self
            .http
            .get(self.url(&format!("/v1/{path}")))
            .bearer_auth(token)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        let total = response.content_length().unwrap_or(0);
        let mut body = Vec::with_capacity(usize::try_from(total.min(limit)).unwrap_or(0));
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            body.extend_from_slice(&chunk);
            if body.len() as u64 > limit {
                return Err(ClientError::FileTooLarge {
                    size: body.len() as u64,
                    limit,
                });
            }
            if let Some(report) = &progress {
                report(body.len() as u64, total);
            }
        }
        Ok(body)
    }

    /// Stores a share's blob (no login needed).
    pub async fn create_share(
        &self,
        blob: &[u8],
        views: u32,
        ttl_secs: u64,
    ) -> Result<ShareCreated, ClientError> {
        let request = CreateShareRequest {
            blob: b64(blob),
            views: Some(views),
            ttl_secs: Some(ttl_secs),
        };
        self.send_json(Method::POST, "/v1/shares", Some(&request), None)
            .await
    }

    /// Opens a share, spending one view (no login needed).
    pub async fn open_share(&self, code: &str) -> Result<(Vec<u8>, u32), ClientError> {
        let opened: OpenedShare = self
            .send_json(
                Method::POST,
                &format!("/v1/shares/{code}/open"),
                Some(&serde_json::json!({})),
                None,
            )
            .await?;
        let blob = Base64::decode_vec(&opened.blob)
            .map_err(|_| ClientError::BadResponse("share blob is not base64".into()))?;
        Ok((blob, opened.views_left))
    }

    /// The WebSocket URL for live receive after `after`, and the token.
    pub(crate) async fn websocket(&self, after: i64) -> Result<(String, String), ClientError> {
        let token = self.token().await?;
        let ws_base = if let Some(rest) = self.base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            return Err(ClientError::Unsupported(
                "the server URL must start with http:// or https://",
            ));
        };
        Ok((format!("{ws_base}/v1/ws?after={after}"), token))
    }
}

/// A list as the server sent it, decoded strictly.
fn decode_list(list: Option<DeviceListBody>) -> Result<Option<DeviceList>, ClientError> {
    list.map(|body| {
        let value =
            serde_json::to_value(body).map_err(|e| ClientError::BadResponse(e.to_string()))?;
        DeviceList::from_json_value(&value).map_err(ClientError::from)
    })
    .transpose()
}

fn bytes_of(blob: Vec<u8>) -> bytes::Bytes {
    bytes::Bytes::from(blob)
}
