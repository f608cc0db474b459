//! Devices (spec section 9): one identity on several devices at once.
//!
//! This device has its own id, prekeys and sessions. Setting it up (a new
//! account, or a restore from the words on another device) *links* it:
//! claim its id, publish its prekeys, then publish the account's signed
//! device list with it added, leaving the other devices as they are.
//!
//! Everyone's device lists (mine included) are verified before use: signed
//! by that user's identity key, following the rules of a list, and never
//! older than one accepted before (a rollback is refused). A contact's new
//! device shows as a notice in the conversation; the safety number does not
//! change, since every device shares the identity.

use glyph_crypto::{DeviceList, SigningPublicKey};
use serde::{Deserialize, Serialize};

use crate::client::{Client, records};
use crate::content::Content;
use crate::error::{ClientError, Refusal};
use crate::http::now;
use crate::messaging::{Conversation, Delivery, Message};
use crate::vault::Batch;

/// Attempts to publish a list when another device publishes at the same
/// moment.
const PUBLISH_ATTEMPTS: usize = 5;

/// One of my devices, for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEntry {
    /// Its id.
    pub device_id: u32,
    /// When it was linked.
    pub linked_at: i64,
    /// When it last logged in.
    pub last_seen_at: Option<i64>,
    /// This device.
    pub this_device: bool,
}

/// The signing key a user id names (the id is its base64url).
pub(crate) fn signing_key_of(user_id: &str) -> Result<SigningPublicKey, ClientError> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let bytes: [u8; 32] = Base64UrlUnpadded::decode_vec(user_id)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ClientError::Unknown(format!("user {user_id}")))?;
    SigningPublicKey::from_bytes(&bytes)
        .map_err(|_| ClientError::Unknown(format!("user {user_id}")))
}

impl Client {
    /// This device's id.
    pub fn device_id(&self) -> u32 {
        self.api.device_id()
    }

    /// The newest device list accepted for `user_id` (mine included).
    pub(crate) async fn known_devices(
        &self,
        user_id: &str,
    ) -> Result<Option<DeviceList>, ClientError> {
        let decode = |text: &[u8]| {
            std::str::from_utf8(text)
                .ok()
                .and_then(|text| DeviceList::from_json(text).ok())
                .ok_or(ClientError::CorruptStore("device list"))
        };
        self.vault
            .get_decoded(&records::devices(user_id), decode)
            .await
    }

    /// Checks a list the server gave for `user_id` and stages it in `batch`
    /// as the newest accepted: signed by the user, a valid list, not older
    /// than the one accepted before. A contact's newly listed devices get a
    /// notice in the conversation. Returns whether the list is new.
    pub(crate) async fn accept_devices(
        &self,
        batch: &mut Batch,
        user_id: &str,
        list: &DeviceList,
    ) -> Result<bool, ClientError> {
        let previous = self.known_devices(user_id).await?;
        list.accept(&signing_key_of(user_id)?, previous.as_ref())
            .map_err(|err| ClientError::Refused(Refusal::DeviceList(err.to_string())))?;
        if previous.as_ref() == Some(list) {
            return Ok(false);
        }
        self.vault.put_decoded(
            batch,
            &records::devices(user_id),
            list.to_json().as_bytes(),
            list,
        )?;
        let added: Vec<u32> = match &previous {
            Some(old) => list
                .devices()
                .iter()
                .copied()
                .filter(|d| !old.contains(*d))
                .collect(),
            None => Vec::new(),
        };
        if !added.is_empty() && user_id != self.user_id {
            let name = match self.contact(user_id).await? {
                Some(contact) => contact.display_name(),
                None => user_id.to_owned(),
            };
            let notice = Message {
                local_id: 0,
                conversation: Conversation::Peer(user_id.to_owned()),
                sender: user_id.to_owned(),
                outgoing: false,
                client_id: format!("devices-{}", list.version()),
                sent_at: now(),
                expires_at: None,
                server_id: None,
                content: Content::Notice {
                    text: format!("{name} linked a new device (the safety number is unchanged)"),
                },
                delivery: Delivery::Received,
                warning: None,
                annotations: Default::default(),
            };
            self.stage_message(batch, &notice)?;
        }
        Ok(true)
    }

    /// Fetches `user_id`'s device list from the server, checks it and keeps
    /// it. The caller holds the profile lock.
    pub(crate) async fn refresh_devices(&self, user_id: &str) -> Result<DeviceList, ClientError> {
        let list = self.api.user_devices(user_id).await?.ok_or_else(|| {
            ClientError::Unknown(format!("devices of {user_id} (not set up yet)"))
        })?;
        let mut batch = Batch::default();
        self.accept_devices(&mut batch, user_id, &list).await?;
        self.vault.commit(batch).await?;
        Ok(list)
    }

    /// The devices to encrypt to for `user_id`: the accepted list, fetched
    /// once if none is kept. The caller holds the profile lock.
    pub(crate) async fn devices_of(&self, user_id: &str) -> Result<DeviceList, ClientError> {
        match self.known_devices(user_id).await? {
            Some(list) => Ok(list),
            None => self.refresh_devices(user_id).await,
        }
    }

    /// Links this device to the account: claims its id, publishes its
    /// prekeys (already in the profile) and then the signed list with it
    /// added. Other devices publishing at the same moment are retried.
    pub(crate) async fn link_this_device(&self) -> Result<(), ClientError> {
        match self.api.claim_device().await {
            // My own claim from an attempt that did not finish.
            Ok(()) | Err(ClientError::Api { status: 409, .. }) => {}
            Err(err) => return Err(err),
        }
        self.publish_my_prekeys().await?;
        let me = self.device_id();
        self.change_my_devices(|current| match current {
            Some(list) => list.with_device(self.identity.signing(), me),
            None => DeviceList::first(self.identity.signing(), me),
        })
        .await?;
        Ok(())
    }

    /// Publishes a new version of my list made by `next` from the current
    /// one (verified), retrying when another device publishes first.
    async fn change_my_devices(
        &self,
        next: impl Fn(Option<&DeviceList>) -> Result<DeviceList, glyph_crypto::Error>,
    ) -> Result<DeviceList, ClientError> {
        for _ in 0..PUBLISH_ATTEMPTS {
            let (current, _) = self.api.my_devices().await?;
            if let Some(current) = &current {
                let mut batch = Batch::default();
                self.accept_devices(&mut batch, &self.user_id, current)
                    .await?;
                self.vault.commit(batch).await?;
            }
            let list = next(current.as_ref())?;
            match self.api.publish_devices(&list).await {
                Ok(_) => {
                    let mut batch = Batch::default();
                    self.accept_devices(&mut batch, &self.user_id, &list)
                        .await?;
                    self.vault.commit(batch).await?;
                    return Ok(list);
                }
                Err(ClientError::Api { code, .. }) if code == "stale_device_list" => continue,
                Err(err) => return Err(err),
            }
        }
        Err(ClientError::Unsupported(
            "the device list kept changing; try again",
        ))
    }

    /// My devices: my signed list (verified) and what the server knows of
    /// each.
    pub async fn devices(&self) -> Result<Vec<DeviceEntry>, ClientError> {
        let (list, known) = self.api.my_devices().await?;
        let list = list.ok_or(ClientError::Unsupported(
            "this account has no device list yet",
        ))?;
        {
            let _guard = self.lock.acquire().await?;
            let mut batch = Batch::default();
            self.accept_devices(&mut batch, &self.user_id, &list)
                .await?;
            self.vault.commit(batch).await?;
        }
        Ok(list
            .devices()
            .iter()
            .map(|&device_id| {
                let info = known.iter().find(|i| i.device_id == device_id);
                DeviceEntry {
                    device_id,
                    linked_at: info.map_or(0, |i| i.created_at),
                    last_seen_at: info.and_then(|i| i.last_seen_at),
                    this_device: device_id == self.device_id(),
                }
            })
            .collect())
    }

    /// Removes one of my other devices (a lost phone): a new signed list
    /// without it. The server stops delivering to it and deletes its
    /// prekeys and undelivered copies. Removing this device is refused:
    /// remove it from another one.
    pub async fn remove_device(&self, device_id: u32) -> Result<(), ClientError> {
        if device_id == self.device_id() {
            return Err(ClientError::Unsupported(
                "this is the device in use: remove it from another of your devices",
            ));
        }
        let _guard = self.lock.acquire().await?;
        self.change_my_devices(|current| match current {
            Some(list) if list.contains(device_id) => {
                list.without_device(self.identity.signing(), device_id)
            }
            _ => Err(glyph_crypto::Error::InvalidDeviceList(
                "no such device in the list",
            )),
        })
        .await
        .map_err(|err| match err {
            ClientError::Crypto(glyph_crypto::Error::InvalidDeviceList(_)) => {
                ClientError::Unknown(format!("device {device_id}"))
            }
            other => other,
        })?;
        Ok(())
    }
}
