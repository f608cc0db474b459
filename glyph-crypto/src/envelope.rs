//! The message envelope, version 2 (spec section 5):
//! `{"v":2,"x3dh":<header>|null,"msg":{"header":b64(40),"ct":b64}}`.

use serde_json::{Value, json};

use crate::aead::TAG_LEN;
use crate::encoding::{Fields, b64, parse_json};
use crate::error::DecodeError;
use crate::ratchet::RatchetHeader;
use crate::x3dh::X3dhHeader;

/// One Double Ratchet message: its clear header and its ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatchetMessage {
    /// The clear header (ratchet key and counters).
    pub header: RatchetHeader,
    /// Ciphertext and tag.
    pub ct: Vec<u8>,
}

impl RatchetMessage {
    /// The JSON form.
    pub fn to_json_value(&self) -> Value {
        json!({"header": b64(&self.header.to_bytes()), "ct": b64(&self.ct)})
    }

    /// Parses the JSON form strictly.
    pub fn from_json_value(value: &Value) -> Result<Self, DecodeError> {
        let fields = Fields::of(value, "msg")?;
        let ct = fields.b64_vec("ct")?;
        if ct.len() < TAG_LEN {
            return Err(DecodeError::Length {
                field: "ct",
                expected: TAG_LEN,
                actual: ct.len(),
            });
        }
        Ok(Self {
            header: RatchetHeader::from_bytes(&fields.b64_array("header")?),
            ct,
        })
    }
}

/// A v2 envelope: a ratchet message, with the initiator's X3DH header until
/// the initiator has heard back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeV2 {
    /// The X3DH header, on the initiator's messages until its first reply.
    pub x3dh: Option<X3dhHeader>,
    /// The ratchet message.
    pub msg: RatchetMessage,
}

impl EnvelopeV2 {
    /// The JSON form.
    pub fn to_json_value(&self) -> Value {
        json!({
            "v": 2,
            "x3dh": self.x3dh.as_ref().map(X3dhHeader::to_json_value),
            "msg": self.msg.to_json_value(),
        })
    }

    /// The JSON text sent on the wire.
    pub fn to_json(&self) -> String {
        self.to_json_value().to_string()
    }

    /// Parses the JSON form strictly: version 2 only, `x3dh` present (an
    /// object or `null`), every key and length checked.
    pub fn from_json_value(value: &Value) -> Result<Self, DecodeError> {
        let fields = Fields::of(value, "envelope")?;
        fields.version(2)?;
        Ok(Self {
            x3dh: fields
                .nullable_object("x3dh")?
                .map(X3dhHeader::from_json_value)
                .transpose()?,
            msg: RatchetMessage::from_json_value(fields.object("msg")?)?,
        })
    }

    /// Parses JSON text.
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        Self::from_json_value(&parse_json(text)?)
    }
}
