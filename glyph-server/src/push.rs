//! Live push: a watch channel per online user. A commit bumps the counter
//! of every user whose inbox changed (on this instance directly, on others
//! through the store's wake-ups, PostgreSQL `NOTIFY`); each open
//! WebSocket of that user wakes and reads its inbox from the database
//! after its cursor. A wake-up carries no data, so nothing is buffered per
//! connection, and a burst of sends coalesces into one read.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

/// The per-user wake-up channels.
#[derive(Default)]
pub struct Hub {
    users: Mutex<HashMap<String, watch::Sender<u64>>>,
}

impl Hub {
    /// A receiver that changes whenever `user_id`'s inbox does.
    pub fn subscribe(&self, user_id: &str) -> watch::Receiver<u64> {
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        users.retain(|_, sender| sender.receiver_count() > 0);
        users
            .entry(user_id.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Wakes every connection (after wake-ups may have been missed).
    pub fn notify_all(&self) {
        let users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        for sender in users.values() {
            sender.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Wakes every connection of these users.
    pub fn notify<'a>(&self, user_ids: impl IntoIterator<Item = &'a String>) {
        let users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        for user_id in user_ids {
            if let Some(sender) = users.get(user_id) {
                sender.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }
}
