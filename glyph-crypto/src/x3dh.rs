//! X3DH (spec section 3): first contact with a peer who may be offline.
//!
//! The responder publishes a signed prekey (SPK) and one-time prekeys (OPK);
//! the initiator verifies the bundle, makes an ephemeral key, and both sides
//! derive the same secret `SK` and associated data `AD` that start the
//! Double Ratchet.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::encoding::{Fields, b64, parse_json};
use crate::error::{DecodeError, Error};
use crate::identity::{Identity, PublicIdentity};
use crate::kdf::hkdf;
use crate::keys::{DhKeyPair, DhPublicKey, SIGNATURE_LEN, SigningPublicKey};
use crate::state_codec::{StateReader, StateWriter};

pub use crate::spec::AD_LEN;
use crate::spec::{SPK_LABEL, X3DH_LABEL};

/// `"glyph/spk/v1" || u32be(spk_id) || spk_pub`, what the SPK signature covers.
fn spk_signed_bytes(id: u32, public: &DhPublicKey) -> Vec<u8> {
    let mut message = Vec::with_capacity(SPK_LABEL.len() + 4 + 32);
    message.extend_from_slice(SPK_LABEL);
    message.extend_from_slice(&id.to_be_bytes());
    message.extend_from_slice(public.as_bytes());
    message
}

/// A signed prekey: an X25519 key pair with an id, signed by the identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPreKey {
    id: u32,
    pair: DhKeyPair,
    signature: [u8; SIGNATURE_LEN],
}

impl SignedPreKey {
    /// A fresh signed prekey with this id.
    pub fn generate(identity: &Identity, id: u32) -> Result<Self, Error> {
        Ok(Self::from_secret(
            identity,
            id,
            &DhKeyPair::generate()?.secret_bytes(),
        ))
    }

    /// The signed prekey with this secret (Ed25519 signatures are
    /// deterministic, so the signature is the same every time).
    pub fn from_secret(identity: &Identity, id: u32, secret: &[u8; 32]) -> Self {
        let pair = DhKeyPair::from_secret_bytes(secret);
        let signature = identity
            .signing()
            .sign(&spk_signed_bytes(id, pair.public()));
        Self {
            id,
            pair,
            signature,
        }
    }

    /// The id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The public key, to upload.
    pub fn public(&self) -> &DhPublicKey {
        self.pair.public()
    }

    /// The signature, to upload.
    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        &self.signature
    }

    pub(crate) fn pair(&self) -> &DhKeyPair {
        &self.pair
    }
}

/// Checks an SPK signature against the signing key that should have made it.
pub fn verify_signed_prekey(
    sign_pub: &SigningPublicKey,
    spk_id: u32,
    spk_pub: &DhPublicKey,
    signature: &[u8; SIGNATURE_LEN],
) -> Result<(), Error> {
    sign_pub.verify(&spk_signed_bytes(spk_id, spk_pub), signature)
}

/// A one-time prekey: an X25519 key pair with an id, used by one handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimePreKey {
    id: u32,
    pair: DhKeyPair,
}

impl OneTimePreKey {
    /// The one-time prekey with this id and secret.
    pub fn from_secret(id: u32, secret: &[u8; 32]) -> Self {
        Self {
            id,
            pair: DhKeyPair::from_secret_bytes(secret),
        }
    }

    /// The id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The public key, to upload.
    pub fn public(&self) -> &DhPublicKey {
        self.pair.public()
    }

    pub(crate) fn pair(&self) -> &DhKeyPair {
        &self.pair
    }
}

/// What a server hands out for a user: the identity, the current SPK and at
/// most one OPK.
///
/// JSON: `{"sign_pub","dh_pub","spk_id","spk_pub","spk_sig","opk_id"|null,"opk_pub"|null}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreKeyBundle {
    /// The user's public identity.
    pub identity: PublicIdentity,
    /// The signed prekey's id.
    pub spk_id: u32,
    /// The signed prekey.
    pub spk_pub: DhPublicKey,
    /// The identity's signature of the signed prekey.
    pub spk_sig: [u8; SIGNATURE_LEN],
    /// A one-time prekey and its id, when the server had one left.
    pub opk: Option<(u32, DhPublicKey)>,
}

impl PreKeyBundle {
    /// Checks the SPK signature against the bundle's signing key.
    pub fn verify(&self) -> Result<(), Error> {
        verify_signed_prekey(
            &self.identity.sign_pub,
            self.spk_id,
            &self.spk_pub,
            &self.spk_sig,
        )
    }

    /// The JSON form.
    pub fn to_json_value(&self) -> Value {
        json!({
            "sign_pub": self.identity.sign_pub.to_base64(),
            "dh_pub": self.identity.dh_pub.to_base64(),
            "spk_id": self.spk_id,
            "spk_pub": self.spk_pub.to_base64(),
            "spk_sig": b64(&self.spk_sig),
            "opk_id": self.opk.map(|(id, _)| id),
            "opk_pub": self.opk.map(|(_, key)| key.to_base64()),
        })
    }

    /// Parses the JSON form strictly; `opk_id` and `opk_pub` must be both
    /// present or both `null`. The signature is *not* checked here: call
    /// [`PreKeyBundle::verify`] (session set-up does).
    pub fn from_json_value(value: &Value) -> Result<Self, DecodeError> {
        let fields = Fields::of(value, "bundle")?;
        let opk = match (
            fields.nullable_u32("opk_id")?,
            fields.nullable_b64_array("opk_pub")?,
        ) {
            (Some(id), Some(key)) => Some((id, DhPublicKey::from_bytes(key))),
            (None, None) => None,
            (None, Some(_)) => return Err(DecodeError::WrongType("opk_id")),
            (Some(_), None) => return Err(DecodeError::WrongType("opk_pub")),
        };
        Ok(Self {
            identity: PublicIdentity::from_json_value(value)?,
            spk_id: fields.u32("spk_id")?,
            spk_pub: DhPublicKey::from_bytes(fields.b64_array("spk_pub")?),
            spk_sig: fields.b64_array("spk_sig")?,
            opk,
        })
    }

    /// Parses JSON text.
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        Self::from_json_value(&parse_json(text)?)
    }
}

/// The header the initiator attaches to its messages until it hears back:
/// `{"sign_pub","dh_pub","ek","spk_id","opk_id"|null}`.
///
/// The identity in it is a *claim*: before showing a message, the app checks
/// that these are the keys of the user it believes sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct X3dhHeader {
    /// The initiator's claimed identity.
    pub identity: PublicIdentity,
    /// The initiator's ephemeral key.
    pub ek: DhPublicKey,
    /// The responder's signed prekey used.
    pub spk_id: u32,
    /// The responder's one-time prekey used, if any.
    pub opk_id: Option<u32>,
}

impl X3dhHeader {
    /// The JSON form.
    pub fn to_json_value(&self) -> Value {
        json!({
            "sign_pub": self.identity.sign_pub.to_base64(),
            "dh_pub": self.identity.dh_pub.to_base64(),
            "ek": self.ek.to_base64(),
            "spk_id": self.spk_id,
            "opk_id": self.opk_id,
        })
    }

    /// Parses the JSON form strictly.
    pub fn from_json_value(value: &Value) -> Result<Self, DecodeError> {
        let fields = Fields::of(value, "x3dh")?;
        Ok(Self {
            identity: PublicIdentity::from_json_value(value)?,
            ek: DhPublicKey::from_bytes(fields.b64_array("ek")?),
            spk_id: fields.u32("spk_id")?,
            opk_id: fields.nullable_u32("opk_id")?,
        })
    }

    /// A digest of the header's five fields, which is what a responder
    /// remembers of a handshake that created a session (spec section 5,
    /// known limits): equal headers have equal digests.
    pub fn digest(&self) -> [u8; 32] {
        let mut out = StateWriter::new(HEADER_DIGEST_TAG, 1);
        self.write(&mut out);
        Sha256::digest(out.finish().as_slice()).into()
    }

    pub(crate) fn write(&self, out: &mut StateWriter) {
        out.bytes(&self.identity.to_bytes());
        out.bytes(self.ek.as_bytes());
        out.u32(self.spk_id);
        out.option_u32(self.opk_id);
    }

    pub(crate) fn read(input: &mut StateReader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            identity: PublicIdentity::from_bytes(&input.array()?)?,
            ek: DhPublicKey::from_bytes(input.array()?),
            spk_id: input.u32()?,
            opk_id: input.option_u32()?,
        })
    }
}

/// The secret and associated data both sides derive.
pub(crate) struct Agreement {
    pub(crate) sk: Zeroizing<[u8; 32]>,
    pub(crate) ad: [u8; AD_LEN],
}

/// `AD = sign_pub_A || dh_pub_A || sign_pub_B || dh_pub_B`.
pub(crate) fn associated_data(
    initiator: &PublicIdentity,
    responder: &PublicIdentity,
) -> [u8; AD_LEN] {
    let mut ad = [0u8; AD_LEN];
    ad[..64].copy_from_slice(&initiator.to_bytes());
    ad[64..].copy_from_slice(&responder.to_bytes());
    ad
}

/// `SK = HKDF(0xFF*32 || DH1 || DH2 || DH3 [|| DH4], 0x00*32, "glyph/x3dh/v1", 32)`.
fn derive_sk(outputs: &[Zeroizing<[u8; 32]>]) -> Result<Zeroizing<[u8; 32]>, Error> {
    let mut ikm = Zeroizing::new(Vec::with_capacity(32 * 5));
    ikm.extend_from_slice(&[0xff; 32]);
    for output in outputs {
        ikm.extend_from_slice(output.as_ref());
    }
    hkdf::<32>(&ikm, &[0u8; 32], X3DH_LABEL)
}

/// The initiator's side: verifies the bundle (aborting on a bad SPK
/// signature), then derives `SK` and `AD` and the header to attach.
#[cfg(feature = "vectors")]
pub(crate) fn initiate(
    me: &Identity,
    bundle: &PreKeyBundle,
    ek: &DhKeyPair,
) -> Result<(Agreement, X3dhHeader), Error> {
    initiate_as(&me.public(), me.dh(), bundle, ek)
}

/// The initiator's side as `claimed`, holding only the DH secret `dh`.
/// X3DH never uses the initiator's signing key, which is why the header's
/// identity is only a claim (spec section 3): whoever holds *a* DH key can
/// start a session that names anyone's signing key beside it.
pub(crate) fn initiate_as(
    claimed: &PublicIdentity,
    dh: &DhKeyPair,
    bundle: &PreKeyBundle,
    ek: &DhKeyPair,
) -> Result<(Agreement, X3dhHeader), Error> {
    bundle.verify()?;
    let mut outputs = vec![
        dh.diffie_hellman(&bundle.spk_pub)?,
        ek.diffie_hellman(&bundle.identity.dh_pub)?,
        ek.diffie_hellman(&bundle.spk_pub)?,
    ];
    if let Some((_, opk)) = &bundle.opk {
        outputs.push(ek.diffie_hellman(opk)?);
    }
    let header = X3dhHeader {
        identity: *claimed,
        ek: *ek.public(),
        spk_id: bundle.spk_id,
        opk_id: bundle.opk.map(|(id, _)| id),
    };
    let agreement = Agreement {
        sk: derive_sk(&outputs)?,
        ad: associated_data(claimed, &bundle.identity),
    };
    Ok((agreement, header))
}

/// The responder's side, from the header and the prekeys it names.
pub(crate) fn respond(
    me: &Identity,
    spk: &DhKeyPair,
    opk: Option<&DhKeyPair>,
    header: &X3dhHeader,
) -> Result<Agreement, Error> {
    let mut outputs = vec![
        spk.diffie_hellman(&header.identity.dh_pub)?,
        me.dh().diffie_hellman(&header.ek)?,
        spk.diffie_hellman(&header.ek)?,
    ];
    if let Some(opk) = opk {
        outputs.push(opk.diffie_hellman(&header.ek)?);
    }
    Ok(Agreement {
        sk: derive_sk(&outputs)?,
        ad: associated_data(&header.identity, &me.public()),
    })
}

/// A user's own prekeys: the signed prekeys still honoured (the newest is
/// the one to publish; older ones stay until messages in flight have
/// arrived) and the one-time prekeys not yet used.
///
/// An app keeps [`PreKeyStore::to_bytes`] in its (encrypted) storage.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PreKeyStore {
    signed: Vec<SignedPreKey>,
    one_time: BTreeMap<u32, OneTimePreKey>,
    next_signed_id: u32,
    next_one_time_id: u32,
    /// Per signed prekey id, the digests of the headers that created a
    /// session on it: a first message is never accepted twice as a new
    /// handshake, even after its session was evicted. Forgotten with the
    /// signed prekey, since a header naming a retired one fails anyway.
    used_headers: BTreeMap<u32, BTreeSet<[u8; 32]>>,
}

const PREKEYS_MAGIC: &[u8; 4] = b"GLPK";
/// Version 2 adds the digests of the headers that created sessions.
const PREKEYS_VERSION: u8 = 2;
/// The tag in front of the header bytes a digest covers.
const HEADER_DIGEST_TAG: &[u8; 4] = b"GLXH";

impl PreKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes a new signed prekey, which becomes the one to publish. Older
    /// ones are kept until [`PreKeyStore::retire_signed_prekeys`].
    /// Returns a copy of it, to publish.
    pub fn rotate_signed_prekey(&mut self, identity: &Identity) -> Result<SignedPreKey, Error> {
        let id = self.next_signed_id;
        let spk = SignedPreKey::generate(identity, id)?;
        self.next_signed_id = id.wrapping_add(1);
        self.signed.push(spk.clone());
        Ok(spk)
    }

    /// Adds a signed prekey made elsewhere (for instance from test inputs).
    pub fn insert_signed_prekey(&mut self, spk: SignedPreKey) {
        self.next_signed_id = self.next_signed_id.max(spk.id.wrapping_add(1));
        self.signed.retain(|old| old.id != spk.id);
        self.signed.push(spk);
    }

    /// The signed prekey to publish (the newest), if any.
    pub fn current_signed_prekey(&self) -> Option<&SignedPreKey> {
        self.signed.last()
    }

    /// Forgets all signed prekeys but the newest `keep` (and what was
    /// remembered of the handshakes made on them).
    pub fn retire_signed_prekeys(&mut self, keep: usize) {
        let excess = self.signed.len().saturating_sub(keep.max(1));
        self.signed.drain(..excess);
        let live: BTreeSet<u32> = self.signed.iter().map(|spk| spk.id).collect();
        self.used_headers.retain(|id, _| live.contains(id));
    }

    /// Whether a handshake with this header already created a session here.
    pub fn handshake_seen(&self, header: &X3dhHeader) -> bool {
        self.used_headers
            .get(&header.spk_id)
            .is_some_and(|seen| seen.contains(&header.digest()))
    }

    /// Remembers that a handshake with this header created a session.
    pub(crate) fn remember_handshake(&mut self, header: &X3dhHeader) {
        self.used_headers
            .entry(header.spk_id)
            .or_default()
            .insert(header.digest());
    }

    /// Makes `count` new one-time prekeys and returns their ids and public
    /// keys, to upload.
    pub fn generate_one_time_prekeys(
        &mut self,
        count: u32,
    ) -> Result<Vec<(u32, DhPublicKey)>, Error> {
        let mut uploaded = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let id = self.next_one_time_id;
            let opk = OneTimePreKey::from_secret(id, &DhKeyPair::generate()?.secret_bytes());
            uploaded.push((id, *opk.public()));
            self.one_time.insert(id, opk);
            self.next_one_time_id = id.wrapping_add(1);
        }
        Ok(uploaded)
    }

    /// Adds a one-time prekey made elsewhere.
    pub fn insert_one_time_prekey(&mut self, opk: OneTimePreKey) {
        self.next_one_time_id = self.next_one_time_id.max(opk.id.wrapping_add(1));
        self.one_time.insert(opk.id, opk);
    }

    /// How many one-time prekeys are unused.
    pub fn one_time_count(&self) -> usize {
        self.one_time.len()
    }

    pub(crate) fn signed(&self, id: u32) -> Option<&SignedPreKey> {
        self.signed.iter().find(|spk| spk.id == id)
    }

    pub(crate) fn one_time(&self, id: u32) -> Option<&OneTimePreKey> {
        self.one_time.get(&id)
    }

    /// Deletes a one-time prekey's secret: it has served its one handshake.
    pub(crate) fn consume_one_time(&mut self, id: u32) {
        self.one_time.remove(&id);
    }

    /// The store as versioned bytes (secrets included; wiped when dropped).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = StateWriter::new(PREKEYS_MAGIC, PREKEYS_VERSION);
        out.u32(self.next_signed_id);
        out.u32(self.next_one_time_id);
        out.u32(self.signed.len() as u32);
        for spk in &self.signed {
            out.u32(spk.id);
            out.bytes(&*spk.pair.secret_bytes());
            out.bytes(&spk.signature);
        }
        out.u32(self.one_time.len() as u32);
        for opk in self.one_time.values() {
            out.u32(opk.id);
            out.bytes(&*opk.pair.secret_bytes());
        }
        out.u32(self.used_headers.len() as u32);
        for (spk_id, digests) in &self.used_headers {
            out.u32(*spk_id);
            out.u32(digests.len() as u32);
            for digest in digests {
                out.bytes(digest);
            }
        }
        out.finish()
    }

    /// Reads bytes written by [`PreKeyStore::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (mut input, version) = StateReader::new(bytes, PREKEYS_MAGIC)?;
        if !(1..=PREKEYS_VERSION).contains(&version) {
            return Err(DecodeError::State("unknown prekey store version"));
        }
        let mut store = Self {
            next_signed_id: input.u32()?,
            next_one_time_id: input.u32()?,
            ..Self::default()
        };
        for _ in 0..input.u32()? {
            let id = input.u32()?;
            let secret = Zeroizing::new(input.array::<32>()?);
            store.signed.push(SignedPreKey {
                id,
                pair: DhKeyPair::from_secret_bytes(&secret),
                signature: input.array()?,
            });
        }
        for _ in 0..input.u32()? {
            let id = input.u32()?;
            let secret = Zeroizing::new(input.array::<32>()?);
            store
                .one_time
                .insert(id, OneTimePreKey::from_secret(id, &secret));
        }
        if version >= 2 {
            for _ in 0..input.u32()? {
                let spk_id = input.u32()?;
                let seen = store.used_headers.entry(spk_id).or_default();
                for _ in 0..input.u32()? {
                    seen.insert(input.array()?);
                }
            }
        }
        input.finish()?;
        Ok(store)
    }
}
