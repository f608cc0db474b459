//! The bodies of the fuzz targets. Each takes arbitrary bytes and must never
//! panic; where a decoder accepts its input, decode -> encode -> decode must
//! give the same value. glyph-crypto's `fuzz_corpus` test runs these same
//! functions over every file in `corpus/<target>/`.

use glyph_crypto::{
    EnvelopeV2, PeerSessions, PreKeyBundle, PreKeyStore, RatchetHeader, SealedEnvelope, Session,
    ShareLink,
};

/// A target's body.
pub type Body = fn(&[u8]);

/// The targets, by name, as `corpus/` names its folders.
pub const TARGETS: &[(&str, Body)] = &[
    ("decode_seal_v1", decode_seal_v1),
    ("decode_envelope_v2", decode_envelope_v2),
    ("decode_bundle", decode_bundle),
    ("decode_share_link", decode_share_link),
    ("decode_state", decode_state),
    ("session_decrypt", session_decrypt),
];

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// A v1 sealed envelope from JSON text.
pub fn decode_seal_v1(data: &[u8]) {
    if let Some(Ok(envelope)) = text(data).map(SealedEnvelope::from_json) {
        assert_eq!(
            SealedEnvelope::from_json(&envelope.to_json()).as_ref(),
            Ok(&envelope)
        );
    }
}

/// A v2 envelope from JSON text.
pub fn decode_envelope_v2(data: &[u8]) {
    if let Some(Ok(envelope)) = text(data).map(EnvelopeV2::from_json) {
        assert_eq!(
            EnvelopeV2::from_json(&envelope.to_json()).as_ref(),
            Ok(&envelope)
        );
    }
}

/// A prekey bundle from JSON text (and its signature check).
pub fn decode_bundle(data: &[u8]) {
    if let Some(Ok(bundle)) = text(data).map(PreKeyBundle::from_json) {
        let _ = bundle.verify();
        let again = PreKeyBundle::from_json_value(&bundle.to_json_value());
        assert_eq!(again.as_ref(), Ok(&bundle));
    }
}

/// A share link.
pub fn decode_share_link(data: &[u8]) {
    if let Some(Ok(link)) = text(data).map(ShareLink::parse) {
        assert_eq!(ShareLink::parse(&link.to_url()).as_ref(), Ok(&link));
    }
}

/// Stored state: a session, a peer's sessions, a prekey store.
pub fn decode_state(data: &[u8]) {
    if let Ok(session) = Session::from_bytes(data) {
        assert_eq!(&*session.to_bytes(), data);
    }
    if let Ok(sessions) = PeerSessions::from_bytes(data) {
        assert_eq!(&*sessions.to_bytes(), data);
    }
    if let Ok(store) = PreKeyStore::from_bytes(data) {
        assert_eq!(
            PreKeyStore::from_bytes(&store.to_bytes()).as_ref(),
            Ok(&store)
        );
    }
}

/// Arbitrary bytes handed to both sides of a live session, as JSON and as a
/// raw header and ciphertext. A refusal must leave the session unchanged.
pub fn session_decrypt(data: &[u8]) {
    let Ok((mut alice, mut bob)) = glyph_crypto::vectors::fixed_conversation() else {
        panic!("the fixed conversation could not be built");
    };
    let mut candidates = Vec::new();
    if let Some(Ok(envelope)) = text(data).map(EnvelopeV2::from_json) {
        candidates.push(envelope);
    }
    if data.len() >= 40 {
        let (header, ct) = data.split_at(40);
        let header: [u8; 40] = header.try_into().unwrap_or([0; 40]);
        let msg = glyph_crypto::RatchetMessage {
            header: RatchetHeader::from_bytes(&header),
            ct: ct.to_vec(),
        };
        candidates.push(EnvelopeV2 { x3dh: None, msg });
    }
    for envelope in candidates {
        for session in [&mut alice, &mut bob] {
            let before = session.to_bytes();
            if session.decrypt(&envelope).is_err() {
                assert_eq!(
                    session.to_bytes(),
                    before,
                    "a refused message changed the session"
                );
            }
        }
    }
}
