//! Typed reading of one vector object, and the comparison of what it says
//! with what this implementation computes.

use serde_json::{Map, Value};
use thiserror::Error;

/// Where and how a vector disagrees with this implementation.
#[derive(Debug, Error)]
#[error("{section} vector {index}, field `{field}`: {detail}")]
pub struct Mismatch {
    /// The file's section.
    pub section: String,
    /// The vector's position in the file (0-based).
    pub index: usize,
    /// The field that disagrees or is malformed.
    pub field: String,
    /// What is wrong.
    pub detail: String,
}

/// One vector of a file, with its place for error messages.
pub(crate) struct Vector<'a> {
    section: &'a str,
    index: usize,
    fields: &'a Map<String, Value>,
}

impl<'a> Vector<'a> {
    pub(crate) fn new(section: &'a str, index: usize, value: &'a Value) -> Result<Self, Mismatch> {
        let fields = value.as_object().ok_or_else(|| Mismatch {
            section: section.to_owned(),
            index,
            field: String::new(),
            detail: "a vector must be a JSON object".into(),
        })?;
        Ok(Self {
            section,
            index,
            fields,
        })
    }

    /// A mismatch at `field`.
    pub(crate) fn fail(&self, field: &str, detail: impl Into<String>) -> Mismatch {
        Mismatch {
            section: self.section.to_owned(),
            index: self.index,
            field: field.to_owned(),
            detail: detail.into(),
        }
    }

    /// The raw value of a field that must be present.
    pub(crate) fn value(&self, field: &str) -> Result<&'a Value, Mismatch> {
        self.fields
            .get(field)
            .ok_or_else(|| self.fail(field, "missing"))
    }

    /// A string field.
    pub(crate) fn str(&self, field: &str) -> Result<&'a str, Mismatch> {
        self.value(field)?
            .as_str()
            .ok_or_else(|| self.fail(field, "must be a string"))
    }

    /// A lowercase-hex field.
    pub(crate) fn hex(&self, field: &str) -> Result<Vec<u8>, Mismatch> {
        let text = self.str(field)?;
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(self.fail(field, "hex must be lowercase"));
        }
        hex::decode(text).map_err(|e| self.fail(field, format!("bad hex: {e}")))
    }

    /// A lowercase-hex field of exactly `N` bytes.
    pub(crate) fn hex_array<const N: usize>(&self, field: &str) -> Result<[u8; N], Mismatch> {
        let bytes = self.hex(field)?;
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| self.fail(field, format!("must be {N} bytes, got {}", bytes.len())))
    }

    /// A lowercase-hex field of `N` bytes, or `null`.
    pub(crate) fn nullable_hex_array<const N: usize>(
        &self,
        field: &str,
    ) -> Result<Option<[u8; N]>, Mismatch> {
        match self.value(field)? {
            Value::Null => Ok(None),
            _ => self.hex_array(field).map(Some),
        }
    }

    /// A `u32` field, or `null`.
    pub(crate) fn nullable_u32(&self, field: &str) -> Result<Option<u32>, Mismatch> {
        match self.value(field)? {
            Value::Null => Ok(None),
            _ => self.u32(field).map(Some),
        }
    }

    /// A `u32` field.
    pub(crate) fn u32(&self, field: &str) -> Result<u32, Mismatch> {
        self.value(field)?
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| self.fail(field, "must be an unsigned 32-bit integer"))
    }

    /// Compares a hex output with what this implementation computed.
    pub(crate) fn expect_hex(&self, field: &str, computed: &[u8]) -> Result<(), Mismatch> {
        let stated = self.hex(field)?;
        if stated == computed {
            Ok(())
        } else {
            Err(self.fail(
                field,
                format!(
                    "file says {}, computed {}",
                    short_hex(&stated),
                    short_hex(computed)
                ),
            ))
        }
    }

    /// Compares a string output with what this implementation computed.
    pub(crate) fn expect_str(&self, field: &str, computed: &str) -> Result<(), Mismatch> {
        let stated = self.str(field)?;
        if stated == computed {
            Ok(())
        } else {
            Err(self.fail(
                field,
                format!("file says {stated:?}, computed {computed:?}"),
            ))
        }
    }

    /// Parses a wire-object output with this crate's strict decoder and
    /// compares it with what this implementation computed (field order and
    /// unknown fields do not matter; every known field's value does).
    pub(crate) fn expect_wire<T: PartialEq>(
        &self,
        field: &str,
        computed: &T,
        parse: impl Fn(&Value) -> Result<T, crate::DecodeError>,
    ) -> Result<T, Mismatch> {
        let stated = parse(self.value(field)?)
            .map_err(|e| self.fail(field, format!("does not decode: {e}")))?;
        if &stated == computed {
            Ok(stated)
        } else {
            Err(self.fail(field, "differs from the computed object"))
        }
    }
}

/// Hex of at most 40 bytes, with the length when longer.
fn short_hex(bytes: &[u8]) -> String {
    if bytes.len() <= 40 {
        hex::encode(bytes)
    } else {
        format!("{}... ({} bytes)", hex::encode(&bytes[..40]), bytes.len())
    }
}

/// Deterministic test input: `N` bytes of `SHA-512(label)` (N at most 64).
pub(crate) fn fixed<const N: usize>(label: &str) -> [u8; N] {
    use sha2::{Digest, Sha512};
    let digest = Sha512::digest(label.as_bytes());
    let mut out = [0u8; N];
    let n = N.min(digest.len());
    out[..n].copy_from_slice(&digest[..n]);
    out
}

/// A deterministic plaintext of `len` bytes.
pub(crate) fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}
