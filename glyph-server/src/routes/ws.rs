//! `GET /v1/ws`: live push. After the upgrade the server sends every entry
//! of the device's inbox after the client's cursor (`?after=SEQ`), a
//! `caught_up` frame, and then each new entry as it is committed, to every
//! open connection of the device: the entries a send on this instance
//! committed come with its wake-up (`push.rs`); otherwise, or when they do
//! not continue the connection's cursor, it reads the inbox. It pings
//! every 20 s, closes with code 4001 when the token expires, 4003 when the
//! device is removed from its user's list, and drops a reader that cannot
//! keep up (a send blocked for 10 s) instead of buffering for it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use glyph_api::PushFrame;
use serde::Deserialize;
use tokio::sync::broadcast;

use crate::app::AppState;
use crate::auth::authenticate;
use crate::error::ApiError;
use crate::input::ApiQuery;
use crate::input::now;
use crate::push::{WakeUp, continuing};
use crate::routes::messages::{MAX_PAGE, inbox_message};
use crate::store::{DeviceState, InboxRow};

/// Close code: the access token expired.
pub const CLOSE_TOKEN_EXPIRED: u16 = 4001;
/// Close code: the device was removed from its user's list.
pub const CLOSE_DEVICE_REMOVED: u16 = 4003;
/// Close code: the client did not read fast enough.
pub const CLOSE_TOO_SLOW: u16 = 4008;
/// Close code: the server is shutting down or failed.
pub const CLOSE_GOING_AWAY: u16 = 1001;

const PING_EVERY: Duration = Duration::from_secs(20);
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/ws", get(upgrade))
}

#[derive(Deserialize)]
struct WsQuery {
    #[serde(default)]
    after: Option<i64>,
    /// For browsers, which cannot set headers on a WebSocket.
    #[serde(default)]
    access_token: Option<String>,
}

async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<WsQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // Who is asking first; then whether it is a WebSocket request at all.
    let claims = authenticate(&state, &headers, query.access_token.as_deref()).await?;
    let ws = ws.map_err(|_| ApiError::UpgradeRequired)?;
    let after = query.after.unwrap_or(0).max(0);
    Ok(ws
        .read_buffer_size(4 * 1024)
        .write_buffer_size(8 * 1024)
        .max_message_size(16 * 1024)
        .on_upgrade(move |socket| async move {
            state.metrics().connections.fetch_add(1, Ordering::Relaxed);
            serve(socket, &state, &claims.sub, claims.dev, claims.exp, after).await;
            state.metrics().connections.fetch_sub(1, Ordering::Relaxed);
        }))
}

/// Why a connection ended.
enum End {
    ClientLeft,
    Close(u16, &'static str),
}

async fn serve(
    socket: WebSocket,
    state: &AppState,
    user_id: &str,
    device_id: u32,
    expires_at: i64,
    mut after: i64,
) {
    let mut wake = state.hub().subscribe(user_id, device_id);
    let mut shutting_down = state.shutting_down();
    let (mut sink, mut stream) = socket.split();
    let expires_in = Duration::from_secs(u64::try_from(expires_at - now()).unwrap_or(0));
    let expiry = tokio::time::sleep(expires_in);
    tokio::pin!(expiry);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    // Read the inbox at the start and after each wake-up that does not
    // carry its entries, never on pings or incoming frames: an idle
    // connection costs no queries.
    let mut pending = true;
    let mut caught_up = false;
    let end = loop {
        if pending {
            pending = false;
            // The read covers every wake-up queued so far: each was sent
            // after its commit.
            discard_queued(&mut wake);
            match push_pending(&mut sink, state, user_id, device_id, &mut after).await {
                Err(end) => break end,
                // A wake-up with nothing new: a removal wakes the device.
                Ok(0) if caught_up => {
                    if let Err(end) = check_still_listed(state, user_id, device_id).await {
                        break end;
                    }
                }
                Ok(_) => {}
            }
            if !caught_up {
                caught_up = true;
                if let Err(end) = send_frame(&mut sink, &PushFrame::CaughtUp { after }).await {
                    break end;
                }
            }
        }
        tokio::select! {
            woke = wake.recv() => match woke {
                Ok(WakeUp::Entries(entries)) => match continuing(&entries, after) {
                    Some(new) => {
                        if let Err(end) = push_rows(&mut sink, state, new.iter().cloned(), &mut after).await {
                            break end;
                        }
                    }
                    None => pending = true,
                },
                Ok(WakeUp::Read) | Err(broadcast::error::RecvError::Lagged(_)) => pending = true,
                Err(broadcast::error::RecvError::Closed) => {
                    break End::Close(CLOSE_GOING_AWAY, "server shutting down");
                }
            },
            _ = &mut expiry => break End::Close(CLOSE_TOKEN_EXPIRED, "access token expired"),
            _ = async { shutting_down.wait_for(|stop| *stop).await.map(|_| ()) } => {
                break End::Close(CLOSE_GOING_AWAY, "server shutting down");
            }
            _ = ping.tick() => {
                if timed_send(&mut sink, Message::Ping(Default::default())).await.is_err() {
                    break End::Close(CLOSE_TOO_SLOW, "too slow");
                }
            }
            incoming = stream.next() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break End::ClientLeft,
                Some(Ok(_)) => {}
            },
        }
    };
    if let End::Close(code, reason) = end {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        let _ = timed_send(&mut sink, Message::Close(Some(frame))).await;
    }
}

type Sink = futures_util::stream::SplitSink<WebSocket, Message>;

/// Drops the wake-ups waiting in the channel.
fn discard_queued(wake: &mut broadcast::Receiver<WakeUp>) {
    use broadcast::error::TryRecvError;
    while matches!(wake.try_recv(), Ok(_) | Err(TryRecvError::Lagged(_))) {}
}

/// Ends the connection of a device its user removed.
async fn check_still_listed(state: &AppState, user_id: &str, device_id: u32) -> Result<(), End> {
    match state.store().device_state(user_id, device_id).await {
        Ok(Some(DeviceState::Removed) | None) => {
            Err(End::Close(CLOSE_DEVICE_REMOVED, "device removed"))
        }
        Ok(Some(_)) => Ok(()),
        Err(err) => {
            tracing::error!(error = %err, "checking a device for push failed");
            Err(End::Close(CLOSE_GOING_AWAY, "server error"))
        }
    }
}

async fn push_pending(
    sink: &mut Sink,
    state: &AppState,
    user_id: &str,
    device_id: u32,
    after: &mut i64,
) -> Result<usize, End> {
    let mut pushed = 0;
    loop {
        state
            .metrics()
            .push_inbox_reads
            .fetch_add(1, Ordering::Relaxed);
        let rows = match state
            .store()
            .inbox(user_id, device_id, *after, MAX_PAGE, now())
            .await
        {
            Ok(rows) => rows,
            Err(err) => {
                tracing::error!(error = %err, "reading an inbox for push failed");
                return Err(End::Close(CLOSE_GOING_AWAY, "server error"));
            }
        };
        let full_page = rows.len() as i64 == MAX_PAGE;
        pushed += push_rows(sink, state, rows, after).await?;
        if !full_page {
            return Ok(pushed);
        }
    }
}

/// Pushes inbox entries in order, moving the cursor past each; one that
/// expired since it was committed is passed over. Returns how many went.
async fn push_rows(
    sink: &mut Sink,
    state: &AppState,
    rows: impl IntoIterator<Item = InboxRow>,
    after: &mut i64,
) -> Result<usize, End> {
    let now = now();
    let mut pushed = 0;
    for row in rows {
        *after = row.seq;
        if row.expires_at.is_some_and(|at| at <= now) {
            continue;
        }
        pushed += 1;
        send_frame(
            sink,
            &PushFrame::Message {
                message: Box::new(inbox_message(row)),
            },
        )
        .await?;
        state
            .metrics()
            .messages_pushed
            .fetch_add(1, Ordering::Relaxed);
    }
    Ok(pushed)
}

async fn send_frame(sink: &mut Sink, frame: &PushFrame) -> Result<(), End> {
    let text =
        serde_json::to_string(frame).map_err(|_| End::Close(CLOSE_GOING_AWAY, "server error"))?;
    timed_send(sink, Message::Text(text.into())).await
}

/// Sends, giving up on a reader that has not taken the frame in time.
async fn timed_send(sink: &mut Sink, message: Message) -> Result<(), End> {
    match tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::ClientLeft),
        Err(_) => Err(End::Close(CLOSE_TOO_SLOW, "too slow")),
    }
}
