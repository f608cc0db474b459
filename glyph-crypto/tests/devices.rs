//! Devices (spec section 9): the signed device list, every rule a client
//! MUST check (signature, order, bounds, whose list, rollback), strict
//! decoding, per-device bundles, and sessions kept per device.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use glyph_crypto::{
    DeviceBundle, DeviceList, DeviceSessions, Error, Identity, MAX_DEVICES, Mnemonic, PreKeyBundle,
    PreKeyStore, Session, SigningKeyPair, generate_device_id,
};
use serde_json::{Value, json};

fn key(byte: u8) -> SigningKeyPair {
    SigningKeyPair::from_secret_bytes(&[byte; 32])
}

#[test]
fn a_signed_list_verifies_for_its_user_only() {
    let alice = key(1);
    let list = DeviceList::sign(&alice, 3, &[9, 4, 7]).unwrap();
    assert_eq!(list.devices(), [4, 7, 9], "kept ascending");
    assert_eq!(list.version(), 3);
    list.verify(&alice.public()).unwrap();
    assert!(matches!(
        list.verify(&key(2).public()),
        Err(Error::InvalidDeviceList(_))
    ));
    let again = DeviceList::from_json(&list.to_json()).unwrap();
    assert_eq!(again, list);
    again.verify(&alice.public()).unwrap();
}

#[test]
fn the_rules_of_a_list_are_enforced_when_signing_and_verifying() {
    let alice = key(1);
    let seventeen: Vec<u32> = (1..=17).collect();
    for bad in [&[][..], &[0, 1], &seventeen] {
        assert!(DeviceList::sign(&alice, 1, bad).is_err(), "{bad:?}");
    }
    assert!(DeviceList::sign(&alice, 1, &[5, 5]).is_err(), "a duplicate");
    let sixteen: Vec<u32> = (1..=MAX_DEVICES as u32).collect();
    DeviceList::sign(&alice, 1, &sixteen).unwrap();
    // A list someone else made breaking the rules, signed properly: the
    // verifier still refuses it.
    let good = DeviceList::sign(&alice, 1, &[1, 2]).unwrap();
    for devices in [
        json!([2, 1]),
        json!([1, 1]),
        json!([0, 1]),
        json!([]),
        json!(seventeen),
    ] {
        let mut value = good.to_json_value();
        value["devices"] = devices.clone();
        let tampered = DeviceList::from_json_value(&value).unwrap();
        assert!(tampered.verify(&alice.public()).is_err(), "{devices}");
    }
}

#[test]
fn any_change_breaks_the_signature() {
    let alice = key(1);
    let list = DeviceList::sign(&alice, 2, &[10, 20]).unwrap();
    let value = list.to_json_value();
    for (field, replacement) in [
        ("version", json!(3)),
        ("devices", json!([10, 21])),
        ("devices", json!([10])),
    ] {
        let mut tampered = value.clone();
        tampered[field] = replacement;
        let decoded = DeviceList::from_json_value(&tampered).unwrap();
        assert_eq!(
            decoded.verify(&alice.public()),
            Err(Error::BadSignature),
            "{field}"
        );
    }
    // Another user's valid list, presented as Alice's.
    let mallory = DeviceList::sign(&key(3), 2, &[10, 20]).unwrap();
    assert!(mallory.verify(&alice.public()).is_err());
}

#[test]
fn an_older_list_or_the_same_version_with_other_devices_is_a_rollback() {
    let alice = key(1);
    let v1 = DeviceList::first(&alice, 5).unwrap();
    let v2 = v1.with_device(&alice, 8).unwrap();
    assert_eq!((v2.version(), v2.devices()), (2, &[5, 8][..]));
    let v3 = v2.without_device(&alice, 5).unwrap();
    assert_eq!((v3.version(), v3.devices()), (3, &[8][..]));
    v3.accept(&alice.public(), Some(&v2)).unwrap();
    v2.accept(&alice.public(), Some(&v2)).unwrap();
    v1.accept(&alice.public(), None).unwrap();
    // A server undoing the removal by serving the older list.
    assert_eq!(
        v2.accept(&alice.public(), Some(&v3)),
        Err(Error::DeviceListRollback)
    );
    // The same version with other devices.
    let forked = DeviceList::sign(&alice, 3, &[5, 8]).unwrap();
    assert_eq!(
        forked.accept(&alice.public(), Some(&v3)),
        Err(Error::DeviceListRollback)
    );
    // Nothing after the last version.
    let last = DeviceList::sign(&alice, u32::MAX, &[1]).unwrap();
    assert!(last.with_device(&alice, 2).is_err());
}

#[test]
fn decoding_is_strict() {
    let list = DeviceList::sign(&key(1), 1, &[1, 2]).unwrap();
    let value = list.to_json_value();
    let mut cases: Vec<(&str, Value)> = Vec::new();
    for field in ["v", "sign_pub", "version", "devices", "sig"] {
        let mut missing = value.clone();
        missing.as_object_mut().unwrap().remove(field);
        cases.push((field, missing));
    }
    for (field, wrong) in [
        ("v", json!(2)),
        ("version", json!(-1)),
        ("version", json!(1.5)),
        ("version", json!(4_294_967_296u64)),
        ("devices", json!([1, "2"])),
        ("devices", json!([1, 4_294_967_296u64])),
        ("devices", json!({"1": 1})),
        ("sig", json!("AAAA")),
        (
            "sign_pub",
            json!(value["sign_pub"].as_str().unwrap().replace('=', "")),
        ),
    ] {
        let mut tampered = value.clone();
        tampered[field] = wrong;
        cases.push((field, tampered));
    }
    for (field, case) in cases {
        assert!(
            DeviceList::from_json_value(&case).is_err(),
            "{field}: {case}"
        );
    }
    let mut extra = value.clone();
    extra["note"] = json!("unknown fields are ignored");
    assert_eq!(DeviceList::from_json_value(&extra).unwrap(), list);
}

#[test]
fn device_ids_are_random_and_never_zero() {
    let ids: std::collections::BTreeSet<u32> =
        (0..1000).map(|_| generate_device_id().unwrap()).collect();
    assert!(!ids.contains(&0));
    assert!(ids.len() > 990, "{} distinct of 1000", ids.len());
}

fn user() -> (Identity, PreKeyStore) {
    let id = Identity::from_mnemonic(&Mnemonic::generate().unwrap(), "").unwrap();
    let mut prekeys = PreKeyStore::new();
    prekeys.rotate_signed_prekey(&id).unwrap();
    (id, prekeys)
}

fn bundle(id: &Identity, prekeys: &mut PreKeyStore) -> PreKeyBundle {
    let opk = prekeys.generate_one_time_prekeys(1).unwrap()[0];
    let spk = prekeys.current_signed_prekey().unwrap();
    PreKeyBundle {
        identity: id.public(),
        spk_id: spk.id(),
        spk_pub: *spk.public(),
        spk_sig: *spk.signature(),
        opk: Some(opk),
    }
}

#[test]
fn a_device_bundle_is_the_bundle_with_its_device() {
    let (bob, mut prekeys) = user();
    let device = DeviceBundle {
        device_id: 42,
        bundle: bundle(&bob, &mut prekeys),
    };
    let value = device.to_json_value();
    assert_eq!(value["device_id"], 42);
    assert_eq!(DeviceBundle::from_json_value(&value).unwrap(), device);
    // Section 3's decoder reads it too (unknown fields are ignored).
    assert_eq!(
        PreKeyBundle::from_json_value(&value).unwrap(),
        device.bundle
    );
    for wrong in [json!(0), json!(-1), json!("42"), Value::Null] {
        let mut tampered = value.clone();
        tampered["device_id"] = wrong.clone();
        assert!(DeviceBundle::from_json_value(&tampered).is_err(), "{wrong}");
    }
}

#[test]
fn sessions_are_kept_per_device_and_survive_storage() {
    let (alice, _) = user();
    let (bob, mut phone) = user();
    let mut laptop = PreKeyStore::new();
    laptop.rotate_signed_prekey(&bob).unwrap();
    let mut at_alice = DeviceSessions::new();
    // Alice writes to both of Bob's devices: one session each.
    at_alice
        .device_mut(1)
        .initiate(&alice, &bundle(&bob, &mut phone))
        .unwrap();
    at_alice
        .device_mut(2)
        .initiate(&alice, &bundle(&bob, &mut laptop))
        .unwrap();
    let to_phone = at_alice.device_mut(1).encrypt(b"to the phone").unwrap();
    let to_laptop = at_alice.device_mut(2).encrypt(b"to the laptop").unwrap();
    // Each device opens its own copy, and not the other's.
    let (_, opened) = Session::respond(&bob, &mut phone, &to_phone).unwrap();
    assert_eq!(opened, b"to the phone");
    assert!(Session::respond(&bob, &mut phone, &to_laptop).is_err());
    let (_, opened) = Session::respond(&bob, &mut laptop, &to_laptop).unwrap();
    assert_eq!(opened, b"to the laptop");
    // Stored and read back, and a removed device's sessions dropped.
    let reread = DeviceSessions::from_bytes(&at_alice.to_bytes()).unwrap();
    assert_eq!(reread.devices().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(reread.to_bytes(), at_alice.to_bytes());
    let mut kept = reread;
    kept.retain(&[2]);
    assert_eq!(kept.devices().collect::<Vec<_>>(), [2]);
    assert!(kept.device(1).is_none());
    // Malformed bytes are refused.
    let bytes = at_alice.to_bytes();
    assert!(DeviceSessions::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    let mut trailing = bytes.to_vec();
    trailing.push(0);
    assert!(DeviceSessions::from_bytes(&trailing).is_err());
}
