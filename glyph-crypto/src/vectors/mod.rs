//! Test vectors (spec section 8): generating the crate's own files from fixed
//! inputs, and checking a file of the same shape made by someone else.
//!
//! Compiled only with the `vectors` feature: it is tooling for
//! interoperability, not part of what an application links.

mod devices;
mod foundation;
mod handshake;
mod reader;

use serde_json::{Value, json};
use thiserror::Error;

pub use reader::Mismatch;

/// The kinds of vector file, in the spec's order.
pub const KINDS: &[&str] = &[
    "identity",
    "safety-number",
    "seal-v1",
    "x3dh",
    "session",
    "media",
    "share",
    "device-list",
];

/// Why a vector file could not be checked, or where it disagrees.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VectorError {
    /// The file is not `{"section":"<kind>","vectors":[...]}`.
    #[error("not a vector file: {0}")]
    Shape(String),
    /// The `section` is not a kind this crate knows.
    #[error("unknown section {0:?}")]
    UnknownSection(String),
    /// A vector disagrees with this implementation.
    #[error(transparent)]
    Mismatch(#[from] Mismatch),
    /// Generating a vector failed (the OS RNG is not used, so this is a bug).
    #[error("generating vectors failed: {0}")]
    Generate(#[from] crate::Error),
}

/// Generates the file for `kind` as a JSON value.
pub fn generate(kind: &str) -> Result<Value, VectorError> {
    let vectors = match kind {
        "identity" => foundation::identity()?,
        "safety-number" => foundation::safety_number()?,
        "seal-v1" => foundation::seal_v1()?,
        "media" => foundation::media()?,
        "share" => foundation::share()?,
        "x3dh" => handshake::x3dh()?,
        "session" => handshake::session()?,
        "device-list" => devices::device_list()?,
        other => return Err(VectorError::UnknownSection(other.to_owned())),
    };
    Ok(json!({"section": kind, "vectors": vectors}))
}

/// A deterministic conversation for fuzzing and benchmarks: Alice's and
/// Bob's sessions after Alice's first message and Bob's reply, both sides
/// holding live sending and receiving chains.
pub fn fixed_conversation() -> Result<(crate::Session, crate::Session), crate::Error> {
    handshake::fixed_conversation()
}

/// An attacker's tool, for tests of the checks X3DH leaves to the
/// application (spec section 3): a session whose first message claims the
/// signing key `victim` beside the forger's own DH key. It decrypts at the
/// bundle's owner, so only a check of the header's keys against the
/// victim's registered keys tells it apart from a message by the victim.
pub fn impersonate(
    victim: &crate::SigningPublicKey,
    forger: &crate::Identity,
    bundle: &crate::PreKeyBundle,
) -> Result<crate::Session, crate::Error> {
    let claimed = crate::PublicIdentity {
        sign_pub: *victim,
        dh_pub: forger.public().dh_pub,
    };
    crate::Session::initiate_as(
        &claimed,
        forger.dh(),
        bundle,
        &crate::DhKeyPair::generate()?,
        crate::DhKeyPair::generate()?,
    )
}

/// Checks every vector of a file; returns the section and how many vectors
/// agreed, or the first disagreement.
pub fn verify(file: &Value) -> Result<(String, usize), VectorError> {
    let section = file
        .get("section")
        .and_then(Value::as_str)
        .ok_or_else(|| VectorError::Shape("no \"section\" string".into()))?;
    let vectors = file
        .get("vectors")
        .and_then(Value::as_array)
        .ok_or_else(|| VectorError::Shape("no \"vectors\" array".into()))?;
    let check: fn(&reader::Vector<'_>) -> Result<(), Mismatch> = match section {
        "identity" => foundation::check_identity,
        "safety-number" => foundation::check_safety_number,
        "seal-v1" => foundation::check_seal_v1,
        "media" => foundation::check_media,
        "share" => foundation::check_share,
        "x3dh" => handshake::check_x3dh,
        "session" => handshake::check_session,
        "device-list" => devices::check_device_list,
        other => return Err(VectorError::UnknownSection(other.to_owned())),
    };
    for (index, value) in vectors.iter().enumerate() {
        check(&reader::Vector::new(section, index, value)?)?;
    }
    Ok((section.to_owned(), vectors.len()))
}
