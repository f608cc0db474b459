//! Devices (spec section 9): one identity on several devices at once.
//!
//! Every device derives the same identity from the same words; what
//! differs per device is its prekeys and its sessions. A user's devices are
//! published as a list signed by the identity key, so a server can neither
//! add a device to someone's account (it cannot sign) nor quietly undo a
//! removal (a client refuses a list older than one it has accepted).

use serde_json::{Value, json};

use crate::encoding::{Fields, b64, parse_json};
use crate::error::{DecodeError, Error};
use crate::keys::{SIGNATURE_LEN, SigningKeyPair, SigningPublicKey};
use crate::random::random_array;
use crate::x3dh::PreKeyBundle;

pub use crate::spec::{DEVICES_LABEL, MAX_DEVICES};

/// A fresh device id: a random `u32` in `1..=u32::MAX`, from the OS.
pub fn generate_device_id() -> Result<u32, Error> {
    loop {
        let id = u32::from_be_bytes(*random_array::<4>()?);
        if id != 0 {
            return Ok(id);
        }
    }
}

/// A user's devices, signed by the user's identity key:
/// `{"v":1,"sign_pub":b64,"version":n,"devices":[n,...],"sig":b64}`.
///
/// [`DeviceList::from_json_value`] only checks the shape; a list is to be
/// believed only after [`DeviceList::accept`] (or [`DeviceList::verify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceList {
    sign_pub: SigningPublicKey,
    version: u32,
    devices: Vec<u32>,
    sig: [u8; SIGNATURE_LEN],
}

/// What the signature covers:
/// `"glyph/devices/v1" || sign_pub || u32be(version) || u32be(count) || u32be(id)...`.
fn signed_bytes(sign_pub: &SigningPublicKey, version: u32, devices: &[u32]) -> Vec<u8> {
    let mut message = Vec::with_capacity(DEVICES_LABEL.len() + 32 + 8 + 4 * devices.len());
    message.extend_from_slice(DEVICES_LABEL);
    message.extend_from_slice(sign_pub.as_bytes());
    message.extend_from_slice(&version.to_be_bytes());
    message.extend_from_slice(&(devices.len() as u32).to_be_bytes());
    for id in devices {
        message.extend_from_slice(&id.to_be_bytes());
    }
    message
}

/// The rules a list's devices must follow: 1 to 16 ids, each in
/// `1..=u32::MAX`, strictly ascending.
fn check_devices(devices: &[u32]) -> Result<(), Error> {
    if devices.is_empty() || devices.len() > MAX_DEVICES {
        return Err(Error::InvalidDeviceList("a list holds 1 to 16 devices"));
    }
    if devices.contains(&0) {
        return Err(Error::InvalidDeviceList("device id 0"));
    }
    if devices.windows(2).any(|pair| pair[0] >= pair[1]) {
        return Err(Error::InvalidDeviceList(
            "device ids must be strictly ascending",
        ));
    }
    Ok(())
}

impl DeviceList {
    /// Signs a list of `devices` (sorted and checked here) at `version`.
    pub fn sign(signing: &SigningKeyPair, version: u32, devices: &[u32]) -> Result<Self, Error> {
        let mut devices = devices.to_vec();
        devices.sort_unstable();
        check_devices(&devices)?;
        let sign_pub = signing.public();
        let sig = signing.sign(&signed_bytes(&sign_pub, version, &devices));
        Ok(Self {
            sign_pub,
            version,
            devices,
            sig,
        })
    }

    /// The first list of an account: version 1, one device.
    pub fn first(signing: &SigningKeyPair, device: u32) -> Result<Self, Error> {
        Self::sign(signing, 1, &[device])
    }

    /// The next version with `device` added (a device linking itself).
    pub fn with_device(&self, signing: &SigningKeyPair, device: u32) -> Result<Self, Error> {
        let mut devices = self.devices.clone();
        if !devices.contains(&device) {
            devices.push(device);
        }
        Self::sign(signing, self.next_version()?, &devices)
    }

    /// The next version without `device` (a lost device removed).
    pub fn without_device(&self, signing: &SigningKeyPair, device: u32) -> Result<Self, Error> {
        let devices: Vec<u32> = self
            .devices
            .iter()
            .copied()
            .filter(|d| *d != device)
            .collect();
        Self::sign(signing, self.next_version()?, &devices)
    }

    fn next_version(&self) -> Result<u32, Error> {
        self.version
            .checked_add(1)
            .ok_or(Error::InvalidDeviceList("the version cannot grow any more"))
    }

    /// Checks the list against the signing key of the user it should
    /// belong to: the key, the devices' rules and the strict signature.
    pub fn verify(&self, expected: &SigningPublicKey) -> Result<(), Error> {
        if &self.sign_pub != expected {
            return Err(Error::InvalidDeviceList(
                "the list is not the expected user's",
            ));
        }
        check_devices(&self.devices)?;
        self.sign_pub.verify(
            &signed_bytes(&self.sign_pub, self.version, &self.devices),
            &self.sig,
        )
    }

    /// Checks that the list may follow `previous`, the newest list already
    /// accepted for this user: an older version, or the same version with
    /// other devices, is a rollback.
    pub fn check_not_rollback(&self, previous: Option<&DeviceList>) -> Result<(), Error> {
        match previous {
            Some(old) if self.version < old.version => Err(Error::DeviceListRollback),
            Some(old) if self.version == old.version && self.devices != old.devices => {
                Err(Error::DeviceListRollback)
            }
            _ => Ok(()),
        }
    }

    /// [`DeviceList::verify`] and [`DeviceList::check_not_rollback`]: the
    /// whole check before a client believes a list.
    pub fn accept(
        &self,
        expected: &SigningPublicKey,
        previous: Option<&DeviceList>,
    ) -> Result<(), Error> {
        self.verify(expected)?;
        self.check_not_rollback(previous)
    }

    /// The signing key the list claims to be signed by.
    pub fn sign_pub(&self) -> &SigningPublicKey {
        &self.sign_pub
    }

    /// The version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The devices, ascending.
    pub fn devices(&self) -> &[u32] {
        &self.devices
    }

    /// Whether `device` is listed.
    pub fn contains(&self, device: u32) -> bool {
        self.devices.binary_search(&device).is_ok()
    }

    /// The JSON form.
    pub fn to_json_value(&self) -> Value {
        json!({
            "v": 1,
            "sign_pub": self.sign_pub.to_base64(),
            "version": self.version,
            "devices": self.devices,
            "sig": b64(&self.sig),
        })
    }

    /// The JSON text sent on the wire.
    pub fn to_json(&self) -> String {
        self.to_json_value().to_string()
    }

    /// Parses the JSON form strictly (version 1, canonical base64, ids as
    /// `u32` JSON integers). The devices' rules and the signature are
    /// checked by [`DeviceList::verify`], not here.
    pub fn from_json_value(value: &Value) -> Result<Self, DecodeError> {
        let fields = Fields::of(value, "device list")?;
        fields.version(1)?;
        let devices = fields
            .array("devices")?
            .iter()
            .map(|id| {
                id.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or(DecodeError::WrongType("devices"))
            })
            .collect::<Result<Vec<u32>, _>>()?;
        Ok(Self {
            sign_pub: SigningPublicKey::from_field("sign_pub", &fields.b64_array("sign_pub")?)?,
            version: fields.u32("version")?,
            devices,
            sig: fields.b64_array("sig")?,
        })
    }

    /// Parses JSON text.
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        Self::from_json_value(&parse_json(text)?)
    }
}

/// One device's bundle: section 3's bundle and the device it belongs to,
/// `{..., "device_id": n}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceBundle {
    /// The device.
    pub device_id: u32,
    /// Its prekeys, under the user's identity.
    pub bundle: PreKeyBundle,
}

impl DeviceBundle {
    /// The JSON form.
    pub fn to_json_value(&self) -> Value {
        let mut value = self.bundle.to_json_value();
        value["device_id"] = json!(self.device_id);
        value
    }

    /// Parses the JSON form strictly: a bundle with a `device_id` in
    /// `1..=u32::MAX`. The signed prekey's signature is not checked here.
    pub fn from_json_value(value: &Value) -> Result<Self, DecodeError> {
        let device_id = Fields::of(value, "bundle")?.u32("device_id")?;
        if device_id == 0 {
            return Err(DecodeError::WrongType("device_id"));
        }
        Ok(Self {
            device_id,
            bundle: PreKeyBundle::from_json_value(value)?,
        })
    }
}
