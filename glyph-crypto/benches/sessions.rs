//! X3DH and Double Ratchet sessions, and the same work done by vodozemac
//! (the Matrix Olm implementation) in the same run, so the two can be
//! compared as ratios. Run: `cargo bench -p glyph-crypto --bench sessions`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use glyph_crypto::{EnvelopeV2, Identity, PreKeyBundle, PreKeyStore, Session};
use vodozemac::olm::{Account, OlmMessage, SessionConfig};

const MESSAGE: [u8; 1024] = [0x42; 1024];

struct Bob {
    id: Identity,
    prekeys: PreKeyStore,
}

fn bob() -> Bob {
    let id = Identity::from_secret_keys(&[1; 32], &[2; 32]);
    let mut prekeys = PreKeyStore::new();
    prekeys.rotate_signed_prekey(&id).unwrap();
    Bob { id, prekeys }
}

fn bundle(bob: &mut Bob) -> PreKeyBundle {
    let opk = bob.prekeys.generate_one_time_prekeys(1).unwrap()[0];
    let spk = bob.prekeys.current_signed_prekey().unwrap();
    PreKeyBundle {
        identity: bob.id.public(),
        spk_id: spk.id(),
        spk_pub: *spk.public(),
        spk_sig: *spk.signature(),
        opk: Some(opk),
    }
}

/// Two glyph sessions that have each sent and received.
fn glyph_pair() -> (Session, Session) {
    glyph_crypto::vectors::fixed_conversation().unwrap()
}

/// Two Olm sessions that have each sent and received.
fn olm_pair() -> (vodozemac::olm::Session, vodozemac::olm::Session) {
    let alice = Account::new();
    let mut bob = Account::new();
    bob.generate_one_time_keys(1);
    let otk = *bob.one_time_keys().values().next().unwrap();
    bob.mark_keys_as_published();
    let mut a = alice
        .create_outbound_session(SessionConfig::version_1(), bob.curve25519_key(), otk)
        .unwrap();
    let OlmMessage::PreKey(first) = a.encrypt(b"hello").unwrap() else {
        panic!("not a pre-key message")
    };
    let mut b = bob
        .create_inbound_session(SessionConfig::version_1(), alice.curve25519_key(), &first)
        .unwrap()
        .session;
    let reply = b.encrypt(b"hi").unwrap();
    a.decrypt(&reply).unwrap();
    (a, b)
}

fn handshake(c: &mut Criterion) {
    let mut g = c.benchmark_group("x3dh");
    let alice = Identity::from_secret_keys(&[3; 32], &[4; 32]);
    let mut b = bob();
    let bundle = bundle(&mut b);
    g.bench_function("initiate_and_first_encrypt", |bench| {
        bench.iter(|| {
            Session::initiate(&alice, black_box(&bundle))
                .unwrap()
                .encrypt(&MESSAGE)
                .unwrap()
        })
    });
    let first = Session::initiate(&alice, &bundle)
        .unwrap()
        .encrypt(&MESSAGE)
        .unwrap();
    g.bench_function("respond_and_first_decrypt", |bench| {
        bench.iter_batched(
            || b.prekeys.clone(),
            |mut prekeys| Session::respond(&b.id, &mut prekeys, black_box(&first)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Times decrypting `iters` messages that were all encrypted beforehand, in
/// order, on one running chain.
fn time_in_order<M>(
    iters: u64,
    mut encrypt: impl FnMut() -> M,
    mut decrypt: impl FnMut(&M),
) -> Duration {
    let messages: Vec<M> = (0..iters).map(|_| encrypt()).collect();
    let start = Instant::now();
    for message in &messages {
        decrypt(message);
    }
    start.elapsed()
}

fn running_chain(c: &mut Criterion) {
    let mut g = c.benchmark_group("running_chain_1KiB");
    let (mut a, _) = glyph_pair();
    g.bench_function("glyph_encrypt", |bench| {
        bench.iter(|| a.encrypt(black_box(&MESSAGE)).unwrap())
    });
    let (mut oa, _) = olm_pair();
    g.bench_function("vodozemac_encrypt", |bench| {
        bench.iter(|| oa.encrypt(black_box(&MESSAGE)).unwrap())
    });

    // The floor the spec sets for glyph: the AEAD alone, opening 1 KiB with
    // the 168-byte associated data (AD || header) of every ratchet message.
    {
        use chacha20poly1305::XChaCha20Poly1305;
        use chacha20poly1305::aead::{AeadInOut, KeyInit};
        let cipher = XChaCha20Poly1305::new(&[6u8; 32].into());
        let nonce = [9u8; 24].into();
        let aad = [1u8; 168];
        let mut buffer = MESSAGE.to_vec();
        let tag = cipher
            .encrypt_inout_detached(&nonce, &aad, buffer.as_mut_slice().into())
            .unwrap();
        let sealed = buffer.clone();
        g.bench_function("aead_floor_xchacha20poly1305_open", |bench| {
            bench.iter(|| {
                buffer.copy_from_slice(&sealed);
                cipher
                    .decrypt_inout_detached(&nonce, &aad, buffer.as_mut_slice().into(), &tag)
                    .unwrap()
            })
        });
    }
    g.bench_function("glyph_decrypt", |bench| {
        let (mut a, mut b) = glyph_pair();
        bench.iter_custom(|iters| {
            time_in_order(
                iters,
                || a.encrypt(&MESSAGE).unwrap(),
                |m: &EnvelopeV2| {
                    b.decrypt(m).unwrap();
                },
            )
        })
    });
    g.bench_function("vodozemac_decrypt", |bench| {
        let (mut a, mut b) = olm_pair();
        bench.iter_custom(|iters| {
            time_in_order(
                iters,
                || a.encrypt(MESSAGE).unwrap(),
                |m: &OlmMessage| {
                    b.decrypt(m).unwrap();
                },
            )
        })
    });
    g.finish();
}

fn ping_pong(c: &mut Criterion) {
    // One 1 KiB message each way per iteration: each direction change is a
    // DH ratchet step (glyph steps on receipt, Olm on the next send).
    let mut g = c.benchmark_group("dh_step_round_trip_1KiB");
    let (mut a, mut b) = glyph_pair();
    g.bench_function("glyph", |bench| {
        bench.iter(|| {
            let m = a.encrypt(&MESSAGE).unwrap();
            b.decrypt(&m).unwrap();
            let r = b.encrypt(&MESSAGE).unwrap();
            a.decrypt(&r).unwrap()
        })
    });
    let (mut oa, mut ob) = olm_pair();
    g.bench_function("vodozemac", |bench| {
        bench.iter(|| {
            let m = oa.encrypt(MESSAGE).unwrap();
            ob.decrypt(&m).unwrap();
            let r = ob.encrypt(MESSAGE).unwrap();
            oa.decrypt(&r).unwrap()
        })
    });
    g.finish();
}

fn persistence(c: &mut Criterion) {
    let mut g = c.benchmark_group("session_state");
    let (a, _) = glyph_pair();
    g.bench_function("glyph_serialize", |bench| {
        bench.iter(|| black_box(&a).to_bytes())
    });
    let bytes = a.to_bytes();
    g.bench_function("glyph_deserialize", |bench| {
        bench.iter(|| Session::from_bytes(black_box(&bytes)).unwrap())
    });
    let (oa, _) = olm_pair();
    g.bench_function("vodozemac_pickle", |bench| {
        bench.iter(|| black_box(&oa).pickle())
    });
    let wire = a.clone().encrypt(&MESSAGE).unwrap();
    g.bench_function("glyph_envelope_to_json", |bench| {
        bench.iter(|| black_box(&wire).to_json())
    });
    let text = wire.to_json();
    g.bench_function("glyph_envelope_from_json", |bench| {
        bench.iter(|| EnvelopeV2::from_json(black_box(&text)).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = handshake, running_chain, ping_pong, persistence
}
criterion_main!(benches);
