//! The Double Ratchet (spec section 4), without header encryption.
//!
//! Every change to the state happens only after a message has authenticated:
//! `decrypt` computes what the new state would be into locals, opens the
//! message, and only then commits. A failed decryption therefore leaves the
//! state exactly as it was, and the next ratchet key is generated only as
//! part of a successful one.

use std::collections::VecDeque;

use zeroize::Zeroizing;

use crate::aead::{xchacha_open, xchacha_seal};
use crate::error::{DecodeError, Error};
use crate::kdf::{hkdf, hkdf_zero_salt, hmac_pair};
use crate::keys::{DhKeyPair, DhPublicKey};
use crate::state_codec::{StateReader, StateWriter};
use crate::x3dh::AD_LEN;

pub use crate::spec::{MAX_SKIP, MAX_STORED_SKIPPED, RATCHET_HEADER_LEN};
use crate::spec::{RATCHET_MK_LABEL, RATCHET_RK_LABEL};

type Key = Zeroizing<[u8; 32]>;

/// The clear header of a ratchet message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatchetHeader {
    /// The sender's current ratchet public key.
    pub dh: DhPublicKey,
    /// How many messages the sender sent on its previous sending chain.
    pub pn: u32,
    /// This message's number in its chain.
    pub n: u32,
}

impl RatchetHeader {
    /// The 40-byte wire form.
    pub fn to_bytes(&self) -> [u8; RATCHET_HEADER_LEN] {
        let mut out = [0u8; RATCHET_HEADER_LEN];
        out[..32].copy_from_slice(self.dh.as_bytes());
        out[32..36].copy_from_slice(&self.pn.to_be_bytes());
        out[36..].copy_from_slice(&self.n.to_be_bytes());
        out
    }

    /// Parses the 40-byte wire form.
    pub fn from_bytes(bytes: &[u8; RATCHET_HEADER_LEN]) -> Self {
        let (dh, counters) = bytes.split_at(32);
        let mut dh_bytes = [0u8; 32];
        dh_bytes.copy_from_slice(dh);
        let mut pn = [0u8; 4];
        pn.copy_from_slice(&counters[..4]);
        let mut n = [0u8; 4];
        n.copy_from_slice(&counters[4..]);
        Self {
            dh: DhPublicKey::from_bytes(dh_bytes),
            pn: u32::from_be_bytes(pn),
            n: u32::from_be_bytes(n),
        }
    }
}

/// `KDF_RK(rk, dh_out)`: the next root key and a new chain key.
fn kdf_rk(rk: &[u8; 32], dh_out: &[u8; 32]) -> Result<(Key, Key), Error> {
    let okm = hkdf::<64>(dh_out, rk, RATCHET_RK_LABEL)?;
    let (mut root, mut chain) = (Key::default(), Key::default());
    root.copy_from_slice(&okm[..32]);
    chain.copy_from_slice(&okm[32..]);
    Ok((root, chain))
}

/// `KDF_CK(ck)`: the next chain key and this step's message key.
fn kdf_ck(ck: &[u8; 32]) -> Result<(Key, Key), Error> {
    #[cfg(test)]
    tests::CHAIN_STEPS.with(|steps| steps.set(steps.get() + 1));
    hmac_pair(ck, &[0x02], &[0x01])
}

/// The AEAD key and nonce of one message key.
fn message_keys(mk: &[u8; 32]) -> Result<(Key, [u8; 24]), Error> {
    let okm = hkdf_zero_salt::<56>(mk, RATCHET_MK_LABEL)?;
    let mut key = Key::default();
    key.copy_from_slice(&okm[..32]);
    let mut nonce = [0u8; 24];
    nonce.copy_from_slice(&okm[32..]);
    Ok((key, nonce))
}

/// `AD || header`, the associated data of a ratchet ciphertext.
fn message_aad(ad: &[u8; AD_LEN], header: &RatchetHeader) -> [u8; AD_LEN + RATCHET_HEADER_LEN] {
    let mut aad = [0u8; AD_LEN + RATCHET_HEADER_LEN];
    aad[..AD_LEN].copy_from_slice(ad);
    aad[AD_LEN..].copy_from_slice(&header.to_bytes());
    aad
}

fn open(
    mk: &[u8; 32],
    ad: &[u8; AD_LEN],
    header: &RatchetHeader,
    ct: &[u8],
) -> Result<Vec<u8>, Error> {
    let (key, nonce) = message_keys(mk)?;
    xchacha_open(&key, &nonce, ct, &message_aad(ad, header))
}

/// A message key kept for a message that has not arrived yet.
#[derive(Clone)]
struct SkippedKey {
    dh: DhPublicKey,
    n: u32,
    mk: Key,
}

/// Walks a receiving chain from position `from` to `until`, returning the
/// message keys passed over and the chain key at `until`.
fn skip_chain(
    ck: &[u8; 32],
    dh: DhPublicKey,
    from: u32,
    until: u32,
) -> Result<(Vec<SkippedKey>, Key), Error> {
    let mut chain = Key::new(*ck);
    let mut skipped = Vec::with_capacity(until.saturating_sub(from) as usize);
    for n in from..until {
        let (next, mk) = kdf_ck(&chain)?;
        skipped.push(SkippedKey { dh, n, mk });
        chain = next;
    }
    Ok((skipped, chain))
}

/// Refuses a skip past `nr + MAX_SKIP`, before any key is derived.
fn check_skip(nr: u32, until: u32) -> Result<(), Error> {
    if u64::from(until) > u64::from(nr) + u64::from(MAX_SKIP) {
        Err(Error::TooManySkipped)
    } else {
        Ok(())
    }
}

/// One side's Double Ratchet state.
#[derive(Clone)]
pub(crate) struct Ratchet {
    dhs: DhKeyPair,
    dhr: Option<DhPublicKey>,
    rk: Key,
    cks: Option<Key>,
    ckr: Option<Key>,
    ns: u32,
    nr: u32,
    pn: u32,
    skipped: VecDeque<SkippedKey>,
}

impl Ratchet {
    /// The initiator's start: `DHs` fresh, `DHr = SPK_B`, one root step.
    pub(crate) fn initiator(
        sk: &[u8; 32],
        their_spk: &DhPublicKey,
        dhs: DhKeyPair,
    ) -> Result<Self, Error> {
        let (rk, cks) = kdf_rk(sk, &*dhs.diffie_hellman(their_spk)?)?;
        Ok(Self {
            dhs,
            dhr: Some(*their_spk),
            rk,
            cks: Some(cks),
            ckr: None,
            ns: 0,
            nr: 0,
            pn: 0,
            skipped: VecDeque::new(),
        })
    }

    /// The responder's start: `DHs = SPK_B`, `RK = SK`, nothing to send on yet.
    pub(crate) fn responder(sk: &[u8; 32], spk: DhKeyPair) -> Self {
        Self {
            dhs: spk,
            dhr: None,
            rk: Key::new(*sk),
            cks: None,
            ckr: None,
            ns: 0,
            nr: 0,
            pn: 0,
            skipped: VecDeque::new(),
        }
    }

    /// Encrypts the next message of the sending chain.
    pub(crate) fn encrypt(
        &mut self,
        ad: &[u8; AD_LEN],
        plaintext: &[u8],
    ) -> Result<(RatchetHeader, Vec<u8>), Error> {
        let cks = self.cks.as_ref().ok_or(Error::NoSession)?;
        let next_ns = self.ns.checked_add(1).ok_or(Error::TooLarge)?;
        let (next_ck, mk) = kdf_ck(cks)?;
        let header = RatchetHeader {
            dh: *self.dhs.public(),
            pn: self.pn,
            n: self.ns,
        };
        let (key, nonce) = message_keys(&mk)?;
        let ct = xchacha_seal(&key, &nonce, plaintext, &message_aad(ad, &header))?;
        self.cks = Some(next_ck);
        self.ns = next_ns;
        Ok((header, ct))
    }

    /// The sending chain's ratchet public key and the position its next
    /// message takes, if there is a sending chain yet.
    pub(crate) fn sending_position(&self) -> Option<(DhPublicKey, u32)> {
        self.cks.as_ref().map(|_| (*self.dhs.public(), self.ns))
    }

    /// Moves the sending chain forward to position `next`, deriving and
    /// discarding the message keys passed over, so that no key below
    /// `next` can be used again. A position at or behind the current one
    /// changes nothing; one more than `MAX_SKIP` ahead is refused (the
    /// receiver would refuse the gap), leaving the state untouched.
    pub(crate) fn skip_sending_to(&mut self, next: u32) -> Result<(), Error> {
        let Some(cks) = self.cks.as_ref() else {
            return Err(Error::NoSession);
        };
        if next <= self.ns {
            return Ok(());
        }
        check_skip(self.ns, next)?;
        let mut chain = Key::new(**cks);
        for _ in self.ns..next {
            chain = kdf_ck(&chain)?.0;
        }
        self.cks = Some(chain);
        self.ns = next;
        Ok(())
    }

    /// Decrypts a message; on any failure the state is untouched.
    /// `next_ratchet_key` is called only when the message starts a new
    /// receiving chain and has already authenticated.
    pub(crate) fn decrypt(
        &mut self,
        ad: &[u8; AD_LEN],
        header: &RatchetHeader,
        ct: &[u8],
        next_ratchet_key: &mut dyn FnMut() -> Result<DhKeyPair, Error>,
    ) -> Result<Vec<u8>, Error> {
        if let Some(index) = self
            .skipped
            .iter()
            .position(|k| k.dh == header.dh && k.n == header.n)
        {
            let plaintext = self
                .skipped
                .get(index)
                .ok_or(Error::DecryptionFailed)
                .and_then(|key| open(&key.mk, ad, header, ct))?;
            self.skipped.remove(index);
            return Ok(plaintext);
        }
        if self.dhr == Some(header.dh) {
            self.decrypt_on_current_chain(ad, header, ct)
        } else {
            self.decrypt_on_new_chain(ad, header, ct, next_ratchet_key)
        }
    }

    fn decrypt_on_current_chain(
        &mut self,
        ad: &[u8; AD_LEN],
        header: &RatchetHeader,
        ct: &[u8],
    ) -> Result<Vec<u8>, Error> {
        if header.n < self.nr {
            return Err(Error::Duplicate);
        }
        check_skip(self.nr, header.n)?;
        let ckr = self.ckr.as_ref().ok_or(Error::DecryptionFailed)?;
        let (skipped, chain) = skip_chain(ckr, header.dh, self.nr, header.n)?;
        let (next_ck, mk) = kdf_ck(&chain)?;
        let plaintext = open(&mk, ad, header, ct)?;
        self.ckr = Some(next_ck);
        self.nr = header.n.checked_add(1).ok_or(Error::TooLarge)?;
        self.store_skipped(skipped);
        Ok(plaintext)
    }

    fn decrypt_on_new_chain(
        &mut self,
        ad: &[u8; AD_LEN],
        header: &RatchetHeader,
        ct: &[u8],
        next_ratchet_key: &mut dyn FnMut() -> Result<DhKeyPair, Error>,
    ) -> Result<Vec<u8>, Error> {
        // Both bounds first, as Signal's SkipMessageKeys does: even with no
        // receiving chain yet, a `pn` past `Nr + MAX_SKIP` is refused.
        check_skip(self.nr, header.pn)?;
        check_skip(0, header.n)?;
        let mut skipped = match (&self.ckr, self.dhr) {
            (Some(ckr), Some(dhr)) => skip_chain(ckr, dhr, self.nr, header.pn)?.0,
            _ => Vec::new(),
        };
        let (rk, ckr) = kdf_rk(&self.rk, &*self.dhs.diffie_hellman(&header.dh)?)?;
        let (new_skipped, chain) = skip_chain(&ckr, header.dh, 0, header.n)?;
        let (next_ckr, mk) = kdf_ck(&chain)?;
        let plaintext = open(&mk, ad, header, ct)?;

        let dhs = next_ratchet_key()?;
        let (next_rk, cks) = kdf_rk(&rk, &*dhs.diffie_hellman(&header.dh)?)?;
        let nr = header.n.checked_add(1).ok_or(Error::TooLarge)?;
        self.pn = self.ns;
        self.ns = 0;
        self.nr = nr;
        self.dhr = Some(header.dh);
        self.dhs = dhs;
        self.rk = next_rk;
        self.cks = Some(cks);
        self.ckr = Some(next_ckr);
        skipped.extend(new_skipped);
        self.store_skipped(skipped);
        Ok(plaintext)
    }

    fn store_skipped(&mut self, keys: Vec<SkippedKey>) {
        self.skipped.extend(keys);
        while self.skipped.len() > MAX_STORED_SKIPPED {
            self.skipped.pop_front();
        }
    }

    /// How many skipped message keys are stored.
    pub(crate) fn skipped_len(&self) -> usize {
        self.skipped.len()
    }

    pub(crate) fn write(&self, out: &mut StateWriter) {
        out.bytes(&*self.dhs.secret_bytes());
        out.option(self.dhr.as_ref().map(DhPublicKey::as_bytes));
        out.bytes(&*self.rk);
        out.option(self.cks.as_deref());
        out.option(self.ckr.as_deref());
        out.u32(self.ns);
        out.u32(self.nr);
        out.u32(self.pn);
        out.u32(self.skipped.len() as u32);
        for key in &self.skipped {
            out.bytes(key.dh.as_bytes());
            out.u32(key.n);
            out.bytes(&*key.mk);
        }
    }

    pub(crate) fn read(input: &mut StateReader<'_>) -> Result<Self, DecodeError> {
        let dhs = DhKeyPair::from_secret_bytes(&Zeroizing::new(input.array::<32>()?));
        let dhr = input.option::<32>()?.map(DhPublicKey::from_bytes);
        let rk = Key::new(input.array()?);
        let cks = input.option::<32>()?.map(Key::new);
        let ckr = input.option::<32>()?.map(Key::new);
        let (ns, nr, pn) = (input.u32()?, input.u32()?, input.u32()?);
        let count = input.u32()? as usize;
        if count > MAX_STORED_SKIPPED {
            return Err(DecodeError::State("too many skipped keys"));
        }
        let mut skipped = VecDeque::with_capacity(count);
        for _ in 0..count {
            skipped.push_back(SkippedKey {
                dh: DhPublicKey::from_bytes(input.array()?),
                n: input.u32()?,
                mk: Key::new(input.array()?),
            });
        }
        Ok(Self {
            dhs,
            dhr,
            rk,
            cks,
            ckr,
            ns,
            nr,
            pn,
            skipped,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    thread_local! {
        /// How many times `kdf_ck` ran on this thread.
        pub(super) static CHAIN_STEPS: Cell<u64> = const { Cell::new(0) };
    }

    fn steps() -> u64 {
        CHAIN_STEPS.with(Cell::get)
    }

    fn pair() -> (Ratchet, Ratchet) {
        let sk = [1u8; 32];
        let spk = DhKeyPair::from_secret_bytes(&[2u8; 32]);
        let alice = Ratchet::initiator(&sk, spk.public(), DhKeyPair::from_secret_bytes(&[3u8; 32]))
            .unwrap();
        (alice, Ratchet::responder(&sk, spk))
    }

    #[test]
    fn a_message_too_far_ahead_is_refused_before_any_key_is_derived() {
        let ad = [0u8; AD_LEN];
        let (mut alice, mut bob) = pair();
        let (header, ct) = alice.encrypt(&ad, b"first").unwrap();
        bob.decrypt(&ad, &header, &ct, &mut DhKeyPair::generate)
            .unwrap();
        for (pn, n, same_chain) in [
            (0, MAX_SKIP + 2, true),
            (0, u32::MAX, true),
            (u32::MAX, 0, false),
            (0, MAX_SKIP + 1, false),
        ] {
            let dh = if same_chain {
                header.dh
            } else {
                *DhKeyPair::generate().unwrap().public()
            };
            let forged = RatchetHeader { dh, pn, n };
            let before = steps();
            let err = bob
                .decrypt(&ad, &forged, &ct, &mut DhKeyPair::generate)
                .unwrap_err();
            assert_eq!(err, Error::TooManySkipped, "pn {pn} n {n}");
            assert_eq!(
                steps(),
                before,
                "chain keys were derived before refusing pn {pn} n {n}"
            );
        }
    }

    #[test]
    fn exactly_max_skip_is_allowed_and_one_more_is_not() {
        let ad = [0u8; AD_LEN];
        let (mut alice, mut bob) = pair();
        let mut messages = Vec::new();
        for _ in 0..=MAX_SKIP + 1 {
            messages.push(alice.encrypt(&ad, b"m").unwrap());
        }
        // n = MAX_SKIP + 1 on a new chain needs MAX_SKIP + 1 skipped keys.
        let (h, ct) = &messages[MAX_SKIP as usize + 1];
        assert_eq!(
            bob.decrypt(&ad, h, ct, &mut DhKeyPair::generate)
                .unwrap_err(),
            Error::TooManySkipped
        );
        let (h, ct) = &messages[MAX_SKIP as usize];
        bob.decrypt(&ad, h, ct, &mut DhKeyPair::generate).unwrap();
        assert_eq!(bob.skipped_len(), MAX_SKIP as usize);
    }

    #[test]
    fn header_round_trips() {
        let header = RatchetHeader {
            dh: DhPublicKey::from_bytes([9; 32]),
            pn: 7,
            n: u32::MAX,
        };
        assert_eq!(RatchetHeader::from_bytes(&header.to_bytes()), header);
    }
}
