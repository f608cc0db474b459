//! Sends in flight in this process: their client ids (re-posting the
//! outbox leaves those to their own retries), and the "sent" marks still
//! being written after the server took a message.
//!
//! Once the server holds a message, taking it out of the outbox and marking
//! its history entry sent is bookkeeping the caller need not wait for: it is
//! done by a task of its own, and [`InFlight::settle`] waits for every such
//! task. A mark that never gets written (the process ends first) leaves the
//! message in the outbox, and the next re-post is de-duplicated by the
//! server on its client id, the case of an unsynced commit lost to a power
//! cut.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use crate::error::ClientError;

/// The sends in flight, shared by a client's clones of it.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    client_ids: Arc<Mutex<HashSet<String>>>,
    /// How many "sent" marks are being written in the background.
    marking: Arc<watch::Sender<usize>>,
}

impl Default for InFlight {
    fn default() -> Self {
        Self {
            client_ids: Default::default(),
            marking: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl InFlight {
    fn ids(&self) -> MutexGuard<'_, HashSet<String>> {
        // Each change is one insert or remove: poison leaves nothing half made.
        self.client_ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a send of this process holds this client id.
    pub(crate) fn contains(&self, client_id: &str) -> bool {
        self.ids().contains(client_id)
    }

    /// Holds `client_id` in flight until the returned guard is dropped.
    pub(crate) fn start(&self, client_id: &str) -> Sending {
        self.ids().insert(client_id.to_owned());
        Sending {
            in_flight: self.clone(),
            client_id: client_id.to_owned(),
        }
    }

    /// Runs `mark` (which writes what the server's acknowledgement of a send
    /// means) on a task of its own, keeping the send in flight until it is
    /// done. A failure is logged: the message stays in the outbox.
    pub(crate) fn finish_later<F>(&self, sending: Sending, mark: F)
    where
        F: Future<Output = Result<(), ClientError>> + Send + 'static,
    {
        self.marking.send_modify(|n| *n += 1);
        let marking = Marking(self.marking.clone());
        tokio::spawn(async move {
            // Dropped whether the mark finishes or its runtime shuts down.
            let _marking = marking;
            let _sending = sending;
            if let Err(err) = mark.await {
                tracing::warn!(
                    error = %err,
                    "marking a message sent failed; it stays in the outbox and is posted again (the server de-duplicates it)"
                );
            }
        });
    }

    /// Waits until every "sent" mark started so far has been written.
    pub(crate) async fn settle(&self) {
        let mut marking = self.marking.subscribe();
        // The sender lives in `self`: the wait cannot fail.
        let _ = marking.wait_for(|n| *n == 0).await;
    }
}

/// A send in flight; dropping it ends that.
pub(crate) struct Sending {
    in_flight: InFlight,
    client_id: String,
}

impl Drop for Sending {
    fn drop(&mut self) {
        self.in_flight.ids().remove(&self.client_id);
    }
}

/// One background mark, counted while it lives.
struct Marking(Arc<watch::Sender<usize>>);

impl Drop for Marking {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::InFlight;

    #[tokio::test]
    async fn settle_waits_for_the_marks_and_a_send_stays_in_flight_until_its_mark_is_done() {
        let in_flight = InFlight::default();
        let sending = in_flight.start("c1");
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        in_flight.finish_later(sending, async move {
            let _ = released.await;
            Ok(())
        });
        assert!(in_flight.contains("c1"));
        let waited = tokio::time::timeout(Duration::from_millis(50), in_flight.settle()).await;
        assert!(waited.is_err(), "settled while a mark was still running");
        release.send(()).unwrap();
        in_flight.settle().await;
        assert!(!in_flight.contains("c1"));
    }

    #[test]
    fn a_mark_dropped_with_its_runtime_is_no_longer_waited_for() {
        let in_flight = InFlight::default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let sending = in_flight.start("c2");
            in_flight.finish_later(sending, std::future::pending());
        });
        drop(runtime);
        assert!(!in_flight.contains("c2"));
        let other = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        other.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), in_flight.settle())
                .await
                .unwrap();
        });
    }
}
