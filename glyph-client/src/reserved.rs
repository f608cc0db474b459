//! Sending positions reserved ahead, so that most sends need no `fsync`
//! before their message leaves.
//!
//! A ratchet message must never leave before the state after it is safe:
//! a device that lost that state would send its next message under the
//! same key. A synced commit before every post keeps it safe, at the cost
//! of one disk flush on the send's path. Instead, each sending chain
//! *reserves* the next [`RESERVE_AHEAD`] positions in a synced commit (the
//! first send on the chain, then one send in `RESERVE_AHEAD`); the sends in
//! between commit without waiting for the disk and then flush the log
//! while their post is on its way (the send still returns only when both
//! are done).
//!
//! An unsynced commit survives this process dying (it is in the log,
//! written before the post), so only a crash of the machine can lose it.
//! The first open of the profile after the machine restarted (its boot id,
//! kept in the profile directory, has changed; or, where the system has no
//! boot id, every open) moves every reserved chain forward past its
//! reservation ([`glyph_crypto::PeerSessions::skip_sending_to`]) before
//! anything is sent: no position a lost state may have used is used again.
//! The receiver sees a gap of at most `RESERVE_AHEAD - 1` positions, as if
//! messages had not arrived (it keeps their keys until its limit).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use base64ct::{Base64, Encoding};
use glyph_crypto::SendingPosition;
use serde::{Deserialize, Serialize};

use crate::client::{Client, records};
use crate::error::ClientError;
use crate::vault::Batch;

/// How many positions of a sending chain one synced commit reserves.
pub(crate) const RESERVE_AHEAD: u32 = 32;

/// The file, in the profile directory, naming the boot of the machine
/// after which reservations were last honoured.
const BOOT_FILE: &str = "boot";

/// Where the system names its current boot (Linux).
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// The positions reserved, by peer and device.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Reserved {
    peers: BTreeMap<String, BTreeMap<u32, Reservation>>,
}

/// Positions below `until` of the chain with this ratchet key (base64) may
/// have been used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Reservation {
    chain: String,
    until: u32,
}

impl Reserved {
    /// Whether the position a device's session is about to use is reserved
    /// already.
    pub(crate) fn covers(&self, peer: &str, device: u32, position: SendingPosition) -> bool {
        self.reserved_until(peer, device, position).is_some()
    }

    /// The end of the reservation that covers this position of a device's
    /// session, if one does (same chain, position below its end).
    fn reserved_until(&self, peer: &str, device: u32, position: SendingPosition) -> Option<u32> {
        let chain = Base64::encode_string(position.chain.as_bytes());
        self.peers
            .get(peer)
            .and_then(|devices| devices.get(&device))
            .filter(|r| r.chain == chain && position.next < r.until)
            .map(|r| r.until)
    }

    /// Reserves the next [`RESERVE_AHEAD`] positions from `position`; the
    /// reservation must be stored in a synced commit before a message
    /// takes any of them. (A send that must reserve for one chain renews
    /// every chain it uses, so that the chains of a group stay in step and
    /// their sends need a synced commit together, once in
    /// `RESERVE_AHEAD`.)
    pub(crate) fn reserve(&mut self, peer: &str, device: u32, position: SendingPosition) {
        self.peers.entry(peer.to_owned()).or_default().insert(
            device,
            Reservation {
                chain: Base64::encode_string(position.chain.as_bytes()),
                until: position.next.saturating_add(RESERVE_AHEAD),
            },
        );
    }

    /// Forgets the reservations of a peer's devices not in `devices` (their
    /// sessions are dropped with them).
    pub(crate) fn keep_only(&mut self, peer: &str, devices: &[u32]) {
        if let Some(reserved) = self.peers.get_mut(peer) {
            reserved.retain(|device, _| devices.contains(device));
        }
    }
}

/// The machine's current boot, where the system names it.
fn current_boot() -> Option<String> {
    std::fs::read_to_string(BOOT_ID)
        .ok()
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
}

impl Client {
    /// The reserved positions as stored.
    pub(crate) async fn reserved(&self) -> Result<Reserved, ClientError> {
        Ok(self
            .vault
            .get_json(records::RESERVED)
            .await?
            .unwrap_or_default())
    }

    /// After the machine restarted (or, without a boot id, at every open):
    /// moves each reserved sending chain past its reservation, in one
    /// synced commit, and then notes the boot. Nothing is sent before.
    pub(crate) async fn honour_reservations(&self, profile: &Path) -> Result<(), ClientError> {
        let boot = current_boot();
        let marker = profile.join(BOOT_FILE);
        let noted = std::fs::read_to_string(&marker).ok();
        if boot.is_some() && noted.as_deref().map(str::trim) == boot.as_deref() {
            return Ok(());
        }
        {
            let _guard = self.lock.acquire().await?;
            let reserved = self.reserved().await?;
            let mut batch = Batch::default();
            for (peer, devices) in &reserved.peers {
                let mut sessions = self.sessions(peer).await?;
                let mut moved = false;
                for device in devices.keys() {
                    if sessions.device(*device).is_none() {
                        continue;
                    }
                    let session = sessions.device_mut(*device);
                    let until = session
                        .sending_position()
                        .and_then(|position| reserved.reserved_until(peer, *device, position));
                    if let Some(until) = until {
                        session.skip_sending_to(until)?;
                        moved = true;
                    }
                }
                if moved {
                    self.vault.put_decoded(
                        &mut batch,
                        &records::sessions(peer),
                        &sessions.to_bytes(),
                        &sessions,
                    )?;
                }
            }
            // Every chain is now at or past its reservation: the next send
            // on each reserves afresh.
            self.vault
                .put_json(&mut batch, records::RESERVED, &Reserved::default())?;
            self.vault.commit(batch).await?;
        }
        if let Some(boot) = boot {
            let mut file = std::fs::File::create(&marker)?;
            file.write_all(boot.as_bytes())?;
            file.sync_all()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use glyph_crypto::{
        DeviceSessions, DhPublicKey, Identity, Mnemonic, PreKeyBundle, PreKeyStore, SendingPosition,
    };

    use super::{BOOT_FILE, RESERVE_AHEAD, Reserved, current_boot};
    use crate::client::{Client, records};
    use crate::vault::Batch;

    fn at(chain: u8, next: u32) -> SendingPosition {
        SendingPosition {
            chain: DhPublicKey::from_bytes([chain; 32]),
            next,
        }
    }

    #[test]
    fn a_reservation_covers_the_next_positions_of_its_chain_only() {
        let mut reserved = Reserved::default();
        assert!(!reserved.covers("bob", 1, at(7, 0)), "nothing reserved yet");
        reserved.reserve("bob", 1, at(7, 0));
        for next in 0..RESERVE_AHEAD {
            assert!(reserved.covers("bob", 1, at(7, next)), "position {next}");
        }
        assert!(!reserved.covers("bob", 1, at(7, RESERVE_AHEAD)), "run out");
        // Another device, another peer, or a new chain of the same device
        // is not covered.
        assert!(!reserved.covers("bob", 2, at(7, 5)));
        assert!(!reserved.covers("carol", 1, at(7, 5)));
        assert!(!reserved.covers("bob", 1, at(8, 3)));
        // Renewed from a later position, it covers from there.
        reserved.reserve("bob", 1, at(7, 40));
        assert!(reserved.covers("bob", 1, at(7, 40 + RESERVE_AHEAD - 1)));
        assert!(!reserved.covers("bob", 1, at(7, 40 + RESERVE_AHEAD)));
    }

    #[test]
    fn a_device_no_longer_listed_loses_its_reservation() {
        let mut reserved = Reserved::default();
        reserved.reserve("bob", 1, at(7, 0));
        reserved.reserve("bob", 2, at(9, 0));
        reserved.keep_only("bob", &[2]);
        assert!(!reserved.covers("bob", 1, at(7, 1)));
        assert!(reserved.covers("bob", 2, at(9, 1)));
    }

    /// A session of mine with a device of "bob", at position 0.
    fn a_session(me: &Identity) -> DeviceSessions {
        let bob = Identity::from_mnemonic(&Mnemonic::generate().unwrap(), "").unwrap();
        let mut prekeys = PreKeyStore::new();
        prekeys.rotate_signed_prekey(&bob).unwrap();
        let spk = prekeys.current_signed_prekey().unwrap();
        let bundle = PreKeyBundle {
            identity: bob.public(),
            spk_id: spk.id(),
            spk_pub: *spk.public(),
            spk_sig: *spk.signature(),
            opk: None,
        };
        let mut sessions = DeviceSessions::new();
        sessions.device_mut(1).initiate(me, &bundle).unwrap();
        sessions
    }

    async fn store(client: &Client, sessions: &DeviceSessions, reserved: &Reserved) {
        let mut batch = Batch::default();
        let name = records::sessions("bob");
        client
            .vault
            .put(&mut batch, &name, &sessions.to_bytes())
            .unwrap();
        client
            .vault
            .put_json(&mut batch, records::RESERVED, reserved)
            .unwrap();
        client.vault.commit(batch).await.unwrap();
    }

    async fn stored(client: &Client) -> (glyph_crypto::DhPublicKey, u32) {
        let sessions = client.sessions("bob").await.unwrap();
        let position = sessions.device(1).unwrap().sending_position().unwrap();
        (position.chain, position.next)
    }

    #[tokio::test]
    async fn a_new_boot_skips_past_each_reservation_and_a_reopen_in_the_same_boot_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let client = crate::fuzzing::offline_client(dir.path()).await.unwrap();
        let sessions = a_session(&client.identity);
        let chain = sessions
            .device(1)
            .unwrap()
            .sending_position()
            .unwrap()
            .chain;
        let mut reserved = Reserved::default();
        reserved.reserve("bob", 1, SendingPosition { chain, next: 0 });
        store(&client, &sessions, &reserved).await;

        // No boot noted yet: the chain moves past its reservation.
        client.honour_reservations(dir.path()).await.unwrap();
        assert_eq!(stored(&client).await, (chain, RESERVE_AHEAD));
        assert!(client.reserved().await.unwrap().peers.is_empty());
        let noted = std::fs::read_to_string(dir.path().join(BOOT_FILE)).ok();
        assert_eq!(noted, current_boot());

        // A reservation taken in this boot stays unused by a reopen in it
        // (where the system names its boots).
        let sessions = client.sessions("bob").await.unwrap();
        let mut reserved = Reserved::default();
        reserved.reserve(
            "bob",
            1,
            SendingPosition {
                chain,
                next: RESERVE_AHEAD,
            },
        );
        store(&client, &sessions, &reserved).await;
        client.honour_reservations(dir.path()).await.unwrap();
        if current_boot().is_some() {
            assert_eq!(stored(&client).await, (chain, RESERVE_AHEAD));
        }

        // After a restart of the machine it is skipped.
        std::fs::write(dir.path().join(BOOT_FILE), "an earlier boot").unwrap();
        client.honour_reservations(dir.path()).await.unwrap();
        assert_eq!(stored(&client).await, (chain, 2 * RESERVE_AHEAD));

        // A reservation of another chain (one the session has left) moves
        // nothing.
        let mut reserved = Reserved::default();
        let other = DhPublicKey::from_bytes([9; 32]);
        reserved.reserve(
            "bob",
            1,
            SendingPosition {
                chain: other,
                next: 0,
            },
        );
        let sessions = client.sessions("bob").await.unwrap();
        store(&client, &sessions, &reserved).await;
        std::fs::write(dir.path().join(BOOT_FILE), "another boot").unwrap();
        client.honour_reservations(dir.path()).await.unwrap();
        assert_eq!(stored(&client).await, (chain, 2 * RESERVE_AHEAD));
    }
}
