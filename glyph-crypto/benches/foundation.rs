//! Identity, sealed envelope, media and share, each beside the primitives it
//! is made of, in one run so that ratios can be read off the same machine
//! state. Run: `cargo bench -p glyph-crypto --bench foundation`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signer, SigningKey};
use glyph_crypto::{
    DhKeyPair, Identity, MediaKey, Mnemonic, SealedEnvelope, ShareKey, SigningKeyPair,
};
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

const MESSAGE: usize = 1024;
const MIB: usize = 1024 * 1024;

fn composed(c: &mut Criterion) {
    let mut g = c.benchmark_group("glyph");
    let words = Mnemonic::parse(
        "legal winner thank year wave sausage worth useful legal winner thank yellow",
    )
    .unwrap();
    g.bench_function("identity_from_words", |b| {
        b.iter(|| Identity::from_mnemonic(black_box(&words), "").unwrap())
    });

    let alice = SigningKeyPair::generate().unwrap();
    let bob = DhKeyPair::generate().unwrap();
    let plaintext = vec![7u8; MESSAGE];
    g.bench_function("seal_1KiB", |b| {
        b.iter(|| SealedEnvelope::seal(&alice, bob.public(), black_box(&plaintext)).unwrap())
    });
    let envelope = SealedEnvelope::seal(&alice, bob.public(), &plaintext).unwrap();
    g.bench_function("open_1KiB", |b| {
        b.iter(|| black_box(&envelope).open(&bob).unwrap())
    });
    let wire = envelope.to_json();
    g.bench_function("decode_json_1KiB", |b| {
        b.iter(|| SealedEnvelope::from_json(black_box(&wire)).unwrap())
    });

    let share = ShareKey::generate().unwrap();
    g.bench_function("share_seal_1KiB", |b| {
        b.iter(|| share.seal(black_box(&plaintext)).unwrap())
    });
    let blob = share.seal(&plaintext).unwrap();
    g.bench_function("share_open_1KiB", |b| {
        b.iter(|| share.open(black_box(&blob)).unwrap())
    });
    g.finish();
}

fn primitives(c: &mut Criterion) {
    let mut g = c.benchmark_group("primitive");
    let secret = StaticSecret::from([3u8; 32]);
    let peer = PublicKey::from(&StaticSecret::from([4u8; 32]));
    g.bench_function("x25519_keygen", |b| {
        b.iter(|| {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).unwrap();
            PublicKey::from(&StaticSecret::from(bytes))
        })
    });
    g.bench_function("os_random_12_bytes", |b| {
        b.iter(|| {
            let mut iv = [0u8; 12];
            getrandom::fill(&mut iv).unwrap();
            iv
        })
    });
    g.bench_function("x25519_dh", |b| {
        b.iter(|| black_box(&secret).diffie_hellman(black_box(&peer)))
    });

    let signing = SigningKey::from_bytes(&[5u8; 32]);
    let verifying = signing.verifying_key();
    // What the envelope signs: label, eph, nonce and the 1 KiB ciphertext + tag.
    let signed = vec![1u8; 13 + 32 + 24 + MESSAGE + 16];
    let signature = signing.sign(&signed);
    g.bench_function("ed25519_sign_1KiB", |b| {
        b.iter(|| signing.sign(black_box(&signed)))
    });
    g.bench_function("ed25519_verify_strict_1KiB", |b| {
        b.iter(|| {
            verifying
                .verify_strict(black_box(&signed), &signature)
                .unwrap()
        })
    });
    g.bench_function("hkdf_sha256_32", |b| {
        b.iter(|| {
            let mut okm = [0u8; 32];
            Hkdf::<Sha256>::new(Some(&[1u8; 64]), black_box(&[2u8; 32]))
                .expand(b"glyph/seal/v1", &mut okm)
                .unwrap();
            okm
        })
    });
    let cipher = XChaCha20Poly1305::new(&[6u8; 32].into());
    let nonce = [9u8; 24].into();
    let mut buffer = vec![0u8; MESSAGE];
    g.bench_function("xchacha20poly1305_1KiB", |b| {
        b.iter(|| {
            cipher
                .encrypt_inout_detached(&nonce, &[0u8; 32], buffer.as_mut_slice().into())
                .unwrap()
        })
    });
    let aes = aes_gcm::Aes256Gcm::new(&[6u8; 32].into());
    let iv = [9u8; 12].into();
    g.bench_function("aes256gcm_1KiB", |b| {
        b.iter(|| {
            aes.encrypt_inout_detached(&iv, &[], buffer.as_mut_slice().into())
                .unwrap()
        })
    });
    g.finish();
}

fn media(c: &mut Criterion) {
    let mut g = c.benchmark_group("media");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    let key = MediaKey::generate().unwrap();
    let cipher = XChaCha20Poly1305::new(&[6u8; 32].into());
    let nonce = [9u8; 24].into();
    for size in [MIB, 25 * MIB] {
        let file = vec![0x5au8; size];
        g.throughput(Throughput::Bytes(size as u64));
        let label = format!("{}MiB", size / MIB);
        g.bench_with_input(BenchmarkId::new("seal", &label), &file, |b, file| {
            b.iter(|| key.seal(file).unwrap())
        });
        let blob = key.seal(&file).unwrap();
        g.bench_with_input(BenchmarkId::new("open", &label), &blob, |b, blob| {
            b.iter(|| key.open(blob).unwrap())
        });
        // The AEAD alone, in place on a buffer that already exists: the
        // floor media sealing is measured against.
        let mut buffer = file.clone();
        g.bench_function(
            BenchmarkId::new("xchacha20poly1305_in_place", &label),
            |b| {
                b.iter(|| {
                    cipher
                        .encrypt_inout_detached(&nonce, &[], buffer.as_mut_slice().into())
                        .unwrap()
                })
            },
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = composed, primitives, media
}
criterion_main!(benches);
