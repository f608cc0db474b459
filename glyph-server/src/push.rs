//! Live push: a watch channel per online device. A commit bumps the
//! counter of every device whose inbox changed (on this instance directly,
//! on others through the store's wake-ups, PostgreSQL `NOTIFY`); each open
//! WebSocket of that device wakes and reads its inbox from the database
//! after its cursor. A wake-up carries no data, so nothing is buffered per
//! connection, and a burst of sends coalesces into one read.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

/// The per-device wake-up channels.
#[derive(Default)]
pub struct Hub {
    users: Mutex<HashMap<(String, u32), watch::Sender<u64>>>,
}

impl Hub {
    /// A receiver that changes whenever the device's inbox does.
    pub fn subscribe(&self, user_id: &str, device_id: u32) -> watch::Receiver<u64> {
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        users.retain(|_, sender| sender.receiver_count() > 0);
        users
            .entry((user_id.to_owned(), device_id))
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

    /// Wakes every connection of these devices.
    pub fn notify<'a>(&self, inboxes: impl IntoIterator<Item = &'a (String, u32)>) {
        let users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        for inbox in inboxes {
            if let Some(sender) = users.get(inbox) {
                sender.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }
}
