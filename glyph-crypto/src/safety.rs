//! The 60-digit safety number two users compare out of band (spec section 1).

use sha2::{Digest, Sha512};

use crate::identity::PublicIdentity;

use crate::spec::{SAFETY_ITERATIONS as ITERATIONS, SAFETY_LABEL};
/// The safety number of a pair of users: 60 digits, the same whichever side
/// computes it. Equal numbers mean both sides see the same four keys.
pub fn safety_number(a: &PublicIdentity, b: &PublicIdentity) -> String {
    let (first, second) = {
        let (x, y) = (user_digits(a), user_digits(b));
        if x <= y { (x, y) } else { (y, x) }
    };
    first + &second
}

/// The 30 digits one user contributes.
fn user_digits(user: &PublicIdentity) -> String {
    let sign_pub = user.sign_pub.as_bytes();
    let dh_pub = user.dh_pub.as_bytes();
    let mut hash = Sha512::new()
        .chain_update(0u16.to_be_bytes())
        .chain_update(sign_pub)
        .chain_update(dh_pub)
        .chain_update(SAFETY_LABEL)
        .finalize();
    for _ in 1..ITERATIONS {
        hash = Sha512::new()
            .chain_update(hash)
            .chain_update(sign_pub)
            .chain_update(dh_pub)
            .finalize();
    }
    hash[..30]
        .chunks_exact(5)
        .map(|chunk| {
            let value = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            format!("{:05}", value % 100_000)
        })
        .collect()
}
