//! X3DH and Double Ratchet sessions: the handshake rules, every failure
//! leaving the state as it was, persistence, and the choice among a peer's
//! sessions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64ct::{Base64, Encoding};
use glyph_crypto::{
    EnvelopeV2, Error, Identity, MAX_SESSIONS_PER_PEER, MAX_SKIP, MAX_STORED_SKIPPED, Mnemonic,
    PeerSessions, PreKeyBundle, PreKeyStore, SendingPosition, Session,
};

struct User {
    id: Identity,
    prekeys: PreKeyStore,
}

impl User {
    fn new() -> Self {
        let id = Identity::from_mnemonic(&Mnemonic::generate().unwrap(), "").unwrap();
        let mut prekeys = PreKeyStore::new();
        prekeys.rotate_signed_prekey(&id).unwrap();
        Self { id, prekeys }
    }

    /// A bundle as the server would hand out: with the next unused OPK, or
    /// none when `with_opk` is false.
    fn bundle(&mut self, with_opk: bool) -> PreKeyBundle {
        let opk = with_opk.then(|| self.prekeys.generate_one_time_prekeys(1).unwrap()[0]);
        let spk = self.prekeys.current_signed_prekey().unwrap();
        PreKeyBundle {
            identity: self.id.public(),
            spk_id: spk.id(),
            spk_pub: *spk.public(),
            spk_sig: *spk.signature(),
            opk,
        }
    }
}

/// Alice starts a session with Bob and Bob answers; returns both sessions.
fn converse(alice: &User, bob: &mut User, with_opk: bool) -> (Session, Session) {
    let mut a = Session::initiate(&alice.id, &bob.bundle(with_opk)).unwrap();
    let first = a.encrypt(b"hello").unwrap();
    let (mut b, plaintext) = Session::respond(&bob.id, &mut bob.prekeys, &first).unwrap();
    assert_eq!(plaintext, b"hello");
    let reply = b.encrypt(b"hi").unwrap();
    assert_eq!(a.decrypt(&reply).unwrap(), b"hi");
    (a, b)
}

#[test]
fn handshake_with_and_without_a_one_time_prekey() {
    let alice = User::new();
    let mut bob = User::new();
    for with_opk in [true, false] {
        let (a, b) = converse(&alice, &mut bob, with_opk);
        assert_eq!(a.peer(), bob.id.public());
        assert_eq!(b.peer(), alice.id.public());
        assert!(a.is_initiator() && !b.is_initiator());
    }
    assert_eq!(
        bob.prekeys.one_time_count(),
        0,
        "the used OPK was not deleted"
    );
}

#[test]
fn a_bundle_with_a_bad_signature_aborts() {
    let alice = User::new();
    let mut bob = User::new();
    let mut bundle = bob.bundle(true);
    bundle.spk_sig[0] ^= 1;
    assert_eq!(
        Session::initiate(&alice.id, &bundle).unwrap_err(),
        Error::BadSignature
    );
    // A prekey signed by someone else is just as bad.
    let mut bundle = bob.bundle(true);
    bundle.identity = alice.id.public();
    assert_eq!(
        Session::initiate(&alice.id, &bundle).unwrap_err(),
        Error::BadSignature
    );
    assert!(bob.bundle(false).verify().is_ok());
}

#[test]
fn a_one_time_prekey_serves_one_handshake_only() {
    let alice = User::new();
    let mut bob = User::new();
    let bundle = bob.bundle(true);
    let mut a1 = Session::initiate(&alice.id, &bundle).unwrap();
    let mut a2 = Session::initiate(&alice.id, &bundle).unwrap();
    let first = a1.encrypt(b"one").unwrap();
    Session::respond(&bob.id, &mut bob.prekeys, &first).unwrap();
    let opk_id = bundle.opk.unwrap().0;
    let second = a2.encrypt(b"two").unwrap();
    let before = bob.prekeys.to_bytes();
    assert_eq!(
        Session::respond(&bob.id, &mut bob.prekeys, &second).unwrap_err(),
        Error::UnknownPreKey(opk_id)
    );
    // Replaying the first message to a fresh responder state fails the same way.
    assert_eq!(
        Session::respond(&bob.id, &mut bob.prekeys, &first).unwrap_err(),
        Error::UnknownPreKey(opk_id)
    );
    assert_eq!(bob.prekeys.to_bytes(), before);
}

#[test]
fn a_failed_first_message_does_not_use_up_the_one_time_prekey() {
    let alice = User::new();
    let mut bob = User::new();
    let mut a = Session::initiate(&alice.id, &bob.bundle(true)).unwrap();
    let mut first = a.encrypt(b"hello").unwrap();
    first.msg.ct[0] ^= 1;
    assert_eq!(
        Session::respond(&bob.id, &mut bob.prekeys, &first).unwrap_err(),
        Error::DecryptionFailed
    );
    assert_eq!(bob.prekeys.one_time_count(), 1);
    first.msg.ct[0] ^= 1;
    assert!(Session::respond(&bob.id, &mut bob.prekeys, &first).is_ok());
}

#[test]
fn an_unknown_signed_prekey_is_refused() {
    let alice = User::new();
    let mut bob = User::new();
    let mut a = Session::initiate(&alice.id, &bob.bundle(false)).unwrap();
    let first = a.encrypt(b"hello").unwrap();
    let spk_id = first.x3dh.unwrap().spk_id;
    bob.prekeys.rotate_signed_prekey(&bob.id).unwrap();
    bob.prekeys.retire_signed_prekeys(1);
    assert_eq!(
        Session::respond(&bob.id, &mut bob.prekeys, &first).unwrap_err(),
        Error::UnknownPreKey(spk_id)
    );
}

#[test]
fn the_initiator_attaches_its_header_until_it_hears_back_and_refuses_one() {
    let alice = User::new();
    let mut bob = User::new();
    let mut a = Session::initiate(&alice.id, &bob.bundle(true)).unwrap();
    let m1 = a.encrypt(b"1").unwrap();
    let m2 = a.encrypt(b"2").unwrap();
    assert!(m1.x3dh.is_some() && m1.x3dh == m2.x3dh);
    let (mut b, _) = Session::respond(&bob.id, &mut bob.prekeys, &m1).unwrap();
    assert_eq!(b.decrypt(&m2).unwrap(), b"2");
    let mut reply = b.encrypt(b"r").unwrap();
    assert!(reply.x3dh.is_none(), "the responder never sends a header");
    // A reply dressed up with a header is refused, and changes nothing.
    reply.x3dh = m1.x3dh;
    let before = a.to_bytes();
    assert_eq!(a.decrypt(&reply).unwrap_err(), Error::UnexpectedHeader);
    assert_eq!(a.to_bytes(), before);
    reply.x3dh = None;
    a.decrypt(&reply).unwrap();
    assert!(a.encrypt(b"3").unwrap().x3dh.is_none());
}

/// Flips one bit of a base64 field of the envelope's `msg`.
fn flip(envelope: &EnvelopeV2, field: &str, bit: usize) -> Option<EnvelopeV2> {
    let mut json = envelope.to_json_value();
    let mut bytes = Base64::decode_vec(json["msg"][field].as_str().unwrap()).unwrap();
    bytes[bit / 8] ^= 1 << (bit % 8);
    json["msg"][field] = Base64::encode_string(&bytes).into();
    EnvelopeV2::from_json_value(&json).ok()
}

#[test]
fn every_bit_flip_of_header_or_ciphertext_is_refused_without_a_state_change() {
    let alice = User::new();
    let mut bob = User::new();
    let (mut a, mut b) = converse(&alice, &mut bob, true);
    // One message on the running chain, one that starts a new chain.
    let running = b.encrypt(b"same chain").unwrap();
    a.encrypt(b"x").unwrap();
    let mut tried = 0;
    for (envelope, receiver) in [(&running, &mut a)] {
        let before = receiver.to_bytes();
        for field in ["header", "ct"] {
            let bits = envelope.to_json_value()["msg"][field]
                .as_str()
                .map(|t| Base64::decode_vec(t).unwrap().len() * 8)
                .unwrap();
            for bit in 0..bits {
                let Some(tampered) = flip(envelope, field, bit) else {
                    continue;
                };
                assert!(
                    receiver.decrypt(&tampered).is_err(),
                    "{field} bit {bit} accepted"
                );
                assert_eq!(
                    receiver.to_bytes(),
                    before,
                    "{field} bit {bit} changed the state"
                );
                tried += 1;
            }
        }
        assert_eq!(receiver.decrypt(envelope).unwrap(), b"same chain");
    }
    let new_chain = a.encrypt(b"new chain").unwrap();
    let before = b.to_bytes();
    for field in ["header", "ct"] {
        let bits = new_chain.to_json_value()["msg"][field]
            .as_str()
            .map(|t| Base64::decode_vec(t).unwrap().len() * 8)
            .unwrap();
        for bit in 0..bits {
            let Some(tampered) = flip(&new_chain, field, bit) else {
                continue;
            };
            assert!(b.decrypt(&tampered).is_err(), "{field} bit {bit} accepted");
            assert_eq!(b.to_bytes(), before, "{field} bit {bit} changed the state");
            tried += 1;
        }
    }
    assert_eq!(b.decrypt(&new_chain).unwrap(), b"new chain");
    assert!(tried > 500);
}

#[test]
fn replays_are_refused_without_a_state_change() {
    let alice = User::new();
    let mut bob = User::new();
    let (mut a, mut b) = converse(&alice, &mut bob, false);
    let m = a.encrypt(b"once").unwrap();
    let late = a.encrypt(b"late").unwrap();
    let next = a.encrypt(b"next").unwrap();
    assert_eq!(b.decrypt(&next).unwrap(), b"next");
    assert_eq!(b.decrypt(&m).unwrap(), b"once");
    for replayed in [&m, &next] {
        let before = b.to_bytes();
        assert!(b.decrypt(replayed).is_err());
        assert_eq!(b.to_bytes(), before);
    }
    assert_eq!(b.decrypt(&late).unwrap(), b"late");
    assert_eq!(b.decrypt(&late).unwrap_err(), Error::Duplicate);
}

#[test]
fn sessions_survive_serialization_with_skipped_keys_mid_conversation() {
    let alice = User::new();
    let mut bob = User::new();
    let (mut a, mut b) = converse(&alice, &mut bob, true);
    let pending: Vec<_> = (0..5)
        .map(|i| a.encrypt(format!("m{i}").as_bytes()).unwrap())
        .collect();
    b.decrypt(&pending[4]).unwrap();
    assert_eq!(b.skipped_keys(), 4);
    // Restart both sides from bytes.
    let mut b = Session::from_bytes(&b.to_bytes()).unwrap();
    let mut a = Session::from_bytes(&a.to_bytes()).unwrap();
    assert_eq!(b.skipped_keys(), 4);
    for (i, m) in pending.iter().enumerate().take(4).rev() {
        assert_eq!(b.decrypt(m).unwrap(), format!("m{i}").as_bytes());
    }
    let reply = b.encrypt(b"after restart").unwrap();
    assert_eq!(a.decrypt(&reply).unwrap(), b"after restart");
    assert_eq!(
        Session::from_bytes(&a.to_bytes()).unwrap().to_bytes(),
        a.to_bytes()
    );
    // The prekey store too.
    assert_eq!(
        PreKeyStore::from_bytes(&bob.prekeys.to_bytes()).unwrap(),
        bob.prekeys
    );
}

#[test]
fn malformed_state_bytes_are_refused() {
    let alice = User::new();
    let mut bob = User::new();
    let (a, _) = converse(&alice, &mut bob, true);
    let bytes = a.to_bytes();
    for cut in [0, 4, 5, bytes.len() / 2, bytes.len() - 1] {
        assert!(Session::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut trailing = bytes.to_vec();
    trailing.push(0);
    assert!(Session::from_bytes(&trailing).is_err());
    let mut future = bytes.to_vec();
    future[4] = 99;
    assert!(Session::from_bytes(&future).is_err());
    // Layout: magic 4, version 1, role 1, header (identity 64, ek 32,
    // spk_id 4, opk flag + id 5), awaiting-reply flag 1, then AD. A byte of
    // the initiator's DH key inside the AD is any 32 bytes as far as the
    // key is concerned; only the check against the header catches it.
    let ad_start = 4 + 1 + 1 + 64 + 32 + 4 + 5 + 1;
    let mut bad_ad = bytes.to_vec();
    bad_ad[ad_start + 40] ^= 1;
    assert!(
        Session::from_bytes(&bad_ad).is_err(),
        "AD contradicting the handshake was accepted"
    );
    assert_eq!(Session::from_bytes(&bytes).unwrap().peer(), bob.id.public());
    assert!(
        PreKeyStore::from_bytes(&bytes).is_err(),
        "a session is not a prekey store"
    );
    assert!(PeerSessions::from_bytes(&bytes).is_err());
}

#[test]
fn debug_shows_no_secret_state() {
    let alice = User::new();
    let mut bob = User::new();
    let (a, _) = converse(&alice, &mut bob, true);
    let text = format!("{a:?} {:?}", bob.prekeys);
    assert!(text.contains("peer"));
    for window in a.to_bytes().windows(8).step_by(97) {
        assert!(!text.contains(&Base64::encode_string(window)));
    }
    // No field of the ratchet state is named (base64 may contain any pair
    // of letters, so look for the field syntax, not the letters).
    for field in ["rk:", "root", "chain", "cks:", "ckr:", "skipped:"] {
        assert!(!text.contains(field), "{field} in {text}");
    }
}

#[test]
fn skipped_keys_are_capped_and_the_oldest_go_first() {
    let alice = User::new();
    let mut bob = User::new();
    let (mut a, mut b) = converse(&alice, &mut bob, true);
    let mut lost = Vec::new();
    // Three chains of 999 skipped messages each: 2997 keys would be stored.
    for round in 0..3 {
        let chain: Vec<_> = (0..1000).map(|_| a.encrypt(b"skipped").unwrap()).collect();
        b.decrypt(chain.last().unwrap()).unwrap();
        lost.push(chain);
        let reply = b.encrypt(format!("round {round}").as_bytes()).unwrap();
        a.decrypt(&reply).unwrap();
    }
    assert_eq!(b.skipped_keys(), MAX_STORED_SKIPPED);
    // The first chain's keys were evicted (all of them and then some); the
    // newest chain's are all still there.
    assert!(b.decrypt(&lost[0][500]).is_err());
    assert_eq!(b.decrypt(&lost[2][0]).unwrap(), b"skipped");
    assert_eq!(b.skipped_keys(), MAX_STORED_SKIPPED - 1);
}

#[test]
fn peer_sessions_route_by_header_then_by_recency() {
    let alice = User::new();
    let mut bob = User::new();
    let mut at_alice = PeerSessions::new();
    let mut at_bob = PeerSessions::new();

    at_alice.initiate(&alice.id, &bob.bundle(true)).unwrap();
    let first = at_alice.encrypt(b"old device").unwrap();
    let header = first.x3dh.unwrap();
    assert!(!at_bob.has_session_from(&header));
    assert_eq!(
        at_bob.decrypt(&bob.id, &mut bob.prekeys, &first).unwrap(),
        b"old device"
    );
    assert!(at_bob.has_session_from(&header));
    let old_reply = at_bob.encrypt(b"to the old session").unwrap();

    // Alice restores on a new device and starts over: Bob keeps both.
    let mut alice_new = PeerSessions::new();
    alice_new.initiate(&alice.id, &bob.bundle(true)).unwrap();
    let fresh = alice_new.encrypt(b"new device").unwrap();
    assert_eq!(
        at_bob.decrypt(&bob.id, &mut bob.prekeys, &fresh).unwrap(),
        b"new device"
    );
    assert_eq!(at_bob.len(), 2);
    // Bob now sends on the new session...
    let new_reply = at_bob.encrypt(b"to the new session").unwrap();
    assert_eq!(
        alice_new
            .decrypt(&alice.id, &mut PreKeyStore::new(), &new_reply)
            .unwrap(),
        b"to the new session"
    );
    // ...and a header-less message on the old one still finds its session,
    // which becomes the one Bob sends on.
    at_alice
        .decrypt(&alice.id, &mut PreKeyStore::new(), &old_reply)
        .unwrap();
    let on_old = at_alice.encrypt(b"still here").unwrap();
    assert_eq!(
        at_bob.decrypt(&bob.id, &mut bob.prekeys, &on_old).unwrap(),
        b"still here"
    );
    let answer = at_bob.encrypt(b"answer").unwrap();
    assert_eq!(
        at_alice
            .decrypt(&alice.id, &mut PreKeyStore::new(), &answer)
            .unwrap(),
        b"answer"
    );
    // Round trip through bytes keeps the routing.
    let restored = PeerSessions::from_bytes(&at_bob.to_bytes()).unwrap();
    assert_eq!(restored.to_bytes(), at_bob.to_bytes());
    // A replay is refused by whichever session holds it, and changes nothing.
    let before = at_bob.to_bytes();
    assert_eq!(
        at_bob
            .decrypt(&bob.id, &mut bob.prekeys, &on_old)
            .unwrap_err(),
        Error::Duplicate
    );
    assert_eq!(at_bob.to_bytes(), before);
}

#[test]
fn at_most_five_sessions_are_kept_per_peer() {
    let alice = User::new();
    let mut bob = User::new();
    let mut at_bob = PeerSessions::new();
    let mut firsts = Vec::new();
    for i in 0..MAX_SESSIONS_PER_PEER + 1 {
        let mut a = Session::initiate(&alice.id, &bob.bundle(true)).unwrap();
        let first = a.encrypt(format!("session {i}").as_bytes()).unwrap();
        at_bob.decrypt(&bob.id, &mut bob.prekeys, &first).unwrap();
        firsts.push((a, first));
    }
    assert_eq!(at_bob.len(), MAX_SESSIONS_PER_PEER);
    // The oldest session is gone; its header names an OPK Bob deleted.
    let (mut oldest, first) = firsts.remove(0);
    let again = oldest.encrypt(b"anyone?").unwrap();
    assert_eq!(again.x3dh, first.x3dh);
    assert!(matches!(
        at_bob.decrypt(&bob.id, &mut bob.prekeys, &again),
        Err(Error::UnknownPreKey(_))
    ));
    // The newest still works.
    let (newest, _) = firsts.last_mut().unwrap();
    let m = newest.encrypt(b"newest").unwrap();
    assert_eq!(
        at_bob.decrypt(&bob.id, &mut bob.prekeys, &m).unwrap(),
        b"newest"
    );
}

#[test]
fn a_first_message_without_an_opk_is_refused_once_its_session_is_evicted() {
    // Spec section 5, known limits: without an OPK nothing on Bob's side is
    // used up by a handshake, so a replayed first message would make a new
    // session once the old one is gone. Bob remembers the header instead.
    let alice = User::new();
    let mut bob = User::new();
    let mut at_bob = PeerSessions::new();
    let mut a = Session::initiate(&alice.id, &bob.bundle(false)).unwrap();
    let first = a.encrypt(b"pay Mallory 100").unwrap();
    assert_eq!(
        at_bob.decrypt(&bob.id, &mut bob.prekeys, &first).unwrap(),
        b"pay Mallory 100"
    );
    // Five newer sessions push the first one out.
    for i in 0..MAX_SESSIONS_PER_PEER {
        let mut newer = Session::initiate(&alice.id, &bob.bundle(false)).unwrap();
        let m = newer.encrypt(format!("newer {i}").as_bytes()).unwrap();
        at_bob.decrypt(&bob.id, &mut bob.prekeys, &m).unwrap();
    }
    assert!(!at_bob.to_bytes().is_empty());
    // The remembered headers survive the prekey store's round trip.
    let mut prekeys = PreKeyStore::from_bytes(&bob.prekeys.to_bytes()).unwrap();
    assert_eq!(prekeys, bob.prekeys);
    let (sessions_before, prekeys_before) = (at_bob.to_bytes(), prekeys.to_bytes());
    assert_eq!(
        at_bob.decrypt(&bob.id, &mut prekeys, &first).unwrap_err(),
        Error::ReplayedHandshake
    );
    assert_eq!(at_bob.to_bytes(), sessions_before, "nothing changed");
    assert_eq!(prekeys.to_bytes(), prekeys_before);
    // A fresh handshake on the same signed prekey is still welcome.
    let mut fresh = Session::initiate(&alice.id, &bob.bundle(false)).unwrap();
    let m = fresh.encrypt(b"new").unwrap();
    assert_eq!(at_bob.decrypt(&bob.id, &mut prekeys, &m).unwrap(), b"new");
}

#[test]
fn remembered_handshakes_go_with_their_signed_prekey() {
    let alice = User::new();
    let mut bob = User::new();
    let (_, _) = converse(&alice, &mut bob, false);
    let old_spk = bob.prekeys.current_signed_prekey().unwrap().id();
    let remembered = bob.prekeys.to_bytes().len();
    for _ in 0..3 {
        bob.prekeys.rotate_signed_prekey(&bob.id).unwrap();
    }
    bob.prekeys.retire_signed_prekeys(1);
    assert_ne!(bob.prekeys.current_signed_prekey().unwrap().id(), old_spk);
    // One signed prekey kept, as before; the digest (with its signed
    // prekey id and count) went with the old key.
    assert_eq!(bob.prekeys.to_bytes().len(), remembered - (4 + 4 + 32));
    let reread = PreKeyStore::from_bytes(&bob.prekeys.to_bytes()).unwrap();
    assert_eq!(reread, bob.prekeys);
}

#[test]
fn a_version_1_prekey_store_still_reads() {
    // Version 1 (before the handshake memory): magic, version, next ids,
    // no signed and no one-time prekeys.
    let mut v1 = b"GLPK\x01".to_vec();
    v1.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0]);
    let store = PreKeyStore::from_bytes(&v1).unwrap();
    assert_eq!(store.one_time_count(), 0);
    let mut trailing = v1.clone();
    trailing.push(0);
    assert!(PreKeyStore::from_bytes(&trailing).is_err());
}

/// A sender that lost state it had sent from skips past every position it
/// could have used: the next message takes a new position and key, and the
/// receiver reads it after the gap, and the messages sent before it too.
#[test]
fn skipping_the_sending_chain_never_reuses_a_position_and_the_receiver_reads_across_the_gap() {
    let alice = User::new();
    let mut bob = User::new();
    let (mut a, mut b) = converse(&alice, &mut bob, true);
    let chain = a.sending_position().unwrap().chain;
    assert_eq!(
        a.sending_position(),
        Some(SendingPosition { chain, next: 0 })
    );
    // State stored before two messages left; the messages' state is lost.
    let stored = a.to_bytes();
    let sent: Vec<EnvelopeV2> = (0..2).map(|i| a.encrypt(&[i]).unwrap()).collect();
    let mut restored = Session::from_bytes(&stored).unwrap();
    // Without the skip, the next message would take position 0 again.
    assert_eq!(restored.clone().encrypt(b"x").unwrap().msg.header.n, 0);
    restored.skip_sending_to(5).unwrap();
    assert_eq!(
        restored.sending_position(),
        Some(SendingPosition { chain, next: 5 })
    );
    let after = restored.encrypt(b"after the crash").unwrap();
    assert_eq!(after.msg.header.n, 5);
    assert!(sent.iter().all(|m| m.msg.ct != after.msg.ct));
    // Bob reads the message after the gap first, then the earlier ones.
    assert_eq!(b.decrypt(&after).unwrap(), b"after the crash");
    assert_eq!(b.skipped_keys(), 5);
    for (i, message) in sent.iter().enumerate() {
        assert_eq!(b.decrypt(message).unwrap(), [u8::try_from(i).unwrap()]);
    }
    assert_eq!(b.skipped_keys(), 3, "positions 2-4 were never used");
}

#[test]
fn skipping_backwards_changes_nothing_and_too_far_is_refused() {
    let alice = User::new();
    let mut bob = User::new();
    let (mut a, mut b) = converse(&alice, &mut bob, false);
    for text in [&b"one"[..], b"two"] {
        assert_eq!(b.decrypt(&a.encrypt(text).unwrap()).unwrap(), text);
    }
    let before = a.to_bytes();
    a.skip_sending_to(1).unwrap();
    assert_eq!(a.to_bytes(), before, "a position behind the chain's");
    assert_eq!(
        a.skip_sending_to(2 + MAX_SKIP + 1),
        Err(Error::TooManySkipped)
    );
    assert_eq!(a.to_bytes(), before, "a refused skip");
    // The furthest allowed skip is one a receiver that has read everything
    // before it accepts.
    a.skip_sending_to(2 + MAX_SKIP).unwrap();
    let far = a.encrypt(b"far").unwrap();
    assert_eq!(far.msg.header.n, 2 + MAX_SKIP);
    assert_eq!(b.decrypt(&far).unwrap(), b"far");
}

/// `PeerSessions` skips on the session it sends on.
#[test]
fn peer_sessions_skip_on_the_active_session() {
    let alice = User::new();
    let mut bob = User::new();
    let mut sessions = PeerSessions::new();
    assert_eq!(sessions.sending_position(), None);
    assert_eq!(sessions.skip_sending_to(3), Err(Error::NoSession));
    sessions.initiate(&alice.id, &bob.bundle(true)).unwrap();
    let chain = sessions.sending_position().unwrap().chain;
    sessions.skip_sending_to(3).unwrap();
    assert_eq!(
        sessions.sending_position(),
        Some(SendingPosition { chain, next: 3 })
    );
    let first = sessions.encrypt(b"hello").unwrap();
    assert_eq!(first.msg.header.n, 3);
    let (_, plaintext) = Session::respond(&bob.id, &mut bob.prekeys, &first).unwrap();
    assert_eq!(plaintext, b"hello");
}
