//! Support for fuzzing how the client handles what the server hands it
//! (cargo feature `fuzzing`; not for apps). [`receive`] gives an inbox
//! entry, as JSON bytes, to a client that never reaches a server: a fixed
//! identity with fixed prekeys and one contact ("Peter"), in a profile in a
//! temporary directory. Whatever the bytes, processing must not panic.
//! [`seeds`] makes real entries (first messages, later ones, self-copies,
//! group announcements) for the fuzzer to start from.

use std::sync::{Arc, OnceLock};

use glyph_api::InboxMessage;
use glyph_crypto::{
    Identity, OneTimePreKey, PreKeyBundle, PreKeyStore, SealedEnvelope, Seed, Session, SignedPreKey,
};
use serde_json::{Value, json};

use crate::client::{Account, Client, records};
use crate::contacts::Contact;
use crate::error::ClientError;
use crate::http::Api;
use crate::lock::ProfileLock;
use crate::vault::{Batch, KdfParams, Vault};

/// An address nothing listens on: every call the client makes fails fast.
const NOWHERE: &str = "http://127.0.0.1:9";
/// My device, and Peter's.
const MY_DEVICE: u32 = 1;
const PETER_DEVICE: u32 = 2;
/// The signed prekey's id and one one-time prekey's id.
const SPK_ID: u32 = 1;
const OPK_ID: u32 = 7;

fn fixed_identity(label: u8) -> Result<Identity, glyph_crypto::Error> {
    Identity::from_seed(&Seed::from_bytes([label; 64]))
}

/// The client under test ("me") and its runtime.
struct Harness {
    runtime: tokio::runtime::Runtime,
    client: Client,
    _dir: tempfile::TempDir,
}

static HARNESS: OnceLock<Option<Harness>> = OnceLock::new();

fn harness() -> Option<&'static Harness> {
    HARNESS
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            let dir = tempfile::tempdir().ok()?;
            let client = runtime.block_on(offline_client(dir.path())).ok()?;
            Some(Harness {
                runtime,
                client,
                _dir: dir,
            })
        })
        .as_ref()
}

/// My prekeys: fixed, so seeds made elsewhere can open here.
fn my_prekeys(me: &Identity) -> PreKeyStore {
    let mut prekeys = PreKeyStore::new();
    prekeys.insert_signed_prekey(SignedPreKey::from_secret(me, SPK_ID, &[3; 32]));
    prekeys.insert_one_time_prekey(OneTimePreKey::from_secret(OPK_ID, &[4; 32]));
    prekeys
}

/// A client of a profile in `dir` that talks to no server (also used by
/// the crate's own tests).
pub(crate) async fn offline_client(dir: &std::path::Path) -> Result<Client, ClientError> {
    let me = Arc::new(fixed_identity(1)?);
    let peter = fixed_identity(2)?;
    let user_id = crate::user_id_of(&me.public().sign_pub);
    let cheap = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    let vault = Vault::create(&crate::vault_path(dir), "fuzz", cheap).await?;
    let account = Account {
        server: NOWHERE.into(),
        user_id: user_id.clone(),
        created_at: 0,
        spk_rotated_at: i64::MAX / 2,
        device_id: MY_DEVICE,
        linking: false,
    };
    let peter_id = crate::user_id_of(&peter.public().sign_pub);
    let contacts = std::collections::BTreeMap::from([(
        peter_id.clone(),
        Contact::first_seen(&peter_id, &peter.public(), Some("peter".into())),
    )]);
    let mut batch = Batch::default();
    vault.put(&mut batch, records::SEED, &[1; 64])?;
    vault.put(&mut batch, records::PREKEYS, &my_prekeys(&me).to_bytes())?;
    vault.put_json(&mut batch, records::ACCOUNT, &account)?;
    vault.put_json(&mut batch, records::CURSOR, &0i64)?;
    vault.put_json(&mut batch, records::CONTACTS, &contacts)?;
    vault.commit(batch).await?;
    Ok(Client {
        api: Api::new(NOWHERE, me.clone(), MY_DEVICE)?,
        vault: std::sync::Arc::new(vault),
        identity: me,
        user_id,
        lock: ProfileLock::new(dir)?,
        in_flight: Default::default(),
    })
}

/// Hands `data` (an inbox entry as JSON, if it is one) to the client, from
/// a cursor of 0. Returns whether it made a new history entry.
pub fn receive(data: &[u8]) -> bool {
    let Some(harness) = harness() else {
        return false;
    };
    let Ok(entry) = serde_json::from_slice::<InboxMessage>(data) else {
        return false;
    };
    harness.runtime.block_on(async {
        // Every input starts from the beginning of the inbox.
        let _ = harness.client.vault.put_now(records::CURSOR, &0i64).await;
        matches!(harness.client.receive(entry).await, Ok(Some(_)))
    })
}

/// Real entries for the fuzzer to start from: Peter's first message (with
/// and without a one-time prekey), a first message from a stranger, a
/// forged one naming Peter's key, my own self-copy, a group announcement,
/// and the same with the server's routing rewritten.
pub fn seeds() -> Vec<Vec<u8>> {
    let (Ok(me), Ok(peter), Ok(stranger)) =
        (fixed_identity(1), fixed_identity(2), fixed_identity(5))
    else {
        return Vec::new();
    };
    let my_id = crate::user_id_of(&me.public().sign_pub);
    let peter_id = crate::user_id_of(&peter.public().sign_pub);
    let prekeys = my_prekeys(&me);
    let Some(spk) = prekeys.current_signed_prekey() else {
        return Vec::new();
    };
    let bundle = |with_opk: bool| PreKeyBundle {
        identity: me.public(),
        spk_id: spk.id(),
        spk_pub: *spk.public(),
        spk_sig: *spk.signature(),
        opk: with_opk.then(|| {
            (
                OPK_ID,
                *OneTimePreKey::from_secret(OPK_ID, &[4; 32]).public(),
            )
        }),
    };
    let content = |body: &str, to: Value| {
        json!({"type": "text", "body": body, "id": "seed-1", "to": to, "expires_at": null})
            .to_string()
            .into_bytes()
    };
    let entry = |seq: i64, sender: &str, direction: &str, payload: Value, group: Value| {
        json!({"seq": seq, "id": seq, "direction": direction, "sender": sender,
               "sender_device": PETER_DEVICE, "recipient": my_id, "recipient_device": MY_DEVICE,
               "client_id": "seed-1", "group_id": group, "payload": payload,
               "sent_at": 1_800_000_000, "expires_at": null, "view_once": false,
               "media_path": null, "media_removed_at": null})
        .to_string()
        .into_bytes()
    };
    let mut seeds = Vec::new();
    let to_me = json!({"peer": my_id});
    for with_opk in [true, false] {
        if let Ok(mut session) = Session::initiate(&peter, &bundle(with_opk))
            && let Ok(first) = session.encrypt(&content("hi", to_me.clone()))
        {
            seeds.push(entry(
                1,
                &peter_id,
                "in",
                first.to_json_value(),
                Value::Null,
            ));
            if let Ok(second) = session.encrypt(&content("again", to_me.clone())) {
                seeds.push(entry(
                    2,
                    &peter_id,
                    "in",
                    second.to_json_value(),
                    Value::Null,
                ));
            }
        }
    }
    if let Ok(mut session) = Session::initiate(&stranger, &bundle(false))
        && let Ok(first) = session.encrypt(&content("who am i", to_me.clone()))
    {
        let stranger_id = crate::user_id_of(&stranger.public().sign_pub);
        seeds.push(entry(
            3,
            &stranger_id,
            "in",
            first.to_json_value(),
            Value::Null,
        ));
        // The same, routed as Peter's.
        seeds.push(entry(
            4,
            &peter_id,
            "in",
            first.to_json_value(),
            Value::Null,
        ));
    }
    if let Ok(forged) =
        glyph_crypto::vectors::impersonate(&peter.public().sign_pub, &stranger, &bundle(false))
            .and_then(|mut s| s.encrypt(&content("forged", to_me.clone())))
    {
        seeds.push(entry(
            5,
            &peter_id,
            "in",
            forged.to_json_value(),
            Value::Null,
        ));
    }
    let announcement = json!({"type": "group", "name": "seed", "members": [my_id, peter_id],
                              "added": [peter_id], "removed": [], "id": "seed-g",
                              "to": {"group": "9f3c0000000000000000000000000000"}, "expires_at": null});
    for (plaintext, group) in [
        (content("to peter", json!({"peer": peter_id})), Value::Null),
        (
            announcement.to_string().into_bytes(),
            json!("9f3c0000000000000000000000000000"),
        ),
    ] {
        if let Ok(copy) = SealedEnvelope::seal(me.signing(), &me.public().dh_pub, &plaintext) {
            seeds.push(entry(6, &my_id, "out", copy.to_json_value(), group.clone()));
            // Flipped: my own copy presented as received.
            seeds.push(entry(7, &my_id, "in", copy.to_json_value(), group));
        }
    }
    seeds
}
