//! The client: one account on one server, its encrypted profile, and the
//! operations an app calls. Accounts and prekeys are here; contacts,
//! messaging and live receive add `impl Client` blocks in their modules.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use glyph_crypto::{Identity, Mnemonic, PreKeyStore, Seed, generate_device_id};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::ClientError;
use crate::http::{Api, now};
use crate::lock::ProfileLock;
use crate::vault::{Batch, KdfParams, Vault};

/// One-time prekeys kept on the server after a top-up.
pub(crate) const PREKEY_TARGET: u64 = 100;
/// Top up when fewer than this many are left.
pub(crate) const PREKEY_LOW: u64 = 25;
/// Rotate the signed prekey after this long.
pub(crate) const SPK_ROTATE_SECS: i64 = 7 * 24 * 3600;
/// Signed prekeys kept (the current one and older ones for messages still
/// in flight): with weekly rotation, about four weeks.
pub(crate) const SPK_KEEP: usize = 5;

/// Vault record names.
pub(crate) mod records {
    pub(crate) const ACCOUNT: &str = "account";
    pub(crate) const SEED: &str = "seed";
    pub(crate) const PREKEYS: &str = "prekeys";
    pub(crate) const CURSOR: &str = "cursor";
    pub(crate) const CONTACTS: &str = "contacts";
    pub(crate) const OUTBOX: &str = "outbox";
    /// View-once views not yet reported to the server.
    pub(crate) const PENDING_VIEWS: &str = "pending-views";
    /// The last access token and when to renew it.
    pub(crate) const TOKEN: &str = "token";
    /// Whether this profile sends receipts (absent: on).
    pub(crate) const RECEIPTS: &str = "receipts";
    /// Sending positions reserved ahead (see `reserved`).
    pub(crate) const RESERVED: &str = "reserved-positions";
    pub(crate) fn sessions(peer: &str) -> String {
        format!("sessions:{peer}")
    }
    pub(crate) fn roster(group: &str) -> String {
        format!("roster:{group}")
    }
    /// What members announced about a group (confirmed roster, name).
    pub(crate) fn group(group: &str) -> String {
        format!("group:{group}")
    }
    pub(crate) fn timer(conversation: &str) -> String {
        format!("timer:{conversation}")
    }
    /// The newest signed device list accepted for a user (mine included).
    pub(crate) fn devices(user: &str) -> String {
        format!("devices:{user}")
    }
}

/// The account record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Account {
    pub server: String,
    pub user_id: String,
    pub created_at: i64,
    pub spk_rotated_at: i64,
    /// This device's id (0 in a profile from before devices existed: it
    /// gets one when it is next opened).
    #[serde(default)]
    pub device_id: u32,
    /// Set until this device is linked (claimed, prekeys and list
    /// published), so an interrupted set-up finishes on the next open.
    #[serde(default)]
    pub linking: bool,
}

/// The profile file inside a profile directory.
pub fn vault_path(profile: &Path) -> PathBuf {
    profile.join("glyph.vault")
}

/// A signed-in client.
pub struct Client {
    pub(crate) api: Api,
    pub(crate) vault: Arc<Vault>,
    pub(crate) identity: Arc<Identity>,
    pub(crate) user_id: String,
    pub(crate) lock: ProfileLock,
    /// The sends running in this process, and their "sent" marks being
    /// written.
    pub(crate) in_flight: crate::in_flight::InFlight,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("user_id", &self.user_id)
            .field("server", &self.api.base())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Creates an account: new 12 words, a profile in `profile` locked by
    /// `pin`, registration, this device's prekeys and the account's first
    /// device list on `server`. Returns the client and the words, which are
    /// shown to the user once and never stored.
    pub async fn create(
        profile: &Path,
        pin: &str,
        server: &str,
    ) -> Result<(Self, Mnemonic), ClientError> {
        if vault_path(profile).exists() {
            return Err(ClientError::ProfileExists(
                vault_path(profile).display().to_string(),
            ));
        }
        let mnemonic = Mnemonic::generate()?;
        let client = Self::set_up(profile, pin, server, &mnemonic).await?;
        Ok((client, mnemonic))
    }

    /// Sets up this device for an account from its 12 words: the same
    /// identity, linked as one more device (the account's other devices
    /// keep working). It sees what is sent from now on; its own prekeys and
    /// sessions are new.
    pub async fn restore(
        profile: &Path,
        pin: &str,
        server: &str,
        words: &str,
    ) -> Result<Self, ClientError> {
        let mnemonic = Mnemonic::parse(words)?;
        if vault_path(profile).exists() {
            return Err(ClientError::ProfileExists(
                vault_path(profile).display().to_string(),
            ));
        }
        let client = Self::set_up(profile, pin, server, &mnemonic).await?;
        client.sync().await?;
        Ok(client)
    }

    async fn set_up(
        profile: &Path,
        pin: &str,
        server: &str,
        mnemonic: &Mnemonic,
    ) -> Result<Self, ClientError> {
        std::fs::create_dir_all(profile)?;
        let seed = mnemonic.to_seed("");
        let identity = Arc::new(Identity::from_seed(&seed)?);
        let device_id = generate_device_id()?;
        let api = Api::new(server, identity.clone(), device_id)?;
        let record = api.register().await?;
        api.login().await?;
        let vault = Vault::create(&vault_path(profile), pin, KdfParams::default()).await?;
        let account = Account {
            server: api.base().to_owned(),
            user_id: record.user_id.clone(),
            created_at: now(),
            spk_rotated_at: now(),
            device_id,
            linking: true,
        };
        // The seed and the (empty) prekey store are kept before anything is
        // published; prekeys are made and stored before they are uploaded.
        let mut batch = Batch::default();
        vault.put(&mut batch, records::SEED, seed.as_bytes())?;
        vault.put(&mut batch, records::PREKEYS, &PreKeyStore::new().to_bytes())?;
        vault.put_json(&mut batch, records::ACCOUNT, &account)?;
        vault.put_json(&mut batch, records::CURSOR, &0i64)?;
        vault.commit(batch).await?;
        let client = Self {
            api,
            vault: Arc::new(vault),
            identity,
            user_id: record.user_id,
            lock: ProfileLock::new(profile)?,
            in_flight: Default::default(),
        };
        client.keep_tokens();
        client.honour_reservations(profile).await?;
        client.finish_linking().await?;
        Ok(client)
    }

    /// Keeps each new access token in the profile (sealed, like every
    /// record), for the next run.
    fn keep_tokens(&self) {
        let vault = self.vault.clone();
        self.api.on_new_token(Arc::new(move |token, renew_at| {
            let vault = vault.clone();
            Box::pin(async move {
                if let Err(err) = vault.put_now(records::TOKEN, &(token, renew_at)).await {
                    tracing::warn!(error = %err, "keeping the access token failed");
                }
            })
        }));
    }

    /// Links this device if its set-up did not finish (or, for a profile
    /// from before devices existed, gives it an id and links it).
    async fn finish_linking(&self) -> Result<(), ClientError> {
        let account = self.account().await?;
        if !account.linking {
            return Ok(());
        }
        self.link_this_device().await?;
        let mut account = self.account().await?;
        account.linking = false;
        self.vault.put_now(records::ACCOUNT, &account).await
    }

    /// Opens an existing profile with its PIN. A device whose set-up was
    /// interrupted finishes it now (which needs the server).
    pub async fn open(profile: &Path, pin: &str) -> Result<Self, ClientError> {
        let vault = Vault::open(&vault_path(profile), pin).await?;
        let mut account: Account = vault
            .get_json(records::ACCOUNT)
            .await?
            .ok_or(ClientError::CorruptStore("no account record"))?;
        let seed_bytes = vault
            .get(records::SEED)
            .await?
            .ok_or(ClientError::CorruptStore("no seed"))?;
        let seed: Zeroizing<[u8; 64]> = Zeroizing::new(
            seed_bytes
                .as_slice()
                .try_into()
                .map_err(|_| ClientError::CorruptStore("seed"))?,
        );
        let identity = Arc::new(Identity::from_seed(&Seed::from_bytes(*seed))?);
        if account.device_id == 0 {
            // A profile from before devices: this device takes an id now.
            account.device_id = generate_device_id()?;
            account.linking = true;
            vault.put_now(records::ACCOUNT, &account).await?;
        }
        let api = Api::new(&account.server, identity.clone(), account.device_id)?;
        // The session from the last run, if it is still good: a script
        // running glyph in a loop logs in once an hour, not every time.
        if let Some((token, renew_at)) = vault.get_json::<(String, i64)>(records::TOKEN).await? {
            api.restore_token(token, renew_at).await;
        }
        let client = Self {
            api,
            vault: Arc::new(vault),
            identity,
            user_id: account.user_id,
            lock: ProfileLock::new(profile)?,
            in_flight: Default::default(),
        };
        client.keep_tokens();
        // Before anything can be sent.
        client.honour_reservations(profile).await?;
        client.finish_linking().await?;
        Ok(client)
    }

    /// My user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// My public identity.
    pub fn public_identity(&self) -> glyph_crypto::PublicIdentity {
        self.identity.public()
    }

    /// My short safety code (`xxxx · xxxx · xxxx`).
    pub fn safety_code(&self) -> String {
        self.identity.public().fingerprint()
    }

    /// The server's base URL.
    pub fn server(&self) -> &str {
        self.api.base()
    }

    /// The HTTP API, for calls this type does not wrap.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// Sets my handle in the server's directory.
    pub async fn set_handle(&self, handle: &str) -> Result<(), ClientError> {
        self.api.set_handle(handle).await.map(|_| ())
    }

    /// My handle in the server's directory, if I set one.
    pub async fn handle(&self) -> Result<Option<String>, ClientError> {
        Ok(self.api.user(&self.user_id).await?.0.handle)
    }

    pub(crate) async fn account(&self) -> Result<Account, ClientError> {
        self.vault
            .get_json(records::ACCOUNT)
            .await?
            .ok_or(ClientError::CorruptStore("no account record"))
    }

    pub(crate) async fn prekeys(&self) -> Result<PreKeyStore, ClientError> {
        let bytes = self
            .vault
            .get(records::PREKEYS)
            .await?
            .ok_or(ClientError::CorruptStore("no prekeys"))?;
        Ok(PreKeyStore::from_bytes(&bytes)?)
    }

    /// Publishes this device's prekeys: a signed prekey if the server has
    /// none for it, and one-time prekeys up to the target.
    pub(crate) async fn publish_my_prekeys(&self) -> Result<u64, ClientError> {
        self.refresh_prekeys(false).await
    }

    /// Prekey upkeep: tops up one-time prekeys when the server runs low and
    /// rotates the signed prekey weekly, keeping older ones for messages in
    /// flight. Returns how many one-time prekeys it uploaded.
    pub async fn maintain_prekeys(&self) -> Result<u64, ClientError> {
        self.refresh_prekeys(false).await
    }

    /// Rotates the signed prekey now (say, after a device was exposed),
    /// keeping the last few for messages already on their way.
    pub async fn rotate_signed_prekey(&self) -> Result<(), ClientError> {
        self.refresh_prekeys(true).await.map(|_| ())
    }

    async fn refresh_prekeys(&self, force_rotation: bool) -> Result<u64, ClientError> {
        let _guard = self.lock.acquire().await?;
        let count = self.api.prekey_count().await?;
        let mut account = self.account().await?;
        let rotate = force_rotation
            || count.signed_prekey_id.is_none()
            || now() - account.spk_rotated_at > SPK_ROTATE_SECS;
        let top_up = if count.one_time < PREKEY_LOW {
            PREKEY_TARGET - count.one_time
        } else {
            0
        };
        if !rotate && top_up == 0 {
            return Ok(0);
        }
        let mut prekeys = self.prekeys().await?;
        let spk = if rotate {
            account.spk_rotated_at = now();
            let spk = prekeys.rotate_signed_prekey(&self.identity)?;
            prekeys.retire_signed_prekeys(SPK_KEEP);
            Some(spk)
        } else {
            None
        };
        let opks = prekeys.generate_one_time_prekeys(top_up as u32)?;
        let mut batch = Batch::default();
        self.vault
            .put(&mut batch, records::PREKEYS, &prekeys.to_bytes())?;
        self.vault
            .put_json(&mut batch, records::ACCOUNT, &account)?;
        self.vault.commit(batch).await?;
        if let Some(spk) = spk {
            self.api.put_signed_prekey(&spk).await?;
        }
        if !opks.is_empty() {
            self.api.add_one_time_prekeys(&opks).await?;
        }
        Ok(top_up)
    }
}
