//! Live receive: a WebSocket that delivers each inbox entry as it commits.
//! It resumes from the stored cursor, so nothing is lost or shown twice
//! across reconnects or restarts; it reconnects with exponential backoff
//! (1 s doubling to 30 s, reset after a good connection) and logs in again
//! when the server closes for an expired token. A device removed from the
//! account stops with [`ClientError::DeviceRemoved`].

use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use glyph_api::PushFrame;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::client::Client;
use crate::error::ClientError;
use crate::messaging::Message;

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The server's close code for an expired token (log in again).
const CLOSE_TOKEN_EXPIRED: u16 = 4001;
/// The server's close code for a device removed from its account.
const CLOSE_DEVICE_REMOVED: u16 = 4003;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What happened to the live connection, for an app's status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveEvent {
    /// Connected and caught up with everything stored.
    CaughtUp,
    /// The connection dropped; retrying after this delay.
    Reconnecting(Duration, String),
}

impl Client {
    /// Receives live until `stop` completes, calling `on_message` for each
    /// new message and `on_event` on connection changes.
    pub async fn listen(
        &self,
        stop: impl Future<Output = ()>,
        mut on_message: impl FnMut(&Message),
        mut on_event: impl FnMut(&LiveEvent),
    ) -> Result<(), ClientError> {
        tokio::pin!(stop);
        let mut backoff = FIRST_BACKOFF;
        loop {
            let outcome = tokio::select! {
                () = &mut stop => return Ok(()),
                outcome = self.live_session(&mut on_message, &mut on_event, &mut backoff) => outcome,
            };
            let reason = match outcome {
                Ok(()) => "the server closed the connection".to_owned(),
                Err(
                    err @ (ClientError::WrongPin
                    | ClientError::CorruptStore(_)
                    | ClientError::DeviceRemoved),
                ) => {
                    return Err(err);
                }
                Err(err) => err.to_string(),
            };
            on_event(&LiveEvent::Reconnecting(backoff, reason));
            tokio::select! {
                () = &mut stop => return Ok(()),
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn live_session(
        &self,
        on_message: &mut impl FnMut(&Message),
        on_event: &mut impl FnMut(&LiveEvent),
        backoff: &mut Duration,
    ) -> Result<(), ClientError> {
        self.flush_outbox().await?;
        let (url, token) = self.api.websocket(self.cursor().await?).await?;
        let mut request = url
            .into_client_request()
            .map_err(|e| ClientError::Network(e.to_string()))?;
        let bearer = format!("Bearer {token}")
            .parse()
            .map_err(|_| ClientError::BadResponse("token".into()))?;
        request.headers_mut().insert("authorization", bearer);
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| ClientError::Network(e.to_string()))?;
        while let Some(frame) = socket.next().await {
            let frame = frame.map_err(|e| ClientError::Network(e.to_string()))?;
            match frame {
                Frame::Text(text) => match serde_json::from_str::<PushFrame>(&text) {
                    Ok(PushFrame::Message { message }) => {
                        if let Some(message) = self.receive(*message).await? {
                            on_message(&message);
                            self.acknowledge(std::slice::from_ref(&message)).await;
                        }
                    }
                    Ok(PushFrame::CaughtUp { .. }) => {
                        *backoff = FIRST_BACKOFF;
                        on_event(&LiveEvent::CaughtUp);
                    }
                    Err(err) => return Err(ClientError::BadResponse(err.to_string())),
                },
                Frame::Ping(data) => socket
                    .send(Frame::Pong(data))
                    .await
                    .map_err(|e| ClientError::Network(e.to_string()))?,
                Frame::Close(close) => {
                    match close.as_ref().map(|c| u16::from(c.code)) {
                        Some(CLOSE_TOKEN_EXPIRED) => {
                            self.api.login().await?;
                        }
                        Some(CLOSE_DEVICE_REMOVED) => return Err(ClientError::DeviceRemoved),
                        _ => {}
                    }
                    return Ok(());
                }
                _ => {}
            }
        }
        Ok(())
    }
}
