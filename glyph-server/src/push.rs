//! Live push: a small wake-up channel per online device. A send that
//! commits hands its new inbox entries to the channel of each device they
//! went to, so that device's open WebSockets push them without reading
//! them back from the database. Anything else that changes an inbox (a
//! send committed by another instance, learnt through the store's wake-ups,
//! PostgreSQL `NOTIFY`; a removed device; missed wake-ups) sends a plain
//! wake-up, and the connection reads its inbox from the database after its
//! cursor.
//!
//! The database stays the only source of order: a connection pushes carried
//! entries only when they continue its cursor with no gap, and reads the
//! inbox whenever they do not (a wake-up missed or overtaken, a reader that
//! fell behind). A channel keeps a few wake-ups, each dropped once every
//! connection of the device has taken it; a device with no connection has
//! no channel, so nothing is held for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::store::{InboxOf, InboxRow, NewEntry};

/// Wake-ups a device's channel holds for a connection that has not taken
/// them; past that the connection is told it fell behind and reads its
/// inbox instead.
const WAKE_UPS_KEPT: usize = 8;

/// Most payload bytes one wake-up carries; a larger commit to one device
/// sends a plain wake-up (the connection reads it), which bounds what a
/// slow connection can hold in memory.
const MAX_CARRIED_BYTES: usize = 16 * 1024;

/// A wake-up for a device's connections.
#[derive(Debug, Clone)]
pub enum WakeUp {
    /// The inbox changed: read it after the cursor.
    Read,
    /// These entries were just committed to the inbox, in its order.
    Entries(Arc<[InboxRow]>),
}

/// The per-device wake-up channels.
#[derive(Default)]
pub struct Hub {
    devices: Mutex<HashMap<InboxOf, broadcast::Sender<WakeUp>>>,
}

impl Hub {
    /// The wake-ups for a device's inbox, from now on.
    pub fn subscribe(&self, user_id: &str, device_id: u32) -> broadcast::Receiver<WakeUp> {
        let mut devices = self.lock();
        devices.retain(|_, sender| sender.receiver_count() > 0);
        devices
            .entry((user_id.to_owned(), device_id))
            .or_insert_with(|| broadcast::channel(WAKE_UPS_KEPT).0)
            .subscribe()
    }

    /// Wakes every connection to read its inbox (after wake-ups may have
    /// been missed).
    pub fn notify_all(&self) {
        for sender in self.lock().values() {
            let _ = sender.send(WakeUp::Read);
        }
    }

    /// Wakes every connection of these devices to read its inbox.
    pub fn notify<'a>(&self, inboxes: impl IntoIterator<Item = &'a InboxOf>) {
        let devices = self.lock();
        for inbox in inboxes {
            if let Some(sender) = devices.get(inbox) {
                let _ = sender.send(WakeUp::Read);
            }
        }
    }

    /// Hands committed entries to the connections of the devices they
    /// went to, each device's in the order given (its inbox order).
    pub fn deliver(&self, entries: Vec<NewEntry>) {
        let mut by_inbox: HashMap<InboxOf, Vec<InboxRow>> = HashMap::new();
        for entry in entries {
            by_inbox.entry(entry.inbox).or_default().push(entry.row);
        }
        let devices = self.lock();
        for (inbox, rows) in by_inbox {
            let Some(sender) = devices.get(&inbox) else {
                continue;
            };
            let bytes: usize = rows.iter().map(|row| row.payload.len()).sum();
            let wake_up = if bytes <= MAX_CARRIED_BYTES {
                WakeUp::Entries(rows.into())
            } else {
                WakeUp::Read
            };
            let _ = sender.send(wake_up);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<InboxOf, broadcast::Sender<WakeUp>>> {
        // Every change under this lock is one call: poison is ignored.
        self.devices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The entries of a wake-up a connection at `after` pushes: those past it,
/// if they continue it with no gap. `None` means the connection must read
/// its inbox (entries committed before these were not pushed yet).
pub fn continuing(entries: &[InboxRow], after: i64) -> Option<&[InboxRow]> {
    let new = &entries[entries.partition_point(|row| row.seq <= after)..];
    let mut expected = after;
    for row in new {
        expected = expected.checked_add(1)?;
        if row.seq != expected {
            return None;
        }
    }
    Some(new)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use tokio::sync::broadcast::error::TryRecvError;

    use super::*;

    fn row(seq: i64, payload_bytes: usize) -> InboxRow {
        InboxRow {
            seq,
            id: seq,
            outgoing: false,
            sender: "alice".into(),
            sender_device: 1,
            recipient: "bob".into(),
            recipient_device: 1,
            client_id: format!("c{seq}"),
            group_id: None,
            payload: "x".repeat(payload_bytes),
            sent_at: 0,
            expires_at: None,
            view_once: false,
            media_path: None,
            media_removed_at: None,
        }
    }

    fn entry(user: &str, device: u32, seq: i64, payload_bytes: usize) -> NewEntry {
        NewEntry {
            inbox: (user.into(), device),
            row: row(seq, payload_bytes),
        }
    }

    fn seqs(wake_up: WakeUp) -> Option<Vec<i64>> {
        match wake_up {
            WakeUp::Read => None,
            WakeUp::Entries(rows) => Some(rows.iter().map(|r| r.seq).collect()),
        }
    }

    #[test]
    fn entries_continuing_the_cursor_are_pushed_and_a_gap_means_read() {
        let rows: Vec<InboxRow> = (5..=7).map(|s| row(s, 1)).collect();
        let pushed = |after| continuing(&rows, after).map(|r| r.iter().map(|r| r.seq).collect());
        assert_eq!(pushed(4), Some(vec![5, 6, 7]));
        // Some already pushed (a read got there first): only the rest.
        assert_eq!(pushed(5), Some(vec![6, 7]));
        assert_eq!(pushed(7), Some(vec![]));
        assert_eq!(pushed(9), Some(vec![]));
        // Entries 4 (and before) were not pushed yet: read the inbox.
        assert_eq!(pushed(3), None::<Vec<i64>>);
        let holed = [row(5, 1), row(7, 1)];
        assert!(continuing(&holed, 4).is_none());
        assert!(continuing(&[row(i64::MAX, 1)], i64::MAX - 1).is_some());
    }

    #[test]
    fn each_device_gets_its_own_entries_in_order_and_a_large_commit_as_a_read() {
        let hub = Hub::default();
        let mut phone = hub.subscribe("bob", 1);
        let mut laptop = hub.subscribe("bob", 2);
        let mut other_phone = hub.subscribe("bob", 1);
        hub.deliver(vec![
            entry("bob", 1, 3, 10),
            entry("bob", 2, 8, 10),
            entry("carol", 1, 1, 10),
            entry("bob", 1, 4, 10),
        ]);
        for receiver in [&mut phone, &mut other_phone] {
            assert_eq!(seqs(receiver.try_recv().unwrap()), Some(vec![3, 4]));
            assert!(matches!(receiver.try_recv(), Err(TryRecvError::Empty)));
        }
        assert_eq!(seqs(laptop.try_recv().unwrap()), Some(vec![8]));
        hub.deliver(vec![entry("bob", 2, 9, MAX_CARRIED_BYTES + 1)]);
        assert_eq!(seqs(laptop.try_recv().unwrap()), None);
        hub.notify([&("bob".to_owned(), 1)]);
        assert_eq!(seqs(phone.try_recv().unwrap()), None);
        assert!(matches!(laptop.try_recv(), Err(TryRecvError::Empty)));
    }

    #[test]
    fn a_reader_that_falls_behind_is_told_so_and_nothing_is_kept_without_one() {
        let hub = Hub::default();
        let mut phone = hub.subscribe("bob", 1);
        for seq in 1..=(WAKE_UPS_KEPT as i64 + 3) {
            hub.deliver(vec![entry("bob", 1, seq, 10)]);
        }
        assert!(matches!(phone.try_recv(), Err(TryRecvError::Lagged(3))));
        assert_eq!(seqs(phone.try_recv().unwrap()), Some(vec![4]));
        drop(phone);
        // With no connection the device's channel goes at the next
        // subscription, and a delivery to it is dropped at once.
        hub.deliver(vec![entry("bob", 1, 20, 10)]);
        let mut later = hub.subscribe("carol", 1);
        assert_eq!(hub.lock().len(), 1);
        hub.deliver(vec![entry("bob", 1, 21, 10)]);
        assert!(matches!(later.try_recv(), Err(TryRecvError::Empty)));
    }
}
