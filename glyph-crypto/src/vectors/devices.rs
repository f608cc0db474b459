//! Vectors for spec section 9: the signed device list.

use serde_json::{Value, json};

use super::reader::{Mismatch, Vector, fixed};
use crate::{DeviceList, Error, SigningKeyPair};

/// (comment, label of the signing key, version, devices).
type Case = (&'static str, &'static str, u32, &'static [u32]);

const CASES: &[Case] = &[
    ("an account's first list: one device", "devices/1", 1, &[1]),
    (
        "two devices at the ends of the id range",
        "devices/2",
        2,
        &[1, 4_294_967_295],
    ),
    (
        "sixteen devices, the most a list may hold",
        "devices/3",
        17,
        &[
            1,
            2,
            3,
            255,
            256,
            65_535,
            65_536,
            1_000_000,
            16_777_215,
            16_777_216,
            305_419_896,
            2_147_483_647,
            2_147_483_648,
            3_000_000_000,
            4_294_967_294,
            4_294_967_295,
        ],
    ),
    (
        "the largest version",
        "devices/4",
        4_294_967_295,
        &[2_654_435_769],
    ),
];

pub(super) fn device_list() -> Result<Vec<Value>, Error> {
    CASES
        .iter()
        .map(|(comment, label, version, devices)| {
            let signing =
                SigningKeyPair::from_secret_bytes(&fixed(&format!("glyph/vectors/{label}")));
            let list = DeviceList::sign(&signing, *version, devices)?;
            Ok(json!({
                "comment": comment,
                "sign_sk": hex::encode(*signing.secret_bytes()),
                "version": version,
                "devices": devices,
                "sign_pub": hex::encode(signing.public().as_bytes()),
                "list": list.to_json_value(),
            }))
        })
        .collect()
}

pub(super) fn check_device_list(v: &Vector<'_>) -> Result<(), Mismatch> {
    let signing = SigningKeyPair::from_secret_bytes(&v.hex_array("sign_sk")?);
    let version = v.u32("version")?;
    let devices: Vec<u32> = v
        .value("devices")?
        .as_array()
        .ok_or_else(|| v.fail("devices", "must be an array"))?
        .iter()
        .map(|id| {
            id.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| v.fail("devices", "ids are u32 integers"))
        })
        .collect::<Result<_, _>>()?;
    v.expect_hex("sign_pub", signing.public().as_bytes())?;
    let computed = DeviceList::sign(&signing, version, &devices)
        .map_err(|e| v.fail("devices", e.to_string()))?;
    let stated = v.expect_wire("list", &computed, DeviceList::from_json_value)?;
    stated
        .verify(&signing.public())
        .map_err(|e| v.fail("list", format!("does not verify: {e}")))
}
